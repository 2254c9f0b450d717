"""Gcore WAAP: request analytics, IP Spotlight and domains.

The client and its models load on first use, so a resource holding only the base URL
costs no HTTP stack (see `waap_sessions.lazy`).
"""

from typing import TYPE_CHECKING

from waap_sessions.lazy import lazy_exports

GCORE_BASE_URL = "https://api.gcore.com"

if TYPE_CHECKING:
    from waap_sessions.gcore.client import GcoreWaapClient, RequestStream
    from waap_sessions.gcore.models import (
        Domain,
        RequestSummary,
        TopSession,
        normalise_session_id,
    )
    from waap_sessions.gcore.params import RequestFilters
else:
    __getattr__ = lazy_exports(
        __name__,
        {
            "waap_sessions.gcore.client": ["GcoreWaapClient", "RequestStream"],
            "waap_sessions.gcore.models": [
                "Domain",
                "RequestSummary",
                "TopSession",
                "normalise_session_id",
            ],
            "waap_sessions.gcore.params": ["RequestFilters"],
        },
    )

__all__ = [
    "GCORE_BASE_URL",
    "Domain",
    "GcoreWaapClient",
    "RequestFilters",
    "RequestStream",
    "RequestSummary",
    "TopSession",
    "normalise_session_id",
]
