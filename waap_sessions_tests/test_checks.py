# The SQL here plants faults in a throwaway copy of the lake; it never sees input.
"""The asset checks, through real Dagster runs against the simulator and a real lake.

Good data is loaded once per module. Each failure test copies that lake (its SQLite
catalog and Parquet files), plants rows that break one rule with a read-write
connection, and runs that check alone: a check-only run without partitions, which
judges the whole table. A run that loads partitions judges those partitions only.
"""

import json
import shutil
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest

from waap_sessions import checks
from waap_sessions.lake import open_lake
from waap_sessions.simulator import Faults, Simulator, SimulatorConfig
from waap_sessions.simulator.gcore import ANALYTICS_PATH
from waap_sessions.warehouse import PARTITION_LOADS
from waap_sessions_tests.conftest import (
    ASSETS,
    CHECKS,
    accesswatch_sessions,
    active_sessions,
    appgate_active_sessions,
    gcore_ip_top_sessions,
    gcore_requests,
    lake_settings,
    pipeline_resources,
    query,
    top_sessions,
)

YESTERDAY = datetime.now(UTC).date() - timedelta(days=1)
DAYS = (YESTERDAY - timedelta(days=1), YESTERDAY)
# Exact volumes: the cases below name the API's count of a day (3,000).
CONFIG = SimulatorConfig(seed=7, domains=2, days=3, requests_per_day=3000, exact_volume=True)
# One worker runs the module (`--dist loadgroup`): its tests share the lake `loaded`
# fills, which two workers would each fill again.
pytestmark = pytest.mark.xdist_group("checks")


@dataclass(frozen=True)
class Loaded:
    """Good data: the lake's folder, the instance that recorded its runs, and those runs."""

    simulator: Simulator
    instance: dg.DagsterInstance
    lake: str
    domain_id: int
    runs: list[dg.ExecuteInProcessResult]


def partition_key(day: object, domain_id: int) -> str:
    return f"{day}|{domain_id}"


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory):
    """Two days of one domain and a snapshot of each source, loaded with every check."""
    lake = str(tmp_path_factory.mktemp("lake"))
    with Simulator(CONFIG) as simulator, dg.instance_for_test() as instance:
        domain_id = simulator.dataset.domains[0].id
        instance.add_dynamic_partitions(
            "gcore_domains", [str(d.id) for d in simulator.dataset.domains]
        )
        good = Loaded(simulator, instance, lake, domain_id, [])
        resources = pipeline_resources(good.simulator, lake)
        for day in DAYS:
            good.runs.append(
                dg.materialize(
                    [gcore_requests, gcore_ip_top_sessions, top_sessions, *CHECKS],
                    instance=instance,
                    resources=resources,
                    partition_key=partition_key(day, domain_id),
                )
            )
        good.runs.append(
            dg.materialize(
                [accesswatch_sessions, appgate_active_sessions, active_sessions, *CHECKS],
                instance=instance,
                resources=resources,
            )
        )
        yield good


def check_key(asset: str, name: str) -> dg.AssetCheckKey:
    return dg.AssetCheckKey(dg.AssetKey(asset), name)


ALL_CHECK_KEYS = {key for check in CHECKS for key in check.check_keys}


def plain_metadata(evaluation: dg.AssetCheckEvaluation) -> str:
    """The evaluation's metadata as JSON text, to look for what it says was found."""
    return json.dumps({k: v.value for k, v in evaluation.metadata.items()}, default=str)


def run_checks(
    loaded: Loaded, lake: str, *keys: dg.AssetCheckKey
) -> dict[dg.AssetCheckKey, dg.AssetCheckEvaluation]:
    """Execute only the given checks (no asset materializes, no partition) against `lake`."""
    result = dg.materialize(
        [*ASSETS.values(), *CHECKS],
        instance=loaded.instance,
        resources=pipeline_resources(loaded.simulator, lake),
        selection=dg.AssetSelection.checks(*keys),
        raise_on_error=False,
    )
    assert not result.get_asset_materialization_events()
    evaluations = {e.asset_check_key: e for e in result.get_asset_check_evaluations()}
    # A table's checks share a step, which evaluates the selected ones alone.
    assert set(evaluations) == set(keys)
    return evaluations


def faulty_copy(lake: str, directory: Path, statements: tuple[str, ...]) -> str:
    """A copy of the good lake with `statements` applied."""
    copy = directory / "faulty"
    shutil.copytree(lake, copy)
    # The catalog records where its files are: point the copy's at the copied files.
    with sqlite3.connect(copy / "catalog.sqlite") as catalog:
        catalog.execute(
            "UPDATE ducklake_metadata SET value = ? WHERE key = 'data_path'",
            [lake_settings(copy).resolved_data_path],
        )
    catalog.close()
    with open_lake(lake_settings(copy), read_only=False) as connection:
        for statement in statements:
            connection.execute(statement)
    return str(copy)


def first_row(table: str) -> str:
    return f"rowid = (SELECT min(rowid) FROM {table})"


LAST_DAY = "day = (SELECT max(day) FROM top_sessions)"

# (table, check, statements that break it, what the failed check's metadata must say)
FAULTS: list[tuple[str, str, tuple[str, ...], str]] = [
    (
        "gcore_requests",
        "columns_match_contract",
        ("ALTER TABLE gcore_requests ALTER status_code TYPE BIGINT",),
        '"status_code": {"declared": "INTEGER", "found": "BIGINT"}',
    ),
    (
        "gcore_requests",
        "key_is_unique",
        ("INSERT INTO gcore_requests SELECT * FROM gcore_requests LIMIT 1",),
        '"copies": 2',
    ),
    (
        "gcore_requests",
        "required_columns_not_null",
        (f"UPDATE gcore_requests SET client_ip = NULL WHERE {first_row('gcore_requests')}",),
        '"null_counts": {"client_ip": 1}',
    ),
    (
        "gcore_requests",
        "status_code_in_range",
        (f"UPDATE gcore_requests SET status_code = 700 WHERE {first_row('gcore_requests')}",),
        '"status_code": 700',
    ),
    (
        "gcore_requests",
        "decision_is_known",
        (f"UPDATE gcore_requests SET decision = 'denied' WHERE {first_row('gcore_requests')}",),
        '"decision": "denied"',
    ),
    (
        "gcore_requests",
        "optional_action_is_known",
        (
            "UPDATE gcore_requests SET optional_action = 'redirect' "
            f"WHERE {first_row('gcore_requests')}",
        ),
        '"optional_action": "redirect"',
    ),
    (
        "gcore_requests",
        "result_is_known",
        (f"UPDATE gcore_requests SET result = 'dropped' WHERE {first_row('gcore_requests')}",),
        '"result": "dropped"',
    ),
    (
        "gcore_requests",
        "country_is_alpha2",
        (f"UPDATE gcore_requests SET country = 'usa' WHERE {first_row('gcore_requests')}",),
        '"country": "usa"',
    ),
    (
        "gcore_requests",
        "session_id_is_hex",
        (f"UPDATE gcore_requests SET session_id = 'S-1' WHERE {first_row('gcore_requests')}",),
        '"session_id": "S-1"',
    ),
    (
        "gcore_requests",
        "row_count_matches_api",
        (f"DELETE FROM gcore_requests WHERE {first_row('gcore_requests')}",),
        '"api_reported_count": 3000, "rows_in_table": 2999',
    ),
    (
        "gcore_requests",
        "past_partitions_not_empty",
        (
            f"UPDATE {PARTITION_LOADS} SET row_count = 0 WHERE table_name = 'gcore_requests' "
            f"AND day = '{DAYS[0]}'",
        ),
        f'"day": "{DAYS[0]}"',
    ),
    (
        "gcore_ip_top_sessions",
        "columns_match_contract",
        (
            "ALTER TABLE gcore_ip_top_sessions DROP COLUMN ip_rank",
            "ALTER TABLE gcore_ip_top_sessions ADD COLUMN ip_rank INTEGER",
        ),
        '"order_matches": false',
    ),
    (
        "gcore_ip_top_sessions",
        "key_is_unique",
        ("INSERT INTO gcore_ip_top_sessions SELECT * FROM gcore_ip_top_sessions LIMIT 1",),
        '"copies": 2',
    ),
    (
        "gcore_ip_top_sessions",
        "required_columns_not_null",
        (
            "UPDATE gcore_ip_top_sessions SET requests = NULL "
            f"WHERE {first_row('gcore_ip_top_sessions')}",
        ),
        '"null_counts": {"requests": 1}',
    ),
    (
        "gcore_ip_top_sessions",
        "session_id_is_hex",
        (
            "UPDATE gcore_ip_top_sessions SET session_id = upper(session_id) || 'x' "
            f"WHERE {first_row('gcore_ip_top_sessions')}",
        ),
        'x"',
    ),
    (
        "gcore_ip_top_sessions",
        "blocked_within_requests",
        (
            "UPDATE gcore_ip_top_sessions SET requests = 5, blocked = 6 "
            f"WHERE {first_row('gcore_ip_top_sessions')}",
        ),
        '"requests": 5, "blocked": 6',
    ),
    (
        "accesswatch_sessions",
        "columns_match_contract",
        ("ALTER TABLE accesswatch_sessions DROP COLUMN robot_name",),
        '"missing_columns": ["robot_name"]',
    ),
    (
        "accesswatch_sessions",
        "key_is_unique",
        ("INSERT INTO accesswatch_sessions SELECT * FROM accesswatch_sessions LIMIT 1",),
        '"copies": 2',
    ),
    (
        "accesswatch_sessions",
        "required_columns_not_null",
        (
            "UPDATE accesswatch_sessions SET reputation_status = NULL "
            f"WHERE {first_row('accesswatch_sessions')}",
        ),
        '"null_counts": {"reputation_status": 1}',
    ),
    (
        "accesswatch_sessions",
        "reputation_status_is_known",
        (
            "UPDATE accesswatch_sessions SET reputation_status = 'evil' "
            f"WHERE {first_row('accesswatch_sessions')}",
        ),
        '"reputation_status": "evil"',
    ),
    (
        "accesswatch_sessions",
        "identity_type_is_known",
        (
            "UPDATE accesswatch_sessions SET identity_type = 'alien' "
            f"WHERE {first_row('accesswatch_sessions')}",
        ),
        '"identity_type": "alien"',
    ),
    (
        "appgate_active_sessions",
        "columns_match_contract",
        ("ALTER TABLE appgate_active_sessions ADD COLUMN region VARCHAR",),
        '"unexpected_columns": ["region"]',
    ),
    (
        "appgate_active_sessions",
        "key_is_unique",
        ("INSERT INTO appgate_active_sessions SELECT * FROM appgate_active_sessions",),
        '"copies": 2',
    ),
    (
        "appgate_active_sessions",
        "required_columns_not_null",
        ("UPDATE appgate_active_sessions SET by_version = NULL",),
        '"null_counts": {"by_version": 1}',
    ),
    (
        "appgate_active_sessions",
        "support_status_is_known",
        (
            "UPDATE appgate_active_sessions SET by_version = "
            "[{'client_version': '6.0', 'support_status': 'legacy', 'session_count': 1}]",
        ),
        '"support_status": "legacy"',
    ),
    (
        "top_sessions",
        "columns_match_contract",
        ("ALTER TABLE top_sessions RENAME COLUMN country TO country_code",),
        '"missing_columns": ["country"], "unexpected_columns": ["country_code"]',
    ),
    (
        "top_sessions",
        "key_is_unique",
        ("INSERT INTO top_sessions SELECT * FROM top_sessions LIMIT 1",),
        '"copies": 2',
    ),
    (
        "top_sessions",
        "required_columns_not_null",
        (f"UPDATE top_sessions SET client_ip = NULL WHERE {first_row('top_sessions')}",),
        '"null_counts": {"client_ip": 1}',
    ),
    (
        "top_sessions",
        "blocked_within_requests",
        (f"UPDATE top_sessions SET requests = 5, blocked = 6 WHERE {first_row('top_sessions')}",),
        '"requests": 5, "blocked": 6',
    ),
    (
        "top_sessions",
        "at_most_10_per_day",
        (
            "INSERT INTO top_sessions SELECT * REPLACE (11 AS rank) FROM top_sessions "
            f"WHERE rank = 10 AND {LAST_DAY}",
        ),
        '"sessions": 11',
    ),
    (
        "top_sessions",
        "ranks_without_gaps",
        (f"UPDATE top_sessions SET rank = 12 WHERE rank = 10 AND {LAST_DAY}",),
        '"ranks": [1, 2, 3, 4, 5, 6, 7, 8, 9, 12]',
    ),
    (
        "top_sessions",
        "requests_never_increase_with_rank",
        (f"UPDATE top_sessions SET requests = requests + 1000 WHERE rank = 5 AND {LAST_DAY}",),
        '"rank": 5',
    ),
    (
        "top_sessions",
        "agrees_with_gcore_requests",
        (
            "UPDATE top_sessions SET last_request_at = last_request_at + INTERVAL 1 HOUR "
            f"WHERE rank = 3 AND {LAST_DAY}",
        ),
        '"rank": 3',
    ),
    (
        "active_sessions",
        "columns_match_contract",
        (
            "ALTER TABLE active_sessions DROP COLUMN sessions",
            "ALTER TABLE active_sessions ADD COLUMN sessions DOUBLE",
        ),
        '"sessions": {"declared": "BIGINT", "found": "DOUBLE"}',
    ),
    (
        "active_sessions",
        "key_is_unique",
        ("INSERT INTO active_sessions SELECT * FROM active_sessions LIMIT 1",),
        '"copies": 2',
    ),
    (
        "active_sessions",
        "required_columns_not_null",
        (f"UPDATE active_sessions SET value = NULL WHERE {first_row('active_sessions')}",),
        '"null_counts": {"value": 1}',
    ),
    (
        "active_sessions",
        "sessions_not_negative",
        (f"UPDATE active_sessions SET sessions = -1 WHERE {first_row('active_sessions')}",),
        '"sessions": -1',
    ),
    (
        "active_sessions",
        "source_is_known",
        (f"UPDATE active_sessions SET source = 'okta' WHERE {first_row('active_sessions')}",),
        '"source": "okta"',
    ),
]


def test_every_check_passes_on_good_data(loaded: Loaded) -> None:
    evaluations = [e for run in loaded.runs for e in run.get_asset_check_evaluations()]
    failed = {
        e.asset_check_key.to_user_string(): plain_metadata(e) for e in evaluations if not e.passed
    }
    assert not failed
    evaluated = {e.asset_check_key for e in evaluations}
    assert evaluated == ALL_CHECK_KEYS


def test_every_check_has_a_fault_that_breaks_it() -> None:
    assert {check_key(table, check) for table, check, _, _ in FAULTS} == ALL_CHECK_KEYS


# A vendor's new value loads (counted as drift), so its check warns; so does an empty day.
WARNINGS = frozenset(
    {
        "decision_is_known",
        "optional_action_is_known",
        "result_is_known",
        "reputation_status_is_known",
        "identity_type_is_known",
        "support_status_is_known",
        "past_partitions_not_empty",
    }
)


@pytest.mark.parametrize(
    ("table", "check", "statements", "expected"),
    FAULTS,
    ids=[f"{table}.{check}" for table, check, _, _ in FAULTS],
)
def test_check_fails_on_data_that_breaks_it(
    loaded: Loaded,
    tmp_path: Path,
    table: str,
    check: str,
    statements: tuple[str, ...],
    expected: str,
) -> None:
    lake = faulty_copy(loaded.lake, tmp_path, statements)
    key = check_key(table, check)
    evaluation = run_checks(loaded, lake, key)[key]
    assert not evaluation.passed
    warning_only = check in WARNINGS
    assert evaluation.severity == (
        dg.AssetCheckSeverity.WARN if warning_only else dg.AssetCheckSeverity.ERROR
    )
    assert expected in plain_metadata(evaluation)


def test_the_key_check_finds_every_repeat_when_it_works_in_passes(
    loaded: Loaded, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A scope larger than KEYS_PER_PASS is checked bucket by bucket: every repeated id
    is found whichever bucket it falls in, and counted once."""
    monkeypatch.setattr(checks, "KEYS_PER_PASS", 500)  # 6,000 rows: 12 passes
    repeated = query(loaded.lake, "SELECT id FROM gcore_requests ORDER BY id LIMIT 40")
    ids = ", ".join(f"'{row[0]}'" for row in repeated)
    lake = faulty_copy(
        loaded.lake,
        tmp_path,
        (f"INSERT INTO gcore_requests SELECT * FROM gcore_requests WHERE id IN ({ids})",),
    )
    key = check_key("gcore_requests", "key_is_unique")

    evaluation = run_checks(loaded, lake, key)[key]

    assert not evaluation.passed
    assert evaluation.metadata["violations"].value == len(repeated)
    examples = evaluation.metadata["examples"].value
    assert len(examples) == checks.EXAMPLES
    assert all(example["copies"] == 2 for example in examples)
    assert {example["id"] for example in examples} <= {row[0] for row in repeated}


def test_row_count_skips_partitions_without_a_reported_count(
    loaded: Loaded, tmp_path: Path
) -> None:
    """A partition loaded without a total (the API gave a page size, not a count) is not
    compared: a row missing from it is not a failure."""
    lake = faulty_copy(
        loaded.lake,
        tmp_path,
        (
            f"UPDATE {PARTITION_LOADS} SET api_reported_count = NULL "
            f"WHERE table_name = 'gcore_requests' AND day = '{DAYS[0]}'",
            f"DELETE FROM gcore_requests WHERE rowid = (SELECT min(rowid) FROM gcore_requests "
            f"WHERE day = '{DAYS[0]}')",
        ),
    )
    key = check_key("gcore_requests", "row_count_matches_api")
    assert run_checks(loaded, lake, key)[key].passed


def test_loads_record_the_apis_count_with_the_rows(loaded: Loaded) -> None:
    """Each load's row in partition_loads: the rows written and the API's count, equal."""
    records = query(
        loaded.lake,
        f"SELECT day, domain_id, row_count, api_reported_count FROM {PARTITION_LOADS} "
        "WHERE table_name = 'gcore_requests' ORDER BY day",
    )
    assert [(day, domain) for day, domain, _, _ in records] == [
        (day, loaded.domain_id) for day in DAYS
    ]
    for day, domain, rows, reported in records:
        in_table = query(
            loaded.lake,
            "SELECT count(*) FROM gcore_requests WHERE day = ? AND domain_id = ?",
            [day, domain],
        )[0][0]
        assert rows == reported == in_table > 0


def test_blocking_checks_guard_what_the_summaries_read() -> None:
    blocking = {spec.key for check in CHECKS for spec in check.check_specs if spec.blocking}
    assert blocking == {
        check_key("gcore_requests", "columns_match_contract"),
        check_key("gcore_requests", "key_is_unique"),
        check_key("gcore_requests", "required_columns_not_null"),
        check_key("accesswatch_sessions", "columns_match_contract"),
        check_key("appgate_active_sessions", "columns_match_contract"),
    }


def checks_of(*assets: dg.AssetsDefinition) -> list[dg.AssetChecksDefinition]:
    """The check definitions (one per asset) of `assets`."""
    keys = {asset.key for asset in assets}
    return [c for c in CHECKS if {k.asset_key for k in c.check_keys} <= keys]


def test_each_asset_has_one_check_definition_holding_all_its_checks() -> None:
    assert len(CHECKS) == len(ASSETS)
    assert all(len({key.asset_key for key in check.check_keys}) == 1 for check in CHECKS)


def test_a_partition_run_judges_its_partitions_and_a_run_without_them_the_whole_table(
    loaded: Loaded, tmp_path: Path
) -> None:
    """Faults left in the other day break no check of a run that loads `day`, whose checks
    take one step per asset; a check-only run without partitions finds each of them."""
    other_day, day = DAYS
    other = f"day = '{other_day}'"
    lake = faulty_copy(
        loaded.lake,
        tmp_path,
        (
            # A request outside every top session, so the top sessions still agree.
            "DELETE FROM gcore_requests WHERE rowid = (SELECT min(rowid) FROM gcore_requests "
            f"WHERE {other} AND session_id NOT IN (SELECT session_id FROM top_sessions))",
            "UPDATE gcore_requests SET status_code = 700 "
            f"WHERE rowid = (SELECT min(rowid) FROM gcore_requests WHERE {other})",
            "UPDATE gcore_requests SET client_ip = NULL "
            f"WHERE rowid = (SELECT max(rowid) FROM gcore_requests WHERE {other})",
            f"UPDATE top_sessions SET rank = 12 WHERE rank = 10 AND {other}",
        ),
    )
    checks = checks_of(gcore_requests, top_sessions)
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("gcore_domains", [str(loaded.domain_id)])
        run = dg.materialize(
            [gcore_requests, top_sessions, *checks],
            instance=instance,
            resources=pipeline_resources(loaded.simulator, lake),
            partition_key=partition_key(day, loaded.domain_id),
        )
    evaluations = run.get_asset_check_evaluations()
    assert {e.asset_check_key for e in evaluations} == {k for c in checks for k in c.check_keys}
    assert all(e.passed for e in evaluations)
    assert {event.step_key for event in run.all_events if event.is_step_start} == {
        "gcore_requests",
        "top_sessions",
        "gcore_requests_checks",
        "top_sessions_checks",
    }

    whole = run_checks(loaded, lake, *(k for c in checks for k in c.check_keys))
    failed = {key: plain_metadata(e) for key, e in whole.items() if not e.passed}
    assert set(failed) == {
        check_key("gcore_requests", "row_count_matches_api"),
        check_key("gcore_requests", "status_code_in_range"),
        check_key("gcore_requests", "required_columns_not_null"),
        check_key("top_sessions", "ranks_without_gaps"),
    }
    assert f'"day": "{other_day}"' in failed[check_key("gcore_requests", "status_code_in_range")]


@pytest.mark.parametrize("keys_per_pass", [checks.KEYS_PER_PASS, 500])
def test_a_partition_run_finds_its_ids_repeated_in_another_partition(
    loaded: Loaded, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keys_per_pass: int
) -> None:
    """The run's ids are looked up across the table (in one pass, or bucket by bucket):
    an id of `day` also stored under the other day fails the run's key check, and the
    example names both partitions."""
    monkeypatch.setattr(checks, "KEYS_PER_PASS", keys_per_pass)
    other_day, day = DAYS
    lake = faulty_copy(
        loaded.lake,
        tmp_path,
        (
            f"INSERT INTO gcore_requests SELECT * REPLACE (DATE '{other_day}' AS day) "
            f"FROM gcore_requests WHERE day = '{day}' ORDER BY id LIMIT 3",
        ),
    )
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("gcore_domains", [str(loaded.domain_id)])
        run = dg.materialize(
            [gcore_requests, *checks_of(gcore_requests)],
            instance=instance,
            resources=pipeline_resources(loaded.simulator, lake),
            partition_key=partition_key(day, loaded.domain_id),
            raise_on_error=False,
        )

    key = check_key("gcore_requests", "key_is_unique")
    (evaluation,) = [e for e in run.get_asset_check_evaluations() if e.asset_check_key == key]
    assert not evaluation.passed
    assert evaluation.metadata["violations"].value == 3
    partitions = {
        partition_key(other_day, loaded.domain_id),
        partition_key(day, loaded.domain_id),
    }
    for example in evaluation.metadata["examples"].value:
        assert example["copies"] == 2
        assert set(example["partitions"]) == partitions


def test_a_check_that_cannot_run_fails_alone(loaded: Loaded, tmp_path: Path) -> None:
    """A column dropped: the checks reading it fail naming it; the table's others report."""
    lake = faulty_copy(
        loaded.lake, tmp_path, ("ALTER TABLE accesswatch_sessions DROP COLUMN reputation_status",)
    )
    keys = [key for key in ALL_CHECK_KEYS if key.asset_key == accesswatch_sessions.key]
    evaluations = run_checks(loaded, lake, *keys)
    failed = {key.name: plain_metadata(e) for key, e in evaluations.items() if not e.passed}
    assert set(failed) == {
        "columns_match_contract",
        "required_columns_not_null",
        "reputation_status_is_known",
    }
    assert '"missing_columns": ["reputation_status"]' in failed["columns_match_contract"]
    assert all(
        '"error": ' in failed[name] and "reputation_status" in failed[name]
        for name in ("required_columns_not_null", "reputation_status_is_known")
    )


@pytest.mark.parametrize(
    ("statements", "served", "failing_check", "summary_runs"),
    [
        # A request of the loaded day left in the other day too: its id is in two partitions.
        (
            (
                f"INSERT INTO gcore_requests SELECT * REPLACE (DATE '{DAYS[0]}' AS day) "
                f"FROM gcore_requests WHERE day = '{DAYS[1]}' LIMIT 1",
            ),
            Faults(),
            "key_is_unique",
            False,
        ),
        # A day not stored yet, which the API serves with status codes out of range: the
        # rows loaded break a non-blocking rule.
        (
            (
                f"DELETE FROM gcore_requests WHERE day = '{DAYS[1]}'",
                f"DELETE FROM {PARTITION_LOADS} WHERE day = '{DAYS[1]}'",
            ),
            Faults(extra_fields={"status_code": 700}, path_prefix=ANALYTICS_PATH),
            "status_code_in_range",
            True,
        ),
    ],
    ids=["blocking", "non-blocking"],
)
def test_only_a_blocking_failure_stops_the_summary_in_the_same_run(
    loaded: Loaded,
    tmp_path: Path,
    statements: tuple[str, ...],
    served: Faults,
    failing_check: str,
    summary_runs: bool,
) -> None:
    """One run loads a partition of gcore_requests, runs its checks, then top_sessions.

    Blocking: the partition's key is not unique across the table, so top_sessions must not
    be rebuilt from it: its rows, removed beforehand, stay missing. Non-blocking: the
    summary is rebuilt as usual.
    """
    day = DAYS[1]
    lake = faulty_copy(
        loaded.lake, tmp_path, (*statements, f"DELETE FROM top_sessions WHERE day = '{day}'")
    )
    loaded.simulator.faults = served
    try:
        with dg.instance_for_test() as instance:
            instance.add_dynamic_partitions("gcore_domains", [str(loaded.domain_id)])
            result = dg.materialize(
                [gcore_requests, top_sessions, *checks_of(gcore_requests)],
                instance=instance,
                resources=pipeline_resources(loaded.simulator, lake),
                partition_key=partition_key(day, loaded.domain_id),
                raise_on_error=False,
            )
    finally:
        loaded.simulator.faults = Faults()
    materialized = {e.asset_key for e in result.get_asset_materialization_events()}
    assert (top_sessions.key in materialized) is summary_runs
    assert gcore_requests.key in materialized
    failed = {e.check_name for e in result.get_asset_check_evaluations() if not e.passed}
    assert failed == {failing_check}
    rows = query(lake, "SELECT count(*) FROM top_sessions WHERE day = ?", [day])
    assert rows == [(10,) if summary_runs else (0,)]
