"""The assets through real Dagster runs, against the simulator, into a real lake."""

from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta

import dagster as dg
import pytest

from waap_sessions.assets import RequestsConfig
from waap_sessions.simulator import Faults, Simulator, SimulatorConfig
from waap_sessions.warehouse import TABLES, TOP_SESSIONS
from waap_sessions_tests.conftest import (
    ASSETS,
    accesswatch_sessions,
    active_sessions,
    appgate_active_sessions,
    gcore_ip_top_sessions,
    gcore_requests,
    pipeline_resources,
    query,
    top_sessions,
)

TODAY = datetime.now(UTC).date()
YESTERDAY = TODAY - timedelta(days=1)
CONFIG = SimulatorConfig(seed=5, domains=2, days=3, requests_per_day=2500)
# One worker runs the module (`--dist loadgroup`): its tests share the lake `loaded`
# fills, which two workers would each fill again.
pytestmark = pytest.mark.xdist_group("assets")
PARTITIONED = [gcore_requests, gcore_ip_top_sessions, top_sessions]
SNAPSHOTS = [accesswatch_sessions, appgate_active_sessions, active_sessions]


def partition_key(day: date, domain_id: int) -> str:
    return f"{day.isoformat()}|{domain_id}"


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    """Two days of one domain and one snapshot of each source, loaded once."""
    lake = str(tmp_path_factory.mktemp("lake"))
    with Simulator(CONFIG) as simulator, dg.instance_for_test() as instance:
        domain_ids = [domain.id for domain in simulator.dataset.domains]
        instance.add_dynamic_partitions("gcore_domains", [str(i) for i in domain_ids])
        resources = pipeline_resources(simulator, lake)
        results = {}
        for day in (YESTERDAY - timedelta(days=1), YESTERDAY):
            key = partition_key(day, domain_ids[0])
            results[key] = dg.materialize(
                PARTITIONED, instance=instance, resources=resources, partition_key=key
            )
        results["snapshots"] = dg.materialize(SNAPSHOTS, instance=instance, resources=resources)
        yield simulator, instance, lake, domain_ids[0], results


# Run config that reads a partition again even when the API says it is unchanged.
RELOAD = dg.RunConfig(ops={"gcore_requests": RequestsConfig(reload_unchanged=True)})


def partition_rows(lake: str, day: date, domain_id: int) -> list[tuple]:
    """A partition of gcore_requests, every column but the load time."""
    return query(
        lake,
        "SELECT * EXCLUDE (loaded_at) FROM gcore_requests WHERE day = ? AND domain_id = ? "
        "ORDER BY id",
        [day, domain_id],
    )


def test_every_asset_materializes(loaded):
    _, _, lake, _, results = loaded
    assert all(result.success for result in results.values())
    for table in TABLES:
        assert query(lake, f"SELECT count(*) FROM {table.name}")[0][0] > 0, table.name


def test_requests_are_exactly_the_apis(loaded):
    simulator, _, lake, domain_id, results = loaded
    start = int(
        datetime(YESTERDAY.year, YESTERDAY.month, YESTERDAY.day, tzinfo=UTC).timestamp() * 1000
    )
    expected = {
        row["id"]: row
        for row in simulator.dataset.requests(domain_id)
        if start <= row["request_time"] < start + 86_400_000
    }
    rows = query(
        lake,
        "SELECT id, epoch_ms(request_time), session_id, decision, status_code "
        "FROM gcore_requests WHERE day = ? AND domain_id = ?",
        [YESTERDAY, domain_id],
    )

    assert len(rows) == len(expected) > 1000
    for id_, millis, session_id, decision, status in rows:
        source = expected[id_]
        assert (millis, session_id, decision, status) == (
            source["request_time"],
            source["session_id"],
            source["decision"],
            source["status_code"],
        )
    metadata = materialization_metadata(
        results[partition_key(YESTERDAY, domain_id)], "gcore_requests"
    )
    assert metadata["dagster/partition_row_count"] == len(expected)
    assert metadata["waap/api_reported_count"] == len(expected)
    assert metadata["waap/pages"] >= len(expected) // 100
    # The whole table: both loaded days of the domain.
    assert metadata["dagster/row_count"] == query(lake, "SELECT count(*) FROM gcore_requests")[0][0]


def materialization_metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict[str, object]:
    (event,) = [
        event
        for event in result.get_asset_materialization_events()
        if event.asset_key == dg.AssetKey(asset)
    ]
    return {key: value.value for key, value in event.materialization.metadata.items()}


def test_table_metadata_is_reported(loaded):
    _, _, _, domain_id, results = loaded
    metadata = materialization_metadata(
        results[partition_key(YESTERDAY, domain_id)], "top_sessions"
    )
    assert metadata["dagster/partition_row_count"] == 10
    assert metadata["dagster/row_count"] == 20  # two days of one domain
    assert metadata["dagster/table_name"] == "waap.main.top_sessions"
    assert metadata["dagster/column_schema"] == TOP_SESSIONS.column_schema()
    for asset in ASSETS.values():
        spec = next(iter(asset.specs))
        schema = spec.metadata["dagster/column_schema"]
        assert [column.name for column in schema.columns], spec.key
        assert spec.owners
        assert spec.kinds
        assert spec.description
        assert spec.group_name == "waap_sessions"


def rerun_yesterday(
    loaded, run_config: dg.RunConfig | None = None, **gcore_settings: object
) -> dg.ExecuteInProcessResult:
    """gcore_requests' partition of yesterday and the loaded domain, run again."""
    simulator, instance, lake, domain_id, _ = loaded
    return dg.materialize(
        [gcore_requests],
        instance=instance,
        resources=pipeline_resources(simulator, lake, **gcore_settings),
        partition_key=partition_key(YESTERDAY, domain_id),
        run_config=run_config,
        raise_on_error=False,
    )


def test_a_rerun_leaves_exactly_the_same_rows(loaded):
    simulator, _, lake, domain_id, _ = loaded
    before = partition_rows(lake, YESTERDAY, domain_id)
    others = query(lake, "SELECT count(*) FROM gcore_requests WHERE day <> ?", [YESTERDAY])
    simulator.clear_log()

    result = rerun_yesterday(loaded, RELOAD)

    assert result.success
    assert len(simulator.request_log) > 2  # read again, as asked
    assert partition_rows(lake, YESTERDAY, domain_id) == before
    assert query(lake, "SELECT count(*) FROM gcore_requests WHERE day <> ?", [YESTERDAY]) == others


def test_a_run_failing_halfway_leaves_the_table_as_it_was(loaded):
    simulator, _, lake, _, _ = loaded
    before = query(lake, "SELECT * FROM gcore_requests ORDER BY id")
    # The API dies after five pages, and stays down past every retry.
    simulator.faults = Faults(fail_after=5, path_prefix="/waap/v1/analytics/requests")
    try:
        result = rerun_yesterday(loaded, RELOAD, max_retries=1)
    finally:
        simulator.faults = Faults()

    assert not result.success
    assert "HTTP 503" in str(result.get_step_failure_events()[0].event_specific_data.error)
    assert query(lake, "SELECT * FROM gcore_requests ORDER BY id") == before


def test_an_unchanged_past_partition_costs_one_request(loaded):
    """The API still counts the rows stored: the partition is kept, not read again."""
    simulator, _, lake, domain_id, _ = loaded
    before = query(lake, "SELECT * FROM gcore_requests ORDER BY id")
    simulator.clear_log()

    result = rerun_yesterday(loaded)

    assert result.success
    (probe,) = simulator.request_log
    assert probe.path == "/waap/v1/analytics/requests"
    assert probe.query_params["limit"] == "1"
    metadata = materialization_metadata(result, "gcore_requests")
    assert metadata["waap/unchanged"] is True
    assert metadata["dagster/partition_row_count"] == len(
        partition_rows(lake, YESTERDAY, domain_id)
    )
    assert query(lake, "SELECT * FROM gcore_requests ORDER BY id") == before


def test_a_partition_the_api_counts_differently_is_read_again(loaded, tmp_path):
    """The account's data for a past day changed (a busier one under the same ids): the
    count differs from what is stored, so the day is read again."""
    simulator, _, _, domain_id, _ = loaded
    key = partition_key(YESTERDAY, domain_id)
    busier = CONFIG.model_copy(update={"requests_per_day": CONFIG.requests_per_day + 500})
    with dg.instance_for_test() as instance, Simulator(busier) as changed:
        instance.add_dynamic_partitions("gcore_domains", [str(domain_id)])
        for served in (simulator, changed):
            result = dg.materialize(
                [gcore_requests],
                instance=instance,
                resources=pipeline_resources(served, tmp_path),
                partition_key=key,
            )
        expected = [
            row["id"]
            for row in changed.dataset.requests(domain_id)
            if datetime.fromtimestamp(row["request_time"] / 1000, UTC).date() == YESTERDAY
        ]

    assert len(expected) > CONFIG.requests_per_day * 0.5  # the same domain, busier
    assert materialization_metadata(result, "gcore_requests")["waap/unchanged"] is False
    stored = query(tmp_path, "SELECT id FROM gcore_requests ORDER BY id")
    assert [row[0] for row in stored] == sorted(expected)


def test_undocumented_fields_are_reported_and_the_rows_still_load(loaded):
    simulator, _, lake, domain_id, _ = loaded
    before = partition_rows(lake, YESTERDAY, domain_id)
    simulator.faults = Faults(extra_fields={"threat_score": 0.5})
    try:
        result = rerun_yesterday(loaded, RELOAD)
    finally:
        simulator.faults = Faults()

    drift = materialization_metadata(result, "gcore_requests")["waap/schema_drift"]
    assert drift == {"RequestSummary.threat_score": len(before)}
    assert partition_rows(lake, YESTERDAY, domain_id) == before


def test_today_is_read_again_on_every_run(loaded):
    """A day still open when it was loaded is never taken as unchanged."""
    simulator, instance, lake, domain_id, _ = loaded
    key = partition_key(TODAY, domain_id)
    resources = pipeline_resources(simulator, lake)
    assert dg.materialize(
        [gcore_requests], instance=instance, resources=resources, partition_key=key
    ).success
    simulator.clear_log()

    result = dg.materialize(
        [gcore_requests], instance=instance, resources=resources, partition_key=key
    )

    assert materialization_metadata(result, "gcore_requests")["waap/unchanged"] is False
    assert any(entry.query_params.get("limit") == "100" for entry in simulator.request_log)


def expected_top_sessions(simulator: Simulator, domain_id: int, day: date) -> list[tuple]:
    """top_sessions recomputed in plain Python from the simulator's own data set."""
    start = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)
    sessions: dict[str, list[dict]] = defaultdict(list)
    for row in simulator.dataset.requests(domain_id):
        if start <= row["request_time"] < start + 86_400_000 and row["session_id"]:
            sessions[row["session_id"]].append(row)

    def main_value(rows, field):
        counts = Counter(row[field] for row in rows)
        return min(counts, key=lambda value: (-counts[value], value))

    ranked = sorted(sessions.items(), key=lambda item: (-len(item[1]), item[0]))[:10]
    return [
        (
            rank,
            session_id,
            len(rows),
            sum(row["decision"] == "blocked" for row in rows),
            min(row["request_time"] for row in rows),
            max(row["request_time"] for row in rows),
            main_value(rows, "client_ip"),
            main_value(rows, "country"),
            main_value(rows, "user_agent_client"),
        )
        for rank, (session_id, rows) in enumerate(ranked, start=1)
    ]


@pytest.mark.parametrize("days_ago", [1, 2])
def test_top_sessions_equal_an_independent_recomputation(loaded, days_ago):
    simulator, _, lake, domain_id, _ = loaded
    day = TODAY - timedelta(days=days_ago)
    rows = query(
        lake,
        "SELECT rank, session_id, requests, blocked, epoch_ms(first_request_at), "
        "epoch_ms(last_request_at), client_ip, country, user_agent_client "
        "FROM top_sessions WHERE day = ? AND domain_id = ? ORDER BY rank",
        [day, domain_id],
    )
    durations = query(
        lake,
        "SELECT duration_s, epoch_ms(last_request_at) - epoch_ms(first_request_at) "
        "FROM top_sessions WHERE day = ? AND domain_id = ?",
        [day, domain_id],
    )

    assert rows == expected_top_sessions(simulator, domain_id, day)
    assert all(seconds == pytest.approx(millis / 1000) for seconds, millis in durations)


def test_ip_top_sessions_look_up_the_busiest_ips(loaded):
    simulator, _, lake, domain_id, _ = loaded
    rows = query(
        lake,
        "SELECT ip, ip_rank, session_id, requests FROM gcore_ip_top_sessions "
        "WHERE day = ? AND domain_id = ? ORDER BY ip_rank, requests DESC",
        [YESTERDAY, domain_id],
    )
    busiest = query(
        lake,
        "SELECT client_ip FROM gcore_requests WHERE day = ? AND domain_id = ? "
        "GROUP BY ALL ORDER BY count(*) DESC, client_ip LIMIT 10",
        [YESTERDAY, domain_id],
    )

    assert [ip for (ip,) in busiest] == list(dict.fromkeys(ip for ip, *_ in rows))
    for ip, _, session_id, requests in rows:
        spotlight = {
            session["session_id"].replace("-", ""): session["requests"]
            for session in simulator.dataset.top_sessions(ip, domain_id)
        }
        assert spotlight[session_id] == requests


def test_snapshots_append_and_active_sessions_follow(loaded):
    simulator, instance, lake, _, _ = loaded
    before = query(lake, "SELECT count(DISTINCT snapshot_at) FROM accesswatch_sessions")[0][0]

    result = dg.materialize(
        SNAPSHOTS, instance=instance, resources=pipeline_resources(simulator, lake)
    )

    assert result.success
    assert (
        query(lake, "SELECT count(DISTINCT snapshot_at) FROM accesswatch_sessions")[0][0]
        == before + 1
    )
    totals = query(
        lake,
        "SELECT source, snapshot_at, sessions FROM active_sessions WHERE dimension = 'total' "
        "ORDER BY source, snapshot_at",
    )
    assert len(totals) == 2 * (before + 1)
    appgate = query(lake, "SELECT snapshot_at, total_count FROM appgate_active_sessions")
    assert {(at, total) for source, at, total in totals if source == "appgate"} == set(appgate)
    for source in ("appgate", "accesswatch"):
        dimensions = {
            dimension
            for (dimension,) in query(
                lake,
                "SELECT DISTINCT dimension FROM active_sessions WHERE source = ?",
                [source],
            )
        }
        expected = (
            {"total", "country", "continent", "client_version", "support_status"}
            if source == "appgate"
            else {"total", "country", "reputation_status", "identity_type"}
        )
        assert dimensions == expected
    # Every breakdown of a snapshot adds up to its total.
    sums = query(
        lake,
        "SELECT source, snapshot_at, dimension, sum(sessions) FROM active_sessions "
        "WHERE dimension <> 'total' GROUP BY ALL",
    )
    total_of = {(source, at): total for source, at, total in totals}
    assert all(total == total_of[(source, at)] for source, at, _, total in sums)


def test_accesswatch_rows_flatten_the_nested_objects(loaded):
    _, _, lake, _, _ = loaded
    rows = query(
        lake,
        "SELECT session_id, ip, country_code, reputation_status, identity_type, address_flags "
        "FROM accesswatch_sessions",
    )
    assert rows
    assert all(
        ip and status in {"nice", "ok", "suspicious", "bad"} for _, ip, _, status, _, _ in rows
    )
    assert all(isinstance(flags, list) for *_, flags in rows)
