"""Shared fixtures: one simulator on loopback for the session, and clients pointed at it.

Tests that change the simulator's data (arrivals) or its clock start their own.
"""

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from waap_sessions.accesswatch import AccessWatchClient
from waap_sessions.appgate import AppgateSdpClient
from waap_sessions.automation import AutomationSettings
from waap_sessions.factory import build_waap_sessions_definitions
from waap_sessions.gcore import GcoreWaapClient
from waap_sessions.http_core import HttpSettings
from waap_sessions.lake import LakeSettings, engine_connection
from waap_sessions.resources import (
    AccessWatchResource,
    AppgateSdpResource,
    GcoreWaapResource,
    WarehouseResource,
)
from waap_sessions.simulator import Faults, Simulator, SimulatorConfig
from waap_sessions_tests.postgres import postgres_catalog  # noqa: F401 (one server per session)

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
YESTERDAY = NOW.replace(hour=0) - timedelta(days=1)
CONFIG = SimulatorConfig(
    seed=7, domains=3, days=3, requests_per_day=3000, now=NOW, active_window_s=7200
)


# The first day of the request partitions in tests: before every day they load.
START_DATE = date(2026, 1, 1)


def built_definitions(**factory_arguments: Any) -> dg.Definitions:
    """The factory's definitions for every source (unless told otherwise), from START_DATE.

    Their resources are the environment's; tests bind their own (`pipeline_resources`).
    """
    arguments: dict[str, Any] = {
        "start_date": START_DATE,
        "automation": AutomationSettings(),
        "warehouse": WarehouseResource(),
        **factory_arguments,
    }
    return build_waap_sessions_definitions(**arguments)


def assets_by_name(defs: dg.Definitions) -> dict[str, dg.AssetsDefinition]:
    """Each asset of `defs` by its key's last part: the table's name, however prefixed."""
    return {
        asset.key.path[-1]: asset
        for asset in defs.assets or ()
        if isinstance(asset, dg.AssetsDefinition)
    }


def checks_in(defs: dg.Definitions) -> list[dg.AssetChecksDefinition]:
    """Every asset check of `defs`."""
    return [
        check for check in defs.asset_checks or () if isinstance(check, dg.AssetChecksDefinition)
    ]


DEFAULT_DEFINITIONS = built_definitions()
ASSETS = assets_by_name(DEFAULT_DEFINITIONS)
CHECKS = checks_in(DEFAULT_DEFINITIONS)
# The default assets by name, for tests that materialize them directly.
gcore_requests = ASSETS["gcore_requests"]
gcore_ip_top_sessions = ASSETS["gcore_ip_top_sessions"]
accesswatch_sessions = ASSETS["accesswatch_sessions"]
appgate_active_sessions = ASSETS["appgate_active_sessions"]
top_sessions = ASSETS["top_sessions"]
active_sessions = ASSETS["active_sessions"]


def fast_settings(base_url: str, **overrides: object) -> HttpSettings:
    """Settings with short backoffs, so retry tests take milliseconds, not seconds."""
    values: dict[str, object] = {
        "base_url": base_url,
        "backoff_initial_s": 0.01,
        "backoff_max_s": 0.05,
        "max_retry_after_s": 5.0,
        "read_timeout_s": 10.0,
        **overrides,
    }
    return HttpSettings.model_validate(values)


def lake_settings(folder: str | Path) -> LakeSettings:
    """A lake of its own in `folder`: a SQLite catalog and the Parquet files beside it."""
    return LakeSettings(catalog=f"sqlite:{folder}/catalog.sqlite", data_path=f"{folder}/data/")


def query(lake: str | Path, sql: str, parameters: list[object] | None = None) -> list[tuple]:
    """Rows of `sql`, read-only, from the lake in folder `lake`."""
    with engine_connection(lake_settings(lake), read_only=True) as connection:
        return connection.execute(sql, parameters or []).fetchall()


def pipeline_resources(
    simulator: Simulator, lake: str | Path, **gcore_settings: Any
) -> dict[str, Any]:
    """The code location's resources, pointed at `simulator` and a lake in folder `lake`."""
    config = simulator.config
    return {
        "gcore": GcoreWaapResource(
            api_key=config.gcore_api_key, base_url=simulator.base_url, **gcore_settings
        ),
        "accesswatch": AccessWatchResource(
            api_key=config.accesswatch_api_key, base_url=simulator.accesswatch_base_url
        ),
        "appgate": AppgateSdpResource(
            base_url=simulator.appgate_base_url,
            username=config.appgate_username,
            password=config.appgate_password,
        ),
        "warehouse": WarehouseResource(
            catalog=lake_settings(lake).catalog, data_path=lake_settings(lake).data_path
        ),
    }


@pytest.fixture(scope="session")
def shared_simulator() -> Iterator[Simulator]:
    with Simulator(CONFIG) as simulator:
        yield simulator


@pytest.fixture
def simulator(shared_simulator: Simulator) -> Iterator[Simulator]:
    """The shared simulator, with no faults and an empty request log."""
    shared_simulator.faults = Faults()
    shared_simulator.clear_log()
    yield shared_simulator
    shared_simulator.faults = Faults()


@pytest.fixture
def gcore(simulator: Simulator) -> Iterator[GcoreWaapClient]:
    with GcoreWaapClient(CONFIG.gcore_api_key, fast_settings(simulator.base_url)) as client:
        yield client


@pytest.fixture
def accesswatch(simulator: Simulator) -> Iterator[AccessWatchClient]:
    settings = fast_settings(simulator.accesswatch_base_url)
    with AccessWatchClient(CONFIG.accesswatch_api_key, settings) as client:
        yield client


@pytest.fixture
def appgate(simulator: Simulator) -> Iterator[AppgateSdpClient]:
    with AppgateSdpClient(
        fast_settings(simulator.appgate_base_url),
        username=CONFIG.appgate_username,
        password=CONFIG.appgate_password,
        provider=CONFIG.appgate_provider,
    ) as client:
        yield client
