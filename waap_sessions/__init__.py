"""waap_sessions: web-traffic session APIs into checked DuckDB tables, orchestrated by Dagster.

The Dagster resources are the entry points; each hands out a plain API client.
"""

from waap_sessions.accesswatch import AccessWatchClient
from waap_sessions.appgate import AppgateSdpClient
from waap_sessions.errors import (
    ApiError,
    ApiTransportError,
    InvalidParameterError,
    ResponseFormatError,
    WaapSessionsError,
)
from waap_sessions.gcore import GcoreWaapClient
from waap_sessions.http_core import HttpSettings
from waap_sessions.resources import AccessWatchResource, AppgateSdpResource, GcoreWaapResource

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
    "ResponseFormatError",
    "WaapSessionsError",
]
