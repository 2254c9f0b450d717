"""waap_sessions: web-traffic session APIs into checked tables in a DuckLake, run by Dagster.

The Dagster resources are the entry points; each hands out a plain API client. Readers
use `connect(read_only=True)`: every table of the contract by its plain name.
"""

from waap_sessions.accesswatch import AccessWatchClient
from waap_sessions.appgate import AppgateSdpClient
from waap_sessions.errors import (
    ApiError,
    ApiTransportError,
    InvalidParameterError,
    ResponseFormatError,
    WaapSessionsError,
    WarehouseConflictError,
    WarehouseError,
)
from waap_sessions.gcore import GcoreWaapClient
from waap_sessions.http_core import HttpSettings
from waap_sessions.lake import LakeSettings
from waap_sessions.resources import (
    AccessWatchResource,
    AppgateSdpResource,
    GcoreWaapResource,
    WarehouseResource,
)
from waap_sessions.warehouse import connect

__all__ = [
    "AccessWatchClient",
    "AccessWatchResource",
    "ApiError",
    "ApiTransportError",
    "AppgateSdpClient",
    "AppgateSdpResource",
    "GcoreWaapClient",
    "GcoreWaapResource",
    "HttpSettings",
    "InvalidParameterError",
    "LakeSettings",
    "ResponseFormatError",
    "WaapSessionsError",
    "WarehouseConflictError",
    "WarehouseError",
    "WarehouseResource",
    "connect",
]
