"""The simulator's settings: one validated, immutable object behind data, APIs and clock."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


def _utc_now() -> datetime:
    return datetime.now(UTC)


class SimulatorConfig(BaseModel):
    """What data the simulator generates and which credentials its four APIs accept.

    Every field is validated on construction, so a mistake names its field at once
    instead of surfacing later as a strange answer from a running server.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    seed: int = 7
    domains: int = Field(3, ge=1, le=50)
    days: int = Field(3, ge=0, le=366, description="Full UTC days before the day of `now`.")
    requests_per_day: int = Field(5000, ge=1, le=2_000_000, description="Per domain.")
    exact_volume: bool = Field(
        False,
        description="Every full domain-day holds exactly `requests_per_day` requests, all "
        "inside the day (benchmarks and paging tests that need a known size). Off, volumes "
        "follow the weekday, vary from day to day and some days carry an attack burst.",
    )
    now: datetime = Field(default_factory=_utc_now, description="The simulated clock at start.")
    count_mode: Literal["total", "page"] = Field(
        "total",
        description="Gcore `count`: all matching rows (official client) or `len(results)` (seed).",
    )
    gcore_end_inclusive: bool = Field(
        False,
        description="A server's quirk: analytics `end` taken as inclusive (`<= end`), so a "
        "request at exactly `end` is counted and served too.",
    )
    gcore_time_unit: Literal["ms", "s"] = Field(
        "ms",
        description="The unit analytics answers give `request_time` in: the documented "
        "milliseconds, or seconds (a server that changed its unit).",
    )
    gcore_listing_cut_at: int | None = Field(
        None,
        ge=0,
        description="A server's fault: analytics pages from this offset on come back empty "
        "while `count` still gives the total (a cut listing).",
    )
    gcore_api_key: str = Field("sim-gcore-key", min_length=1)
    accesswatch_api_key: str = Field("sim-accesswatch-key", min_length=1)
    appgate_username: str = Field("admin", min_length=1)
    appgate_password: str = Field("sim-appgate-password", min_length=1)
    appgate_provider: str = Field("local", min_length=1)
    appgate_token_ttl_s: float = Field(86400.0, gt=0)
    appgate_api_versions: tuple[int, ...] = Field((20, 21, 22, 23), min_length=1)
    active_window_s: float = Field(
        1800.0, gt=0, description="A session is active if its last request is this recent."
    )

    @field_validator("now")
    @classmethod
    def _aware_utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("must be timezone-aware (for example tzinfo=UTC)")
        return value.astimezone(UTC)

    @field_validator("appgate_api_versions")
    @classmethod
    def _positive_versions(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if any(version <= 0 for version in value):
            raise ValueError("API versions must be positive integers")
        return value
