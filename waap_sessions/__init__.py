"""waap_sessions: web-traffic session APIs into checked tables in a DuckLake, run by Dagster.

`build_waap_sessions_definitions` builds the selected sources' assets, checks, automation
and resources, shaped by a `WaapSessionsTranslator`; `WaapSessionsComponent` does the
same from a defs.yaml. Each resource hands out a plain API client. Readers
use `connect(read_only=True)`: every table of the contract by its plain name.
"""

from typing import TYPE_CHECKING

from waap_sessions.errors import (
    ApiError,
    ApiTransportError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InvalidAttributesError,
    InvalidParameterError,
    LoadRefusedError,
    NotAcceptableError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ResponseFormatError,
    ServerError,
    UnprocessableEntityError,
    WaapSessionsError,
    WarehouseConflictError,
    WarehouseError,
)
from waap_sessions.lazy import lazy_exports

# The rest load on first use: a code location that imports the factory gets no HTTP
# client, Arrow or DuckDB until a run needs them (see `waap_sessions.lazy`).
if TYPE_CHECKING:
    from waap_sessions.accesswatch import AccessWatchClient
    from waap_sessions.appgate import AppgateSdpClient
    from waap_sessions.factory import build_waap_sessions_definitions
    from waap_sessions.gcore import GcoreWaapClient
    from waap_sessions.http_core import HttpSettings
    from waap_sessions.lake import LakeSettings
    from waap_sessions.resources import (
        AccessWatchResource,
        AppgateSdpResource,
        GcoreWaapResource,
        WarehouseResource,
    )
    from waap_sessions.translator import Source, WaapSessionsTableProps, WaapSessionsTranslator
    from waap_sessions.warehouse import connect
else:
    __getattr__ = lazy_exports(
        __name__,
        {
            "waap_sessions.accesswatch": ["AccessWatchClient"],
            "waap_sessions.appgate": ["AppgateSdpClient"],
            "waap_sessions.factory": ["build_waap_sessions_definitions"],
            "waap_sessions.gcore": ["GcoreWaapClient"],
            "waap_sessions.http_core": ["HttpSettings"],
            "waap_sessions.lake": ["LakeSettings"],
            "waap_sessions.resources": [
                "AccessWatchResource",
                "AppgateSdpResource",
                "GcoreWaapResource",
                "WarehouseResource",
            ],
            "waap_sessions.translator": [
                "Source",
                "WaapSessionsTableProps",
                "WaapSessionsTranslator",
            ],
            "waap_sessions.warehouse": ["connect"],
        },
    )

__all__ = [
    "AccessWatchClient",
    "AccessWatchResource",
    "ApiError",
    "ApiTransportError",
    "AppgateSdpClient",
    "AppgateSdpResource",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "GcoreWaapClient",
    "GcoreWaapResource",
    "HttpSettings",
    "InvalidAttributesError",
    "InvalidParameterError",
    "LakeSettings",
    "LoadRefusedError",
    "NotAcceptableError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "ResponseFormatError",
    "ServerError",
    "Source",
    "UnprocessableEntityError",
    "WaapSessionsError",
    "WaapSessionsTableProps",
    "WaapSessionsTranslator",
    "WarehouseConflictError",
    "WarehouseError",
    "WarehouseResource",
    "build_waap_sessions_definitions",
    "connect",
]
