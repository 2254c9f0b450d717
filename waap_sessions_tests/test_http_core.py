"""The HTTP core over real HTTP: retries, Retry-After, errors, timeouts, pacing, counters."""

import socket
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from waap_sessions.errors import (
    ApiError,
    ApiTransportError,
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    PermissionDeniedError,
    ServerError,
    UnprocessableEntityError,
)
from waap_sessions.gcore import GcoreWaapClient
from waap_sessions.http_core import USER_AGENT, map_in_order
from waap_sessions.simulator import ScriptedFault
from waap_sessions_tests.conftest import CONFIG, fast_settings

DOMAINS = "/waap/v1/domains"


def api_calls(simulator, path=DOMAINS):
    return [entry for entry in simulator.request_log if entry.path == path]


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504])
def test_each_retryable_status_is_retried_after_the_wait_it_asks_for(simulator, gcore, status):
    simulator.faults.script.extend(
        [ScriptedFault(status=status, retry_after_ms="120"), ScriptedFault(status=status)]
    )

    response = gcore.http.request("GET", DOMAINS)

    assert response.status_code == 200
    assert [entry.status for entry in api_calls(simulator)] == [status, status, 200]
    assert gcore.http.stats.retries == 2
    assert gcore.http.stats.requests == 3
    # 120 ms asked for, then a backoff of at most `backoff_max_s` (50 ms here).
    assert 0.12 <= gcore.http.stats.retry_wait_s <= 0.12 + 0.05


def test_retry_after_in_seconds_is_honoured(simulator, gcore):
    simulator.faults.script.append(ScriptedFault(status=429, retry_after="1"))

    started = time.monotonic()
    gcore.http.request("GET", DOMAINS)

    assert time.monotonic() - started >= 1.0
    assert gcore.http.stats.retry_wait_s == pytest.approx(1.0)


def test_retry_after_ms_is_honoured_and_preferred(simulator, gcore):
    simulator.faults.script.append(
        ScriptedFault(status=503, retry_after="30", retry_after_ms="300")
    )

    started = time.monotonic()
    gcore.http.request("GET", DOMAINS)

    assert 0.3 <= time.monotonic() - started < 5
    assert gcore.http.stats.retry_wait_s == pytest.approx(0.3)


def test_retry_after_as_an_http_date_is_honoured(simulator, gcore):
    when = datetime.now(UTC) + timedelta(seconds=2)
    simulator.faults.script.append(
        ScriptedFault(status=503, retry_after=format_datetime(when, usegmt=True))
    )

    started = time.monotonic()
    gcore.http.request("GET", DOMAINS)

    # The date has whole-second precision: the wait is between one and two seconds.
    assert time.monotonic() - started >= 0.9
    assert 0.9 <= gcore.http.stats.retry_wait_s <= 2.0


def test_retry_after_is_capped(simulator):
    settings = fast_settings(simulator.base_url, max_retry_after_s=0.2)
    simulator.faults.script.append(ScriptedFault(status=429, retry_after="3600"))

    with GcoreWaapClient(CONFIG.gcore_api_key, settings) as client:
        started = time.monotonic()
        client.http.request("GET", DOMAINS)
        assert time.monotonic() - started < 2
        assert client.http.stats.retry_wait_s == pytest.approx(0.2)


def test_retries_are_bounded(simulator):
    settings = fast_settings(simulator.base_url, max_retries=2)
    simulator.faults.script.extend([ScriptedFault(status=503)] * 5)

    with GcoreWaapClient(CONFIG.gcore_api_key, settings) as client, pytest.raises(ServerError):
        client.http.request("GET", DOMAINS)

    assert len(api_calls(simulator)) == 3


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (422, UnprocessableEntityError),
    ],
)
def test_client_errors_are_not_retried_and_say_what_failed(simulator, gcore, status, error_class):
    simulator.faults.script.append(ScriptedFault(status=status))

    with pytest.raises(error_class) as caught:
        gcore.http.request("GET", DOMAINS)

    assert len(api_calls(simulator)) == 1
    error = caught.value
    assert (error.status, error.method, error.path, error.vendor) == (
        status,
        "GET",
        DOMAINS,
        "Gcore",
    )
    assert f"HTTP {status}" in str(error)
    assert error.title  # the problem+json title travels with the error


def test_gcore_validation_errors_carry_the_fields(simulator, gcore):
    with pytest.raises(UnprocessableEntityError) as caught:
        gcore.http.request("GET", "/waap/v1/analytics/requests", params={"limit": 500})

    locations = {field.location for field in caught.value.errors}
    assert "query.start" in locations  # required, and missing
    assert "query.limit" in locations
    assert "query.limit" in str(caught.value)


def test_a_truncated_body_is_retried(simulator, gcore):
    simulator.faults.truncate_rate = 1.0
    simulator.faults.path_prefix = DOMAINS

    with pytest.raises(ApiTransportError, match="RemoteProtocolError"):
        gcore.http.request("GET", DOMAINS)
    assert gcore.http.stats.retries == gcore.http.settings.max_retries

    simulator.faults.truncate_rate = 0.0
    assert gcore.http.request("GET", DOMAINS).status_code == 200


def test_a_slow_answer_times_out_and_is_retried(simulator):
    simulator.faults.latency_s = 0.5
    settings = fast_settings(simulator.base_url, read_timeout_s=0.1, max_retries=1)

    with GcoreWaapClient(CONFIG.gcore_api_key, settings) as client:
        with pytest.raises(ApiTransportError, match="ReadTimeout"):
            client.http.request("GET", DOMAINS)
        assert client.http.stats.retries == 1


def test_a_refused_connection_is_retried_then_reported():
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    settings = fast_settings(f"http://127.0.0.1:{port}", max_retries=2)

    with GcoreWaapClient(CONFIG.gcore_api_key, settings) as client:
        with pytest.raises(ApiTransportError, match="ConnectError") as caught:
            client.http.request("GET", DOMAINS)
        assert client.http.stats.retries == 2
    assert caught.value.path == DOMAINS


def test_the_server_rate_limit_is_survived(simulator, gcore):
    simulator.faults.rate_limit_per_s = 20.0

    for _ in range(15):
        gcore.http.request("GET", DOMAINS)

    statuses = [entry.status for entry in api_calls(simulator)]
    assert statuses.count(200) == 15


def test_the_client_rate_limit_paces_requests(simulator):
    settings = fast_settings(simulator.base_url, requests_per_second=20)

    with GcoreWaapClient(CONFIG.gcore_api_key, settings) as client:
        started = time.monotonic()
        for _ in range(6):
            client.http.request("GET", DOMAINS)
        assert time.monotonic() - started >= 0.25  # six slots 50 ms apart


def test_requests_in_flight_are_capped(simulator):
    simulator.faults.latency_s = 0.2
    settings = fast_settings(simulator.base_url, max_in_flight=2)

    with GcoreWaapClient(CONFIG.gcore_api_key, settings) as client:
        started = time.monotonic()
        list(map_in_order(lambda _: client.http.request("GET", DOMAINS), range(6), workers=6))
        elapsed = time.monotonic() - started

    # Six 0.2 s answers, two at a time: three rounds. Unbounded would take one.
    assert elapsed >= 0.55


def test_counters_and_user_agent(simulator, gcore):
    gcore.http.request("GET", DOMAINS)
    gcore.http.request("GET", DOMAINS)

    stats = gcore.http.stats.snapshot()
    assert stats["requests"] == 2
    assert stats["retries"] == 0
    assert stats["bytes_received"] > 100
    assert USER_AGENT.startswith("waap-sessions/0.")
    assert {entry.user_agent for entry in api_calls(simulator)} == {USER_AGENT}


def test_api_error_is_the_common_base(simulator, gcore):
    simulator.faults.script.append(ScriptedFault(status=404))
    with pytest.raises(ApiError):
        gcore.http.request("GET", DOMAINS)
