"""The Dagster UI, as `dagster dev` serves it, shows every asset, check, schedule and sensor."""

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from waap_sessions.warehouse import TABLES

ROOT = Path(__file__).resolve().parents[1]
QUERY = """
{ repositoriesOrError { ... on RepositoryConnection { nodes {
    assetNodes { assetKey { path } assetChecksOrError { ... on AssetChecks { checks { name } } } }
    schedules { name scheduleState { status } }
    sensors { name sensorState { status } }
} } } }
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_webserver_shows_the_whole_code_location(tmp_path):
    shutil.copy(ROOT / "dagster.yaml", tmp_path / "dagster.yaml")
    port = free_port()
    webserver = Path(sys.executable).with_name("dagster-webserver")
    server = subprocess.Popen(
        [str(webserver), "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=ROOT,
        env={**os.environ, "DAGSTER_HOME": str(tmp_path)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        answer = None
        deadline = time.monotonic() + 90
        while answer is None and time.monotonic() < deadline:
            try:
                answer = httpx.post(
                    f"http://127.0.0.1:{port}/graphql", json={"query": QUERY}, timeout=10
                ).json()
            except httpx.TransportError:
                time.sleep(0.5)
    finally:
        server.terminate()
        server.wait(timeout=30)

    assert answer is not None, "the webserver did not answer"
    (repository,) = answer["data"]["repositoriesOrError"]["nodes"]
    checks = {
        node["assetKey"]["path"][0]: len(node["assetChecksOrError"]["checks"])
        for node in repository["assetNodes"]
    }
    assert set(checks) == {table.name for table in TABLES}
    assert all(count >= 3 for count in checks.values())
    schedules = {s["name"]: s["scheduleState"]["status"] for s in repository["schedules"]}
    sensors = {s["name"]: s["sensorState"]["status"] for s in repository["sensors"]}
    assert schedules == {
        "gcore_daily_schedule": "RUNNING",
        "gcore_intraday_schedule": "RUNNING",
        "snapshot_schedule": "RUNNING",
        "lake_maintenance_schedule": "RUNNING",
    }
    assert sensors == {
        "gcore_domain_sensor": "RUNNING",
        "summaries_automation_sensor": "RUNNING",
    }
