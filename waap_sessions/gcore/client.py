"""Gcore WAAP client: request analytics, IP Spotlight and the account's domains.

Paging follows the API's rules: `limit` at most 100, `offset` at most 100000. A window
with more rows than one query reaches (100,100) is continued from the last request time
seen, so a window of any size comes back complete. An open window is pinned to "now"
when paging starts, rows are read oldest first so new arrivals land behind the pages
already read, and ids already yielded are skipped, so a shifted offset costs nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, TypeVar

from pydantic import SecretStr, TypeAdapter

from waap_sessions.errors import InvalidParameterError
from waap_sessions.gcore import GCORE_BASE_URL
from waap_sessions.gcore.models import Domain, DomainsPage, RequestsPage, RequestSummary, TopSession
from waap_sessions.gcore.params import RequestWindow, TopSessionsQuery, iso_millis
from waap_sessions.http_core import (
    HeaderAuth,
    HttpClient,
    HttpSettings,
    VendorClient,
    map_in_order,
)
from waap_sessions.models import require_secret, validate_parameters

REQUESTS_PATH = "/waap/v1/analytics/requests"
TOP_SESSIONS_PATH = "/waap/v1/ip-info/top-sessions"
DOMAINS_PATH = "/waap/v1/domains"
PAGE_SIZE = 100
MAX_OFFSET = 100_000

PageT = TypeVar("PageT", RequestsPage, DomainsPage)

_REQUESTS_PAGE = TypeAdapter(RequestsPage)
_DOMAINS_PAGE = TypeAdapter(DomainsPage)
_TOP_SESSIONS = TypeAdapter(list[TopSession])


class OffsetCeilingReached(Exception):
    """One query's pages ran past offset 100000 with rows still to come."""


class GcoreWaapClient(VendorClient):
    """A plain Gcore WAAP API client (no Dagster inside); close it, or use it with `with`.

    For example, the requests of one domain since a moment:

        with GcoreWaapClient(os.environ["GCORE_API_KEY"]) as client:
            domain_ids = [domain.id for domain in client.iter_domains()]
            for request in client.iter_requests("2026-11-19T00:00:00Z", domains=domain_ids[:1]):
                print(request.client_ip, request.path, request.status_code)
    """

    def __init__(self, api_key: str | SecretStr, settings: HttpSettings | None = None) -> None:
        secret = require_secret(api_key, "Gcore settings", "api_key")
        super().__init__(
            HttpClient(
                settings or HttpSettings(base_url=GCORE_BASE_URL),
                vendor="Gcore",
                # Gcore's client writes the scheme `APIKey`, the seed page `apikey`: both work.
                auth=HeaderAuth("Authorization", secret, prefix="APIKey "),
            )
        )

    def iter_requests(
        self, start: datetime | str, end: datetime | str | None = None, **filters: Any
    ) -> RequestStream:
        """Every request in [start, end) matching `filters` (the fields of `RequestFilters`).

        Validation happens here, before anything is sent; the stream pages lazily.
        """
        window = validate_parameters(
            RequestWindow, {"start": start, "end": end, **filters}, "Gcore request analytics"
        )
        return RequestStream(self, window)

    def count_requests(
        self, start: datetime | str, end: datetime | str | None = None, **filters: Any
    ) -> int | None:
        """How many requests in [start, end) match `filters`, from one request for one row.

        None when the API's `count` is the size of the page rather than a total (the seed
        page's reading): then only reading the window tells.
        """
        window = validate_parameters(
            RequestWindow, {"start": start, "end": end, **filters}, "Gcore request analytics"
        )
        params = {
            **window.as_query(),
            "start": iso_millis(window.start),
            "end": iso_millis(window.end or datetime.now(UTC)),
            "limit": 1,
            "offset": 0,
        }
        page = self.get(REQUESTS_PATH, _REQUESTS_PAGE, params=params)
        if page.count > len(page.results) or not page.results:
            return page.count
        return None

    def get_top_sessions(self, ip: str, domain_id: int) -> list[TopSession]:
        """IP Spotlight: the (at most 10) busiest sessions of `ip` on a domain."""
        query = validate_parameters(
            TopSessionsQuery, {"ip": ip, "domain_id": domain_id}, "Gcore IP Spotlight"
        )
        return self.get(TOP_SESSIONS_PATH, _TOP_SESSIONS, params=query.model_dump(mode="json"))

    def iter_domains(self) -> Iterator[Domain]:
        """The account's protected domains, every page."""
        for page in self.offset_pages(DOMAINS_PATH, {"ordering": "id"}, _DOMAINS_PAGE):
            yield from page.results

    def offset_pages(
        self,
        path: str,
        params: dict[str, Any],
        page_type: TypeAdapter[PageT],
        *,
        concurrent: bool = True,
    ) -> Iterator[PageT]:
        """The pages of one query, in offset order, until a short page.

        With `concurrent`, when the first page's `count` is larger than the page (Gcore's
        client reads it as the total), the pages it announces are fetched concurrently,
        `max_in_flight` at once. Only do that for a listing that cannot shift under the
        reader: fetched out of order, a shifted listing can hide a row, whereas read in
        order it can only repeat one. Raises OffsetCeilingReached when rows remain past
        offset 100000.
        """
        fetch = partial(self._fetch_page, path, params, page_type)
        page = fetch(0)
        yield page
        if len(page.results) < PAGE_SIZE:
            return
        offset = PAGE_SIZE
        if concurrent and page.count > len(page.results):
            announced = range(offset, min(page.count, MAX_OFFSET + 1), PAGE_SIZE)
            workers = self.http.settings.max_in_flight
            for page in map_in_order(fetch, announced, workers=workers):
                yield page
                if len(page.results) < PAGE_SIZE:
                    return
                offset += PAGE_SIZE
        # Past what was announced (or with no total), one page at a time: a total read a
        # moment ago may already be stale, so only a short page ends the listing.
        while offset <= MAX_OFFSET:
            page = fetch(offset)
            yield page
            if len(page.results) < PAGE_SIZE:
                return
            offset += PAGE_SIZE
        raise OffsetCeilingReached

    def _fetch_page(
        self, path: str, params: dict[str, Any], page_type: TypeAdapter[PageT], offset: int
    ) -> PageT:
        return self.get(path, page_type, params={**params, "limit": PAGE_SIZE, "offset": offset})


class RequestStream:
    """The requests of one window, read lazily; iterate it once, by row or by page.

    Afterwards its counters say what it took: `pages` fetched, `windows` queried (more
    than one when the window was continued past the offset ceiling), `rows` yielded,
    `duplicates` skipped, `out_of_window` rows the API returned outside [start, end),
    and `reported_count`: the API's count of matching rows for the whole window, or None
    when the API's `count` turned out to be a page size rather than a total.

    Memory stays flat however large the window: read in time order, a row already seen
    can only come again at or before the newest time read so far, so only the ids read
    at that very millisecond are kept to recognise repeats.
    """

    def __init__(self, client: GcoreWaapClient, window: RequestWindow) -> None:
        self._client = client
        self.window = window
        self.pages = 0
        self.windows = 0
        self.rows = 0
        self.duplicates = 0
        self.out_of_window = 0
        self.reported_count: int | None = None

    def __iter__(self) -> Iterator[RequestSummary]:
        for rows in self.iter_pages():
            yield from rows

    def iter_pages(self) -> Iterator[list[RequestSummary]]:
        """The window page by page: the rows each page adds (none repeated, all in the window).

        For a bulk load: a page at a time, the rows never all in memory at once.
        """
        ordering = self.window.ordering or "request_time"
        descending = ordering in ("-request_time", "-requestTime")
        resumable = descending or ordering in ("request_time", "requestTime")
        start = self.window.start
        # An open window grows while we read; pin it so the result is one consistent set.
        end = self.window.end or datetime.now(UTC)
        repeats = RepeatFilter(descending=descending, in_time_order=resumable)
        first_ms, end_ms = _millis(start), _millis(end)
        filters = self.window.model_copy(update={"ordering": ordering}).as_query()
        while True:
            self.windows += 1
            params = {**filters, "start": iso_millis(start), "end": iso_millis(end)}
            last_time: int | None = None
            try:
                # Oldest first, arrivals land behind the pages read: safe to read concurrently.
                pages = self._client.offset_pages(
                    REQUESTS_PATH, params, _REQUESTS_PAGE, concurrent=not descending and resumable
                )
                for page in pages:
                    self._note_page(page)
                    kept = []
                    for row in page.results:
                        last_time = row.request_time
                        if repeats.seen(row):
                            self.duplicates += 1
                        elif not first_ms <= row.request_time < end_ms:
                            self.out_of_window += 1
                        else:
                            kept.append(row)
                    self.rows += len(kept)
                    yield kept
                return
            except OffsetCeilingReached:
                if not resumable:
                    raise InvalidParameterError(
                        "Gcore request analytics",
                        [
                            (
                                "ordering",
                                f"a window of more than {MAX_OFFSET + PAGE_SIZE} rows "
                                f"can only be read ordered by request_time (got {ordering!r})",
                            )
                        ],
                    ) from None
            # Continue from the last request time seen: rows of that very millisecond come
            # again and are skipped as already seen.
            assert last_time is not None
            if descending:
                resumed_end = _from_millis(last_time + 1)
                if resumed_end >= end:
                    raise _too_dense(last_time)
                end = resumed_end
            else:
                resumed_start = _from_millis(last_time)
                if resumed_start <= start:
                    raise _too_dense(last_time)
                start = resumed_start

    def _note_page(self, page: RequestsPage) -> None:
        if self.pages == 0 and (page.count > len(page.results) or len(page.results) < PAGE_SIZE):
            self.reported_count = page.count
        self.pages += 1


class RepeatFilter:
    """Recognises rows read before, keeping as few ids as the ordering allows.

    In time order (either direction) a repeat can only be at or behind the newest time
    read, so the ids of that one millisecond are enough. In any other order every id is
    kept, which the offset ceiling bounds to 100,100 rows.
    """

    def __init__(self, *, descending: bool, in_time_order: bool) -> None:
        self._sign = -1 if descending else 1
        self._in_time_order = in_time_order
        self._newest: int | None = None
        self._ids: set[str] = set()

    def seen(self, row: RequestSummary) -> bool:
        """Whether `row` was read before; if not, it counts as read from now on."""
        if not self._in_time_order:
            if row.id in self._ids:
                return True
            self._ids.add(row.id)
            return False
        moment = self._sign * row.request_time
        if self._newest is not None and (
            moment < self._newest or (moment == self._newest and row.id in self._ids)
        ):
            return True
        if moment != self._newest:
            self._newest, self._ids = moment, set()
        self._ids.add(row.id)
        return False


def _millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _from_millis(millis: int) -> datetime:
    return datetime.fromtimestamp(0, UTC) + timedelta(milliseconds=millis)


def _too_dense(millis: int) -> InvalidParameterError:
    return InvalidParameterError(
        "Gcore request analytics",
        [
            (
                "start",
                f"more than {MAX_OFFSET + PAGE_SIZE} rows share the millisecond {millis}; "
                "narrow the filters",
            )
        ],
    )
