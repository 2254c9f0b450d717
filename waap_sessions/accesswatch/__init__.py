"""Access Watch: snapshots of the current sessions.

The client and its models load on first use, so a resource holding only the base URL
costs no HTTP stack (see `waap_sessions.lazy`).
"""

from typing import TYPE_CHECKING

from waap_sessions.lazy import lazy_exports

ACCESSWATCH_BASE_URL = "https://api.access.watch/1.1"
# The most sessions one call of `GET /sessions` answers with (its `limit`).
MAX_SESSIONS = 1000

if TYPE_CHECKING:
    from waap_sessions.accesswatch.client import AccessWatchClient
    from waap_sessions.accesswatch.models import Session
else:
    __getattr__ = lazy_exports(
        __name__,
        {
            "waap_sessions.accesswatch.client": ["AccessWatchClient"],
            "waap_sessions.accesswatch.models": ["Session"],
        },
    )

__all__ = ["ACCESSWATCH_BASE_URL", "MAX_SESSIONS", "AccessWatchClient", "Session"]
