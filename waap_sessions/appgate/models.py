"""Appgate SDP Admin API models: the active-sessions dashboard and the login answer.

The vendor marks the dashboard internal and subject to change, and every field of it is
optional: the models accept absence, keep unknown fields aside and load a support status
beyond the three documented, both counted as drift. A field of another type fails.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import ConfigDict, Field, SecretStr
from pydantic.alias_generators import to_camel

from waap_sessions.enumerations import APPGATE_SUPPORT_STATUSES
from waap_sessions.models import Documented, VendorModel


class AppgateModel(VendorModel):
    """Appgate writes camelCase; Python reads snake_case."""

    model_config = ConfigDict(alias_generator=to_camel)


class GeoIpData(AppgateModel):
    session_count: int | None = None
    latitude: float | None = None
    longitude: float | None = None
    country_code: str | None = None
    continent_code: str | None = None
    ips: list[str] = Field(default_factory=list)


class VersionSessions(AppgateModel):
    """Sessions of one client version; `support_status` documented as full, partial or none."""

    support_status: Annotated[str | None, Documented(APPGATE_SUPPORT_STATUSES)] = None
    session_count: int | None = None


class ActiveSessionsDashboard(AppgateModel):
    """`GET /stats/active-sessions/dashboard`: totals by location and client version."""

    total_count: int | None = None
    geo_ip_data: list[GeoIpData] = Field(default_factory=list)
    versions: dict[str, VersionSessions] = Field(default_factory=dict)


class LoginAnswer(AppgateModel):
    """`POST /login`: a bearer token, when it expires, and who logged in."""

    token: SecretStr
    expires: datetime | None = None
    user: dict[str, Any] | None = None
