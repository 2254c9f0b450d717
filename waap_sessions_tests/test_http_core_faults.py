"""The clients under answers that come short, stall, come late, or fail a login.

Real HTTP against the simulator's faults; each test checks the data that comes back
against the simulator's own, not only that no error was raised.
"""

import time
from collections import Counter
from datetime import datetime, timedelta

import dagster as dg
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
from waap_sessions.http_core import HttpSettings, RateLimiter
from waap_sessions.models import parse_response, validate_parameters
from waap_sessions.simulator import Simulator, SimulatorConfig
from waap_sessions_tests.conftest import (
    CONFIG,
    NOW,
    YESTERDAY,
    fast_settings,
    gcore_ip_top_sessions,
    gcore_requests,
    pipeline_resources,
    query,
)

DAY = timedelta(days=1)
ANALYTICS = "/waap/v1/analytics/requests"
DOMAINS = "/waap/v1/domains"
SESSIONS = "/1.1/sessions"
LOGIN = "/admin/login"
DASHBOARD = "/admin/stats/active-sessions/dashboard"
# Dagster's run tags for the partition range a run loads (dagster._core.storage.tags, not
# exported), as a backfill of many partitions in one run sets them.
RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"
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


def ids_of_day(simulator: Simulator, domain_id: int, day: datetime) -> list[str]:
    """The ids of a domain's requests in the UTC day starting at `day`, from the data set."""
    start, end = (int(moment.timestamp() * 1000) for moment in (day, day + DAY))
    rows = simulator.dataset.requests(domain_id)
    return [row["id"] for row in rows if start <= row["request_time"] < end]


def read_yesterday(simulator: Simulator, **settings: object) -> tuple[RequestStream, int]:
    """Read yesterday of the first domain with a patient client: its stream, and its retries.

    The rows must be the data set's own, oldest first, computed without the client.
    """
    domain_id = simulator.dataset.domains[0].id
    expected = ids_of_day(simulator, domain_id, YESTERDAY)
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


# --- a server rate limit -----------------------------------------------------------------


def test_a_backfill_under_a_strict_rate_limit_loads_every_row_with_default_settings(tmp_path):
    """20 requests a second, no burst and no Retry-After (as nginx's limit_req answers): a
    run of four partitions with the resources' default settings loads each one exactly.

    Once, 429s spent the three error retries within seconds and the runs failed."""
    config = SimulatorConfig(seed=11, domains=2, days=2, requests_per_day=1000, now=NOW)
    days = [YESTERDAY - DAY, YESTERDAY]
    first, last = (day.date().isoformat() for day in days)
    with Simulator(config) as simulator, dg.instance_for_test() as instance:
        domains = sorted(str(domain.id) for domain in simulator.dataset.domains)
        instance.add_dynamic_partitions("gcore_domains", domains)
        simulator.faults.rate_limit_per_s = 20.0
        simulator.faults.rate_limit_burst = 1.0
        simulator.faults.rate_limit_retry_after = False

        result = dg.materialize(
            [gcore_requests, gcore_ip_top_sessions],
            instance=instance,
            resources=pipeline_resources(simulator, tmp_path),
            tags={RANGE_START: f"{first}|{domains[0]}", RANGE_END: f"{last}|{domains[-1]}"},
        )
        expected = {
            (day.date().isoformat(), int(domain)): len(ids_of_day(simulator, int(domain), day))
            for day in days
            for domain in domains
        }
        refused = calls(simulator, ANALYTICS).count(429)

    assert result.success
    loaded = query(
        tmp_path,
        "SELECT strftime(day, '%Y-%m-%d'), domain_id, count(*), count(DISTINCT id) "
        "FROM gcore_requests GROUP BY ALL",
    )
    assert {(day, domain): (rows, unique) for day, domain, rows, unique in loaded} == {
        key: (rows, rows) for key, rows in expected.items()
    }
    assert refused > 0  # the limit was met


def test_a_limit_without_bursts_is_not_read_as_one_request_a_second():
    """Requests sent together to a limit allowing no burst: one is served, the rest refused
    a few ms later. That says little of the rate, and must not set it to one a second,
    from which it took a minute to climb back (3.6 requests a second under a limit of 20).
    """
    limiter = RateLimiter(per_second=None)
    sent_at = time.monotonic()
    limiter.served(sent_at)
    limiter.refused(sent_at, pause_s=0.0)

    assert limiter.learned_per_second is not None
    assert limiter.learned_per_second > 1.0
