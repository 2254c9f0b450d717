"""Gcore WAAP: request analytics, IP Spotlight and domains."""

from waap_sessions.gcore.client import GCORE_BASE_URL, GcoreWaapClient, RequestStream
from waap_sessions.gcore.models import (
    Domain,
    RequestSummary,
    TopSession,
    normalise_session_id,
)
from waap_sessions.gcore.params import RequestFilters

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
