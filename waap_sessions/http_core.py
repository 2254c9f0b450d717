"""The HTTP core every vendor client shares.

One `HttpClient` per API: timeouts and a deadline on each whole exchange, retries with
exponential backoff and jitter (on 408, 409, 5xx, on transport failures and on bodies
that end before their JSON does), `Retry-After` and `retry-after-ms` honoured up to a
cap, 429s waited out by every thread at once while the client learns the server's rate
from them, an optional hard rate cap, a cap on requests in flight, error answers turned
into typed `ApiError`s, and counters the assets report as metadata.

Credentials travel only in headers set by an `httpx.Auth`; nothing here logs or raises
a header, so no secret reaches a log line, an exception or run metadata.
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from typing import Any, Self, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, TypeAdapter, field_validator

from waap_sessions.errors import (
    ApiError,
    ApiTransportError,
    RateLimitError,
    api_error_class,
    field_errors,
)
from waap_sessions.models import parse_response

log = logging.getLogger(__name__)

USER_AGENT = f"waap-sessions/{version('waap-sessions')}"
RETRYABLE_STATUSES = frozenset({408, 409, 429})

ItemT = TypeVar("ItemT")
ResultT = TypeVar("ResultT")


class HttpSettings(BaseModel):
    """How to reach one API and how hard to try. Validated before any request is sent.

    Every client takes one:

        settings = HttpSettings(
            base_url="https://api.gcore.com", max_retries=5, requests_per_second=10
        )
        client = GcoreWaapClient(os.environ["GCORE_API_KEY"], settings)
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_url: str = Field(pattern=r"^https?://[^\s/@]+(/[^\s@]*)?$")
    connect_timeout_s: float = Field(default=5.0, gt=0, le=300)
    read_timeout_s: float = Field(default=120.0, gt=0, le=3600)
    # The most one exchange may take, its whole body included: a body that trickles in,
    # each read in time, is cut off here and retried. No single wait outlasts it either.
    request_deadline_s: float = Field(default=120.0, gt=0, le=86_400)
    # Retries of errors; a 429 waited out as the server asked spends `max_rate_limit_wait_s`.
    max_retries: int = Field(default=3, ge=0, le=20)
    backoff_initial_s: float = Field(default=0.5, ge=0, le=60)
    backoff_max_s: float = Field(default=8.0, ge=0, le=600)
    max_retry_after_s: float = Field(default=60.0, ge=0, le=3600)
    # The most one request waits out 429s in all, before its RateLimitError is raised.
    max_rate_limit_wait_s: float = Field(default=600.0, ge=0, le=86_400)
    requests_per_second: float | None = Field(default=None, gt=0, le=10_000)
    max_in_flight: int = Field(default=16, ge=1, le=64)

    @field_validator("base_url")
    @classmethod
    def _strip_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")


@dataclass
class HttpStats:
    """Counters of one client's traffic, safe to update from many threads."""

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0  # 429 answers
    bytes_received: int = 0
    retry_wait_s: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(
        self,
        *,
        requests: int = 0,
        retries: int = 0,
        rate_limited: int = 0,
        bytes_received: int = 0,
        retry_wait_s: float = 0.0,
    ) -> None:
        with self._lock:
            self.requests += requests
            self.retries += retries
            self.rate_limited += rate_limited
            self.bytes_received += bytes_received
            self.retry_wait_s += retry_wait_s

    def snapshot(self) -> dict[str, float]:
        """The counters as plain numbers, for run metadata."""
        with self._lock:
            return {
                "requests": self.requests,
                "retries": self.retries,
                "rate_limited": self.rate_limited,
                "bytes_received": self.bytes_received,
                "retry_wait_s": round(self.retry_wait_s, 3),
            }


class RateLimiter:
    """Paces the requests of one client, across all its threads, to what the server allows.

    Requests are spaced evenly at the lower of two rates: `per_second`, a hard cap the
    user sets, and a rate learned from the server's 429s (none until the first). A 429
    pauses every thread, not only the refused one, until the wait the server asked has
    passed. It also sets the learned rate a margin below what the server served since the
    previous 429: both moments find its budget spent, so what it served in between is
    what it allows, bursts and pauses included. While requests are held back and no 429
    comes, the rate grows by a tenth each second, so a limit that rises is found again
    (TCP's additive increase, multiplicative decrease, with a measured decrease).

    A few lines, so no dependency for it (pyrate-limiter would add a background thread,
    a fixed rate, and an API that changed in each major release).
    """

    MARGIN = 0.9  # of the measured rate, so the next 429 is a while off
    GROWTH = 1.1  # per second in which requests were held back
    WINDOW_S = 10.0  # at most this much history measures what the server served
    # At least this much time measures it: a limit that allows no burst refuses the first
    # requests sent together when one was served a few ms before; a floor of a second read
    # that as one request a second, and the rate took a minute to climb back.
    MIN_WINDOW_S = 0.1

    def __init__(self, per_second: float | None) -> None:
        self._ceiling = per_second
        self._learned: float | None = None
        self._next_slot = 0.0
        self._paused_until = 0.0
        self._refused_at: float | None = None  # when the rate was last learned
        self._grown_at = 0.0
        self._held_back = False
        self._served: deque[float] = deque()  # send times of answers since `_refused_at`
        self._lock = threading.Lock()

    @property
    def learned_per_second(self) -> float | None:
        """The rate learned from the server's 429s; None before the first."""
        with self._lock:
            return self._learned

    def acquire(self) -> None:
        """Wait for this request's turn: after any pause, at the current rate."""
        while True:
            with self._lock:
                now = time.monotonic()
                self._grow(now)
                rates = [rate for rate in (self._ceiling, self._learned) if rate]
                slot = max(now, self._paused_until, self._next_slot)
                if rates:
                    self._held_back |= self._next_slot > now
                    self._next_slot = slot + 1.0 / min(rates)
            if slot > now:
                time.sleep(slot - now)
            if time.monotonic() >= self._paused_until:  # no 429 came while this one waited
                return

    def served(self, sent_at: float) -> None:
        """Count an answer other than 429 to a request sent at `sent_at`."""
        with self._lock:
            if self._refused_at is None or sent_at > self._refused_at:
                self._served.append(sent_at)
            while self._served and self._served[0] < sent_at - self.WINDOW_S:
                self._served.popleft()

    def refused(self, sent_at: float, pause_s: float) -> float:
        """Pause every thread `pause_s` after a 429 to a request sent at `sent_at`.

        Returns the seconds until the pause ends. The rate is learned once per episode:
        429s to requests sent before the last one was learned from say nothing new.
        """
        with self._lock:
            now = time.monotonic()
            self._paused_until = max(self._paused_until, now + pause_s)
            self._next_slot = max(self._next_slot, self._paused_until)
            if self._refused_at is None or sent_at > self._refused_at:
                if self._served:
                    since = self._served[0] if self._refused_at is None else self._refused_at
                    window = min(max(now - since, self.MIN_WINDOW_S), self.WINDOW_S)
                    self._learned = self.MARGIN * len(self._served) / window
                self._refused_at = now
                self._served.clear()
                self._grown_at = self._paused_until
            return self._paused_until - now

    def _grow(self, now: float) -> None:
        if self._learned is None or now - self._grown_at < 1.0:
            return
        if self._held_back:
            self._learned *= self.GROWTH
            if self._ceiling:
                self._learned = min(self._learned, self._ceiling)
        self._grown_at, self._held_back = now, False


class HeaderAuth(httpx.Auth):
    """One secret header on every request: Gcore's `Authorization`, Access Watch's `Api-Key`."""

    def __init__(self, header: str, secret: SecretStr, *, prefix: str = "") -> None:
        self._header = header
        self._secret = secret
        self._prefix = prefix

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers[self._header] = self._prefix + self._secret.get_secret_value()
        yield request


def parse_retry_after(headers: httpx.Headers, now: datetime | None = None) -> float | None:
    """Seconds the server asks to wait: `retry-after-ms`, else `Retry-After` (seconds or date)."""
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            return max(float(millis) / 1000.0, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)


def map_in_order(
    function: Callable[[ItemT], ResultT], items: Iterable[ItemT], *, workers: int
) -> Iterator[ResultT]:
    """Run `function` over `items` on up to `workers` threads, yielding results in input order.

    At most `workers` calls run or wait at once, so a consumer that stops early (a short
    page, an error) leaves no more than that many requests behind.
    """
    pending: deque[Future[ResultT]] = deque()
    remaining = iter(items)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="waap-http") as pool:
        try:
            for item in remaining:
                pending.append(pool.submit(function, item))
                if len(pending) >= workers:
                    break
            while pending:
                result = pending.popleft().result()
                for item in remaining:
                    pending.append(pool.submit(function, item))
                    break
                yield result
        finally:
            for future in pending:
                future.cancel()


class HttpClient:
    """An `httpx.Client` for one API, with the retry, pacing and error rules above."""

    def __init__(
        self,
        settings: HttpSettings,
        *,
        vendor: str,
        auth: httpx.Auth | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.settings = settings
        self.vendor = vendor
        self.stats = HttpStats()
        self._rate_limiter = RateLimiter(settings.requests_per_second)
        self._in_flight = threading.BoundedSemaphore(settings.max_in_flight)
        self._client = httpx.Client(
            base_url=settings.base_url,
            auth=auth,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json", **(headers or {})},
            timeout=httpx.Timeout(
                min(settings.read_timeout_s, settings.request_deadline_s),
                connect=min(settings.connect_timeout_s, settings.request_deadline_s),
            ),
            limits=httpx.Limits(
                max_connections=settings.max_in_flight,
                max_keepalive_connections=settings.max_in_flight,
            ),
            event_hooks={"request": [self._start_request], "response": [self._bound_body]},
        )

    def __repr__(self) -> str:
        return f"HttpClient(vendor={self.vendor!r}, base_url={self.settings.base_url!r})"

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
    ) -> httpx.Response:
        """Send one request, retrying what is worth retrying; raise an ApiError otherwise.

        A 429 is waited out as the server asks, within `max_rate_limit_wait_s`; other
        retryable failures are tried again up to `max_retries` times.
        """
        return self._exchange(method, path, params, json, _whole_response)

    def fetch(
        self,
        method: str,
        path: str,
        adapter: TypeAdapter[ResultT],
        *,
        drift: Counter[str],
        params: Mapping[str, Any] | None = None,
        json: Any = None,
    ) -> ResultT:
        """Send one request and parse its answer as `adapter`, counting drift in `drift`.

        As `request`, and a body that is not complete JSON (cut short, or empty) is a
        transport fault, retried as one; a body that parses but breaks the schema raises
        ResponseFormatError at once, as trying again cannot change it.
        """

        def parse(response: httpx.Response) -> ResultT:
            return parse_response(
                adapter, response.content, vendor=self.vendor, method=method, path=path, drift=drift
            )

        return self._exchange(method, path, params, json, parse)

    def _exchange(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        json: Any,
        parse: Callable[[httpx.Response], ResultT],
    ) -> ResultT:
        """The retry loop of `request` and `fetch`: an answer counts once `parse` took it."""
        failures = refusals = 0
        rate_limit_wait_s = 0.0
        while True:
            try:
                sent_at, response = self._send_once(method, path, params, json)
                if response.status_code != 429:
                    self._rate_limiter.served(sent_at)
                if response.is_success:
                    return parse(response)
                raise self._error_from(response)
            except RateLimitError as error:
                refusals += 1
                delay = self._rate_limit_delay(error, sent_at, refusals)
                rate_limit_wait_s += delay
                self.stats.add(rate_limited=1)
                if rate_limit_wait_s > self.settings.max_rate_limit_wait_s:
                    raise
                log.info("%s; waiting %.2f s as asked", error, delay)
            except (ApiError, ApiTransportError) as error:
                failures += 1
                if not is_retryable(error) or failures > self.settings.max_retries:
                    raise
                delay = self._retry_delay(error, failures)
                retries = self.settings.max_retries
                log.warning("%s; retry %d of %d in %.2f s", error, failures, retries, delay)
            self.stats.add(retries=1, retry_wait_s=delay)
            time.sleep(delay)

    def _send_once(
        self, method: str, path: str, params: Mapping[str, Any] | None, json: Any
    ) -> tuple[float, httpx.Response]:
        """One exchange, at the rate limiter's pace: when it was sent, and the answer."""
        with self._in_flight:
            self._rate_limiter.acquire()
            sent_at = time.monotonic()
            try:
                response = self._client.request(method, path, params=params, json=json)
            except httpx.TransportError as exc:
                reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                raise ApiTransportError(
                    vendor=self.vendor, method=method, path=path, reason=reason
                ) from exc
        self.stats.add(bytes_received=response.num_bytes_downloaded)
        return sent_at, response

    def _error_from(self, response: httpx.Response) -> ApiError:
        title, detail, errors = _explain(response)
        # The request that failed, which may be a login (a POST) inside an auth flow.
        failed = response.request
        return api_error_class(response.status_code)(
            vendor=self.vendor,
            method=failed.method,
            path=failed.url.path,
            status=response.status_code,
            title=title,
            detail=detail,
            errors=field_errors(errors),
            retry_after_s=parse_retry_after(response.headers),
        )

    def _start_request(self, request: httpx.Request) -> None:
        """Count each request sent, an auth flow's too, and start its deadline."""
        self.stats.add(requests=1)
        request.extensions[_DEADLINE] = time.monotonic() + self.settings.request_deadline_s

    def _bound_body(self, response: httpx.Response) -> None:
        """Hold the answer's body to its request's deadline, checked as each piece arrives."""
        stream = response.stream
        assert isinstance(stream, httpx.SyncByteStream)  # a sync client reads sync streams
        bounded = _DeadlineStream(stream, response.request, self.settings.request_deadline_s)
        bounded.check()  # the headers themselves may come too late
        response.stream = bounded

    def _retry_delay(self, error: ApiError | ApiTransportError, failures: int) -> float:
        """The wait the server asked for, else exponential backoff less up to a quarter."""
        if isinstance(error, ApiError) and error.retry_after_s is not None:
            return min(error.retry_after_s, self.settings.max_retry_after_s)
        return self._backoff(failures)

    def _rate_limit_delay(self, error: ApiError, sent_at: float, refusals: int) -> float:
        """Pause the whole client as the 429 asks; this request waits up to a quarter more.

        The random extra spreads the requests that were refused together, here and in
        other processes sharing the limit, so they do not come back at one instant.
        """
        asked = error.retry_after_s
        if asked is not None:
            pause = min(asked, self.settings.max_retry_after_s)
        else:
            pause = self._backoff(refusals)
        return self._rate_limiter.refused(sent_at, pause) + random.uniform(0.0, 0.25 * pause)

    def _backoff(self, attempt: int) -> float:
        backoff = min(
            self.settings.backoff_initial_s * 2.0 ** (attempt - 1), self.settings.backoff_max_s
        )
        return backoff * (1.0 - 0.25 * random.random())


_DEADLINE = "waap_sessions.deadline"  # a request extension: when its answer must be whole


class _DeadlineStream(httpx.SyncByteStream):
    """A response body that fails with a ReadTimeout once its request's deadline passed.

    httpx times each read, so a body trickling in, each piece in time, never ends; this
    makes it a transport fault like any other timeout.
    """

    def __init__(
        self, stream: httpx.SyncByteStream, request: httpx.Request, deadline_s: float
    ) -> None:
        self._stream = stream
        self._request = request
        self._deadline_s = deadline_s

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._stream:
            self.check()
            yield chunk

    def check(self) -> None:
        if time.monotonic() > self._request.extensions[_DEADLINE]:
            raise httpx.ReadTimeout(
                f"no complete answer within the request deadline "
                f"(request_deadline_s={self._deadline_s:g})",
                request=self._request,
            )

    def close(self) -> None:
        self._stream.close()


def _whole_response(response: httpx.Response) -> httpx.Response:
    return response


class VendorClient:
    """What the three API clients share: one HttpClient to close, drift counted, `with`."""

    def __init__(self, http: HttpClient) -> None:
        self.http = http
        # Undocumented fields seen in answers, as `Model.field`: schema drift to report.
        self.schema_drift: Counter[str] = Counter()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def get(
        self, path: str, adapter: TypeAdapter[ResultT], params: Mapping[str, Any] | None = None
    ) -> ResultT:
        """GET `path`, parsed as `adapter`, its undocumented fields counted as drift."""
        return self.http.fetch("GET", path, adapter, drift=self.schema_drift, params=params)


def is_retryable(error: BaseException) -> bool:
    """Transport failures, 408, 409, 429 and 5xx are worth another try; other 4xx are not."""
    if isinstance(error, ApiTransportError):
        return True
    return isinstance(error, ApiError) and (
        error.status in RETRYABLE_STATUSES or error.status >= 500
    )


def _explain(response: httpx.Response) -> tuple[str | None, str | None, Any]:
    """Title, detail and field errors of an error body, whatever the vendor's format."""
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip()[:300]
        return response.reason_phrase or None, text or None, None
    if not isinstance(body, dict):
        return response.reason_phrase or None, str(body)[:300], None
    # Gcore: problem+json {type, title, status, detail, errors}; Appgate: {id, message, errors}.
    title = body.get("title") or body.get("id") or response.reason_phrase or None
    detail = body.get("detail", body.get("message"))
    errors = body.get("errors")
    if isinstance(detail, list):  # FastAPI's default 422 puts the field errors in `detail`
        errors, detail = detail, None
    return (str(title) if title else None), (str(detail) if detail else None), errors
