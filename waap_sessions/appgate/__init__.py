"""Appgate SDP Controller: the active-sessions dashboard.

The client and its models load on first use, so a resource holding only its settings
costs no HTTP stack (see `waap_sessions.lazy`).
"""

from typing import TYPE_CHECKING

from waap_sessions.lazy import lazy_exports

# The peer API version the client asks for unless told otherwise.
DEFAULT_API_VERSION = 23

if TYPE_CHECKING:
    from waap_sessions.appgate.client import AppgateSdpClient
    from waap_sessions.appgate.models import ActiveSessionsDashboard
else:
    __getattr__ = lazy_exports(
        __name__,
        {
            "waap_sessions.appgate.client": ["AppgateSdpClient"],
            "waap_sessions.appgate.models": ["ActiveSessionsDashboard"],
        },
    )

__all__ = ["DEFAULT_API_VERSION", "ActiveSessionsDashboard", "AppgateSdpClient"]
