"""The HTTP core's pure parts: Retry-After parsing, ordered concurrency, pacing, settings."""

import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from waap_sessions.errors import (
    ApiError,
    ApiTransportError,
    AuthenticationError,
    InvalidParameterError,
    ServerError,
    api_error_class,
)
from waap_sessions.http_core import (
    HttpSettings,
    RateLimiter,
    is_retryable,
    map_in_order,
    parse_retry_after,
)
from waap_sessions.models import validate_parameters

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "3"}, 3.0),
        ({"Retry-After": "0"}, 0.0),
        ({"retry-after-ms": "250"}, 0.25),
        ({"retry-after-ms": "250", "Retry-After": "9"}, 0.25),  # the finer one wins
        ({"Retry-After": format_datetime(NOW + timedelta(seconds=7), usegmt=True)}, 7.0),
        ({"Retry-After": format_datetime(NOW - timedelta(seconds=7), usegmt=True)}, 0.0),
        ({"Retry-After": "soon"}, None),
        ({}, None),
    ],
)
def test_retry_after_reads_seconds_milliseconds_and_dates(headers, expected):
    assert parse_retry_after(httpx.Headers(headers), now=NOW) == expected


@pytest.mark.parametrize(
    ("error", "retryable"),
    [
        (ApiTransportError(vendor="v", method="GET", path="/", reason="cut"), True),
        *[
            (api_error_class(status)(vendor="v", method="GET", path="/", status=status), True)
            for status in (408, 409, 429, 500, 502, 503, 504)
        ],
        *[
            (api_error_class(status)(vendor="v", method="GET", path="/", status=status), False)
            for status in (400, 401, 403, 404, 406, 422)
        ],
    ],
)
def test_only_transient_failures_are_retryable(error, retryable):
    assert is_retryable(error) is retryable


def test_error_classes_follow_the_status():
    assert api_error_class(401) is AuthenticationError
    assert api_error_class(503) is ServerError
    assert api_error_class(418) is ApiError


def test_map_in_order_keeps_input_order_and_bounds_concurrency():
    running = 0
    most = 0
    lock = threading.Lock()

    def slow_square(value: int) -> int:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.02 if value % 2 else 0.005)  # odd items finish last
        with lock:
            running -= 1
        return value * value

    assert list(map_in_order(slow_square, range(12), workers=3)) == [n * n for n in range(12)]
    assert most == 3


def test_map_in_order_stops_early_without_running_everything():
    started = []

    def record(value: int) -> int:
        started.append(value)
        return value

    results = map_in_order(record, range(1000), workers=4)
    assert [next(results) for _ in range(3)] == [0, 1, 2]
    results.close()
    assert len(started) <= 3 + 4


def test_map_in_order_passes_errors_on():
    def fail_on_three(value: int) -> int:
        if value == 3:
            raise ValueError("three")
        return value

    with pytest.raises(ValueError, match="three"):
        list(map_in_order(fail_on_three, range(10), workers=2))


def test_rate_limiter_spaces_requests_across_threads():
    limiter = RateLimiter(per_second=50)
    started = time.monotonic()
    threads = [threading.Thread(target=limiter.acquire) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Six slots 20 ms apart: the last starts at least 100 ms after the first.
    assert time.monotonic() - started >= 0.1


def test_no_rate_limit_means_no_wait():
    limiter = RateLimiter(per_second=None)
    started = time.monotonic()
    for _ in range(1000):
        limiter.acquire()
    assert time.monotonic() - started < 0.5


@pytest.mark.parametrize(
    ("values", "field", "limit"),
    [
        ({"base_url": "ftp://example.com"}, "base_url", "must be http(s)://host"),
        ({"base_url": "https://user:secret@example.com"}, "base_url", "must be http(s)://host"),
        (
            {"base_url": "https://x", "max_in_flight": 0},
            "max_in_flight",
            "greater than or equal to 1",
        ),
        ({"base_url": "https://x", "max_retries": 21}, "max_retries", "less than or equal to 20"),
        ({"base_url": "https://x", "read_timeout_s": 0}, "read_timeout_s", "greater than 0"),
        (
            {"base_url": "https://x", "requests_per_second": -1},
            "requests_per_second",
            "greater than 0",
        ),
        ({"base_url": "https://x", "retries": 3}, "retries", "Extra inputs are not permitted"),
    ],
)
def test_bad_settings_name_the_field_and_the_limit(values, field, limit):
    with pytest.raises(InvalidParameterError) as caught:
        validate_parameters(HttpSettings, values, "HTTP settings")
    assert caught.value.fields == (field,)
    assert field in str(caught.value)
    assert limit in str(caught.value)
    assert "secret" not in str(caught.value)
