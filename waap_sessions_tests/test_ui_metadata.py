"""What a person reads in the UI: domain names beside ids, checks that name their partition,
and column lineage from the raw tables to the summaries. Real runs against the simulator
and a real lake."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from waap_sessions.automation import AutomationSettings
from waap_sessions.factory import build_waap_sessions_definitions
from waap_sessions.lake import open_lake
from waap_sessions.partitions import DOMAINS_PARTITIONS_NAME
from waap_sessions.resources import WarehouseResource
from waap_sessions.simulator import Simulator, SimulatorConfig
from waap_sessions.summaries import LINEAGE
from waap_sessions.translator import WaapSessionsTableProps, WaapSessionsTranslator
from waap_sessions.warehouse import DOMAINS, TABLES
from waap_sessions_tests.conftest import lake_settings, pipeline_resources, query

TODAY = datetime.now(UTC).date()
START_DATE = TODAY - timedelta(days=3)
DAYS = [(TODAY - timedelta(days=back)).isoformat() for back in (2, 1)]


@pytest.fixture(scope="module")
def simulator() -> Iterator[Simulator]:
    """A small account of two domains, its clock the real one (the assets load real days)."""
    with Simulator(SimulatorConfig(seed=11, domains=2, days=3, requests_per_day=300)) as served:
        yield served


@pytest.fixture
def names(simulator: Simulator) -> dict[str, str]:
    """Each domain's name by id, as the simulator's domains API gives them."""
    return {str(domain.id): domain.name for domain in simulator.dataset.domains}


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as test_instance:
        yield test_instance


def gcore_definitions(simulator: Simulator, lake: Path) -> dg.Definitions:
    """The factory's Gcore definitions, their resources pointed at `simulator` and `lake`."""
    resources = pipeline_resources(simulator, lake)
    return build_waap_sessions_definitions(
        sources=["gcore"],
        start_date=START_DATE,
        automation=AutomationSettings(),
        warehouse=resources["warehouse"],
        gcore=resources["gcore"],
    )


def sensor_tick(
    defs: dg.Definitions, simulator: Simulator, lake: Path, instance: dg.DagsterInstance
):
    """One tick of the domain sensor, handed its resources (tests bind them by hand)."""
    resources = pipeline_resources(simulator, lake)
    with dg.build_sensor_context(
        instance=instance,
        instance_ref=instance.get_ref(),
        definitions=defs,
        resources={"gcore": resources["gcore"], "warehouse": resources["warehouse"]},
    ) as context:
        return defs.resolve_sensor_def("gcore_domain_sensor").evaluate_tick(context)


def schedule_tick(
    defs: dg.Definitions, name: str, lake: Path, instance: dg.DagsterInstance, at: datetime
) -> list[dg.RunRequest]:
    """The runs one tick of schedule `name` asks for at `at`."""
    warehouse = WarehouseResource(
        catalog=lake_settings(lake).catalog, data_path=lake_settings(lake).data_path
    )
    with dg.build_schedule_context(
        instance=instance,
        scheduled_execution_time=at,
        repository_def=defs.get_repository_def(),
        resources={"warehouse": warehouse},
    ) as context:
        result = defs.resolve_schedule_def(name).evaluate_tick(context)
    return list(result.run_requests or [])


def plain(metadata: dict[str, Any]) -> dict[str, Any]:
    return {key: getattr(value, "value", value) for key, value in metadata.items()}


def domain_of(request: dg.RunRequest) -> str:
    return str(request.partition_key).split("|")[1]


# Domain names beside ids


def test_the_sensor_records_domain_names_and_tags_its_runs(simulator, names, instance, tmp_path):
    lake = tmp_path / "lake"
    defs = gcore_definitions(simulator, lake)

    tick = sensor_tick(defs, simulator, lake, instance)

    assert tick.run_requests
    for request in tick.run_requests:
        assert request.tags["waap/domain_id"] == domain_of(request)
        assert request.tags["waap/domain_name"] == names[domain_of(request)]
    recorded = query(lake, f"SELECT domain_id, name FROM {DOMAINS}")
    assert {str(domain): name for domain, name in recorded} == names

    # Names unchanged: a later tick writes nothing, so the lake gains no snapshot.
    snapshots = "SELECT count(*) FROM ducklake_snapshots('waap')"
    before = query(lake, snapshots)
    sensor_tick(defs, simulator, lake, instance)
    assert query(lake, snapshots) == before


def test_the_schedules_tag_runs_with_the_names_the_lake_records(
    simulator, names, instance, tmp_path
):
    lake = tmp_path / "lake"
    defs = gcore_definitions(simulator, lake)
    instance.add_dynamic_partitions(DOMAINS_PARTITIONS_NAME, list(names))
    at = datetime.combine(TODAY, datetime.min.time(), UTC) + timedelta(hours=1)

    # No lake yet (domains added by hand): the runs still go, tagged by id alone.
    untagged = schedule_tick(defs, "gcore_daily_schedule", lake, instance, at)
    assert [domain_of(request) for request in untagged] == list(names)
    assert all("waap/domain_name" not in request.tags for request in untagged)

    sensor_tick(defs, simulator, lake, instance)
    for schedule in ("gcore_daily_schedule", "gcore_intraday_schedule"):
        requests = schedule_tick(defs, schedule, lake, instance, at)
        assert [request.tags["waap/domain_name"] for request in requests] == list(names.values())
        assert [request.tags["waap/domain_id"] for request in requests] == list(names)


def test_runs_name_their_domain_and_checks_name_their_partitions(
    simulator, names, instance, tmp_path
):
    lake = tmp_path / "lake"
    defs = gcore_definitions(simulator, lake)
    requests_key = dg.AssetKey("gcore_requests")
    loadable = [*(defs.assets or ()), *(defs.asset_checks or ())]
    # A contract check, a value rule and a table rule: each kind of result.
    checks = [
        dg.AssetCheckKey(requests_key, name)
        for name in ("columns_match_contract", "status_code_in_range", "past_partitions_not_empty")
    ]
    request_checks = dg.AssetSelection.assets(
        requests_key
    ).without_checks() | dg.AssetSelection.checks(*checks)
    first, second = names
    instance.add_dynamic_partitions(DOMAINS_PARTITIONS_NAME, list(names))
    resources = pipeline_resources(simulator, lake)

    # One partition, on a lake that has no names yet: the asset looks its domain up.
    one = dg.materialize(
        loadable,
        instance=instance,
        resources=resources,
        selection=request_checks,
        partition_key=f"{DAYS[1]}|{first}",
    )
    (materialization,) = one.asset_materializations_for_node("gcore_requests")
    assert plain(materialization.metadata)["waap/domain_name"] == names[first]
    recorded = query(lake, f"SELECT CAST(domain_id AS VARCHAR), name FROM {DOMAINS}")
    assert dict(recorded) == names
    for evaluation in one.get_asset_check_evaluations():
        assert plain(evaluation.metadata)["waap/partitions"] == [
            {"partition": f"{DAYS[1]}|{first}", "domain_name": names[first]}
        ]

    # A bad row left in that partition, then a run of two days of the other domain: the
    # run judges its own partitions only, and the bad row is in none of them.
    with open_lake(lake_settings(lake), read_only=False) as connection:
        connection.execute(
            "UPDATE gcore_requests SET status_code = 700 "
            "WHERE id = (SELECT min(id) FROM gcore_requests)"
        )
    keys = [f"{day}|{second}" for day in DAYS]
    ranged = dg.materialize(
        loadable,
        instance=instance,
        resources=resources,
        selection=request_checks,
        tags={
            "dagster/asset_partition_range_start": keys[0],
            "dagster/asset_partition_range_end": keys[1],
        },
    )
    # A range run gives each of its partitions the same metadata: the list of them all.
    materializations = ranged.asset_materializations_for_node("gcore_requests")
    assert len(materializations) == len(keys)
    listed = plain(materializations[0].metadata)["waap/partitions"]
    assert [(load["partition"], load["domain_name"]) for load in listed] == [
        (key, names[second]) for key in keys
    ]
    evaluations = {e.check_name: plain(e.metadata) for e in ranged.get_asset_check_evaluations()}
    assert set(evaluations) == {check.name for check in checks}
    assert all(
        metadata["waap/partitions"]
        == [{"partition": key, "domain_name": names[second]} for key in keys]
        for metadata in evaluations.values()
    )
    assert evaluations["status_code_in_range"]["violations"] == 0

    # A check-only run without partitions: the whole table, no partition named.
    unpartitioned = dg.materialize(
        loadable,
        instance=instance,
        resources=resources,
        selection=dg.AssetSelection.checks(*checks),
        raise_on_error=False,
    )
    evaluations = {
        e.check_name: plain(e.metadata) for e in unpartitioned.get_asset_check_evaluations()
    }
    assert not any("waap/partitions" in metadata for metadata in evaluations.values())
    failed = evaluations["status_code_in_range"]
    assert failed["violations"] == 1
    # The offending row shown names its partition.
    (example,) = failed["examples"]
    assert (example["day"], str(example["domain_id"])) == (DAYS[1], first)


# Column lineage from the raw tables to the summaries


class Prefixed(WaapSessionsTranslator):
    """Every asset under `security/`."""

    def get_asset_spec(self, props: WaapSessionsTableProps) -> dg.AssetSpec:
        spec = super().get_asset_spec(props)
        return spec.replace_attributes(key=spec.key.with_prefix("security"))


def lineage_of(defs: dg.Definitions, key: dg.AssetKey) -> dict[str, set[tuple[str, str]]]:
    """The summary's column lineage as the UI reads it: column -> (asset, column) pairs."""
    lineage = defs.resolve_asset_graph().get(key).metadata["dagster/column_lineage"]
    return {
        column: {(dep.asset_key.to_user_string(), dep.column_name) for dep in deps}
        for column, deps in lineage.deps_by_column.items()
    }


def test_the_summaries_carry_column_lineage_on_the_translated_keys():
    defs = build_waap_sessions_definitions(translator=Prefixed(), start_date=START_DATE)

    top = lineage_of(defs, dg.AssetKey(["security", "top_sessions"]))
    active = lineage_of(defs, dg.AssetKey(["security", "active_sessions"]))

    assert top["blocked"] == {("security/gcore_requests", "decision")}
    assert top["duration_s"] == {("security/gcore_requests", "request_time")}
    assert active["sessions"] == {
        ("security/accesswatch_sessions", "session_id"),
        ("security/appgate_active_sessions", "total_count"),
        ("security/appgate_active_sessions", "by_location"),
        ("security/appgate_active_sessions", "by_version"),
    }
    # Every column named exists: the summary's own, and the raw table's it comes from.
    columns = {table.name: set(table.column_names) for table in TABLES}
    for summary, lineage in (("top_sessions", top), ("active_sessions", active)):
        assert set(lineage) <= columns[summary]
        assert set(lineage) == set(LINEAGE[summary])
        for deps in lineage.values():
            assert all(column in columns[key.split("/")[-1]] for key, column in deps)


def test_lineage_leaves_out_the_tables_of_unselected_sources():
    defs = build_waap_sessions_definitions(sources=["accesswatch"], start_date=START_DATE)

    active = lineage_of(defs, dg.AssetKey("active_sessions"))

    assert {key for deps in active.values() for key, _ in deps} == {"accesswatch_sessions"}
    assert active["sessions"] == {("accesswatch_sessions", "session_id")}
