"""Access Watch: snapshots of the current sessions."""

from waap_sessions.accesswatch.client import ACCESSWATCH_BASE_URL, AccessWatchClient
from waap_sessions.accesswatch.models import Session

__all__ = ["ACCESSWATCH_BASE_URL", "AccessWatchClient", "Session"]
