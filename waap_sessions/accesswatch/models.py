"""Access Watch response models, after the seed page and the vendor's reference.

The seed's table marks `updated` required, but its own example omits it, so it is
optional here; the nested objects carry only what the reference documents. A new
identity type or reputation status loads and is counted as drift (`waap_sessions.models`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field

from waap_sessions.enumerations import (
    ACCESSWATCH_IDENTITY_TYPES,
    ACCESSWATCH_REPUTATION_STATUSES,
)
from waap_sessions.models import Documented, VendorModel


class Identity(VendorModel):
    id: str
    type: Annotated[str | None, Documented(ACCESSWATCH_IDENTITY_TYPES)] = None
    name: str | None = None
    label: str | None = None
    description: str | None = None


class Address(VendorModel):
    id: str | None = None
    value: str
    hostname: str | None = None
    label: str | None = None
    as_number: str | None = None
    network_name: str | None = None
    country_code: str | None = None
    flags: list[str] = Field(default_factory=list)


class Signature(VendorModel):
    id: str | None = None
    language_code: str | None = None
    country_code: str | None = None


class Agent(VendorModel):
    name: str | None = None
    version: str | None = None
    icon: str | None = None
    label: str | None = None


class System(VendorModel):
    name: str | None = None
    icon: str | None = None
    label: str | None = None


class UserAgent(VendorModel):
    id: str | None = None
    value: str | None = None
    type: str | None = None
    agent: Agent | None = None
    system: System | None = None


class Speed(VendorModel):
    interval: float | None = None
    per_second: float | None = None
    per_minute: float | None = None


class Reputation(VendorModel):
    status: Annotated[str, Documented(ACCESSWATCH_REPUTATION_STATUSES)]
    threats: list[str] = Field(default_factory=list)


class Robot(VendorModel):
    id: str | None = None
    name: str | None = None
    status: str | None = None
    description: str | None = None
    url: str | None = None
    icon: str | None = None


class Session(VendorModel):
    """One current session, as `GET /sessions` lists it."""

    id: str
    count: int
    updated: datetime | None = None
    identity: Identity
    address: Address
    signature: Signature | None = None
    user_agent: UserAgent | None = None
    speed: Speed | None = None
    reputation: Reputation
    robot: Robot | None = None


class SessionsResponse(VendorModel):
    sessions: list[Session]
