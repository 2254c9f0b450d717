"""The clients under answers that come short, stall, come late, or fail a login.

Real HTTP against the simulator's faults; each test checks the data that comes back
against the simulator's own, not only that no error was raised.
"""

from collections import Counter
from datetime import timedelta

import pytest
from pydantic import TypeAdapter

from waap_sessions.accesswatch import AccessWatchClient
from waap_sessions.appgate import AppgateSdpClient
from waap_sessions.errors import (
    ApiTransportError,
    AuthenticationError,
    InvalidParameterError,
    ResponseFormatError,
)
from waap_sessions.gcore import GcoreWaapClient, RequestStream
from waap_sessions.gcore.models import RequestsPage
from waap_sessions.http_core import HttpSettings
from waap_sessions.models import parse_response, validate_parameters
from waap_sessions.simulator import Simulator
from waap_sessions_tests.conftest import CONFIG, YESTERDAY, fast_settings

DAY = timedelta(days=1)
ANALYTICS = "/waap/v1/analytics/requests"
DOMAINS = "/waap/v1/domains"
SESSIONS = "/1.1/sessions"
LOGIN = "/admin/login"
DASHBOARD = "/admin/stats/active-sessions/dashboard"
# Enough retries that a fault striking a third of the answers never exhausts them
# (one request in half a million would fail).
PATIENT = {"max_retries": 12}


def gcore_client(simulator: Simulator, **settings: object) -> GcoreWaapClient:
    return GcoreWaapClient(CONFIG.gcore_api_key, fast_settings(simulator.base_url, **settings))


def accesswatch_client(simulator: Simulator, **settings: object) -> AccessWatchClient:
    base_url = simulator.accesswatch_base_url
    return AccessWatchClient(CONFIG.accesswatch_api_key, fast_settings(base_url, **settings))


def appgate_client(simulator: Simulator, password: str | None = None) -> AppgateSdpClient:
    return AppgateSdpClient(
        fast_settings(simulator.appgate_base_url, **PATIENT),
        username=CONFIG.appgate_username,
        password=password or CONFIG.appgate_password,
        provider=CONFIG.appgate_provider,
    )


def calls(simulator: Simulator, path: str) -> list[int]:
    """The status of each call the simulator answered on `path`."""
    return [entry.status for entry in simulator.request_log if entry.path == path]


def read_yesterday(simulator: Simulator, **settings: object) -> tuple[RequestStream, int]:
    """Read yesterday of the first domain with a patient client: its stream, and its retries.

    The rows must be the data set's own, oldest first, computed without the client.
    """
    domain_id = simulator.dataset.domains[0].id
    start, end = (int(moment.timestamp() * 1000) for moment in (YESTERDAY, YESTERDAY + DAY))
    expected = [
        row["id"]
        for row in simulator.dataset.requests(domain_id)
        if start <= row["request_time"] < end
    ]
    with gcore_client(simulator, **{**PATIENT, **settings}) as client:
        stream = client.iter_requests(YESTERDAY, YESTERDAY + DAY, domains=[domain_id])
        assert [row.id for row in stream] == expected
        return stream, client.http.stats.retries


# --- bodies cut short --------------------------------------------------------------------


def test_short_gcore_pages_are_fetched_again_until_the_day_is_exact(simulator):
    simulator.faults.short_body_rate = 0.3

    stream, retries = read_yesterday(simulator)

    statuses = calls(simulator, ANALYTICS)
    assert statuses.count(200) > stream.pages  # some answers were short, all with a 200...
    assert retries == len(statuses) - stream.pages  # ...and each was one retry, no more


def test_short_access_watch_snapshots_are_fetched_again(simulator):
    with accesswatch_client(simulator) as client:
        whole = client.get_sessions(limit=1000)
    simulator.faults.short_body_rate = 0.3

    with accesswatch_client(simulator, **PATIENT) as client:
        answers = [client.get_sessions(limit=1000) for _ in range(10)]
        retries = client.http.stats.retries

    assert all(answer == whole for answer in answers)
    assert retries == len(calls(simulator, SESSIONS)) - 11 > 0


def test_short_appgate_answers_login_included_are_fetched_again(simulator):
    with appgate_client(simulator) as client:
        whole = client.get_active_sessions_dashboard()
    simulator.clear_log()
    simulator.faults.short_body_rate = 0.3

    with appgate_client(simulator) as client:
        answers = [client.get_active_sessions_dashboard() for _ in range(10)]
        retries = client.http.stats.retries
        logins = client.auth.logins

    assert all(answer == whole for answer in answers)
    assert logins == 1
    assert retries == len(calls(simulator, LOGIN)) + len(calls(simulator, DASHBOARD)) - 11 > 0


@pytest.mark.parametrize("body", [b"", b"  ", b'{"count": 3, "limit": 100, "offset": 0, "res'])
def test_a_body_that_is_not_whole_json_is_a_transport_fault(body):
    with pytest.raises(ApiTransportError, match="the body is not whole JSON") as caught:
        parse_response(
            TypeAdapter(RequestsPage),
            body,
            vendor="Gcore",
            method="GET",
            path=ANALYTICS,
            drift=Counter(),
        )
    assert (caught.value.method, caught.value.path) == ("GET", ANALYTICS)


def _gcore_rows(simulator: Simulator) -> object:
    with gcore_client(simulator, **PATIENT) as client:
        return list(client.iter_requests(YESTERDAY, YESTERDAY + DAY)), client.http.stats.retries


def _accesswatch_sessions(simulator: Simulator) -> object:
    with accesswatch_client(simulator, **PATIENT) as client:
        return client.get_sessions(limit=10), client.http.stats.retries


def _appgate_dashboard(simulator: Simulator) -> object:
    with appgate_client(simulator) as client:
        return client.get_active_sessions_dashboard(), client.http.stats.retries


@pytest.mark.parametrize(
    ("load", "path", "field"),
    [
        (_gcore_rows, ANALYTICS, "request_time"),
        (_accesswatch_sessions, SESSIONS, "count"),
        (_appgate_dashboard, DASHBOARD, "sessionCount"),
    ],
)
def test_a_body_that_parses_but_breaks_the_schema_fails_at_once(simulator, load, path, field):
    # A documented integer field of every record comes as a word: whole JSON, wrong schema.
    simulator.faults.extra_fields = {field: "many"}

    with pytest.raises(ResponseFormatError, match=field):
        load(simulator)

    assert len(calls(simulator, path)) == 1  # not retried


# --- stalls ------------------------------------------------------------------------------


def test_a_trickling_answer_is_cut_at_the_request_deadline_and_retried(simulator):
    # The domains list trickles at 20 bytes a second: more than ten seconds in all, each
    # byte well within the read timeout.
    simulator.faults.trickle_rate, simulator.faults.trickle_bytes_per_s = 1.0, 20.0
    with gcore_client(simulator, request_deadline_s=1.0, read_timeout_s=5, max_retries=1) as client:
        with pytest.raises(ApiTransportError, match=r"request deadline \(request_deadline_s=1\)"):
            list(client.iter_domains())
        assert client.http.stats.retries == 1

        simulator.faults.trickle_rate = 0.0
        assert [domain.id for domain in client.iter_domains()] == [
            domain.id for domain in simulator.dataset.domains
        ]


def test_stalls_among_good_answers_cost_retries_not_rows(simulator):
    simulator.faults.trickle_rate, simulator.faults.trickle_bytes_per_s = 0.2, 2000.0

    # A page of 100 rows trickles for many seconds at 2,000 bytes a second.
    _, retries = read_yesterday(simulator, request_deadline_s=1.0)

    assert retries > 0


def test_the_request_deadline_is_validated():
    with pytest.raises(InvalidParameterError, match="request_deadline_s"):
        validate_parameters(
            HttpSettings, {"base_url": "https://x", "request_deadline_s": 0}, "settings"
        )


# --- latency spikes ----------------------------------------------------------------------


def test_answers_held_back_beyond_the_read_timeout_are_asked_again(simulator):
    simulator.faults.spike_rate, simulator.faults.spike_s = 0.3, 3.0

    _, retries = read_yesterday(simulator, read_timeout_s=1.0)

    # Each answer held back was given up after a second and asked for again (the simulator
    # logs it only once it answers, long after the client left).
    assert retries > 0


# --- a failed login ----------------------------------------------------------------------


def test_a_refused_appgate_login_names_the_post_that_failed(simulator):
    with (
        appgate_client(simulator, password="wrong") as client,
        pytest.raises(AuthenticationError) as caught,
    ):
        client.get_active_sessions_dashboard()

    assert (caught.value.method, caught.value.path) == ("POST", LOGIN)
    assert f"Appgate POST {LOGIN} failed with HTTP 401" in str(caught.value)
    assert calls(simulator, LOGIN) == [401]
