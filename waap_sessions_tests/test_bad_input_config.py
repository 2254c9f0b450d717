"""Bad input, a table per interface: environment variables, run config and the Python API.

Each row is a setting, a bad value and what the message must say. Every one fails with
one line naming the setting, the value and the rule, with no traceback text, before a
request reaches the simulator (its request log stays empty) and before the lake is
written (a run's lake is not even created).
"""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from waap_sessions.accesswatch import AccessWatchClient
from waap_sessions.definitions import definitions_from_env
from waap_sessions.errors import InvalidParameterError
from waap_sessions.gcore import GcoreWaapClient
from waap_sessions.resources import GcoreWaapResource, WarehouseResource
from waap_sessions.simulator import Simulator
from waap_sessions_tests.conftest import (
    CONFIG,
    YESTERDAY,
    accesswatch_sessions,
    appgate_active_sessions,
    built_definitions,
    fast_settings,
    gcore_ip_top_sessions,
    gcore_requests,
    lake_settings,
    pipeline_resources,
)

# Placeholders in values: a file that exists, where a folder is needed.
A_FILE = "{file}"


def one_line(message: str) -> str:
    """`message` if it is one line without a traceback; the test fails otherwise."""
    text = message.strip()
    assert "\n" not in text, text
    assert "Traceback" not in text
    return text


def assert_names(message: str, *fragments: str) -> None:
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"


# (variable, bad value, what the message must carry besides the variable and the value)
ENVIRONMENT_CASES = [
    ("WAAP_SOURCES", "gcore,nope", "must name one or more of gcore, accesswatch, appgate"),
    ("WAAP_START_DATE", "2026-13-01", "valid date"),
    ("WAAP_POOL", "two words", "should match pattern"),
    ("WAAP_BACKFILL_DAYS", "-1", "greater than or equal to 0"),
    ("WAAP_DAILY_CRON", "daily", "must be a cron string"),
    ("WAAP_SNAPSHOT_RETENTION_HOURS", "soon", "valid number"),
    ("WAAP_DUCKLAKE_CATALOG", "mysql:waap", "must be 'sqlite:<file>'"),
    ("WAAP_DUCKLAKE_CATALOG", f"sqlite:{A_FILE}/catalog.sqlite", "is a file"),
    ("WAAP_DUCKLAKE_DATA_PATH", f"{A_FILE}/lake", "must be a folder"),
    ("WAAP_DUCKDB_PATH", "data/waap.duckdb", "no longer read"),
    ("APPGATE_API_VERSION", "v23", "must be a whole number"),
]


@pytest.mark.parametrize(("variable", "value", "rule"), ENVIRONMENT_CASES)
def test_a_bad_environment_variable_fails_the_code_location_naming_it(
    simulator: Simulator,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    variable: str,
    value: str,
    rule: str,
) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    value = value.replace(A_FILE, str(a_file))
    monkeypatch.setenv("GCORE_BASE_URL", simulator.base_url)
    monkeypatch.setenv("GCORE_API_KEY", CONFIG.gcore_api_key)
    monkeypatch.setenv("APPGATE_URL", simulator.appgate_base_url)
    monkeypatch.setenv(variable, value)

    with pytest.raises(InvalidParameterError) as caught:
        definitions_from_env()

    message = one_line(str(caught.value))
    assert_names(message, variable, repr(value.split(",")[-1]), rule)
    assert simulator.request_log == []


def first_failure(result: dg.ExecuteInProcessResult) -> str:
    """The message of what the run's first failed step raised, under Dagster's wrapping."""
    assert not result.success
    error = result.get_step_failure_events()[0].event_specific_data.error
    while error.cause is not None and error.cls_name.startswith("Dagster"):
        error = error.cause
    assert error.cls_name == "InvalidParameterError", error.message
    return error.message


def run(
    simulator: Simulator,
    lake: Path,
    assets: list[dg.AssetsDefinition],
    run_config: dict[str, Any] | None = None,
    **resources: Any,
) -> dg.ExecuteInProcessResult:
    """A run of `assets` (of yesterday's first domain when partitioned) into `lake`."""
    domain_id = simulator.dataset.domains[0].id
    partitioned = assets[0].partitions_def is not None
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("gcore_domains", [str(domain_id)])
        return dg.materialize(
            assets,
            instance=instance,
            resources={**pipeline_resources(simulator, lake), **resources},
            partition_key=f"{YESTERDAY.date()}|{domain_id}" if partitioned else None,
            run_config=run_config,
            raise_on_error=False,
        )


GCORE_CHAIN = [gcore_requests, gcore_ip_top_sessions]
SNAPSHOTS = [accesswatch_sessions, appgate_active_sessions]

# (the run's assets, op, config, what the message must carry)
RUN_CONFIG_CASES = [
    (GCORE_CHAIN, "gcore_ip_top_sessions", {"top_ips": 0}, "greater than or equal to 1 (got 0)"),
    (GCORE_CHAIN, "gcore_ip_top_sessions", {"top_ips": 1001}, "less than or equal to 1000"),
    (SNAPSHOTS, "accesswatch_sessions", {"limit": 5000}, "less than or equal to 1000 (got 5000)"),
    (SNAPSHOTS, "accesswatch_sessions", {"limit": 0}, "greater than or equal to 1 (got 0)"),
]


@pytest.mark.parametrize(("assets", "op", "config", "rule"), RUN_CONFIG_CASES)
def test_bad_run_config_fails_before_any_request_or_write(
    simulator: Simulator,
    tmp_path: Path,
    assets: list[dg.AssetsDefinition],
    op: str,
    config: dict[str, Any],
    rule: str,
) -> None:
    """Whichever step starts first refuses a bad setting of any op of the run: a bad
    `top_ips` stops gcore_requests before it fetches or rewrites its partition."""
    result = run(simulator, tmp_path, assets, {"ops": {op: {"config": config}}})

    message = one_line(first_failure(result))
    (name,) = config
    assert_names(message, f"ops.{op}.config.{name}", rule)
    assert simulator.request_log == []
    assert not lake_settings(tmp_path).sqlite_file.exists(), "the lake was opened"
    assert not result.get_asset_materialization_events()


A_FILE_LAKE = "a-file/lake"

# (what is called, how it is called, what the message must carry)
PYTHON_CASES: list[tuple[str, Callable[[Simulator, Path], None], tuple[str, ...]]] = [
    (
        "factory sources",
        lambda simulator, lake: built_definitions(sources=["gcore", "nope"]),
        ("sources", "'nope'", "must name one or more of"),
    ),
    (
        "factory start_date",
        lambda simulator, lake: built_definitions(start_date="2026-13-01"),
        ("start_date", "'2026-13-01'", "valid date"),
    ),
    (
        "Gcore client api_key",
        lambda simulator, lake: GcoreWaapClient("  ", fast_settings(simulator.base_url)),
        ("api_key", "must not be empty"),
    ),
    (
        "Access Watch client limit",
        lambda simulator, lake: AccessWatchClient(
            CONFIG.accesswatch_api_key, fast_settings(simulator.accesswatch_base_url)
        ).get_sessions(limit=5000),
        ("limit", "less than or equal to 1000", "(got 5000)"),
    ),
]


@pytest.mark.parametrize(
    ("call", "fragments"), [c[1:] for c in PYTHON_CASES], ids=[c[0] for c in PYTHON_CASES]
)
def test_bad_python_arguments_fail_before_sending(
    simulator: Simulator,
    tmp_path: Path,
    call: Callable[[Simulator, Path], None],
    fragments: tuple[str, ...],
) -> None:
    with pytest.raises(InvalidParameterError) as caught:
        call(simulator, tmp_path)

    assert_names(one_line(str(caught.value)), *fragments)
    assert simulator.request_log == []


# (resource key, a resource with a bad setting, the run's assets, what the message carries)
RESOURCE_CASES = [
    (
        "gcore",
        lambda simulator, lake: GcoreWaapResource(
            api_key=CONFIG.gcore_api_key, base_url=simulator.base_url, max_in_flight=0
        ),
        GCORE_CHAIN,
        ("max_in_flight", "greater than or equal to 1", "(got 0)"),
    ),
    (
        "warehouse",
        lambda simulator, lake: WarehouseResource(
            catalog=lake_settings(lake).catalog, data_path=str(lake / A_FILE_LAKE)
        ),
        SNAPSHOTS,
        ("data_path", "must be a folder", "is a file", A_FILE_LAKE),
    ),
]


@pytest.mark.parametrize(("key", "resource", "assets", "fragments"), RESOURCE_CASES)
def test_a_resource_with_a_bad_setting_fails_its_run_before_sending(
    simulator: Simulator,
    tmp_path: Path,
    key: str,
    resource: Callable[[Simulator, Path], Any],
    assets: list[dg.AssetsDefinition],
    fragments: tuple[str, ...],
) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    result = run(simulator, tmp_path, assets, **{key: resource(simulator, tmp_path)})

    assert_names(one_line(first_failure(result)), *fragments)
    assert simulator.request_log == []
