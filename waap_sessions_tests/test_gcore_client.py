"""The Gcore WAAP client against the simulator over real HTTP."""

import fnmatch
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest

from waap_sessions.gcore import GcoreWaapClient, normalise_session_id
from waap_sessions.simulator import Faults, Simulator, SimulatorConfig
from waap_sessions_tests.conftest import CONFIG, NOW, YESTERDAY, fast_settings

DAY = timedelta(days=1)


def millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def expected_rows(simulator, domain_id, start, end, keep=lambda row: True):
    """The data set's own answer, computed without the client."""
    return [
        row
        for row in simulator.dataset.requests(domain_id)
        if millis(start) <= row["request_time"] < millis(end) and keep(row)
    ]


def first_domain(simulator) -> int:
    return simulator.dataset.domains[0].id


def test_a_day_comes_back_complete_across_many_pages(simulator, gcore):
    domain_id = first_domain(simulator)
    expected = expected_rows(simulator, domain_id, YESTERDAY, YESTERDAY + DAY)

    stream = gcore.iter_requests(YESTERDAY, YESTERDAY + DAY, domains=[domain_id])
    rows = list(stream)

    assert len(expected) > 1000
    assert [row.id for row in rows] == [row["id"] for row in expected]  # oldest first
    assert rows[0].model_dump(exclude={"policy_override"}) == expected[0]
    assert stream.pages == len(expected) // 100 + 1  # a short (maybe empty) page ends it
    assert stream.reported_count == len(expected) == stream.rows
    assert stream.windows == 1
    assert stream.duplicates == 0


def test_paging_works_when_count_is_the_page_size(simulator):
    """The seed page reads `count` as the rows in the page: paging must not rely on it."""
    config = CONFIG.model_copy(update={"count_mode": "page"})
    with (
        Simulator(config) as page_counting,
        GcoreWaapClient(config.gcore_api_key, fast_settings(page_counting.base_url)) as client,
    ):
        domain_id = first_domain(page_counting)
        expected = expected_rows(page_counting, domain_id, YESTERDAY, YESTERDAY + DAY)

        stream = client.iter_requests(YESTERDAY, YESTERDAY + DAY, domains=[domain_id])
        ids = [row.id for row in stream]

    assert ids == [row["id"] for row in expected]
    assert stream.reported_count is None  # the API did not report a total


def test_the_window_is_half_open_so_days_never_overlap(simulator, gcore):
    domain_id = first_domain(simulator)
    two_days = {
        row.id for row in gcore.iter_requests(YESTERDAY - DAY, YESTERDAY + DAY, domains=[domain_id])
    }
    first = [row.id for row in gcore.iter_requests(YESTERDAY - DAY, YESTERDAY, domains=[domain_id])]
    second = [
        row.id for row in gcore.iter_requests(YESTERDAY, YESTERDAY + DAY, domains=[domain_id])
    ]

    assert not set(first) & set(second)
    assert set(first) | set(second) == two_days


def test_newest_first_ordering_is_supported(simulator, gcore):
    domain_id = first_domain(simulator)
    rows = list(
        gcore.iter_requests(
            YESTERDAY, YESTERDAY + DAY, domains=[domain_id], ordering="-request_time"
        )
    )
    times = [row.request_time for row in rows]

    assert times == sorted(times, reverse=True)
    assert len(rows) == len(expected_rows(simulator, domain_id, YESTERDAY, YESTERDAY + DAY))


def test_pages_are_fetched_concurrently_when_the_total_is_known(simulator):
    simulator.faults.latency_s = 0.05
    domain_id = first_domain(simulator)
    settings = fast_settings(simulator.base_url, max_in_flight=8)

    with GcoreWaapClient(CONFIG.gcore_api_key, settings) as client:
        stream = client.iter_requests(YESTERDAY, YESTERDAY + DAY, domains=[domain_id])
        rows = list(stream)

    assert stream.pages >= 20  # a day of a domain: about 2,000 to 3,000 rows, 100 a page
    # Sequential paging would keep at most one request open; the log shows overlap.
    assert simulator.max_concurrent_requests >= 4
    assert len({row.id for row in rows}) == len(rows)


FILTER_CASES = {
    "countries": ({"countries": ["US", "DE"]}, lambda r: r["country"] in {"US", "DE"}),
    "exclude_countries": ({"exclude_countries": ["US"]}, lambda r: r["country"] != "US"),
    "decision": ({"decision": ["blocked"]}, lambda r: r["decision"] == "blocked"),
    "exclude_decision": ({"exclude_decision": ["passed"]}, lambda r: r["decision"] != "passed"),
    "optional_action": (
        {"optional_action": "captcha"},
        lambda r: r["optional_action"] == "captcha",
    ),
    "exclude_optional_action": (
        {"exclude_optional_action": ["captcha", "challenge"]},
        lambda r: r["optional_action"] not in {"captcha", "challenge"},
    ),
    "status_codes": ({"status_codes": [403]}, lambda r: r["status_code"] == 403),
    "exclude_status_codes": ({"exclude_status_codes": [200]}, lambda r: r["status_code"] != 200),
    "http_methods": ({"http_methods": ["POST"]}, lambda r: r["method"] == "POST"),
    "exclude_http_methods": ({"exclude_http_methods": ["GET"]}, lambda r: r["method"] != "GET"),
    "path": ({"path": "/api/*"}, lambda r: fnmatch.fnmatchcase(r["path"], "/api/*")),
    "exclude_path": (
        {"exclude_path": ["/api/*"]},
        lambda r: not fnmatch.fnmatchcase(r["path"], "/api/*"),
    ),
    "user_agent": ({"user_agent": "MOZILLA"}, lambda r: "mozilla" in r["user_agent"].lower()),
    "exclude_user_agent": (
        {"exclude_user_agent": ["mozilla"]},
        lambda r: "mozilla" not in r["user_agent"].lower(),
    ),
    "user_agent_clients": (
        {"user_agent_clients": ["Chrome"]},
        lambda r: r["user_agent_client"] == "Chrome",
    ),
    "exclude_user_agent_clients": (
        {"exclude_user_agent_clients": ["Chrome"]},
        lambda r: r["user_agent_client"] != "Chrome",
    ),
}


@pytest.mark.parametrize("case", sorted(FILTER_CASES))
def test_each_filter_narrows_the_window_as_documented(simulator, gcore, case):
    filters, keep = FILTER_CASES[case]
    domain_id = first_domain(simulator)
    expected = expected_rows(simulator, domain_id, YESTERDAY, YESTERDAY + DAY, keep)
    everything = expected_rows(simulator, domain_id, YESTERDAY, YESTERDAY + DAY)

    ids = [
        row.id
        for row in gcore.iter_requests(YESTERDAY, YESTERDAY + DAY, domains=[domain_id], **filters)
    ]

    assert 0 < len(expected) < len(everything), "the case must narrow the data set"
    assert ids == [row["id"] for row in expected]


def sample(simulator, field, where=lambda r: True):
    """A value of `field` that occurs in yesterday's rows of the first domain."""
    rows = expected_rows(simulator, first_domain(simulator), YESTERDAY, YESTERDAY + DAY, where)
    return Counter(row[field] for row in rows if row[field]).most_common()[len(rows) % 3][0]


@pytest.mark.parametrize(
    ("filter_name", "field", "where"),
    [
        ("ips", "client_ip", lambda r: True),
        ("exclude_ips", "client_ip", lambda r: True),
        ("session_ids", "session_id", lambda r: True),
        ("exclude_session_ids", "session_id", lambda r: True),
        ("reference_ids", "reference_id", lambda r: True),
        ("exclude_reference_ids", "reference_id", lambda r: True),
        ("request_ids", "id", lambda r: True),
        ("exclude_request_ids", "id", lambda r: True),
        ("security_rule_names", "rule_name", lambda r: True),
        ("exclude_security_rule_names", "rule_name", lambda r: True),
        ("ja3", "ja3", lambda r: True),
        ("exclude_ja3", "ja3", lambda r: True),
        ("organizations", "organization", lambda r: True),
        ("exclude_organizations", "organization", lambda r: True),
    ],
)
def test_each_identity_filter_matches_exactly(simulator, gcore, filter_name, field, where):
    value = sample(simulator, field, where)
    excluding = filter_name.startswith("exclude_")
    domain_id = first_domain(simulator)

    def keep(row):
        return (
            (row[field].lower() != value.lower())
            if excluding
            else row[field].lower() == value.lower()
        )

    expected = expected_rows(simulator, domain_id, YESTERDAY, YESTERDAY + DAY, keep)
    sent = value.upper() if field == "ja3" else value  # JA3 is case-folded by the API
    ids = [
        row.id
        for row in gcore.iter_requests(
            YESTERDAY, YESTERDAY + DAY, domains=[domain_id], **{filter_name: [sent]}
        )
    ]

    assert expected
    assert ids == [row["id"] for row in expected]


def test_domain_filters_pick_domains(simulator, gcore):
    first, second, third = (domain.id for domain in simulator.dataset.domains)
    start, end = YESTERDAY + timedelta(hours=12), YESTERDAY + timedelta(hours=13)

    chosen = {row.domain_id for row in gcore.iter_requests(start, end, domains=[first, third])}
    left = {row.domain_id for row in gcore.iter_requests(start, end, exclude_domains=[first])}
    every = {row.domain_id for row in gcore.iter_requests(start, end)}

    assert chosen == {first, third}
    assert left == {second, third}
    assert every == {first, second, third}


HIDDEN_ATTRIBUTES = {
    "tags": lambda record: set(record.tags),
    "user_agent_devices": lambda record: {record.session.client.device},
    "ja4": lambda record: {record.session.client.ja4} - {""},
}


@pytest.mark.parametrize("name", sorted(HIDDEN_ATTRIBUTES))
def test_filters_on_attributes_that_rows_do_not_carry(simulator, gcore, name):
    """Tags, devices and JA4 are filterable though RequestSummary does not show them."""
    attribute = HIDDEN_ATTRIBUTES[name]
    domain_id = first_domain(simulator)
    window = (YESTERDAY, YESTERDAY + DAY)
    records = simulator.dataset.records_between(domain_id, millis(window[0]), millis(window[1]))
    value = Counter(v for record in records for v in attribute(record)).most_common(2)[1][0]
    matching = [r.summary["id"] for r in records if value in attribute(r)]
    others = [r.summary["id"] for r in records if value not in attribute(r)]

    included = [
        row.id for row in gcore.iter_requests(*window, domains=[domain_id], **{name: [value]})
    ]
    excluded = [
        row.id
        for row in gcore.iter_requests(*window, domains=[domain_id], **{f"exclude_{name}": [value]})
    ]

    assert matching
    assert others
    assert included == matching
    assert excluded == others


def test_a_window_past_the_offset_ceiling_comes_back_complete():
    config = SimulatorConfig(seed=11, domains=1, days=1, requests_per_day=120_000, now=NOW)
    with (
        Simulator(config) as big,
        GcoreWaapClient(
            config.gcore_api_key, fast_settings(big.base_url, max_in_flight=4)
        ) as client,
    ):
        domain_id = first_domain(big)
        expected = expected_rows(big, domain_id, YESTERDAY, YESTERDAY + DAY)
        stream = client.iter_requests(YESTERDAY, YESTERDAY + DAY, domains=[domain_id])
        ids = [row.id for row in stream]
        offsets = [
            int(entry.query_params["offset"])
            for entry in big.request_log
            if entry.path.endswith("/requests")
        ]

    assert len(expected) > 100_100
    assert len(ids) == len(set(ids)) == len(expected)
    assert set(ids) == {row["id"] for row in expected}
    assert stream.windows == 2
    assert max(offsets) == 100_000


def test_arrivals_while_paging_an_open_window_lose_and_repeat_nothing():
    config = CONFIG.model_copy(update={"domains": 1})
    with (
        Simulator(config) as live,
        GcoreWaapClient(config.gcore_api_key, fast_settings(live.base_url)) as client,
    ):
        domain_id = first_domain(live)
        start = NOW - timedelta(hours=6)
        before = {
            row["id"]
            for row in live.dataset.requests(domain_id)
            if row["request_time"] >= millis(start)
        }
        live.faults = Faults(arrivals_per_request=5)

        # end=None: an open window, pinned when paging starts (the wall clock is past NOW).
        stream = client.iter_requests(start, domains=[domain_id], ordering="-request_time")
        ids = [row.id for row in stream]
        after = len(live.dataset.requests(domain_id))

    assert after > len(before), "requests arrived while the client paged"
    assert len(ids) == len(set(ids)), "no request twice"
    assert before <= set(ids), "no request that existed before paging is lost"
    assert stream.duplicates > 0, "newest-first offsets shifted and were absorbed"


def test_domains_are_listed(simulator, gcore):
    listed = list(gcore.iter_domains())
    assert [(d.id, d.name) for d in listed] == [(d.id, d.name) for d in simulator.dataset.domains]


def test_top_sessions_agree_with_the_request_analytics(simulator, gcore):
    domain_id = first_domain(simulator)
    rows = simulator.dataset.requests(domain_id)
    busiest_ip, _ = Counter(row["client_ip"] for row in rows).most_common(1)[0]

    sessions = gcore.get_top_sessions(busiest_ip, domain_id)

    per_session = Counter(
        row["session_id"] for row in rows if row["client_ip"] == busiest_ip and row["session_id"]
    )
    blocked = Counter(
        row["session_id"]
        for row in rows
        if row["client_ip"] == busiest_ip and row["decision"] == "blocked"
    )
    assert 1 <= len(sessions) <= 10
    for session in sessions:
        assert session.session_key == normalise_session_id(session.session_id)
        assert len(session.session_key) == 32
        assert session.requests == per_session[session.session_key]
        assert session.blocked == blocked[session.session_key]
    assert [s.requests for s in sessions] == sorted((s.requests for s in sessions), reverse=True)


def test_ipv6_is_accepted_by_ip_spotlight(simulator, gcore):
    assert gcore.get_top_sessions("2001:db8::1", first_domain(simulator)) == []


def test_normalise_session_id():
    assert (
        normalise_session_id("EDAB69D7-3B47-CFEC-C3D3-C038ADA6C7DE")
        == "edab69d73b47cfecc3d3c038ada6c7de"
    )
    assert (
        normalise_session_id("edab69d73b47cfecc3d3c038ada6c7de")
        == "edab69d73b47cfecc3d3c038ada6c7de"
    )


def test_undocumented_fields_are_counted_as_drift(simulator, gcore):
    simulator.faults.extra_fields = {"new_field": "x"}
    list(gcore.iter_requests(NOW - timedelta(minutes=30), NOW, domains=[first_domain(simulator)]))
    assert gcore.schema_drift["RequestSummary.new_field"] > 0


def test_time_zones_are_respected(simulator, gcore):
    domain_id = first_domain(simulator)
    india = YESTERDAY.astimezone(timezone(timedelta(hours=5, minutes=30)))
    two_hours = timedelta(hours=2)
    as_utc = [
        row.id for row in gcore.iter_requests(YESTERDAY, YESTERDAY + two_hours, domains=[domain_id])
    ]
    as_local = [
        row.id for row in gcore.iter_requests(india, india + two_hours, domains=[domain_id])
    ]
    assert as_utc
    assert as_utc == as_local
