"""The simulator against the API documents, over real HTTP with plain httpx (no mocks)."""

from __future__ import annotations

import ipaddress
import re
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from waap_sessions.simulator import Dataset, Faults, ScriptedFault, Simulator, SimulatorConfig
from waap_sessions.simulator.appgate import dashboard
from waap_sessions.simulator.dataset import DAY_MS, RequestRecord, to_ms
from waap_sessions.simulator.networks import owner_of

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
ANALYTICS = "/waap/v1/analytics/requests"
TOP_SESSIONS = "/waap/v1/ip-info/top-sessions"
DOMAINS = "/waap/v1/domains"
APPGATE_ACCEPT = {"Accept": "application/vnd.appgate.peer-v22+json"}
# A pinned window (the full day before yesterday): it never changes while the server runs.
WINDOW_START = datetime(2026, 11, 18, tzinfo=UTC)
WINDOW_END = datetime(2026, 11, 19, tzinfo=UTC)
WINDOW = {"start": WINDOW_START.isoformat(), "end": WINDOW_END.isoformat()}
# One worker runs the module (`--dist loadgroup`): its tests share the simulator `sim`
# serves, which two workers would each draw again.
pytestmark = pytest.mark.xdist_group("simulator")


def small_config(**changes: Any) -> SimulatorConfig:
    settings: dict[str, Any] = {"seed": 3, "domains": 2, "days": 1, "requests_per_day": 400}
    return SimulatorConfig(now=NOW, **{**settings, **changes})


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    config = SimulatorConfig(seed=7, domains=3, days=3, requests_per_day=5000, now=NOW)
    with Simulator(config) as simulator:
        yield simulator


@pytest.fixture
def gcore(sim: Simulator) -> Iterator[httpx.Client]:
    sim.faults = Faults()
    headers = {"Authorization": f"APIKey {sim.config.gcore_api_key}"}
    with httpx.Client(base_url=sim.base_url, headers=headers, timeout=30) as client:
        yield client
    sim.faults = Faults()


@pytest.fixture
def small() -> Iterator[Simulator]:
    """A tiny simulator of its own, for tests that move its clock or change its data."""
    with Simulator(small_config()) as simulator:
        yield simulator


def gcore_client(simulator: Simulator) -> httpx.Client:
    headers = {"Authorization": f"apikey {simulator.config.gcore_api_key}"}
    return httpx.Client(base_url=simulator.base_url, headers=headers, timeout=30)


def window_records(simulator: Simulator) -> list[RequestRecord]:
    start, end = to_ms(WINDOW_START), to_ms(WINDOW_END)
    return [
        record
        for domain in simulator.dataset.domains
        for record in simulator.dataset.records_between(domain.id, start, end)
    ]


def fetch_all(client: httpx.Client, params: dict[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    while True:
        page = client.get(ANALYTICS, params={**params, "limit": 100, "offset": len(rows)})
        assert page.status_code == 200, page.text
        results = page.json()["results"]
        rows.extend(results)
        if len(results) < 100:
            return rows


def appgate_login(simulator: Simulator, **changes: Any) -> httpx.Response:
    body = {
        "providerName": simulator.config.appgate_provider,
        "username": simulator.config.appgate_username,
        "password": simulator.config.appgate_password,
        "deviceId": str(uuid.UUID(int=1)),
        **changes,
    }
    return httpx.post(f"{simulator.appgate_base_url}/login", json=body, headers=APPGATE_ACCEPT)


# --- configuration -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("domains", 0),
        ("requests_per_day", 0),
        ("days", -1),
        ("count_mode", "all"),
        ("now", datetime(2026, 1, 1)),
        ("appgate_api_versions", ()),
        ("active_window_s", 0),
        ("gcore_api_key", ""),
    ],
)
def test_config_names_the_invalid_field(field: str, value: Any) -> None:
    with pytest.raises(ValidationError, match=field):
        SimulatorConfig(**{field: value})


def test_refuses_non_loopback_host_before_binding() -> None:
    simulator = Simulator(small_config(requests_per_day=10))
    with pytest.raises(ValueError, match="non-loopback"):
        simulator.start(host="0.0.0.0")  # noqa: S104 - the refusal is the point
    with pytest.raises(RuntimeError):
        _ = simulator.base_url


def test_cli_refuses_non_loopback_host() -> None:
    command = [sys.executable, "-m", "waap_sessions.cli", "simulate", "--host", "0.0.0.0"]  # noqa: S104
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert "--allow-non-loopback" in result.stderr


# --- the data set --------------------------------------------------------------------------


def test_same_seed_same_answers_other_seed_differs() -> None:
    bodies = []
    for seed in (11, 11, 12):
        with Simulator(small_config(seed=seed)) as simulator, gcore_client(simulator) as client:
            page = client.get(ANALYTICS, params={"start": "2026-11-19T00:00:00Z", "end": NOW})
            domains = client.get(DOMAINS)
            first = page.json()["results"][0]
            spotlight = client.get(
                TOP_SESSIONS, params={"ip": first["client_ip"], "domain_id": first["domain_id"]}
            )
            bodies.append((page.content, domains.content, spotlight.content))
    assert bodies[0] == bodies[1]
    assert bodies[0][0] != bodies[2][0]


def test_data_looks_like_real_traffic(sim: Simulator) -> None:
    rows = [row for domain in sim.dataset.domains for row in sim.dataset.requests(domain.id)]
    sizes = Counter(row["session_id"] for row in rows if row["session_id"])
    assert max(sizes.values()) >= 20 * statistics.median(sizes.values())  # heavy-tailed
    assert 0.05 <= sum(row["decision"] == "blocked" for row in rows) / len(rows) <= 0.15
    assert len({row["country"] for row in rows}) >= 25
    sessions_per_ip = Counter(ip for ip, _ in {(r["client_ip"], r["session_id"]) for r in rows})
    assert max(sessions_per_ip.values()) >= 30  # office NATs and crawlers
    versions = Counter(ipaddress.ip_address(row["client_ip"]).version for row in rows)
    assert 0.2 < versions[6] / len(rows) < 0.55  # Google's IPv6 statistics: about 45%
    assert {"Chrome", "Firefox", "Safari", "Edge", "Googlebot", "Python Requests", "curl"} <= {
        row["user_agent_client"] for row in rows
    }
    assert any(row["session_id"] == "" for row in rows)
    assert any(row["ja3"] == "" for row in rows)
    times = Counter((row["domain_id"], row["request_time"]) for row in rows)
    assert max(times.values()) >= 2  # requests sharing a millisecond
    assert len({row["id"] for row in rows}) == len(rows)


def test_every_row_is_consistent(sim: Simulator) -> None:
    statuses = {domain.id: domain.status for domain in sim.dataset.domains}
    names = {domain.id: domain.name for domain in sim.dataset.domains}
    fields = set(sim.dataset.requests(sim.dataset.domains[0].id)[0])
    for domain in sim.dataset.domains:
        rows = sim.dataset.requests(domain.id)
        assert [row["request_time"] for row in rows] == sorted(row["request_time"] for row in rows)
        for row in rows:
            assert set(row) == fields
            assert re.fullmatch(r"[a-f0-9]{32}-[0-9]{6}", row["id"])
            assert re.fullmatch(r"([a-f0-9]{32})?", row["session_id"])
            assert re.fullmatch(r"([a-f0-9]{32})?", row["ja3"])
            assert row["domain"] == names[row["domain_id"]]
            blocked = row["decision"] == "blocked"
            assert (row["status_code"] == 403) if blocked else row["status_code"] != 403
            assert bool(re.fullmatch(r"[a-f0-9]{32}", row["reference_id"])) == blocked
            assert row["result"] == {"blocked": "blocked", "monitored": "suppressed"}.get(
                row["decision"], "passed"
            )
            assert (row["decision"] == "monitored") <= (statuses[row["domain_id"]] == "monitor")
            assert bool(row["rule_name"] and row["rule_id"] and row["action"]) == (
                row["decision"] != "passed"
            )
            assert row["optional_action"] in ("", "captcha", "challenge")
            assert not row["optional_action"] or blocked
            assert row["traffic_types"]
            assert " " not in row["traffic_types"]
            assert row["scheme"] in ("http", "https")
            assert row["http_version"] in ("1.1", "2.0", "3.0")


def test_requests_cover_the_full_days_and_today(sim: Simulator) -> None:
    rows = sim.dataset.requests(sim.dataset.domains[0].id)
    first_day = to_ms(datetime(2026, 11, 17, tzinfo=UTC))
    assert first_day <= rows[0]["request_time"] < first_day + 3_600_000
    assert rows[-1]["request_time"] < to_ms(NOW)
    per_day = Counter(row["request_time"] // DAY_MS for row in rows)
    today = per_day[to_ms(NOW) // DAY_MS]
    full_days = [per_day[first_day // DAY_MS + day] for day in range(3)]
    # Full days vary around the mean (weekday, day to day, bursts); today holds the requests
    # of its draw that came before now: at noon, less than a full day.
    assert all(0.6 * 5000 < count < 2.5 * 5000 for count in full_days)
    assert len(set(full_days)) == 3
    assert 0.2 * 5000 < today < 0.8 * 5000
    assert len(rows) == sum(full_days) + today


# --- Gcore request analytics ---------------------------------------------------------------


def _summary(field: str) -> Callable[[RequestRecord], Any]:
    return lambda record: record.summary[field]


def _filter_cases() -> list[Any]:
    """(parameter, value, which records it selects): each filter once, and its exclude twin."""
    cases = [
        ("ips", "{client_ip}", lambda r, v: r.summary["client_ip"] == v),
        ("path", "/products/*", lambda r, v: re.fullmatch(r"/products/.*", r.summary["path"])),
        ("countries", "DE", lambda r, v: r.summary["country"] == "DE"),
        ("status_codes", "404", lambda r, v: r.summary["status_code"] == 404),
        ("http_methods", "POST", lambda r, v: r.summary["method"] == "POST"),
        ("reference_ids", "{reference_id}", lambda r, v: r.summary["reference_id"] == v),
        ("request_ids", "{id}", lambda r, v: r.summary["id"] == v),
        ("session_ids", "{session_id}", lambda r, v: r.summary["session_id"] == v),
        ("security_rule_names", "SQL injection", lambda r, v: r.summary["rule_name"] == v),
        ("decision", "blocked", lambda r, v: r.summary["decision"] == v),
        ("optional_action", "captcha", lambda r, v: r.summary["optional_action"] == v),
        (
            "ja3",
            "773906B0EFDEFA24A7F2B8EB6985BF37",
            lambda r, v: r.summary["ja3"] == v.lower(),
        ),
        (
            "ja4",
            "T13D1516H2_8DAAF6152771_02713D6AF862",
            lambda r, v: r.session.client.ja4 == v.lower(),
        ),
        (
            "user_agent",
            "PYTHON-requests",
            lambda r, v: "python-requests" in r.summary["user_agent"],
        ),
        ("user_agent_clients", "Firefox", lambda r, v: r.summary["user_agent_client"] == v),
        ("user_agent_devices", "iPhone", lambda r, v: r.session.client.device == v),
        ("tags", "injectionattack", lambda r, v: v in r.tags),
        ("organizations", "Deutsche Telekom AG", lambda r, v: r.summary["organization"] == v),
        ("domains", "{domain_id}", lambda r, v: r.summary["domain_id"] == int(v)),
    ]
    params = []
    for name, value, selects in cases:
        exclude = "exclude_domains" if name == "domains" else f"exclude_{name}"
        params.append(pytest.param(name, value, selects, True, id=name))
        params.append(pytest.param(exclude, value, selects, False, id=exclude))
    return params


@pytest.mark.parametrize(("name", "value", "selects", "include"), _filter_cases())
def test_each_filter_narrows_as_documented(
    sim: Simulator, gcore: httpx.Client, name: str, value: str, selects: Any, include: bool
) -> None:
    records = window_records(sim)
    sample = next(r for r in records if r.summary["reference_id"] and r.summary["session_id"])
    value = value.format(**sample.summary)
    expected = [r for r in records if bool(selects(r, value)) == include]
    assert 0 < len(expected) < len(records)
    answer = gcore.get(ANALYTICS, params={**WINDOW, name: value, "limit": 100})
    assert answer.status_code == 200, answer.text
    page = answer.json()
    assert page["count"] == len(expected)
    expected_ids = {r.summary["id"] for r in expected}
    assert {row["id"] for row in page["results"]} <= expected_ids


def test_repeated_array_parameters_match_any(sim: Simulator, gcore: httpx.Client) -> None:
    records = window_records(sim)
    wanted = {"DE", "FR"}
    answer = gcore.get(
        ANALYTICS, params=[*WINDOW.items(), ("countries", "DE"), ("countries", "FR")]
    )
    assert answer.json()["count"] == sum(r.summary["country"] in wanted for r in records)


def test_window_is_half_open_and_end_defaults_to_now(sim: Simulator, gcore: httpx.Client) -> None:
    row = window_records(sim)[100].summary
    moment = datetime.fromtimestamp(row["request_time"] / 1000, UTC).isoformat()
    starting = gcore.get(ANALYTICS, params={"start": moment, "end": moment}).json()
    assert starting["count"] == 0
    later = datetime.fromtimestamp(row["request_time"] / 1000 + 0.001, UTC).isoformat()
    exact = gcore.get(ANALYTICS, params={"start": moment, "end": later}).json()
    assert row["id"] in {result["id"] for result in exact["results"]}
    everything = gcore.get(ANALYTICS, params={"start": "2000-01-01"}).json()
    assert everything["count"] == sum(len(sim.dataset.requests(d.id)) for d in sim.dataset.domains)


def test_default_ordering_is_newest_first(sim: Simulator, gcore: httpx.Client) -> None:
    expected = sorted(
        (r.summary for r in window_records(sim)),
        key=lambda row: (row["request_time"], row["id"]),
        reverse=True,
    )
    default = fetch_all(gcore, {**WINDOW, "domains": sim.dataset.domains[0].id})
    explicit = gcore.get(ANALYTICS, params={**WINDOW, "ordering": "-request_time", "limit": 100})
    camel = gcore.get(ANALYTICS, params={**WINDOW, "ordering": "-requestTime", "limit": 100})
    assert explicit.json()["results"] == camel.json()["results"] == expected[:100]
    own = [row for row in expected if row["domain_id"] == sim.dataset.domains[0].id]
    assert default == own


def test_ascending_and_other_fields_page_stably(gcore: httpx.Client) -> None:
    ascending = fetch_all(gcore, {**WINDOW, "ordering": "request_time", "path": "/cart"})
    assert [r["request_time"] for r in ascending] == sorted(r["request_time"] for r in ascending)
    assert len({r["id"] for r in ascending}) == len(ascending) > 100
    by_agent = fetch_all(gcore, {**WINDOW, "ordering": "-userAgent", "path": "/cart"})
    keys = [(r["user_agent"], r["id"]) for r in by_agent]
    assert keys == sorted(keys, reverse=True)
    again = fetch_all(gcore, {**WINDOW, "ordering": "-userAgent", "path": "/cart"})
    assert again == by_agent


def test_count_mode_total_and_page() -> None:
    counts = {}
    for mode in ("total", "page"):
        with Simulator(small_config(count_mode=mode)) as simulator, gcore_client(simulator) as c:
            page = c.get(ANALYTICS, params={"start": "2026-11-19", "limit": 7, "offset": 3}).json()
            assert (page["limit"], page["offset"], len(page["results"])) == (7, 3, 7)
            counts[mode] = page["count"]
            domains = c.get(DOMAINS, params={"limit": 1}).json()
            assert domains["count"] == (2 if mode == "total" else 1)
    assert counts["total"] > 7
    assert counts["page"] == 7


@pytest.mark.parametrize(
    ("path", "params", "loc"),
    [
        (ANALYTICS, {"limit": "101"}, ["query", "limit"]),  # maximum
        (ANALYTICS, {"limit": "ten"}, ["query", "limit"]),  # type
        (ANALYTICS, {"offset": "-1"}, ["query", "offset"]),  # minimum
        (ANALYTICS, {"offset": "100001"}, ["query", "offset"]),
        (ANALYTICS, {"domains": "0"}, ["query", "domains", 0]),  # exclusiveMinimum
        (ANALYTICS, {"ips": "1.2.3.999"}, ["query", "ips", 0]),  # ipvanyaddress
        (ANALYTICS, {"countries": "DEU"}, ["query", "countries", 0]),  # pattern
        (ANALYTICS, {"status_codes": "99"}, ["query", "status_codes", 0]),
        (ANALYTICS, {"http_methods": "FETCH"}, ["query", "http_methods", 0]),  # enum via $ref
        (ANALYTICS, {"decision": "denied"}, ["query", "decision", 0]),
        (ANALYTICS, {"exclude_optional_action": "block"}, ["query", "exclude_optional_action", 0]),
        (ANALYTICS, {"session_ids": "ABC"}, ["query", "session_ids", 0]),
        (ANALYTICS, {"request_ids": "f" * 32}, ["query", "request_ids", 0]),
        (ANALYTICS, {"security_rule_names": "x" * 101}, ["query", "security_rule_names", 0]),
        (ANALYTICS, {"ja3": "xyz"}, ["query", "ja3", 0]),
        (ANALYTICS, {"ja4": "t13d_bad"}, ["query", "ja4", 0]),
        (ANALYTICS, {"user_agent": "u" * 301}, ["query", "user_agent", 0]),  # maxLength
        (ANALYTICS, [("tags", str(n)) for n in range(6)], ["query", "tags"]),  # maxItems
        (ANALYTICS, {"start": None}, ["query", "start"]),  # required
        (ANALYTICS, {"start": "yesterday"}, ["query", "start"]),  # ISO 8601
        (ANALYTICS, {"end": "2026-13-01"}, ["query", "end"]),
        (ANALYTICS, {"ordering": "-colour"}, ["query", "ordering"]),
        (TOP_SESSIONS, {"ip": "1.2.3", "domain_id": "1"}, ["query", "ip"]),  # ipv4 | ipv6
        (TOP_SESSIONS, {"ip": "1.2.3.4", "domain_id": "0"}, ["query", "domain_id"]),
        (TOP_SESSIONS, {"ip": "1.2.3.4"}, ["query", "domain_id"]),
        (DOMAINS, {"ordering": "size"}, ["query", "ordering"]),
        (DOMAINS, {"status": "deleted"}, ["query", "status"]),
        (DOMAINS, {"ids": "-3"}, ["query", "ids", 0]),
        ("/waap/v2/domains", {"ordering": "-size"}, ["query", "ordering"]),
    ],
)
def test_invalid_parameters_answer_422_naming_the_field(
    gcore: httpx.Client, path: str, params: Any, loc: list[Any]
) -> None:
    if isinstance(params, dict):
        params = {"start": "2026-11-19T00:00:00Z", **params}
        params = {key: value for key, value in params.items() if value is not None}
    else:
        params = [("start", "2026-11-19T00:00:00Z"), *params]
    answer = gcore.get(path, params=params)
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["type"] == "request-validation-failed"
    assert problem["title"] == "Request validation error."
    assert problem["status"] == 422
    assert problem["detail"] == "One or more fields have validation errors."
    assert loc in [error["loc"] for error in problem["errors"]]
    assert all(error["detail"] for error in problem["errors"])


def test_unknown_parameters_are_ignored(gcore: httpx.Client) -> None:
    answer = gcore.get(ANALYTICS, params={**WINDOW, "colour": "blue", "limit": 1})
    assert answer.status_code == 200


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "APIKey wrong"}, {"Authorization": "Bearer sim-gcore-key"}],
)
def test_gcore_rejects_missing_or_wrong_key(sim: Simulator, headers: dict[str, str]) -> None:
    for path in (ANALYTICS, TOP_SESSIONS, DOMAINS):
        answer = httpx.get(sim.base_url + path, params=WINDOW, headers=headers)
        assert answer.status_code == 401
        assert answer.headers["content-type"] == "application/problem+json"
        assert set(answer.json()) == {"type", "title", "status", "detail"}


def test_gcore_unknown_path_and_method(gcore: httpx.Client) -> None:
    missing = gcore.get("/waap/v1/nothing")
    assert (missing.status_code, missing.json()["status"]) == (404, 404)
    wrong_method = gcore.post(DOMAINS)
    assert wrong_method.status_code == 405
    assert wrong_method.headers["content-type"] == "application/problem+json"


# --- Gcore IP Spotlight and domains --------------------------------------------------------


def test_ip_spotlight_agrees_with_request_analytics(sim: Simulator, gcore: httpx.Client) -> None:
    domain_id = sim.dataset.domains[0].id
    rows = sim.dataset.requests(domain_id)
    # The address with the most sessions: an office's NAT or a crawler, more than ten.
    sessions = {(r["client_ip"], r["session_id"]) for r in rows if r["session_id"]}
    ip = Counter(ip for ip, _ in sessions).most_common(1)[0][0]
    answer = gcore.get(TOP_SESSIONS, params={"ip": ip, "domain_id": domain_id})
    assert answer.status_code == 200
    top = answer.json()
    assert len(top) == 10
    per_session = Counter(r["session_id"] for r in rows if r["client_ip"] == ip and r["session_id"])
    ranked = sorted(per_session.items(), key=lambda item: (-item[1], item[0]))[:10]
    assert [uuid.UUID(item["session_id"]).hex for item in top] == [sid for sid, _ in ranked]
    for item in top[:3]:
        session_id = uuid.UUID(item["session_id"]).hex
        params = {"start": "2000-01-01", "session_ids": session_id, "ordering": "request_time"}
        served = fetch_all(gcore, params)
        assert item["requests"] == len(served)
        assert item["blocked"] == sum(row["decision"] == "blocked" for row in served)
        first, last = served[0]["request_time"], served[-1]["request_time"]
        assert datetime.fromisoformat(item["start_time"]) == datetime.fromtimestamp(
            first / 1000, UTC
        )
        assert item["duration"] == pytest.approx((last - first) / 1000)


def test_ip_spotlight_unknown_domain_and_ipv6(sim: Simulator, gcore: httpx.Client) -> None:
    missing = gcore.get(TOP_SESSIONS, params={"ip": "1.2.3.4", "domain_id": 1})
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    domain_id = sim.dataset.domains[1].id
    ipv6 = next(
        r for r in sim.dataset.requests(domain_id) if ":" in r["client_ip"] and r["session_id"]
    )
    expanded = ipaddress.ip_address(ipv6["client_ip"]).exploded
    answer = gcore.get(TOP_SESSIONS, params={"ip": expanded, "domain_id": domain_id}).json()
    assert ipv6["session_id"] in {uuid.UUID(item["session_id"]).hex for item in answer}


def test_domains_list_filters_and_pages(sim: Simulator, gcore: httpx.Client) -> None:
    every = gcore.get(DOMAINS).json()
    assert [d["id"] for d in every["results"]] == sorted(d.id for d in sim.dataset.domains)
    assert all(d["id"] > 0 and d["created_at"] for d in every["results"])
    assert [
        d["status"] for d in gcore.get(DOMAINS, params={"status": "monitor"}).json()["results"]
    ] == ["monitor"]
    org = gcore.get(DOMAINS, params={"name": "*.example.org"}).json()["results"]
    assert [d["name"] for d in org] == ["blog.example.org"]
    wanted = [sim.dataset.domains[0].id, sim.dataset.domains[2].id]
    chosen = gcore.get(DOMAINS, params={"ids": wanted, "ordering": "-id"}).json()["results"]
    assert [d["id"] for d in chosen] == sorted(wanted, reverse=True)
    assert gcore.get("/waap/v2/domains").json()["results"] == every["results"]
    second = gcore.get(DOMAINS, params={"ordering": "name", "limit": 1, "offset": 1}).json()
    names = sorted(d.name for d in sim.dataset.domains)
    assert [d["name"] for d in second["results"]] == [names[1]]


# --- Access Watch and Appgate --------------------------------------------------------------


def test_access_watch_sessions(sim: Simulator) -> None:
    url = f"{sim.accesswatch_base_url}/sessions"
    key = sim.config.accesswatch_api_key
    by_header = httpx.get(url, params={"limit": 5}, headers={"Api-Key": key})
    assert by_header.status_code == 200
    sessions = by_header.json()["sessions"]
    assert 0 < len(sessions) <= 5
    updated = [datetime.fromisoformat(s["updated"]) for s in sessions]
    assert updated == sorted(updated, reverse=True)
    for session in sessions:
        assert {"id", "count", "updated", "identity", "address", "reputation"} <= set(session)
        assert re.fullmatch(r"[a-f0-9]{32}", session["id"])
        assert session["identity"]["type"] in ("robot", "browser", None)
        assert isinstance(session["address"]["as_number"], str)
        assert session["reputation"]["status"] in ("nice", "ok", "suspicious", "bad")
        assert ("robot" in session) == (session["identity"]["type"] == "robot")
    by_query = httpx.get(url, params={"limit": 5, "api_key": key})
    assert by_query.status_code == 200
    assert httpx.get(url, headers={"Api-Key": key}).status_code == 200  # default limit


@pytest.mark.parametrize(
    ("method", "path", "params", "headers", "status"),
    [
        ("GET", "/sessions", {}, {}, 401),
        ("GET", "/sessions", {}, {"Api-Key": "wrong"}, 401),
        ("GET", "/sessions", {"limit": "0"}, {"Api-Key": "sim-accesswatch-key"}, 400),
        ("GET", "/sessions", {"limit": "-2"}, {"Api-Key": "sim-accesswatch-key"}, 400),
        ("GET", "/sessions", {"limit": "many"}, {"Api-Key": "sim-accesswatch-key"}, 400),
        ("DELETE", "/sessions", {}, {"Api-Key": "sim-accesswatch-key"}, 405),
        ("GET", "/visitors", {}, {"Api-Key": "sim-accesswatch-key"}, 404),
    ],
)
def test_access_watch_errors_are_short_text(
    sim: Simulator, method: str, path: str, params: Any, headers: Any, status: int
) -> None:
    answer = httpx.request(method, sim.accesswatch_base_url + path, params=params, headers=headers)
    assert answer.status_code == status
    assert answer.headers["content-type"].startswith("text/plain")
    assert 0 < len(answer.text) < 200


def test_access_watch_agrees_with_the_analytics(sim: Simulator, gcore: httpx.Client) -> None:
    before = {a.session.id for a in sim.dataset.active_sessions(sim.now())}
    aw = httpx.get(
        f"{sim.accesswatch_base_url}/sessions",
        params={"limit": 10_000},
        headers={"Api-Key": sim.config.accesswatch_api_key},
    ).json()["sessions"]
    after = {a.session.id for a in sim.dataset.active_sessions(sim.now())}
    seen = {s["id"] for s in aw}
    assert len(after) >= 10
    assert after <= seen <= before
    for session in aw[:3]:
        last = datetime.fromisoformat(session["updated"])
        params = {"start": "2000-01-01", "end": (last + timedelta(milliseconds=1)).isoformat()}
        served = fetch_all(gcore, {**params, "session_ids": session["id"]})
        assert len(served) == session["count"]
        assert served[0]["client_ip"] == session["address"]["value"]
        assert served[0]["country"] == session["address"]["country_code"]


def test_appgate_shows_the_workforce_not_the_web_visitors(sim: Simulator) -> None:
    token = appgate_login(sim).json()["token"]
    before = dashboard(sim.workforce.active(sim.now()))
    board = httpx.get(
        f"{sim.appgate_base_url}/stats/active-sessions/dashboard",
        headers={**APPGATE_ACCEPT, "Authorization": f"Bearer {token}"},
    ).json()
    after = dashboard(sim.workforce.active(sim.now()))
    aw = httpx.get(
        f"{sim.accesswatch_base_url}/sessions",
        params={"limit": 10_000},
        headers={"Api-Key": sim.config.accesswatch_api_key},
    ).json()["sessions"]

    assert board in (before, after)
    assert board["totalCount"] > 100  # a working Friday at noon UTC: Europe and Asia at work
    # Bots, attack tools and bad reputations of the web traffic never hold a VPN session.
    suspects = {
        s["address"]["value"]
        for s in aw
        if "robot" in s or s["reputation"]["status"] in ("suspicious", "bad")
    }
    assert suspects
    assert not suspects & {ip for g in board["geoIpData"] for ip in g["ips"]}
    # Every address lies in its location's country, as a GeoIP database would place it.
    for location in board["geoIpData"]:
        owners = {owner_of(ip) for ip in location["ips"]}
        assert {owner.country if owner else None for owner in owners} == {location["countryCode"]}
    # Everyone in an office leaves through its NAT: a few addresses, shared.
    egress = {a.ip for a in sim.workforce.office_egress}
    berlin = next(g for g in board["geoIpData"] if g["countryCode"] == "DE")  # Berlin HQ
    assert egress & set(berlin["ips"])
    assert len(berlin["ips"]) < berlin["sessionCount"]


def test_appgate_requires_a_supported_version(sim: Simulator) -> None:
    url = f"{sim.appgate_base_url}/login"
    for accept in ("application/json", "application/vnd.appgate.peer-v19+json"):
        answer = httpx.post(url, json={}, headers={"Accept": accept})
        assert answer.status_code == 406
        assert answer.json()["id"] == "not-acceptable"
        assert answer.json()["message"]
    dashboard = httpx.get(f"{sim.appgate_base_url}/stats/active-sessions/dashboard")
    assert dashboard.status_code == 406


def test_appgate_login_errors(sim: Simulator) -> None:
    wrong = appgate_login(sim, password="nope")
    assert wrong.status_code == 401
    assert set(wrong.json()) == {"id", "message"}
    assert appgate_login(sim, providerName="ldap").status_code == 401
    malformed = appgate_login(sim, deviceId="not-a-uuid")
    assert malformed.status_code == 422
    assert malformed.json()["errors"][0]["field"] == "deviceId"
    garbage = httpx.post(f"{sim.appgate_base_url}/login", content=b"{", headers=APPGATE_ACCEPT)
    assert garbage.status_code == 422


def test_appgate_tokens_expire_on_the_simulated_clock_and_can_be_revoked(small: Simulator) -> None:
    url = f"{small.appgate_base_url}/stats/active-sessions/dashboard"
    assert httpx.get(url, headers=APPGATE_ACCEPT).status_code == 401
    login = appgate_login(small)
    assert login.status_code == 200
    expires = datetime.fromisoformat(login.json()["expires"])
    assert expires - small.now() == pytest.approx(timedelta(days=1), abs=timedelta(seconds=5))
    assert login.json()["user"]["name"] == "admin"
    bearer = {**APPGATE_ACCEPT, "Authorization": f"Bearer {login.json()['token']}"}
    assert httpx.get(url, headers=bearer).status_code == 200
    small.advance_clock(86_401)
    expired = httpx.get(url, headers=bearer)
    assert expired.status_code == 401
    assert expired.json() == {"id": "unauthorized", "message": "Token error. Login again."}
    fresh = {**APPGATE_ACCEPT, "Authorization": f"Bearer {appgate_login(small).json()['token']}"}
    assert httpx.get(url, headers=fresh).status_code == 200
    small.revoke_appgate_tokens()
    assert httpx.get(url, headers=fresh).status_code == 401


# --- faults --------------------------------------------------------------------------------


def test_latency_overlaps_concurrent_requests(sim: Simulator, gcore: httpx.Client) -> None:
    sim.faults.latency_s = 0.5
    started = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: gcore.get(DOMAINS), range(8)))
    elapsed = time.perf_counter() - started
    assert all(answer.status_code == 200 for answer in answers)
    # One after another they would take 4 s: half of that leaves room for a busy machine.
    assert 0.5 <= elapsed < 2.0


def test_error_rate_answers_in_each_vendor_format(sim: Simulator, gcore: httpx.Client) -> None:
    sim.faults.error_rate = 1.0
    problem = gcore.get(DOMAINS)
    assert problem.status_code == 503
    assert problem.headers["content-type"] == "application/problem+json"
    assert problem.json()["status"] == 503
    appgate = appgate_login(sim)
    assert appgate.status_code == 503
    assert set(appgate.json()) == {"id", "message"}
    aw = httpx.get(f"{sim.accesswatch_base_url}/sessions")
    assert (aw.status_code, aw.headers["content-type"].split(";")[0]) == (503, "text/plain")
    sim.faults.error_rate, sim.faults.error_status = 0.5, 500
    statuses = Counter(gcore.get(DOMAINS).status_code for _ in range(40))
    assert set(statuses) == {200, 500}


def test_rate_limit_answers_429_with_retry_after(sim: Simulator, gcore: httpx.Client) -> None:
    sim.faults.rate_limit_per_s = 3
    answers = [gcore.get(DOMAINS) for _ in range(8)]
    limited = [answer for answer in answers if answer.status_code == 429]
    assert 3 <= len(answers) - len(limited) <= 4
    assert all(int(answer.headers["Retry-After"]) >= 1 for answer in limited)
    time.sleep(0.5)
    assert gcore.get(DOMAINS).status_code == 200


def test_truncated_answers_break_the_connection(sim: Simulator, gcore: httpx.Client) -> None:
    sim.faults.truncate_rate = 1.0
    with pytest.raises(httpx.RemoteProtocolError):
        gcore.get(ANALYTICS, params=WINDOW)
    assert sim.request_log[-1].status == 200
    sim.faults.truncate_rate = 0.0
    assert gcore.get(ANALYTICS, params=WINDOW).status_code == 200


def test_scripted_faults_answer_in_order(sim: Simulator, gcore: httpx.Client) -> None:
    sim.faults.script.extend(
        [ScriptedFault(429, retry_after="2"), ScriptedFault(503, retry_after_ms="150")]
    )
    first, second, third = (gcore.get(DOMAINS) for _ in range(3))
    assert (first.status_code, first.headers["Retry-After"]) == (429, "2")
    assert (second.status_code, second.headers["retry-after-ms"]) == (503, "150")
    assert third.status_code == 200


def test_fail_after_kills_the_server_mid_run(sim: Simulator, gcore: httpx.Client) -> None:
    sim.faults.fail_after = 2
    statuses = [gcore.get(DOMAINS).status_code for _ in range(5)]
    assert statuses == [200, 200, 503, 503, 503]


def test_path_prefix_limits_faults(sim: Simulator, gcore: httpx.Client) -> None:
    sim.faults.error_rate, sim.faults.path_prefix = 1.0, "/1.1/"
    assert gcore.get(DOMAINS).status_code == 200
    assert httpx.get(f"{sim.accesswatch_base_url}/sessions").status_code == 503


def test_arrivals_shift_open_windows_only(small: Simulator) -> None:
    small.faults.arrivals_per_request = 5
    domain_id = small.dataset.domains[0].id
    pinned = {"start": "2026-11-19T00:00:00Z", "end": NOW.isoformat(), "domains": domain_id}
    opened = {"start": "2026-11-19T00:00:00Z", "domains": domain_id}
    with gcore_client(small) as client:
        first, second = (client.get(ANALYTICS, params=pinned).json() for _ in range(2))
        assert first == second
        open_counts = [client.get(ANALYTICS, params=opened).json()["count"] for _ in range(2)]
    assert open_counts[1] == open_counts[0] + 5
    newest = small.dataset.requests(domain_id)[-1]
    assert abs(newest["request_time"] - to_ms(small.now())) < 5_000
    assert newest["session_id"]


def test_request_log_records_api_calls_only(small: Simulator) -> None:
    small.clear_log()
    with gcore_client(small) as client:
        client.get(DOMAINS, params={"limit": 1})
        client.get("/not-an-api")
    assert [(e.method, e.path, e.query, e.status) for e in small.request_log] == [
        ("GET", DOMAINS, "limit=1", 200)
    ]


# --- scale ---------------------------------------------------------------------------------


def test_a_120k_row_window_pages_completely() -> None:
    """Offsets stop at 100,000, so a client continues from the last request time it saw."""
    day = datetime(2026, 11, 19, tzinfo=UTC)
    config = SimulatorConfig(
        seed=5,
        domains=1,
        days=1,
        requests_per_day=120_000,
        exact_volume=True,
        now=day + timedelta(days=1, minutes=1),
    )
    with Simulator(config) as simulator, gcore_client(simulator) as client:
        expected = {
            row["id"] for row in simulator.dataset.requests(simulator.dataset.domains[0].id)
        }
        window = {"start": day.isoformat(), "end": (day + timedelta(days=1)).isoformat()}
        in_window = {
            r.summary["id"]
            for r in simulator.dataset.records_between(
                simulator.dataset.domains[0].id, to_ms(day), to_ms(day + timedelta(days=1))
            )
        }
        assert len(in_window) >= 120_000
        seen: dict[str, int] = {}
        params = {**window, "ordering": "request_time", "limit": 100}
        offset = 0
        while True:
            page = client.get(ANALYTICS, params={**params, "offset": offset}).json()
            seen.update((row["id"], row["request_time"]) for row in page["results"])
            if len(page["results"]) < 100:
                break
            if offset == 100_000:
                last_ms = page["results"][-1]["request_time"]
                start = datetime.fromtimestamp(last_ms / 1000, UTC)
                params["start"], offset = start.isoformat(), 0
                continue
            offset += 100
    assert set(seen) == in_window
    assert in_window <= expected


def test_the_past_never_changes_as_the_clock_moves_on() -> None:
    """A later `now` only adds today's newer requests, as a real API's history behaves."""
    now = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
    earlier = Dataset(SimulatorConfig(seed=3, domains=2, days=2, requests_per_day=2000, now=now))
    later = Dataset(
        SimulatorConfig(
            seed=3, domains=2, days=2, requests_per_day=2000, now=now + timedelta(hours=5)
        )
    )
    for domain in earlier.domains:
        before = {row["id"]: row for row in earlier.requests(domain.id)}
        after = {row["id"]: row for row in later.requests(domain.id)}
        assert len(after) > len(before)
        assert all(after[request_id] == row for request_id, row in before.items())
