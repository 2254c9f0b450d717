"""The public factory: source selection, the translator, the start date, the backfill policy.

Selections run for real: the code location is built from the environment as
`dagster dev` builds it, with only the selected sources' credentials set, and its jobs
run in process against the simulator into a lake of their own.
"""

from datetime import UTC, date, datetime, timedelta
from itertools import combinations
from pathlib import Path

import dagster as dg
import pytest

from waap_sessions import Source, WaapSessionsTableProps, WaapSessionsTranslator
from waap_sessions.definitions import definitions_from_env
from waap_sessions.demo import simulator_environment
from waap_sessions.errors import InvalidParameterError
from waap_sessions.factory import CREDENTIAL_VARIABLES, SelectionSettings
from waap_sessions.simulator import Simulator, SimulatorConfig
from waap_sessions.warehouse import TABLES
from waap_sessions_tests.conftest import (
    assets_by_name,
    built_definitions,
    checks_in,
    lake_settings,
    pipeline_resources,
    query,
)

YESTERDAY = datetime.now(UTC).date() - timedelta(days=1)
# The tables each source feeds by itself (the summaries follow whichever is selected).
TABLES_OF = {
    Source.GCORE: {"gcore_requests", "gcore_ip_top_sessions", "top_sessions"},
    Source.ACCESSWATCH: {"accesswatch_sessions", "active_sessions"},
    Source.APPGATE: {"appgate_active_sessions", "active_sessions"},
}
SELECTIONS = [frozenset(pick) for size in (1, 2) for pick in combinations(sorted(Source), size)]


@pytest.fixture(scope="module")
def small_simulator():
    """A small account on the real clock (the jobs load yesterday); at 300 requests a day
    a night hour can have no session in the default 30-minute window, so the window is two
    days: every session counts as active and each snapshot has rows at any hour."""
    config = SimulatorConfig(
        seed=11, domains=2, days=2, requests_per_day=300, active_window_s=2 * 86_400
    )
    with Simulator(config) as simulator:
        yield simulator


def credentials_of(simulator: Simulator, sources: frozenset[Source]) -> dict[str, str]:
    """The simulator's variables of `sources` only: GCORE_* for gcore, and so on."""
    prefixes = {
        Source.GCORE: "GCORE_",
        Source.ACCESSWATCH: "ACCESSWATCH_",
        Source.APPGATE: "APPGATE_",
    }
    return {
        name: value
        for name, value in simulator_environment(simulator).items()
        if any(name.startswith(prefixes[source]) for source in sources)
    }


def clear_environment(monkeypatch: pytest.MonkeyPatch, simulator: Simulator) -> None:
    """No source's variables and no selection: only what a test sets counts."""
    for name in simulator_environment(simulator):
        monkeypatch.delenv(name, raising=False)
    for name in ("WAAP_SOURCES", "WAAP_START_DATE", "WAAP_POOL", "APPGATE_TOKEN"):
        monkeypatch.delenv(name, raising=False)


# Source selection


@pytest.mark.parametrize("sources", SELECTIONS, ids=lambda s: "+".join(sorted(s)))
def test_a_selection_loads_with_only_its_own_credentials(
    sources: frozenset[Source],
    small_simulator: Simulator,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    clear_environment(monkeypatch, small_simulator)
    for name, value in credentials_of(small_simulator, sources).items():
        monkeypatch.setenv(name, value)
    lake = lake_settings(tmp_path)
    monkeypatch.setenv("WAAP_DUCKLAKE_CATALOG", lake.catalog)
    monkeypatch.setenv("WAAP_DUCKLAKE_DATA_PATH", lake.data_path)

    defs = definitions_from_env()

    expected = set().union(*(TABLES_OF[source] for source in sources))
    assert set(assets_by_name(defs)) == expected
    assert {check.asset_key.path[-1] for c in checks_in(defs) for check in c.check_specs} == (
        expected
    )
    assert set(defs.resources or {}) == {"warehouse", *sources}
    jobs = {job.name for job in defs.get_repository_def().get_all_jobs()}
    schedules = {schedule.name for schedule in defs.schedules or ()}
    sensors = {sensor.name for sensor in defs.sensors or ()}
    assert ("gcore_partition_job" in jobs) == (Source.GCORE in sources)
    assert ({"gcore_daily_schedule", "gcore_intraday_schedule"} <= schedules) == (
        Source.GCORE in sources
    )
    assert ("gcore_domain_sensor" in sensors) == (Source.GCORE in sources)
    snapshots = bool(sources - {Source.GCORE})
    assert ("snapshot_schedule" in schedules) == snapshots

    with dg.instance_for_test() as instance:
        if Source.GCORE in sources:
            domain = str(small_simulator.dataset.domains[0].id)
            instance.add_dynamic_partitions("gcore_domains", [domain])
            job = defs.resolve_job_def("gcore_partition_job")
            run = job.execute_in_process(instance=instance, partition_key=f"{YESTERDAY}|{domain}")
            assert run.success
        if snapshots:
            assert (
                defs.resolve_job_def("snapshot_job").execute_in_process(instance=instance).success
            )
            summary = defs.resolve_implicit_global_asset_job_def().execute_in_process(
                instance=instance, asset_selection=[dg.AssetKey("active_sessions")]
            )
            assert summary.success
    loaded = {
        table.name
        for table in TABLES
        if query(tmp_path, f"SELECT count(*) FROM {table.name}")[0][0] > 0
    }
    assert loaded == expected
    if snapshots:
        sources_in_series = {
            row[0] for row in query(tmp_path, "SELECT source FROM active_sessions")
        }
        assert sources_in_series == {s.value for s in sources - {Source.GCORE}}


def test_an_unselected_sources_schedule_never_runs(
    small_simulator: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With Appgate alone, the snapshot schedule's runs take only the Appgate snapshot."""
    clear_environment(monkeypatch, small_simulator)
    for name, value in credentials_of(small_simulator, frozenset({Source.APPGATE})).items():
        monkeypatch.setenv(name, value)
    defs = definitions_from_env()
    repository = defs.get_repository_def()
    job = repository.get_job("snapshot_job")
    assert {key.path[-1] for key in job.asset_layer.executable_asset_keys} == {
        "appgate_active_sessions"
    }
    for schedule in repository.schedule_defs:
        targeted = repository.get_job(schedule.job_name).asset_layer.executable_asset_keys
        assert not {key.path[-1] for key in targeted} & (
            TABLES_OF[Source.GCORE] | {"accesswatch_sessions"}
        ), schedule.name


def test_the_default_selection_follows_the_credentials_that_are_set() -> None:
    settings = SelectionSettings()
    assert settings.selected_sources({"ACCESSWATCH_API_KEY": "k"}) == {Source.ACCESSWATCH}
    assert settings.selected_sources({"GCORE_API_KEY": "k", "APPGATE_URL": "https://c"}) == {
        Source.GCORE,
        Source.APPGATE,
    }
    # Nothing set: everything, so the UI shows the whole integration and runs name what is missing.
    assert settings.selected_sources({}) == set(Source)
    assert set(CREDENTIAL_VARIABLES) == set(Source)


def test_waap_sources_overrides_the_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAAP_SOURCES", " Gcore, appgate ")
    settings = SelectionSettings.from_env()
    assert settings.selected_sources({"ACCESSWATCH_API_KEY": "k"}) == {Source.GCORE, Source.APPGATE}


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("WAAP_SOURCES", "gcore,okta", "must name one or more of gcore, accesswatch, appgate"),
        ("WAAP_SOURCES", ",", "must name one or more of"),
        ("WAAP_START_DATE", "yesterday", "WAAP_START_DATE"),
    ],
)
def test_a_bad_selection_fails_naming_its_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(InvalidParameterError, match=variable) as raised:
        SelectionSettings.from_env()
    assert message in str(raised.value)
    assert len(str(raised.value).splitlines()) == 1


# The translator


class SecurityTranslator(WaapSessionsTranslator):
    """A team's translator: a prefix, its own group and owner, summaries in another group."""

    def get_asset_spec(self, props: WaapSessionsTableProps) -> dg.AssetSpec:
        spec = super().get_asset_spec(props)
        return spec.replace_attributes(
            key=spec.key.with_prefix("security"),
            group_name="security_summaries" if props.summary else "security_raw",
            owners=["alice@example.com"],
        )


TRANSLATED = built_definitions(translator=SecurityTranslator())


def test_a_translator_changes_keys_groups_and_owners() -> None:
    specs = {spec.key: spec for asset in TRANSLATED.assets or () for spec in asset.specs}  # type: ignore[union-attr]
    assert set(specs) == {dg.AssetKey(["security", table.name]) for table in TABLES}
    for key, spec in specs.items():
        summary = key.path[-1] in {"top_sessions", "active_sessions"}
        assert spec.group_name == ("security_summaries" if summary else "security_raw")
        assert spec.owners == ["alice@example.com"]
    # Dependencies between the tables follow the new keys.
    assert {dep.asset_key for dep in specs[dg.AssetKey(["security", "top_sessions"])].deps} == {
        dg.AssetKey(["security", "gcore_requests"])
    }
    assert {dep.asset_key for dep in specs[dg.AssetKey(["security", "active_sessions"])].deps} == {
        dg.AssetKey(["security", "accesswatch_sessions"]),
        dg.AssetKey(["security", "appgate_active_sessions"]),
    }


def test_checks_and_automation_follow_the_translated_keys() -> None:
    checked = {spec.asset_key for check in checks_in(TRANSLATED) for spec in check.check_specs}
    assert checked == {dg.AssetKey(["security", table.name]) for table in TABLES}
    repository = TRANSLATED.get_repository_def()
    partition_job = repository.get_job("gcore_partition_job")
    assert partition_job.asset_layer.executable_asset_keys == {
        dg.AssetKey(["security", name]) for name in TABLES_OF[Source.GCORE]
    }
    sensor = repository.get_sensor_def("summaries_automation_sensor")
    assert isinstance(sensor, dg.AutomationConditionSensorDefinition)
    assert sensor.asset_selection.resolve(repository.asset_graph) == {
        dg.AssetKey(["security", "top_sessions"]),
        dg.AssetKey(["security", "active_sessions"]),
    }
    conditions = {
        spec.key.path[-1]
        for asset in TRANSLATED.assets or ()
        for spec in asset.specs  # type: ignore[union-attr]
        if spec.automation_condition is not None
    }
    assert conditions == {"top_sessions", "active_sessions"}


def test_a_translated_partition_loads_and_is_checked_under_its_new_keys(
    small_simulator: Simulator, tmp_path: Path
) -> None:
    defs = built_definitions(
        translator=SecurityTranslator(), **pipeline_resources(small_simulator, tmp_path)
    )
    domain = str(small_simulator.dataset.domains[0].id)
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("gcore_domains", [domain])
        run = defs.resolve_job_def("gcore_partition_job").execute_in_process(
            instance=instance, partition_key=f"{YESTERDAY}|{domain}"
        )
    assert run.success
    assert {event.asset_key for event in run.get_asset_materialization_events()} == {
        dg.AssetKey(["security", name]) for name in TABLES_OF[Source.GCORE]
    }
    evaluations = run.get_asset_check_evaluations()
    assert evaluations
    assert all(e.passed for e in evaluations if e.severity == dg.AssetCheckSeverity.ERROR)
    assert {e.asset_key.path[0] for e in evaluations} == {"security"}


def test_a_translator_giving_two_tables_one_key_is_refused() -> None:
    class OneKey(WaapSessionsTranslator):
        def get_asset_spec(self, props: WaapSessionsTableProps) -> dg.AssetSpec:
            return super().get_asset_spec(props).replace_attributes(key="sessions")

    with pytest.raises(InvalidParameterError, match="same key"):
        built_definitions(translator=OneKey())


# Partitions and backfills


def test_the_partitions_start_at_the_configured_date() -> None:
    defs = built_definitions(start_date="2026-11-01")
    partitions = assets_by_name(defs)["gcore_requests"].partitions_def
    assert isinstance(partitions, dg.MultiPartitionsDefinition)
    days = partitions.get_partitions_def_for_dimension("date").get_partition_keys()
    assert days[0] == "2026-11-01"
    assert days[-1] == datetime.now(UTC).date().isoformat()


def test_by_default_the_partitions_start_where_a_new_domain_starts_loading() -> None:
    defs = built_definitions(start_date=None)
    partitions = assets_by_name(defs)["gcore_requests"].partitions_def
    assert isinstance(partitions, dg.MultiPartitionsDefinition)
    first = partitions.get_partitions_def_for_dimension("date").get_partition_keys()[0]
    backfill_days = 3  # AutomationSettings' default
    assert date.fromisoformat(first) == datetime.now(UTC).date() - timedelta(days=backfill_days)


def test_the_backfill_policy_and_pool_apply_to_every_partitioned_asset() -> None:
    policy = dg.BackfillPolicy.multi_run(max_partitions_per_run=2)
    defs = built_definitions(backfill_policy=policy, pool="gcore_api")
    for name, asset in assets_by_name(defs).items():
        assert asset.backfill_policy == (policy if name in TABLES_OF[Source.GCORE] else None)
        assert asset.op.pool == "gcore_api"
