"""Typed, validated query parameters of the Gcore WAAP endpoints.

The limits are those of the seed page and of Gcore's published schema. Where the two
disagree the schema wins, being newer: `path`, `ja3`, `user_agent` and their `exclude_`
twins are lists there (a single value is accepted and sent as a one-item list), and the
schema adds `ja4`, `exclude_request_ids`, `exclude_status_codes`, `exclude_http_methods`,
`exclude_decision`, `exclude_optional_action` and `exclude_path`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    IPvAnyAddress,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from waap_sessions.gcore.models import RequestSummary


def _as_list(value: Any) -> Any:
    """Let a single value stand for a one-item list, as the seed page writes some filters."""
    if value is None or isinstance(value, list | tuple | set | frozenset):
        return value
    return [value]


Hex32 = Annotated[str, StringConstraints(pattern=r"^[a-f0-9]{32}$")]
RequestId = Annotated[str, StringConstraints(pattern=r"^[a-f0-9]{32}-[0-9]{6}$")]
CountryCode = Annotated[str, StringConstraints(pattern=r"^\w{2}$")]
StatusCode = Annotated[int, Field(ge=100, le=599)]
DomainId = Annotated[int, Field(gt=0)]
RuleName = Annotated[
    str,
    StringConstraints(max_length=100, pattern=r"^[a-zA-Z0-9_ ~!@#$%^&*()+\[\]{}|.,;:<>?/-]*$"),
]
Ja3 = Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{32}$")]
Ja4 = Annotated[
    str, StringConstraints(pattern=r"^[0-9a-zA-Z]{10}_[0-9a-fA-F]{12}_[0-9a-fA-F]{12}$")
]
UserAgentText = Annotated[str, StringConstraints(max_length=300)]
Label50 = Annotated[str, StringConstraints(max_length=50)]
Label100 = Annotated[str, StringConstraints(max_length=100)]
HttpMethod = Literal["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE"]
Decision = Literal["blocked", "monitored", "allowed", "passed"]
OptionalAction = Literal["captcha", "challenge"]

# A filter list. A single value stands for a one-item list; None means no filter.
Many = BeforeValidator(_as_list)
DomainIds = Annotated[list[DomainId] | None, Many]
Ints = Annotated[list[int] | None, Many]
Ips = Annotated[list[IPvAnyAddress] | None, Many]
Texts = Annotated[list[str] | None, Many]
Countries = Annotated[list[CountryCode] | None, Many]
StatusCodes = Annotated[list[StatusCode] | None, Many]
HttpMethods = Annotated[list[HttpMethod] | None, Many]
Hex32s = Annotated[list[Hex32] | None, Many]
RequestIds = Annotated[list[RequestId] | None, Many]
RuleNames = Annotated[list[RuleName] | None, Many]
Decisions = Annotated[list[Decision] | None, Many]
OptionalActions = Annotated[list[OptionalAction] | None, Many]
Ja3s = Annotated[list[Ja3] | None, Many]
Ja4s = Annotated[list[Ja4] | None, Many]
UserAgentTexts = Annotated[list[UserAgentText] | None, Many]
Labels50 = Annotated[list[Label50] | None, Many]
Labels100 = Annotated[list[Label100] | None, Many]


def _at_most(items: int) -> Any:
    """The schema's maxItems of a filter list."""
    return Field(default=None, max_length=items)


_SORTABLE = frozenset(RequestSummary.model_fields) | frozenset(
    "".join([head, *(part.title() for part in tail)])
    for head, *tail in (name.split("_") for name in RequestSummary.model_fields)
)


class RequestFilters(BaseModel):
    """Every filter of `GET /waap/v1/analytics/requests` (all optional)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    domains: DomainIds = None
    exclude_domains: Ints = None
    ordering: str | None = Field(
        default=None,
        description="A RequestSummary field, snake_case or camelCase, `-` for descending.",
    )
    ips: Ips = _at_most(10)
    exclude_ips: Ips = None
    path: Texts = None
    exclude_path: Texts = None
    countries: Countries = None
    exclude_countries: Countries = None
    status_codes: StatusCodes = None
    exclude_status_codes: StatusCodes = None
    http_methods: HttpMethods = None
    exclude_http_methods: HttpMethods = None
    reference_ids: Hex32s = None
    exclude_reference_ids: Hex32s = None
    request_ids: RequestIds = None
    exclude_request_ids: RequestIds = None
    session_ids: Hex32s = None
    exclude_session_ids: Hex32s = None
    security_rule_names: RuleNames = None
    exclude_security_rule_names: RuleNames = None
    decision: Decisions = None
    exclude_decision: Decisions = None
    optional_action: OptionalActions = None
    exclude_optional_action: OptionalActions = None
    ja3: Ja3s = _at_most(10)
    exclude_ja3: Ja3s = _at_most(10)
    ja4: Ja4s = _at_most(10)
    exclude_ja4: Ja4s = _at_most(10)
    user_agent: UserAgentTexts = _at_most(10)
    exclude_user_agent: UserAgentTexts = _at_most(10)
    user_agent_clients: Labels50 = _at_most(10)
    exclude_user_agent_clients: Labels50 = _at_most(10)
    user_agent_devices: Labels50 = _at_most(10)
    exclude_user_agent_devices: Labels50 = _at_most(10)
    tags: Labels50 = _at_most(5)
    exclude_tags: Labels50 = _at_most(5)
    organizations: Labels100 = _at_most(10)
    exclude_organizations: Labels100 = _at_most(10)

    @field_validator("ordering")
    @classmethod
    def _known_sort_field(cls, value: str | None) -> str | None:
        if value is not None and value.removeprefix("-") not in _SORTABLE:
            raise ValueError("must name a RequestSummary field, optionally prefixed with '-'")
        return value

    def as_query(self) -> dict[str, Any]:
        """The filters as query parameters; lists repeat the name (`?domains=1&domains=2`)."""
        dumped = self.model_dump(mode="json", exclude_none=True)
        return {name: value for name, value in dumped.items() if value != []}


class RequestWindow(RequestFilters):
    """A time window of the request analytics, with its filters: half-open, [start, end)."""

    start: AwareDatetime
    end: AwareDatetime | None = Field(
        default=None, description="Defaults to now, pinned when paging starts."
    )

    @field_validator("end")
    @classmethod
    def _end_after_start(cls, end: datetime | None, info: ValidationInfo) -> datetime | None:
        start = info.data.get("start")
        if end is not None and start is not None and end <= start:
            raise ValueError(f"must be after start ({start.isoformat()})")
        return end


class TopSessionsQuery(BaseModel):
    """Parameters of IP Spotlight's `GET /waap/v1/ip-info/top-sessions`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ip: IPvAnyAddress
    domain_id: DomainId


def iso_millis(moment: datetime) -> str:
    """An aware datetime in the ISO 8601 form the API takes, to the millisecond, in UTC."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
