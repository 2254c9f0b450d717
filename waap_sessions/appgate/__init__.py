"""Appgate SDP Controller: the active-sessions dashboard."""

from waap_sessions.appgate.client import AppgateSdpClient
from waap_sessions.appgate.models import ActiveSessionsDashboard

__all__ = ["ActiveSessionsDashboard", "AppgateSdpClient"]
