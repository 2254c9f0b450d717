"""The HTTP core every vendor client shares.

One `HttpClient` per API: timeouts, retries with exponential backoff and jitter (on
408, 409, 429, 5xx and on transport failures), `Retry-After` and `retry-after-ms`
honoured up to a cap, a client-side rate limit, a cap on requests in flight, error
answers turned into typed `ApiError`s, and counters the assets report as metadata.

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
import tenacity
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from waap_sessions.errors import (
    ApiError,
    ApiTransportError,
    api_error_class,
    field_errors,
)

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
    max_retries: int = Field(default=3, ge=0, le=20)
    backoff_initial_s: float = Field(default=0.5, ge=0, le=60)
    backoff_max_s: float = Field(default=8.0, ge=0, le=600)
    max_retry_after_s: float = Field(default=60.0, ge=0, le=3600)
    requests_per_second: float | None = Field(default=None, gt=0, le=10_000)
    max_in_flight: int = Field(default=4, ge=1, le=64)

    @field_validator("base_url")
    @classmethod
    def _strip_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")


@dataclass
class HttpStats:
    """Counters of one client's traffic, safe to update from many threads."""

    requests: int = 0
    retries: int = 0
    bytes_received: int = 0
    retry_wait_s: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(
        self,
        *,
        requests: int = 0,
        retries: int = 0,
        bytes_received: int = 0,
        retry_wait_s: float = 0.0,
    ) -> None:
        with self._lock:
            self.requests += requests
            self.retries += retries
            self.bytes_received += bytes_received
            self.retry_wait_s += retry_wait_s

    def snapshot(self) -> dict[str, float]:
        """The counters as plain numbers, for run metadata."""
        with self._lock:
            return {
                "requests": self.requests,
                "retries": self.retries,
                "bytes_received": self.bytes_received,
                "retry_wait_s": round(self.retry_wait_s, 3),
            }


class RateLimiter:
    """Spaces requests evenly at `per_second` across all threads of one client.

    A leaky bucket of size one: a few lines, so no dependency for it (pyrate-limiter
    would add a background thread and an API that changed in each major release).
    """

    def __init__(self, per_second: float | None) -> None:
        self._interval = 1.0 / per_second if per_second else 0.0
        self._next_slot = 0.0
        self._lock = threading.Lock()

    def acquire(self) -> None:
        if not self._interval:
            return
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next_slot)
            self._next_slot = slot + self._interval
        if slot > now:
            time.sleep(slot - now)


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
            timeout=httpx.Timeout(settings.read_timeout_s, connect=settings.connect_timeout_s),
            limits=httpx.Limits(
                max_connections=settings.max_in_flight,
                max_keepalive_connections=settings.max_in_flight,
            ),
            event_hooks={"request": [self._count_request]},
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
        """Send one request, retrying what is worth retrying; raise an ApiError otherwise."""
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception(is_retryable),
            stop=tenacity.stop_after_attempt(self.settings.max_retries + 1),
            wait=self._retry_delay,
            before_sleep=self._note_retry,
            reraise=True,
        )
        return retrying(self._send_once, method, path, params, json)

    def _send_once(
        self, method: str, path: str, params: Mapping[str, Any] | None, json: Any
    ) -> httpx.Response:
        with self._in_flight:
            self._rate_limiter.acquire()
            try:
                response = self._client.request(method, path, params=params, json=json)
            except httpx.TransportError as exc:
                reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                raise ApiTransportError(
                    vendor=self.vendor, method=method, path=path, reason=reason
                ) from exc
        self.stats.add(bytes_received=response.num_bytes_downloaded)
        if not response.is_success:
            raise self._error_from(response, method)
        return response

    def _error_from(self, response: httpx.Response, method: str) -> ApiError:
        title, detail, errors = _explain(response)
        return api_error_class(response.status_code)(
            vendor=self.vendor,
            method=method,
            # The path of the request that failed, which may be a login inside an auth flow.
            path=response.request.url.path,
            status=response.status_code,
            title=title,
            detail=detail,
            errors=field_errors(errors),
            retry_after_s=parse_retry_after(response.headers),
        )

    def _count_request(self, request: httpx.Request) -> None:
        self.stats.add(requests=1)

    def _retry_delay(self, state: tenacity.RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, ApiError) and error.retry_after_s is not None:
            return min(error.retry_after_s, self.settings.max_retry_after_s)
        backoff = min(
            self.settings.backoff_initial_s * 2.0 ** (state.attempt_number - 1),
            self.settings.backoff_max_s,
        )
        return backoff * (1.0 - 0.25 * random.random())

    def _note_retry(self, state: tenacity.RetryCallState) -> None:
        delay = state.next_action.sleep if state.next_action else 0.0
        self.stats.add(retries=1, retry_wait_s=delay)
        error = state.outcome.exception() if state.outcome else None
        log.warning(
            "%s; retry %d of %d in %.2f s",
            error,
            state.attempt_number,
            self.settings.max_retries,
            delay,
        )


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
