"""waap_sessions: web-traffic session APIs into checked tables in a DuckLake, run by Dagster.

`build_waap_sessions_definitions` builds the selected sources' assets, checks, automation
and resources, shaped by a `WaapSessionsTranslator`; `WaapSessionsComponent` does the
same from a defs.yaml. Each resource hands out a plain API client. Readers
use `connect(read_only=True)`: every table of the contract by its plain name.
"""

from waap_sessions.accesswatch import AccessWatchClient
from waap_sessions.appgate import AppgateSdpClient
from waap_sessions.errors import (
    ApiError,
    ApiTransportError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InvalidParameterError,
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
    "InvalidParameterError",
    "LakeSettings",
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
