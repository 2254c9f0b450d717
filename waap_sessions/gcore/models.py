"""Gcore WAAP response models, faithful to Gcore's published OpenAPI schema.

Undocumented fields are kept in `model_extra`, and undocumented values of enumerated
fields load as they came; the client counts both as drift (see `waap_sessions.models`).
A missing required field or a field of another type fails the answer.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field

from waap_sessions.enumerations import (
    GCORE_DECISIONS,
    GCORE_DOMAIN_STATUSES,
    GCORE_OPTIONAL_ACTIONS,
    GCORE_RESULTS,
)
from waap_sessions.models import Documented, VendorModel


def normalise_session_id(value: str) -> str:
    """32 lower-case hex digits: IP Spotlight writes a UUID, request analytics plain hex."""
    try:
        return uuid.UUID(value).hex
    except ValueError:
        return value.lower()


class PolicyOverride(VendorModel):
    """An override that applied to a request (Gcore's client models it; the schema omits it)."""

    id: int
    matched: dict[str, Any] = Field(default_factory=dict)
    t: str


class RequestSummary(VendorModel):
    """One request the firewall saw (`RequestSummary` in Gcore's schema)."""

    id: str
    path: str
    client_ip: str
    method: str
    rule_name: str
    country: str
    action: str
    rule_id: str
    domain: str
    domain_id: int
    user_agent: str
    user_agent_client: str
    organization: str
    request_time: int = Field(description="UNIX time in milliseconds.")
    reference_id: str
    status_code: int
    result: Annotated[str, Documented(GCORE_RESULTS)]
    traffic_types: str
    decision: Annotated[str, Documented(GCORE_DECISIONS)]
    optional_action: Annotated[str, Documented(GCORE_OPTIONAL_ACTIONS)]
    session_id: str = ""
    scheme: str = ""
    http_version: str = ""
    ja3: str = ""
    policy_override: list[PolicyOverride] | None = None


class RequestsPage(VendorModel):
    """One page of `GET /waap/v1/analytics/requests`.

    `count` is the total of matching rows for Gcore's own client, but the seed page calls
    it the number of rows in this page; the client works with either reading.
    """

    limit: int
    offset: int
    count: int
    results: list[RequestSummary]


class TopSession(VendorModel):
    """One of an IP's top sessions on a domain (IP Spotlight)."""

    session_id: str
    duration: float = Field(description="Seconds.")
    requests: int
    blocked: int
    start_time: datetime

    @property
    def session_key(self) -> str:
        """The session id as request analytics write it, so the two can be joined."""
        return normalise_session_id(self.session_id)


class Domain(VendorModel):
    """A protected domain of the account (`SummaryDomainResponse`)."""

    id: int
    name: str
    status: Annotated[str, Documented(GCORE_DOMAIN_STATUSES)]
    custom_page_set: int | None = None
    created_at: datetime
    aliases: list[str] = Field(default_factory=list)


class DomainsPage(VendorModel):
    """One page of `GET /waap/v1/domains`."""

    limit: int
    offset: int
    count: int
    results: list[Domain]
