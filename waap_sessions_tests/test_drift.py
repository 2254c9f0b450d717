"""The schema-drift policy, per API, through real Dagster runs against the simulator.

Each API's answers are changed by the simulator as a newer (or broken) API version would
send them, and the asset loading it runs with its checks:
- an added field loads and is reported in the run's `waap/schema_drift`;
- a missing required field, or a field of another JSON type, fails the run naming the
  field and the API's path, and the table is left exactly as it was;
- a value outside a documented enumeration loads, is reported in `waap/schema_drift`, and
  its `*_is_known` check fails as a warning (the run succeeds).
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg
import pytest

from waap_sessions.assets import RequestsConfig
from waap_sessions.gcore import GcoreWaapClient
from waap_sessions.simulator import Faults, Simulator, SimulatorConfig
from waap_sessions.warehouse import PARTITION_LOADS
from waap_sessions_tests.conftest import (
    CHECKS,
    accesswatch_sessions,
    appgate_active_sessions,
    gcore_ip_top_sessions,
    gcore_requests,
    pipeline_resources,
    query,
)

YESTERDAY = datetime.now(UTC).date() - timedelta(days=1)
# Every session of the two days is active (Access Watch's snapshot is never empty, at
# any hour the test runs); the simulated clock is the wall clock.
CONFIG = SimulatorConfig(
    seed=13, domains=1, days=2, requests_per_day=800, active_window_s=2 * 86_400
)
# One worker runs the module (`--dist loadgroup`): its tests share the lake `loaded`
# fills, which two workers would each fill again.
pytestmark = pytest.mark.xdist_group("drift")


@dataclass(frozen=True)
class Api:
    """One API as the drift tests drive it: its asset, its path, and how to read its table."""

    name: str
    asset: dg.AssetsDefinition
    path: str
    # The rows one run writes: a partition's, or the newest snapshot's.
    written_sql: str
    # The whole state a failed run must leave as it was.
    state_sql: str
    # A record's model, as drift entries name it, and a field each case changes.
    record: str
    required_field: str
    typed_field: str
    wrong_type: Any
    partitioned: bool = True
    # Where the simulator serves `path`: the part of the base URL before it.
    prefix: str = ""


def partition_sql(table: str) -> str:
    return f"SELECT * FROM {table} WHERE day = DATE '{YESTERDAY}' ORDER BY ALL"


def snapshot_sql(table: str) -> str:
    return f"SELECT * FROM {table} QUALIFY snapshot_at = max(snapshot_at) OVER ()"


GCORE_REQUESTS = Api(
    name="gcore_requests",
    asset=gcore_requests,
    path="/waap/v1/analytics/requests",
    written_sql=partition_sql("gcore_requests"),
    state_sql=f"{partition_sql('gcore_requests')}; SELECT * FROM {PARTITION_LOADS} ORDER BY ALL",
    record="RequestSummary",
    required_field="client_ip",
    typed_field="status_code",
    wrong_type="200",
)
IP_SPOTLIGHT = Api(
    name="gcore_ip_top_sessions",
    asset=gcore_ip_top_sessions,
    path="/waap/v1/ip-info/top-sessions",
    written_sql=partition_sql("gcore_ip_top_sessions"),
    state_sql=partition_sql("gcore_ip_top_sessions"),
    record="TopSession",
    required_field="requests",
    typed_field="requests",
    wrong_type="12",
)
ACCESS_WATCH = Api(
    name="accesswatch_sessions",
    asset=accesswatch_sessions,
    path="/sessions",
    written_sql=snapshot_sql("accesswatch_sessions"),
    state_sql="SELECT * FROM accesswatch_sessions ORDER BY ALL",
    record="Session",
    required_field="reputation",
    typed_field="count",
    wrong_type="7",
    partitioned=False,
    prefix="/1.1",
)
APPGATE = Api(
    name="appgate_active_sessions",
    asset=appgate_active_sessions,
    path="/stats/active-sessions/dashboard",
    written_sql=snapshot_sql("appgate_active_sessions"),
    state_sql="SELECT * FROM appgate_active_sessions ORDER BY ALL",
    record="GeoIpData",
    required_field="",  # the vendor makes every dashboard field optional
    typed_field="sessionCount",
    wrong_type="3",
    partitioned=False,
    prefix="/admin",
)
APIS = [GCORE_REQUESTS, IP_SPOTLIGHT, ACCESS_WATCH, APPGATE]
WITH_REQUIRED_FIELDS = [api for api in APIS if api.required_field]

# A value outside each documented enumeration: the API, the field as the simulator
# names it, the new value, its drift entry, the check that warns, and the column it lands in.
UNKNOWN_VALUES = [
    (GCORE_REQUESTS, "decision", "RequestSummary.decision", "decision_is_known", "decision"),
    (GCORE_REQUESTS, "result", "RequestSummary.result", "result_is_known", "result"),
    (
        GCORE_REQUESTS,
        "optional_action",
        "RequestSummary.optional_action",
        "optional_action_is_known",
        "optional_action",
    ),
    (
        ACCESS_WATCH,
        "reputation.status",
        "Reputation.status",
        "reputation_status_is_known",
        "reputation_status",
    ),
    (ACCESS_WATCH, "identity.type", "Identity.type", "identity_type_is_known", "identity_type"),
    (
        APPGATE,
        "supportStatus",
        "VersionSessions.supportStatus",
        "support_status_is_known",
        "unnest(list_transform(by_version, lambda version: version.support_status))",
    ),
]


@dataclass
class Loaded:
    simulator: Simulator
    instance: dg.DagsterInstance
    lake: str
    partition: str


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loaded]:
    """Yesterday of one domain, its IP Spotlight answers and a snapshot of each source."""
    lake = str(tmp_path_factory.mktemp("lake"))
    with Simulator(CONFIG) as simulator, dg.instance_for_test() as instance:
        domain_id = simulator.dataset.domains[0].id
        instance.add_dynamic_partitions("gcore_domains", [str(domain_id)])
        state = Loaded(simulator, instance, lake, f"{YESTERDAY}|{domain_id}")
        resources = pipeline_resources(simulator, lake)
        assert dg.materialize(
            [gcore_requests, gcore_ip_top_sessions],
            instance=instance,
            resources=resources,
            partition_key=state.partition,
        ).success
        assert dg.materialize(
            [accesswatch_sessions, appgate_active_sessions], instance=instance, resources=resources
        ).success
        yield state


def run(loaded: Loaded, api: Api, **faults: Any) -> dg.ExecuteInProcessResult:
    """Materialize `api`'s asset, with its checks, while the simulator drifts its answers."""
    checks = [c for c in CHECKS if any(k.asset_key == api.asset.key for k in c.check_keys)]
    loaded.simulator.faults = Faults(path_prefix=api.prefix + api.path, **faults)
    try:
        return dg.materialize(
            [api.asset, *checks],
            instance=loaded.instance,
            resources=pipeline_resources(loaded.simulator, loaded.lake),
            partition_key=loaded.partition if api.partitioned else None,
            # A past day the API still counts the same is kept unread: read it regardless.
            run_config=dg.RunConfig(ops={"gcore_requests": RequestsConfig(reload_unchanged=True)})
            if api is GCORE_REQUESTS
            else None,
            raise_on_error=False,
        )
    finally:
        loaded.simulator.faults = Faults()


def state(loaded: Loaded, api: Api) -> list[list[tuple]]:
    return [query(loaded.lake, sql) for sql in api.state_sql.split("; ")]


def drift_of(result: dg.ExecuteInProcessResult) -> dict[str, int]:
    (event,) = result.get_asset_materialization_events()
    value = event.materialization.metadata["waap/schema_drift"].value
    assert isinstance(value, dict)
    return value


def failure_of(result: dg.ExecuteInProcessResult) -> str:
    assert not result.success
    assert not result.get_asset_materialization_events()
    (failure,) = result.get_step_failure_events()
    return str(failure.event_specific_data.error)  # type: ignore[union-attr]


def errors(result: dg.ExecuteInProcessResult) -> list[dg.AssetCheckEvaluation]:
    """The run's evaluations of ERROR checks (warnings of earlier tests' values may stay)."""
    evaluated = result.get_asset_check_evaluations()
    assert evaluated
    return [e for e in evaluated if e.severity == dg.AssetCheckSeverity.ERROR]


def evaluations(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


@pytest.mark.parametrize("api", APIS, ids=[api.name for api in APIS])
def test_an_added_field_loads_and_is_reported(loaded: Loaded, api: Api) -> None:
    before = query(loaded.lake, api.written_sql)

    result = run(loaded, api, extra_fields={"threat_level": "high"})

    assert result.success
    written = query(loaded.lake, api.written_sql)
    (event,) = result.get_asset_materialization_events()
    assert len(written) == event.materialization.metadata["waap/rows_written"].value > 0
    if api.partitioned:  # the same rows again (a snapshot is of the moment)
        assert len(written) == len(before)
    # Appgate's records are its locations; the other APIs' are the rows written.
    if api is APPGATE:
        ((records,),) = query(loaded.lake, f"SELECT len(by_location) FROM ({api.written_sql})")
    else:
        records = len(written)
    assert drift_of(result) == {f"{api.record}.threat_level": records}
    assert all(e.passed for e in errors(result))


@pytest.mark.parametrize("api", WITH_REQUIRED_FIELDS, ids=[a.name for a in WITH_REQUIRED_FIELDS])
def test_a_missing_required_field_fails_the_run_and_writes_nothing(
    loaded: Loaded, api: Api
) -> None:
    before = state(loaded, api)

    result = run(loaded, api, missing_fields=[api.required_field])

    message = failure_of(result)
    assert f"{api.path} answered outside its documented schema" in message
    # Named once, its records folded: `results[].client_ip: Field required (800 records)`.
    assert f"[].{api.required_field}: Field required" in message
    assert state(loaded, api) == before


@pytest.mark.parametrize("api", APIS, ids=[api.name for api in APIS])
def test_a_field_of_another_type_fails_the_run_and_writes_nothing(loaded: Loaded, api: Api) -> None:
    """Strictly: a number sent as a string is drift, not something to convert."""
    before = state(loaded, api)

    result = run(loaded, api, replaced_values={api.typed_field: api.wrong_type})

    message = failure_of(result)
    assert f"{api.path} answered outside its documented schema" in message
    assert f"{api.typed_field}: Input should be a valid integer (got str" in message
    assert state(loaded, api) == before


def test_a_missing_optional_appgate_field_loads_as_null(loaded: Loaded) -> None:
    """Every field of Appgate's dashboard is optional (the vendor marks it internal)."""
    result = run(loaded, APPGATE, missing_fields=["totalCount"])

    assert result.success
    ((total_count,),) = query(loaded.lake, f"SELECT total_count FROM ({APPGATE.written_sql})")
    assert total_count is None
    assert all(e.passed for e in errors(result))


@pytest.mark.parametrize(
    ("api", "field", "entry", "check", "column"),
    UNKNOWN_VALUES,
    ids=[f"{api.name}.{field}" for api, field, *_ in UNKNOWN_VALUES],
)
def test_an_unknown_value_loads_is_reported_and_warned_of(
    loaded: Loaded, api: Api, field: str, entry: str, check: str, column: str
) -> None:
    result = run(loaded, api, replaced_values={field: "quarantined"})

    assert result.success
    [(value, rows)] = query(
        loaded.lake,
        f"SELECT value, count(*) FROM (SELECT {column} AS value FROM ({api.written_sql})) "
        "GROUP BY ALL",
    )
    assert value == "quarantined"
    assert drift_of(result) == {f"{entry}='quarantined'": rows}
    warning = evaluations(result)[check]
    assert not warning.passed
    assert warning.severity == dg.AssetCheckSeverity.WARN
    assert '"quarantined"' in str(warning.metadata["examples"].value).replace("'", '"')


def test_a_new_domain_status_still_lists_the_domain(
    simulator: Simulator, gcore: GcoreWaapClient
) -> None:
    """The domain sensor's listing follows the same policy: a new status is drift."""
    simulator.faults = Faults(path_prefix="/waap/v1/domains", replaced_values={"status": "paused"})

    domains = list(gcore.iter_domains())

    assert {domain.status for domain in domains} == {"paused"}
    assert gcore.schema_drift == {"Domain.status='paused'": len(domains)}
