"""Loading the code location imports nothing a run alone needs.

`dagster definitions validate`, `dagster dev` and every run's process import
`waap_sessions.definitions` first; the HTTP stack, Arrow, DuckDB and the simulator load
when a run uses them. The test reads which modules a fresh interpreter holds after the
import, in an environment that names no simulator: untimed, so a shared machine cannot
make it flaky.
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

import waap_sessions
import waap_sessions.accesswatch
import waap_sessions.appgate
import waap_sessions.gcore

# Modules (and their submodules) that loading the code location must not import.
NOT_IMPORTED_AT_LOAD = frozenset(
    {
        "httpx",
        "rich",  # httpx imports its command line's rich and pygments when they are there
        "pygments",
        "pyarrow",
        "numpy",
        "duckdb",
        "tenacity",
        "pandas",
        "starlette",
        "uvicorn",
        "dagster_webserver",
        "waap_sessions.simulator",
        "waap_sessions.demo",
        "waap_sessions.staging",
        "waap_sessions.http_core",
        "waap_sessions.gcore.client",
        "waap_sessions.gcore.models",
        "waap_sessions.gcore.params",
        "waap_sessions.accesswatch.client",
        "waap_sessions.accesswatch.models",
        "waap_sessions.appgate.client",
        "waap_sessions.appgate.models",
    }
)
PROBE = """
import json, sys
import waap_sessions.definitions
print(json.dumps(sorted(sys.modules)))
"""


def run_python(probe: str, cwd: Path, *arguments: str) -> str:
    """What a fresh interpreter prints running `probe`, with no API or simulator set."""
    done = subprocess.run(
        [sys.executable, "-c", probe, *arguments],
        cwd=cwd,
        env={"PATH": os.environ["PATH"], "HOME": str(cwd)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def among(modules: set[str], names: frozenset[str]) -> set[str]:
    """The entries of `names` that `modules` holds, or holds a submodule of."""
    return {name for name in names if any(m == name or m.startswith(name + ".") for m in modules)}


def test_loading_the_code_location_imports_nothing_only_a_run_needs(tmp_path):
    loaded = set(json.loads(run_python(PROBE, tmp_path)))

    assert {"dagster", "waap_sessions.definitions", "waap_sessions.resources"} <= loaded
    assert among(loaded, NOT_IMPORTED_AT_LOAD) == set()


def test_a_resource_imports_its_client_when_a_run_asks_for_one(tmp_path):
    probe = """
import sys
from waap_sessions.resources import AccessWatchResource
resource = AccessWatchResource(api_key="key", base_url="http://127.0.0.1:9")
assert "waap_sessions.accesswatch.client" not in sys.modules
with resource.get_client() as client:
    print(type(client).__module__)
"""
    printed = run_python(probe, tmp_path)

    assert printed.strip() == "waap_sessions.accesswatch.client"


LAZY_PACKAGES = [
    waap_sessions,
    waap_sessions.accesswatch,
    waap_sessions.appgate,
    waap_sessions.gcore,
]


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_a_package_gives_each_exported_name_from_its_module_and_no_other(package):
    for name in package.__all__:
        value = getattr(package, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert getattr(sys.modules[value.__module__], name) is value, name
    with pytest.raises(AttributeError, match="has no attribute 'no_such_name'"):
        _ = package.no_such_name


# What DuckDB's Python client imports the first time a statement is given parameters
# (see `waap_sessions.sql`): a load of requests and its checks must not pay for them.
NOT_IMPORTED_BY_A_REQUESTS_LOAD = frozenset({"pandas", "numpy", "pyarrow"})
LOAD_PROBE = """
import json, sys
import dagster as dg
from waap_sessions import build_waap_sessions_definitions
from waap_sessions.resources import GcoreWaapResource, WarehouseResource

base_url, api_key, lake, day = sys.argv[1:]
defs = build_waap_sessions_definitions(
    sources=["gcore"],
    start_date=day,
    gcore=GcoreWaapResource(api_key=api_key, base_url=base_url),
    warehouse=WarehouseResource(catalog=f"sqlite:{lake}/catalog.sqlite", data_path=f"{lake}/data/"),
)
with dg.instance_for_test() as instance:
    with GcoreWaapResource(api_key=api_key, base_url=base_url).get_client() as client:
        domain = str(next(iter(client.iter_domains())).id)
    instance.add_dynamic_partitions("gcore_domains", [domain])
    result = dg.materialize(
        [*defs.assets, *defs.asset_checks],
        instance=instance,
        resources=defs.resources,
        selection="gcore_requests",
        partition_key=f"{day}|{domain}",
    )
checks = result.get_asset_check_evaluations()
assert result.success and checks and all(check.passed for check in checks), checks
print(json.dumps(sorted(sys.modules)))
"""


def test_a_requests_load_and_its_checks_import_no_dataframe_library(tmp_path, simulator):
    # Yesterday's day of the simulator, whole: a real load of its pages, then the checks.
    day = (simulator.config.now - timedelta(days=1)).date().isoformat()
    arguments = [simulator.base_url, simulator.config.gcore_api_key, str(tmp_path), day]

    loaded = set(json.loads(run_python(LOAD_PROBE, tmp_path, *arguments)))

    assert {"duckdb", "httpx", "waap_sessions.staging"} <= loaded
    assert among(loaded, NOT_IMPORTED_BY_A_REQUESTS_LOAD) == set()
