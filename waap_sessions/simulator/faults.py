"""Faults on demand: latency and its spikes, errors, rate limits, cut, short and trickling
answers, arrivals, scripted answers.

`Faults` is a mutable settings object that tests change while the server runs;
`FaultInjector` is the ASGI middleware that reads it on every API request. Faults touch
API paths only (those starting with `Faults.path_prefix`), and every injected error is
in the vendor's own format (`vendors.error_response`).
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from waap_sessions.simulator.clock import SimulatedClock
from waap_sessions.simulator.dataset import Dataset
from waap_sessions.simulator.gcore import ANALYTICS_PATH
from waap_sessions.simulator.vendors import error_response, vendor_of


@dataclass(frozen=True)
class ScriptedFault:
    """One scripted answer: a status and, optionally, the retry headers to send with it."""

    status: int
    retry_after: str | None = None  # `Retry-After`: seconds or an HTTP date
    retry_after_ms: str | None = None  # `retry-after-ms`, as Gcore's client reads it


class Faults(BaseModel):
    """The faults the running simulator injects; assignments are validated."""

    model_config = ConfigDict(validate_assignment=True)

    latency_s: float = Field(0.0, ge=0, description="Added to every answer (async sleep).")
    error_rate: float = Field(0.0, ge=0, le=1, description="Share answered with error_status.")
    error_status: int = Field(503, ge=400, le=599)
    rate_limit_per_s: float | None = Field(None, gt=0, description="Beyond it: 429.")
    rate_limit_burst: float | None = Field(
        None,
        ge=1,
        description="Requests the rate limit lets through at once; default: one second's worth.",
    )
    rate_limit_retry_after: bool = Field(
        True, description="Whether a 429 says Retry-After (nginx's limit_req, for one, does not)."
    )
    truncate_rate: float = Field(
        0.0, ge=0, le=1, description="Share of 2xx bodies cut halfway by aborting the connection."
    )
    short_body_rate: float = Field(
        0.0,
        ge=0,
        le=1,
        description="Share of 2xx bodies that end cleanly but at half their length, as a proxy "
        "dropping the end sends them: a valid HTTP message whose Content-Length is the short "
        "body's, the JSON cut midway.",
    )
    trickle_rate: float = Field(
        0.0, ge=0, le=1, description="Share of 2xx bodies sent at trickle_bytes_per_s (a stall)."
    )
    trickle_bytes_per_s: float = Field(
        1.0, gt=0, description="How fast a trickling body comes: each read gets a byte in time."
    )
    spike_rate: float = Field(
        0.0, ge=0, le=1, description="Share of answers held back spike_s more (latency spikes)."
    )
    spike_s: float = Field(0.0, ge=0, description="The extra delay of a latency spike.")
    arrivals_per_request: int = Field(
        0, ge=0, description="New requests per domain, stamped now, before each analytics call."
    )
    script: deque[ScriptedFault] = Field(
        default_factory=deque, description="Answers for the next requests, one each, in order."
    )
    fail_after: int | None = Field(
        None,
        ge=0,
        description="Counts down on each successful answer; at 0 every answer is error_status.",
    )
    path_prefix: str = Field("", description="Faults touch only paths starting with this.")
    extra_fields: dict[str, Any] = Field(
        default_factory=dict,
        description="Schema drift: added to every record (object in an array) of an answer.",
    )


class TruncatedResponse(Exception):
    """Raised after half a body to make the server abort the connection."""


class _TokenBucket:
    """A rate limit allowing bursts of `burst` requests, by default one second's worth."""

    def __init__(self) -> None:
        self._tokens = 0.0
        self._refilled_at = time.monotonic()
        self._rate: tuple[float, float] | None = None  # (rate, capacity)

    def retry_after_s(self, rate: float, burst: float | None = None) -> int | None:
        """None if a request may pass now, otherwise whole seconds to wait."""
        now = time.monotonic()
        capacity = burst or max(1.0, rate)
        if (rate, capacity) != self._rate:
            self._rate, self._tokens = (rate, capacity), capacity
        self._tokens = min(capacity, self._tokens + (now - self._refilled_at) * rate)
        self._refilled_at = now
        if self._tokens >= 1:
            self._tokens -= 1
            return None
        return max(1, math.ceil((1 - self._tokens) / rate))


class FaultInjector:
    """ASGI middleware that applies the current `Faults` to API requests."""

    def __init__(
        self,
        app: ASGIApp,
        faults: Callable[[], Faults],
        dataset: Dataset,
        clock: SimulatedClock,
        seed: int,
    ) -> None:
        self._app = app
        self._faults = faults
        self._dataset = dataset
        self._clock = clock
        self._rng = random.Random(f"waap-sim-faults/{seed}")
        self._bucket = _TokenBucket()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        faults = self._faults()
        if scope["type"] != "http" or vendor_of(path) is None:
            await self._app(scope, receive, send)
            return
        if not path.startswith(faults.path_prefix):
            await self._app(scope, receive, send)
            return
        delay_s = faults.latency_s
        if faults.spike_rate and self._rng.random() < faults.spike_rate:
            delay_s += faults.spike_s
        if delay_s:
            await asyncio.sleep(delay_s)
        injected = self._injected_error(path, faults)
        if injected is not None:
            await injected(scope, receive, send)
            return
        if faults.arrivals_per_request and path == ANALYTICS_PATH:
            self._dataset.add_arrivals(faults.arrivals_per_request, self._clock.now())
        await self._serve(scope, receive, send, faults)

    def _injected_error(self, path: str, faults: Faults) -> ASGIApp | None:
        """The error answer that replaces this request, if any fault fires."""
        if faults.script:
            scripted = faults.script.popleft()
            headers = {}
            if scripted.retry_after is not None:
                headers["Retry-After"] = scripted.retry_after
            if scripted.retry_after_ms is not None:
                headers["retry-after-ms"] = scripted.retry_after_ms
            return error_response(path, scripted.status, "Scripted fault.", headers=headers)
        if faults.fail_after == 0:
            return error_response(path, faults.error_status, "The service is down.")
        if faults.rate_limit_per_s is not None:
            wait_s = self._bucket.retry_after_s(faults.rate_limit_per_s, faults.rate_limit_burst)
            if wait_s is not None:
                headers = {"Retry-After": str(wait_s)} if faults.rate_limit_retry_after else {}
                return error_response(path, 429, "Too many requests.", headers=headers)
        if faults.error_rate and self._rng.random() < faults.error_rate:
            return error_response(path, faults.error_status, "Injected failure.")
        return None

    async def _serve(self, scope: Scope, receive: Receive, send: Send, faults: Faults) -> None:
        """Run the app, then pass its answer on whole or, by chance, cut, short or trickling."""
        messages: list[Message] = []

        async def keep(message: Message) -> None:
            messages.append(message)

        await self._app(scope, receive, keep)
        start, *bodies = messages
        succeeded = 200 <= start["status"] < 300
        if succeeded and faults.fail_after is not None:
            faults.fail_after -= 1
        if succeeded and faults.extra_fields:
            start, bodies = _with_extra_fields(start, bodies, faults.extra_fields)
        if succeeded and faults.truncate_rate and self._rng.random() < faults.truncate_rate:
            body = b"".join(message.get("body", b"") for message in bodies)
            await send(start)
            await send(
                {"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True}
            )
            raise TruncatedResponse(scope["path"])
        if succeeded and faults.short_body_rate and self._rng.random() < faults.short_body_rate:
            start, bodies = _cut_short(start, bodies)
        if succeeded and faults.trickle_rate and self._rng.random() < faults.trickle_rate:
            await send(start)
            await _trickle(bodies, faults.trickle_bytes_per_s, receive, send)
            return
        for message in (start, *bodies):
            await send(message)


def _cut_short(start: Message, bodies: list[Message]) -> tuple[Message, list[Message]]:
    """The answer with only the first half of its body, and a Content-Length that agrees."""
    body = b"".join(message.get("body", b"") for message in bodies)
    return _with_body(start, body[: len(body) // 2])


async def _trickle(bodies: list[Message], bytes_per_s: float, receive: Receive, send: Send) -> None:
    """Send the body a few bytes at a time at `bytes_per_s`, until it is sent or the client goes.

    Every chunk comes well within a read timeout, so only a deadline on the whole request
    ends the wait early.
    """
    body = b"".join(message.get("body", b"") for message in bodies)
    chunk = max(1, int(bytes_per_s / 10))
    disconnected = asyncio.ensure_future(_disconnect(receive))
    try:
        for offset in range(0, len(body), chunk):
            if disconnected.done():
                return
            piece = body[offset : offset + chunk]
            await send({"type": "http.response.body", "body": piece, "more_body": True})
            await asyncio.sleep(len(piece) / bytes_per_s)
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    finally:
        disconnected.cancel()


async def _disconnect(receive: Receive) -> None:
    """Return once the client has gone (what is left of the request body is skipped)."""
    while (await receive())["type"] != "http.disconnect":
        pass


def _with_body(start: Message, body: bytes) -> tuple[Message, list[Message]]:
    """The answer start with a Content-Length for `body`, and `body` as its one message."""
    headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
    headers.append((b"content-length", str(len(body)).encode()))
    return {**start, "headers": headers}, [{"type": "http.response.body", "body": body}]


def _with_extra_fields(
    start: Message, bodies: list[Message], extra: dict[str, Any]
) -> tuple[Message, list[Message]]:
    """The answer with `extra` added to each record, as a newer API version would send it.

    Records are the objects inside arrays; other objects may be maps (Appgate's `versions`),
    where a new key is not a new field.
    """
    document = json.loads(b"".join(message.get("body", b"") for message in bodies))

    def widen(value: Any, is_record: bool = False) -> Any:
        if isinstance(value, dict):
            widened = {key: widen(item) for key, item in value.items()}
            return {**widened, **extra} if is_record else widened
        if isinstance(value, list):
            return [widen(item, is_record=True) for item in value]
        return value

    return _with_body(start, json.dumps(widen(document)).encode())
