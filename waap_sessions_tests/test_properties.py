"""Property-based tests (hypothesis): parameter validation, the offset ceiling, partition keys.

- Any Gcore filter value within the documented limits is accepted and sent as documented
  (a list repeats the name), and the simulator, which validates against Gcore's published
  schema, answers it; any value outside is refused naming the filter, before any request.
- A window with more rows than one query can page through is read in pieces that cover it
  exactly: every row once, in order, no query past the offset ceiling.
- A partition key round-trips, and any other string is refused with a clear error.
"""

import ipaddress
import re
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from waap_sessions.accesswatch import AccessWatchClient
from waap_sessions.appgate import AppgateSdpClient
from waap_sessions.errors import InvalidParameterError
from waap_sessions.gcore import GcoreWaapClient
from waap_sessions.gcore import client as gcore_client
from waap_sessions.partitions import parse_partition_key, partition_key
from waap_sessions.simulator import Simulator, SimulatorConfig
from waap_sessions_tests.conftest import CONFIG, NOW, fast_settings

# Real HTTP to the simulator in every example: no deadline (timing is noisy), and the
# session's simulator, whose log each example clears itself.
PROPERTY = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
WINDOW = (NOW - timedelta(hours=2), NOW - timedelta(hours=2) + timedelta(minutes=1))
METHODS = ["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE"]
DECISIONS = ["blocked", "monitored", "allowed", "passed"]
RULE_NAME = r"[a-zA-Z0-9_ ~!@#$%^&*()+\[\]{}|.,;:<>?/-]"
ASCII_TEXT = st.text(st.characters(min_codepoint=32, max_codepoint=126))


def regex(pattern: str) -> st.SearchStrategy[str]:
    return st.from_regex(pattern, fullmatch=True)


def unlike(pattern: str) -> st.SearchStrategy[str]:
    """Printable ASCII text that does not match `pattern`."""
    return ASCII_TEXT.filter(lambda text: not re.fullmatch(pattern, text))


def items(element: st.SearchStrategy[Any], at_most: int = 5) -> st.SearchStrategy[list[Any]]:
    return st.lists(element, min_size=1, max_size=at_most)


def with_one(bad: st.SearchStrategy[Any], good: st.SearchStrategy[Any]) -> Any:
    """A list of good values with one bad value among them."""
    return st.tuples(st.lists(good, max_size=3), bad, st.integers(0, 3)).map(
        lambda parts: [*parts[0][: parts[2]], parts[1], *parts[0][parts[2] :]]
    )


IP = st.ip_addresses().map(str)
HEX32 = regex(r"[a-f0-9]{32}")
JA3 = regex(r"[0-9a-fA-F]{32}")
# Printable, as headers and logs show these values; every length the schema allows.
LABEL50 = ASCII_TEXT.filter(lambda text: len(text) <= 50)

# filter -> (values within the limits, values outside them)
FILTERS: dict[str, tuple[st.SearchStrategy[Any], st.SearchStrategy[Any]]] = {
    "domains": (items(st.integers(1, 10**9)), with_one(st.integers(max_value=0), st.just(1))),
    "status_codes": (
        items(st.integers(100, 599)),
        with_one(st.integers().filter(lambda code: not 100 <= code <= 599), st.just(200)),
    ),
    "countries": (
        items(regex(r"[A-Za-z]{2}")),
        with_one(regex(r"[A-Za-z]{3,6}|[A-Za-z]?"), st.just("DE")),
    ),
    "ips": (
        items(IP, at_most=10),
        st.one_of(
            st.lists(IP, min_size=11, max_size=15),
            with_one(ASCII_TEXT.filter(lambda text: not _parses(ipaddress.ip_address, text)), IP),
        ),
    ),
    "http_methods": (
        items(st.sampled_from(METHODS)),
        with_one(ASCII_TEXT.filter(lambda text: text not in METHODS), st.just("GET")),
    ),
    "session_ids": (items(HEX32), with_one(unlike(r"[a-f0-9]{32}"), HEX32)),
    "request_ids": (
        items(regex(r"[a-f0-9]{32}-[0-9]{6}")),
        with_one(unlike(r"[a-f0-9]{32}-[0-9]{6}"), st.just("a" * 32 + "-123456")),
    ),
    "security_rule_names": (
        items(regex(RULE_NAME + "{0,100}")),
        with_one(
            st.one_of(regex(RULE_NAME + "{101,120}"), unlike(RULE_NAME + "*")), st.just("SQLi")
        ),
    ),
    "decision": (
        items(st.sampled_from(DECISIONS)),
        with_one(ASCII_TEXT.filter(lambda text: text not in DECISIONS), st.just("blocked")),
    ),
    "ja3": (items(JA3, at_most=10), st.lists(JA3, min_size=11, max_size=12)),
    "ja4": (
        items(regex(r"[0-9a-zA-Z]{10}_[0-9a-fA-F]{12}_[0-9a-fA-F]{12}")),
        with_one(unlike(r"[0-9a-zA-Z]{10}_[0-9a-fA-F]{12}_[0-9a-fA-F]{12}"), st.just("x")),
    ),
    "user_agent": (
        items(ASCII_TEXT.filter(lambda text: len(text) <= 300), at_most=10),
        with_one(st.text(min_size=301, max_size=320), st.just("Mozilla/5.0")),
    ),
    "tags": (
        items(LABEL50),
        st.one_of(
            st.lists(LABEL50, min_size=6, max_size=8),
            with_one(st.text(min_size=51, max_size=60), st.just("bot")),
        ),
    ),
    "organizations": (
        items(ASCII_TEXT.filter(lambda text: len(text) <= 100), at_most=10),
        with_one(st.text(min_size=101, max_size=110), st.just("Acme")),
    ),
}


def _parses(parse: Callable[[str], object], text: str) -> bool:
    try:
        parse(text)
    except ValueError:
        return False
    return True


def _as_sent(field: str, value: Any) -> list[str]:
    """How the documentation says a filter goes on the wire: the name once per item."""
    values = value if isinstance(value, list) else [value]
    if field == "ips":
        return [str(ipaddress.ip_address(item)) for item in values]
    return [str(item) for item in values]


@pytest.fixture
def gcore(shared_simulator) -> Iterator[GcoreWaapClient]:
    settings_ = fast_settings(shared_simulator.base_url)
    with GcoreWaapClient(CONFIG.gcore_api_key, settings_) as client:
        yield client


@pytest.mark.parametrize("field", sorted(FILTERS))
def test_a_filter_within_its_limits_is_sent_as_documented(shared_simulator, gcore, field):
    @PROPERTY
    @given(value=FILTERS[field][0], alone=st.booleans())
    def sent_as_documented(value: list[Any], alone: bool) -> None:
        given_value = value[0] if alone else value  # a single value stands for one item
        shared_simulator.clear_log()

        list(gcore.iter_requests(*WINDOW, **{field: given_value}))

        first, *_ = shared_simulator.request_log
        assert first.status == 200, "the schema-checked simulator took it"
        assert parse_qs(first.query, keep_blank_values=True)[field] == _as_sent(field, given_value)

    sent_as_documented()


@pytest.mark.parametrize("field", sorted(FILTERS))
def test_a_filter_outside_its_limits_is_refused_naming_it(shared_simulator, gcore, field):
    @PROPERTY
    @given(value=FILTERS[field][1])
    def refused(value: list[Any]) -> None:
        shared_simulator.clear_log()

        with pytest.raises(InvalidParameterError) as caught:
            gcore.iter_requests(*WINDOW, **{field: value})

        assert {name.split("[")[0] for name in caught.value.fields} == {field}
        assert field in str(caught.value)
        assert shared_simulator.request_log == []

    refused()


@PROPERTY
@given(
    start=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.timezones()
    ),
    length=st.timedeltas(min_value=timedelta(milliseconds=1), max_value=timedelta(days=400)),
)
def test_any_window_with_its_end_after_its_start_is_sent_in_utc_milliseconds(
    shared_simulator, gcore, start, length
):
    end = start + length
    assume(end.astimezone(UTC) - start.astimezone(UTC) >= timedelta(milliseconds=1))
    shared_simulator.clear_log()

    list(gcore.iter_requests(start, end, domains=[1]))
    sent = shared_simulator.request_log[0].query_params

    assert sent["start"] == _utc_millis(start)
    assert sent["end"] == _utc_millis(end)
    with pytest.raises(InvalidParameterError) as caught:
        gcore.iter_requests(end, start)
    assert caught.value.fields == ("end",)


def _utc_millis(moment: datetime) -> str:
    millis = moment.astimezone(UTC).replace(microsecond=moment.microsecond // 1000 * 1000)
    return millis.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@PROPERTY
@given(limit=st.integers(-(10**6), 10**6))
def test_access_watch_takes_any_limit_from_1_to_1000_and_refuses_the_rest(shared_simulator, limit):
    shared_simulator.clear_log()
    settings_ = fast_settings(shared_simulator.accesswatch_base_url)
    with AccessWatchClient(CONFIG.accesswatch_api_key, settings_) as client:
        if 1 <= limit <= 1000:
            client.get_sessions(limit=limit)
            assert shared_simulator.request_log[0].query_params == {"limit": str(limit)}
        else:
            with pytest.raises(InvalidParameterError) as caught:
                client.get_sessions(limit=limit)
            assert caught.value.fields == ("limit",)
            assert shared_simulator.request_log == []


@PROPERTY
@given(version=st.integers(-100, 10**4))
def test_appgate_takes_any_peer_api_version_from_20(shared_simulator, version):
    settings_ = fast_settings(shared_simulator.appgate_base_url)
    if version >= 20:
        with AppgateSdpClient(settings_, token="t", api_version=version) as client:
            assert client.credentials.api_version == version
    else:
        with pytest.raises(InvalidParameterError) as caught:
            AppgateSdpClient(settings_, token="t", api_version=version)
        assert caught.value.fields == ("api_version",)


# --- The offset ceiling ------------------------------------------------------------------

DENSE = SimulatorConfig(seed=5, domains=1, days=1, requests_per_day=6000, now=NOW)


@pytest.fixture(scope="module")
def dense() -> Iterator[Simulator]:
    with Simulator(DENSE) as simulator:
        yield simulator


@contextmanager
def ceiling(max_offset: int, page_size: int) -> Iterator[None]:
    """Gcore's ceiling (offset 100,000, pages of 100) scaled down, so a window of a few
    hundred rows crosses it many times; the paging code reads these very constants."""
    saved = gcore_client.MAX_OFFSET, gcore_client.PAGE_SIZE
    gcore_client.MAX_OFFSET, gcore_client.PAGE_SIZE = max_offset, page_size
    try:
        yield
    finally:
        gcore_client.MAX_OFFSET, gcore_client.PAGE_SIZE = saved


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    start_s=st.integers(0, 36 * 3600),
    length_s=st.integers(1, 4 * 3600),
    page_size=st.sampled_from([5, 10, 25]),
    pages_per_query=st.integers(1, 6),
    descending=st.booleans(),
)
def test_a_window_past_the_ceiling_is_read_in_pieces_that_cover_it_exactly(
    dense, start_s, length_s, page_size, pages_per_query, descending
):
    domain_id = dense.dataset.domains[0].id
    start = NOW - timedelta(days=1, hours=12) + timedelta(seconds=start_s)
    end = start + timedelta(seconds=length_s)
    max_offset = page_size * (pages_per_query - 1)
    truth = dense.dataset.records_between(domain_id, _ms(start), _ms(end))
    per_ms = Counter(record.summary["request_time"] for record in truth)
    assume(max(per_ms.values(), default=0) <= max_offset)  # else refused as too dense
    dense.clear_log()
    ordering = "-request_time" if descending else "request_time"

    with (
        ceiling(max_offset, page_size),
        GcoreWaapClient(DENSE.gcore_api_key, fast_settings(dense.base_url)) as client,
    ):
        stream = client.iter_requests(start, end, domains=[domain_id], ordering=ordering)
        ids = [row.id for row in stream]

    expected = [record.summary["id"] for record in truth]
    assert ids == (expected[::-1] if descending else expected), "every row once, in order"
    queries = [entry.query_params for entry in dense.request_log]
    assert all(int(query["offset"]) <= max_offset for query in queries), "under the ceiling"
    assert all(int(query["limit"]) == page_size for query in queries)
    assert stream.windows >= -(-len(truth) // (max_offset + page_size))
    # The pieces tile the window: all share its outer bound, the first starts at its inner
    # bound, and each next one starts (or, newest first, ends) on the millisecond where
    # the one before stopped, whose rows come again and are skipped: nothing else twice.
    pieces = {(_ms_of(query["start"]), _ms_of(query["end"])) for query in queries}
    assert len(pieces) == stream.windows
    if descending:
        assert {low for low, _ in pieces} == {_ms(start)}
        bounds = sorted((high for _, high in pieces), reverse=True)
        assert bounds[0] == _ms(end)
        repeated_at = [bound - 1 for bound in bounds[1:]]
    else:
        assert {high for _, high in pieces} == {_ms(end)}
        bounds = sorted(low for low, _ in pieces)
        assert bounds[0] == _ms(start)
        repeated_at = bounds[1:]
    assert all(moment in per_ms for moment in repeated_at), "a piece resumes where rows are"
    assert stream.duplicates <= sum(per_ms[moment] for moment in repeated_at)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _ms_of(text: str) -> int:
    return _ms(datetime.fromisoformat(text.replace("Z", "+00:00")))


# --- Partition keys ----------------------------------------------------------------------


@given(day=st.dates(), domain=st.integers(1, 10**12))
def test_a_partition_key_round_trips(day, domain):
    key = partition_key(day, domain)

    assert parse_partition_key(key) == (day, domain)
    assert key == f"{day.isoformat()}|{domain}"


@given(key=st.text(max_size=30) | regex(r"[0-9+ ]{0,9}[-W0-9]{0,12}\|[-+0-9 ]{0,8}"))
def test_any_other_string_is_refused_or_is_the_key_it_names(key):
    canonical = re.fullmatch(r"\d{4}-\d{2}-\d{2}\|[1-9]\d{0,17}", key, re.ASCII)
    if canonical is None or not _parses(date.fromisoformat, key.split("|")[0]):
        with pytest.raises(InvalidParameterError) as caught:
            parse_partition_key(key)
        assert str(caught.value) == (
            "Invalid partition key: partition: must be '<YYYY-MM-DD>|<domain id>', as "
            f"'2026-11-19|13183' (got {key!r})"
        )
    else:
        assert partition_key(*parse_partition_key(key)) == key, "one partition, one key"


@pytest.mark.parametrize(
    "key",
    [
        "2026-11-19",
        "2026-11-19|",
        "2026-02-30|7",
        "20261119|7",
        "2026-W47-4|7",
        "2026-11-19|+7",
        "2026-11-19|07",
        "2026-11-19|0",
        "2026-11-19|-3",
        "2026-11-19|7|8",
        "2026-11-19|\u0667",
        " 2026-11-19|7",
    ],
)
def test_malformed_partition_keys_are_refused(key):
    with pytest.raises(
        InvalidParameterError, match=re.escape("must be '<YYYY-MM-DD>|<domain id>'")
    ):
        parse_partition_key(key)
