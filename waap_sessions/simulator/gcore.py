"""Gcore WAAP: request analytics, IP Spotlight top sessions and the domains list.

Query parameters are validated against Gcore's OpenAPI document (`query.py`); the
analytics filters then apply their documented meaning to the data set's records.
"""

from __future__ import annotations

import json
import re
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from waap_sessions.simulator.clock import SimulatedClock
from waap_sessions.simulator.config import SimulatorConfig
from waap_sessions.simulator.dataset import Dataset, RequestRecord, to_ms
from waap_sessions.simulator.query import (
    QueryValidationError,
    component_schema,
    field_error,
    query_model,
)
from waap_sessions.simulator.vendors import gcore_problem, json_response, same_secret

ANALYTICS_PATH = "/waap/v1/analytics/requests"
TOP_SESSIONS_PATH = "/waap/v1/ip-info/top-sessions"
DOMAINS_PATH = "/waap/v1/domains"
DOMAINS_V2_PATH = "/waap/v2/domains"  # what Gcore's own client lists domains with
_DOMAIN_ORDERINGS = ("id", "name", "status", "created_at")
DEFAULT_ORDERING = "-request_time"
REQUEST_SUMMARY_FIELDS = frozenset(component_schema("RequestSummary")["properties"])
_CACHED_QUERIES = 32

Matcher = Callable[[RequestRecord, Sequence[Any]], bool]


def _equals(value_of: Callable[[RequestRecord], Any]) -> Matcher:
    return lambda record, wanted: value_of(record) in wanted


def _glob(record: RequestRecord, patterns: Sequence[str]) -> bool:
    """`*` matches any run of characters; nothing else is special."""
    path = record.summary["path"]
    return any(_glob_regex(pattern).fullmatch(path) for pattern in patterns)


def _glob_regex(pattern: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")), re.DOTALL)


def _contains_folded(record: RequestRecord, texts: Sequence[str]) -> bool:
    user_agent = record.summary["user_agent"].lower()
    return any(text in user_agent for text in texts)


def _has_tag(record: RequestRecord, tags: Sequence[str]) -> bool:
    return any(tag in tags for tag in record.tags)


def _summary(field: str) -> Callable[[RequestRecord], Any]:
    return lambda record: record.summary[field]


@dataclass(frozen=True)
class _Filter:
    """An analytics filter and its `exclude_` twin: which records match, after normalising."""

    include: str
    exclude: str
    matches: Matcher
    normalise: Callable[[Any], Any] = lambda value: value


_FILTERS: tuple[_Filter, ...] = (
    _Filter("ips", "exclude_ips", _equals(_summary("client_ip")), str),
    _Filter("path", "exclude_path", _glob),
    _Filter("countries", "exclude_countries", _equals(_summary("country")), str.upper),
    _Filter("status_codes", "exclude_status_codes", _equals(_summary("status_code"))),
    _Filter("http_methods", "exclude_http_methods", _equals(_summary("method"))),
    _Filter("reference_ids", "exclude_reference_ids", _equals(_summary("reference_id"))),
    _Filter("request_ids", "exclude_request_ids", _equals(_summary("id"))),
    _Filter("session_ids", "exclude_session_ids", _equals(_summary("session_id"))),
    _Filter("security_rule_names", "exclude_security_rule_names", _equals(_summary("rule_name"))),
    _Filter("decision", "exclude_decision", _equals(_summary("decision"))),
    _Filter("optional_action", "exclude_optional_action", _equals(_summary("optional_action"))),
    _Filter("ja3", "exclude_ja3", _equals(_summary("ja3")), str.lower),
    _Filter("ja4", "exclude_ja4", _equals(lambda record: record.session.ja4), str.lower),
    _Filter("user_agent", "exclude_user_agent", _contains_folded, str.lower),
    _Filter(
        "user_agent_clients", "exclude_user_agent_clients", _equals(_summary("user_agent_client"))
    ),
    _Filter(
        "user_agent_devices",
        "exclude_user_agent_devices",
        _equals(lambda record: record.session.client.device),
    ),
    _Filter("tags", "exclude_tags", _has_tag),
    _Filter("organizations", "exclude_organizations", _equals(_summary("organization"))),
)


def parse_iso(name: str, text: str) -> datetime:
    """An ISO 8601 query value as an aware UTC datetime (naive means UTC)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise QueryValidationError(
            [field_error(name, "Input should be a valid ISO 8601 date or date-time")]
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_ordering(text: str | None) -> tuple[str, bool]:
    """`[-]field` in snake_case or camelCase as `(snake_case_field, descending)`."""
    text = text or DEFAULT_ORDERING
    descending = text.startswith("-")
    field = re.sub(r"(?<!^)(?=[A-Z])", "_", text.removeprefix("-")).lower()
    if field not in REQUEST_SUMMARY_FIELDS:
        known = ", ".join(sorted(REQUEST_SUMMARY_FIELDS))
        raise QueryValidationError(
            [field_error("ordering", f"Unknown ordering field {text!r}; use one of: {known}")]
        )
    return field, descending


def page_body(limit: int, offset: int, count: int, rows: Iterable[bytes]) -> bytes:
    """A `PaginatedResponse` from rows already encoded as JSON."""
    head = f'{{"limit":{limit},"offset":{offset},"count":{count},"results":['.encode()
    return head + b",".join(rows) + b"]}"


def _in_seconds(row: bytes) -> bytes:
    """A request summary with `request_time` in epoch seconds, as a changed API would send."""
    summary = json.loads(row)
    summary["request_time"] //= 1000
    return json.dumps(summary, separators=(",", ":")).encode()


class GcoreApi:
    """The Gcore WAAP routes over one data set."""

    def __init__(self, dataset: Dataset, config: SimulatorConfig, clock: SimulatedClock) -> None:
        self._dataset = dataset
        self._config = config
        self._clock = clock
        self._query_cache: OrderedDict[str, list[bytes]] = OrderedDict()

    def routes(self) -> list[BaseRoute]:
        return [
            Route(ANALYTICS_PATH, self._guarded(self.analytics_requests), methods=["GET"]),
            Route(TOP_SESSIONS_PATH, self._guarded(self.top_sessions), methods=["GET"]),
            Route(DOMAINS_PATH, self._guarded(self.domains), methods=["GET"]),
            Route(DOMAINS_V2_PATH, self._guarded(self.domains), methods=["GET"]),
        ]

    def _guarded(self, handler: Callable[[Request], Response]) -> Callable[[Request], Any]:
        """Check the API key, then run the handler, turning validation errors into 422."""

        async def endpoint(request: Request) -> Response:
            scheme, _, key = request.headers.get("authorization", "").partition(" ")
            expected = self._config.gcore_api_key
            if scheme.lower() != "apikey" or not same_secret(key.strip(), expected):
                return gcore_problem(401, "Auth token is missing or invalid")
            try:
                return handler(request)
            except QueryValidationError as error:
                return gcore_problem(
                    422, "One or more fields have validation errors.", errors=error.errors
                )

        return endpoint

    def analytics_requests(self, request: Request) -> Response:
        """Requests with `start <= request_time < end` (half-open: a request at exactly `end`
        belongs to the next window, so adjacent windows never overlap), filtered and ordered.

        `end` defaults to the simulated now, inclusive, so arrivals stamped now count. The
        ordered match list of a query (without limit and offset) is cached per data-set
        version, so paging a window is cheap.
        """
        query = query_model(ANALYTICS_PATH).parse(request.query_params.multi_items())
        params = query.model_dump()
        start_ms = to_ms(parse_iso("start", params["start"]))
        end = params["end"]
        # No `end`: everything recorded up to the simulated now, this very millisecond included.
        end_ms = to_ms(self._clock.now()) + 1 if end is None else to_ms(parse_iso("end", end))
        if end is not None and self._config.gcore_end_inclusive:
            end_ms += 1
        ordering = parse_ordering(params["ordering"])
        # Nothing exists after the newest request, so later ends share one cache entry.
        end_ms = min(end_ms, self._dataset.latest_request_ms() + 1)
        rows = self._matching_rows(query, start_ms, end_ms, ordering)
        limit, offset = params["limit"], params["offset"]
        cut_at = self._config.gcore_listing_cut_at
        page = rows[offset : offset + limit] if cut_at is None or offset < cut_at else []
        count = len(rows) if self._config.count_mode == "total" else len(page)
        if self._config.gcore_time_unit == "s":
            page = [_in_seconds(row) for row in page]
        return Response(page_body(limit, offset, count, page), media_type="application/json")

    def _matching_rows(
        self, query: BaseModel, start_ms: int, end_ms: int, ordering: tuple[str, bool]
    ) -> list[bytes]:
        filters = query.model_dump(mode="json", exclude={"limit", "offset", "start", "end"})
        key = json.dumps([self._dataset.version, start_ms, end_ms, filters], sort_keys=True)
        cached = self._query_cache.get(key)
        if cached is not None:
            self._query_cache.move_to_end(key)
            return cached
        records = self._filtered(query, start_ms, end_ms)
        field, descending = ordering
        records.sort(key=lambda r: (r.summary[field], r.summary["id"]), reverse=descending)
        rows = [record.json for record in records]
        self._query_cache[key] = rows
        if len(self._query_cache) > _CACHED_QUERIES:
            self._query_cache.popitem(last=False)
        return rows

    def _filtered(self, query: BaseModel, start_ms: int, end_ms: int) -> list[RequestRecord]:
        params = query.model_dump()
        domain_ids = {domain.id for domain in self._dataset.domains}
        if params["domains"]:
            domain_ids &= set(params["domains"])
        domain_ids -= set(params["exclude_domains"] or ())
        tests: list[tuple[Matcher, list[Any], bool]] = []
        for spec in _FILTERS:
            for name, keep_matching in ((spec.include, True), (spec.exclude, False)):
                if params[name]:
                    tests.append(
                        (spec.matches, [spec.normalise(v) for v in params[name]], keep_matching)
                    )
        records = []
        for domain_id in sorted(domain_ids):
            for record in self._dataset.records_between(domain_id, start_ms, end_ms):
                if all(matches(record, wanted) == keep for matches, wanted, keep in tests):
                    records.append(record)
        return records

    def top_sessions(self, request: Request) -> Response:
        """IP Spotlight: at most 10 sessions of the IP on the domain, most requests first."""
        query = query_model(TOP_SESSIONS_PATH).parse(request.query_params.multi_items())
        params = query.model_dump()
        if self._dataset.domain(params["domain_id"]) is None:
            return gcore_problem(404, "The resource is not found")
        return json_response(self._dataset.top_sessions(str(params["ip"]), params["domain_id"]))

    def domains(self, request: Request) -> Response:
        """The account's domains, filtered by status, name (`*` wildcard) and ids, paginated.

        v1 and v2 share it; v2's optional `stats` are left out.
        """
        query = query_model(request.url.path).parse(request.query_params.multi_items())
        params = query.model_dump()
        found = [domain.summary() for domain in self._dataset.domains]
        if params["status"]:
            found = [domain for domain in found if domain["status"] == params["status"]]
        if params["name"]:
            pattern = _glob_regex(params["name"].lower())
            found = [domain for domain in found if pattern.fullmatch(domain["name"].lower())]
        if params["ids"]:
            found = [domain for domain in found if domain["id"] in params["ids"]]
        ordering = params["ordering"] or "id"
        field = ordering.removeprefix("-")
        if field not in _DOMAIN_ORDERINGS:  # v2 leaves `ordering` a free string
            raise QueryValidationError([field_error("ordering", f"Unknown ordering {ordering!r}")])
        found.sort(
            key=lambda domain: (domain[field], domain["id"]), reverse=ordering.startswith("-")
        )
        limit, offset = params["limit"], params["offset"]
        page = found[offset : offset + limit]
        count = len(found) if self._config.count_mode == "total" else len(page)
        rows = (json.dumps(domain, separators=(",", ":")).encode() for domain in page)
        return Response(page_body(limit, offset, count, rows), media_type="application/json")
