"""The HTTP core over real HTTP: retries, Retry-After, errors, timeouts, pacing, counters."""

import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from waap_sessions.errors import (
    ApiError,
    ApiTransportError,
    AuthenticationError,
    BadRequestError,
    InvalidParameterError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    UnprocessableEntityError,
)
from waap_sessions.gcore import GcoreWaapClient
from waap_sessions.http_core import USER_AGENT, HttpSettings, map_in_order
from waap_sessions.models import validate_parameters
from waap_sessions.simulator import ScriptedFault
from waap_sessions_tests.conftest import CONFIG, fast_settings

DOMAINS = "/waap/v1/domains"


def api_calls(simulator, path=DOMAINS):
    return [entry for entry in simulator.request_log if entry.path == path]


def load(client, *, requests, threads, seconds=None):
    """When each of `requests` GETs (or those sent within `seconds`) succeeded, sent from
    `threads` threads at once, as partitions loaded together share a client; any failure
    fails the test."""
    deadline = time.monotonic() + seconds if seconds else None
    tickets = iter(range(requests))
    finished = []
    errors = []
    lock = threading.Lock()

    def work():
        while deadline is None or time.monotonic() < deadline:
            with lock:
                if next(tickets, None) is None:
                    return
            try:
                client.http.request("GET", DOMAINS)
            except Exception as error:  # failed: reported below
                errors.append(error)
                return
            with lock:
                finished.append(time.monotonic())

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert not errors, errors[0]
    return finished


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
    # 120 ms asked for, then a backoff of at most `backoff_max_s` (50 ms here); a 429's
    # waits take up to a quarter more, to spread the requests refused together.
    assert 0.12 <= gcore.http.stats.retry_wait_s <= 1.25 * (0.12 + 0.05)


def test_retry_after_in_seconds_is_honoured(simulator, gcore):
    simulator.faults.script.append(ScriptedFault(status=429, retry_after="1"))

    started = time.monotonic()
    gcore.http.request("GET", DOMAINS)

    assert time.monotonic() - started >= 1.0
    assert 1.0 <= gcore.http.stats.retry_wait_s <= 1.25


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
        assert 0.2 <= client.http.stats.retry_wait_s <= 0.25


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


def test_a_server_rate_limit_is_met_at_its_pace_with_default_settings(simulator):
    rate = 40.0
    simulator.faults.rate_limit_per_s = rate
    # The default settings but for 16 in flight, as when partitions loaded at once share
    # one client.
    settings = HttpSettings(base_url=simulator.base_url, max_in_flight=16)

    with GcoreWaapClient(CONFIG.gcore_api_key, settings) as client:
        started = time.monotonic()
        finished = load(client, requests=280, threads=16)
        elapsed = time.monotonic() - started
        stats = client.http.stats.snapshot()

    assert len(finished) == 280  # every request succeeded: none ran out of retries
    # All 16 in flight may be refused when the limit is first met, before anything is
    # known of it; after that a 429 or two marks each probe past the limit, seconds apart:
    # at most 2 a second of the 7 here. Without learning, half the requests were refused.
    assert stats["rate_limited"] <= 16 + 2 * 7
    assert stats["retries"] == stats["rate_limited"]
    assert len(finished) / elapsed >= 0.8 * rate


def test_a_rate_limit_that_rises_is_followed(simulator):
    simulator.faults.rate_limit_per_s = 20.0
    settings = HttpSettings(base_url=simulator.base_url, max_in_flight=16)

    with GcoreWaapClient(CONFIG.gcore_api_key, settings) as client:
        started = time.monotonic()
        raise_at = threading.Timer(3.0, setattr, (simulator.faults, "rate_limit_per_s", 40.0))
        raise_at.start()
        finished = load(client, requests=2000, threads=16, seconds=11.0)
        raise_at.join()

    # The rate grows a tenth a second while no 429 comes: in the last three seconds it is
    # well above the old limit, which allowed 60.
    late = [moment for moment in finished if moment - started >= 8.0]
    assert len(late) >= 1.25 * 20 * 3


def test_a_429_pauses_every_thread_of_the_client(simulator):
    simulator.faults.script.append(ScriptedFault(status=429, retry_after="1"))
    settings = fast_settings(simulator.base_url, max_in_flight=8)

    with GcoreWaapClient(CONFIG.gcore_api_key, settings) as client:
        started = time.monotonic()
        refused = threading.Thread(target=client.http.request, args=("GET", DOMAINS))
        refused.start()
        while client.http.stats.rate_limited == 0 and refused.is_alive():
            time.sleep(0.005)
        others = load(client, requests=4, threads=4)
        refused.join()

    # The 429 came after `started`: no other request went out before its second was up.
    assert all(moment - started >= 1.0 for moment in others)
    assert [entry.status for entry in api_calls(simulator)].count(429) == 1


def test_requests_refused_together_come_back_spread_out(simulator):
    simulator.faults.latency_s = 0.2  # all twelve are in flight before the first 429
    simulator.faults.script.extend([ScriptedFault(status=429, retry_after="1")] * 12)
    settings = fast_settings(simulator.base_url, max_in_flight=12)

    with GcoreWaapClient(CONFIG.gcore_api_key, settings) as client:
        started = time.monotonic()
        finished = load(client, requests=12, threads=12)

    assert [entry.status for entry in api_calls(simulator)].count(429) == 12
    assert min(finished) - started >= 1.0 + 0.2
    # Each waits the second asked for plus a random share of a quarter of it: twelve
    # draws over 250 ms span more than 80 ms but for a chance of about 1 in 30,000.
    assert max(finished) - min(finished) >= 0.08


def test_rate_limit_waits_have_their_own_budget(simulator):
    simulator.faults.script.extend([ScriptedFault(status=429, retry_after_ms="50")] * 3)
    settings = fast_settings(simulator.base_url, max_retries=0)

    with GcoreWaapClient(CONFIG.gcore_api_key, settings) as client:
        assert client.http.request("GET", DOMAINS).status_code == 200
        assert client.http.stats.rate_limited == 3

    simulator.clear_log()
    simulator.faults.script.extend([ScriptedFault(status=429, retry_after_ms="50")] * 5)
    settings = fast_settings(simulator.base_url, max_rate_limit_wait_s=0.1)

    with GcoreWaapClient(CONFIG.gcore_api_key, settings) as client, pytest.raises(RateLimitError):
        client.http.request("GET", DOMAINS)
    # The first wait (50 ms and a little) fits in 0.1 s, the second no longer does.
    assert len(api_calls(simulator)) == 2


def test_the_rate_limit_budget_is_validated():
    with pytest.raises(InvalidParameterError, match="max_rate_limit_wait_s"):
        validate_parameters(
            HttpSettings, {"base_url": "https://x", "max_rate_limit_wait_s": -1}, "settings"
        )


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
