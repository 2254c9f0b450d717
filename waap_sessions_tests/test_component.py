"""The component, loaded from a defs.yaml as a Dagster project loads it."""

import dagster as dg
import pytest
from dagster.components.testing import create_defs_folder_sandbox

from waap_sessions.component import WaapSessionsComponent

TYPE = "waap_sessions.component.WaapSessionsComponent"


def load(attributes: dict[str, object]) -> tuple[WaapSessionsComponent, dg.Definitions]:
    with create_defs_folder_sandbox() as sandbox:
        path = sandbox.scaffold_component(
            WaapSessionsComponent, defs_yaml_contents={"type": TYPE, "attributes": attributes}
        )
        with sandbox.load_component_and_build_defs(defs_path=path) as (component, defs):
            assert isinstance(component, WaapSessionsComponent)
            return component, defs


def explanation(error: BaseException | None) -> str:
    """Every message in an exception's chain, as a user reads the whole traceback."""
    chain = []
    while error is not None:
        chain.append(str(error))
        error = error.__cause__ or error.__context__
    return "\n".join(chain)


def test_the_component_builds_the_whole_code_location(tmp_path):
    catalog, data_path = f"sqlite:{tmp_path}/catalog.sqlite", f"{tmp_path}/lake/"
    component, defs = load(
        {
            "catalog": catalog,
            "data_path": data_path,
            "automation": {"enabled": False, "backfill_days": 7},
        }
    )

    dg.Definitions.validate_loadable(defs)
    assert component.automation.backfill_days == 7
    warehouse = defs.resources["warehouse"]
    assert (warehouse.catalog, warehouse.data_path) == (catalog, data_path)
    assert len(list(defs.resolve_all_asset_keys())) == 6
    for name in (
        "gcore_daily_schedule",
        "gcore_intraday_schedule",
        "snapshot_schedule",
        "lake_maintenance_schedule",
    ):
        schedule = defs.resolve_schedule_def(name)
        assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED
    sensor = defs.resolve_sensor_def("gcore_domain_sensor")
    assert sensor.default_status == dg.DefaultSensorStatus.STOPPED


def test_bad_settings_in_the_yaml_name_the_attribute():
    with pytest.raises(Exception, match="WaapSessionsComponent") as caught:
        load({"automation": {"daily_cron": "every day"}})

    explained = explanation(caught.value)
    assert "defs.yaml" in explained
    assert "attributes.automation" in explained
    assert "daily_cron" in explained
    assert "must be a cron string" in explained


def test_a_bad_catalog_in_the_yaml_names_it_and_the_rule():
    with pytest.raises(Exception, match="WaapSessionsComponent") as caught:
        load({"catalog": "data/waap.duckdb"})

    explained = explanation(caught.value)
    assert "defs.yaml" in explained
    assert "catalog: Value error, must be 'sqlite:<file>'" in explained
    assert "'data/waap.duckdb'" in explained
