"""The README's first command runs end to end, as a user runs it: runs through the instance."""

import os
import re
import struct
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest

from waap_sessions.demo import (
    STARTUP_TIMEOUT_S,
    environment,
    local_dagster,
    simulator_environment,
)
from waap_sessions.simulator import Simulator, SimulatorConfig
from waap_sessions.warehouse import TABLES
from waap_sessions_tests.browser import chromium, page_text, screenshot_on_failure
from waap_sessions_tests.conftest import query

# One worker runs the module (`--dist loadgroup`): its tests share one demo and its UI.
pytestmark = pytest.mark.xdist_group("demo")
ROOT = Path(__file__).resolve().parents[1]
# What the UI's "Re-execute all" sends (launchPipelineReexecution, strategy ALL_STEPS).
REEXECUTE_ALL = """
mutation Reexecute($parentRunId: String!) {
  launchPipelineReexecution(
    reexecutionParams: {parentRunId: $parentRunId, strategy: ALL_STEPS}
  ) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on Error { message }
  }
}
"""
PARTITION_TAGS = ("dagster/partition", "dagster/partition/date", "dagster/partition/domain")


def run_demo(environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`waap-sessions demo`, as a user runs it, in its own process."""
    return subprocess.run(
        [str(Path(sys.executable).with_name("waap-sessions")), "demo"],
        cwd=ROOT,
        env={**os.environ, **environment},
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
    )


def wait_for_run(instance: dg.DagsterInstance, run_id: str, timeout_s: float) -> dg.DagsterRun:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        run = instance.get_run_by_id(run_id)
        if run is not None and run.is_finished:
            return run
        time.sleep(0.5)
    raise TimeoutError(f"run {run_id} did not finish in {timeout_s} s")


@dataclass(frozen=True)
class Demo:
    """The demo's first run, as a user ran it, and where it kept its lake and runs."""

    settings: dict[str, str]
    lake: Path
    home: Path
    names: dict[str, str]
    first: subprocess.CompletedProcess[str]
    simulator: Simulator


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    folder = tmp_path_factory.mktemp("demo")
    lake, home = folder / "lake", folder / "dagster_home"
    settings = {
        "DAGSTER_HOME": str(home),
        "WAAP_DUCKLAKE_CATALOG": f"sqlite:{lake}/catalog.sqlite",
        "WAAP_DUCKLAKE_DATA_PATH": f"{lake}/data",
        "WAAP_BACKFILL_DAYS": "1",
    }
    # The demo's simulator, for its domains' names and to serve a re-execution later.
    simulator = Simulator(SimulatorConfig())
    names = {str(domain.id): domain.name for domain in simulator.dataset.domains}
    return Demo(settings, lake, home, names, run_demo(settings), simulator)


@pytest.fixture(scope="module")
def dagster_after_demo(demo: Demo, tmp_path_factory: pytest.TempPathFactory):
    """`dagster dev` on the demo's instance and lake, as `make ui` serves them afterwards."""
    with (
        demo.simulator,
        environment({**demo.settings, **simulator_environment(demo.simulator)}),
        local_dagster(tmp_path_factory.mktemp("ui") / "dagster.log") as dagster,
        dg.DagsterInstance.get() as instance,
    ):
        dagster.wait_until_loaded(STARTUP_TIMEOUT_S)
        yield dagster, instance


def test_the_demo_loads_every_table_through_the_instance_in_parallel_and_again_exactly(demo):
    lake, settings, names, first = demo.lake, demo.settings, demo.names, demo.first

    assert first.returncode == 0, first.stderr[-3000:]
    out = first.stdout
    assert "found 3 new domains" in out
    assert "Traceback" not in first.stderr
    # 3 domains x (1 day + today), the snapshots, then active_sessions: each printed as it
    # ends, numbered, with what it wrote and its checks.
    progress = re.findall(r"^ {2}loaded (\d+)/8: (.+)$", out, flags=re.MULTILINE)
    assert sorted(int(done) for done, _ in progress) == list(range(1, 9))
    assert all(re.search(r"; (\d+)/\1 checks passed$", line) for _, line in progress)
    assert "failed" not in out
    # Each partition beside its domain's name, as the Gcore domains API gives it.
    labels = re.findall(r"^ {2}loaded \d+/8: \d{4}-\d\d-\d\d\|(\d+) \((.+?)\):", out, re.MULTILINE)
    assert sorted(labels) == sorted(list(names.items()) * 2)
    runs_at_once = int(out.split("at most ")[1].split(" runs wrote the lake at once")[0])
    assert runs_at_once >= 2
    assert "Top sessions (yesterday, per domain)" in out
    assert "Active sessions (latest snapshot" in out
    assert query(lake, "SELECT count(DISTINCT (day, domain_id)) FROM gcore_requests") == [(6,)]
    # Ten sessions a partition, or all of them: just after midnight today has few.
    assert query(lake, "SELECT count(*) FROM top_sessions") == query(
        lake,
        "SELECT sum(least(10, sessions)) FROM (SELECT day, domain_id, count(DISTINCT "
        "session_id) FILTER (WHERE session_id <> '') AS sessions FROM gcore_requests GROUP BY ALL)",
    )
    assert query(lake, "SELECT count(*) FROM top_sessions WHERE day < current_date") == [(30,)]
    assert query(lake, "SELECT count(DISTINCT source) FROM active_sessions") == [(2,)]
    # It ends with the story of the lake it loaded: its busiest attack is the lake's.
    (requests,) = re.findall(r"^What the data shows: ([\d,]+) requests on 3 domains", out, re.M)
    assert [(int(requests.replace(",", "")),)] == query(lake, "SELECT count(*) FROM gcore_requests")
    (attack,) = re.findall(
        r'^  Busiest attack: "(.+)", ([\d,]+) detections: ([\d,]+) blocked, ([\d,]+) only',
        out,
        re.M,
    )
    rule, *figures = attack
    assert [(rule, *(int(figure.replace(",", "")) for figure in figures))] == query(
        lake,
        "SELECT rule_name, count(*) AS n, count(*) FILTER (WHERE decision = 'blocked'), "
        "count(*) FILTER (WHERE decision = 'monitored') FROM gcore_requests "
        "WHERE decision IN ('blocked', 'monitored') AND rule_name <> '' AND action <> 'allow' "
        "GROUP BY rule_name ORDER BY n DESC, rule_name LIMIT 1",
    )
    assert "  Most blocked country: " in out
    assert "  Sessions worth a look (the most detections):\n    1. " in out
    per_day = "SELECT day, domain_id, count(*) FROM gcore_requests GROUP BY ALL ORDER BY ALL"
    before = query(lake, per_day)

    # Again on the same instance and lake, today only (the past partitions' exact
    # replacement is the re-execution test's): no new domain, no row twice.
    second = run_demo({**settings, "WAAP_BACKFILL_DAYS": "0"})

    assert second.returncode == 0, second.stderr[-3000:]
    assert "found 0 new domains" in second.stdout
    assert second.stdout.count("  loaded ") == 5
    assert query(lake, "SELECT count(*) - count(DISTINCT id) FROM gcore_requests") == [(0,)]
    # Today's partitions may have grown in between; the past ones are as they were.
    after = query(lake, per_day)
    today = max(day for day, _, _ in before)
    assert [row for row in after if row[0] < today] == [row for row in before if row[0] < today]
    today_rows = {(day, domain): rows for day, domain, rows in before if day == today}
    assert today_rows.keys() == {(day, domain) for day, domain, _ in after if day == today}
    assert all(rows >= today_rows[(day, domain)] for day, domain, rows in after if day == today)

    # Every run went through the instance as a deployment's do: with its code location's
    # origin, under its job, so the UI lists and re-executes it.
    with dg.DagsterInstance.from_config(str(demo.home)) as instance:
        runs = instance.get_runs()
    assert all(run.remote_job_origin is not None for run in runs)
    assert all(run.status == dg.DagsterRunStatus.SUCCESS for run in runs)
    jobs = sorted(run.job_name for run in runs)
    assert jobs == sorted(["gcore_partition_job"] * 9 + ["snapshot_job", "__ASSET_JOB"] * 2)


def test_a_demo_run_re_executes_from_the_instance_as_the_ui_does_it(demo, dagster_after_demo):
    dagster, instance = dagster_after_demo
    yesterday = next(
        run
        for run in instance.get_runs()
        if run.job_name == "gcore_partition_job"
        and not run.parent_run_id
        and run.tags["dagster/partition/date"] < time.strftime("%Y-%m-%d", time.gmtime())
    )
    day, domain = yesterday.tags["dagster/partition"].split("|")
    partition_rows = (
        f"SELECT count(*), count(DISTINCT id) FROM gcore_requests "
        f"WHERE day = DATE '{day}' AND domain_id = {domain}"
    )
    before = query(demo.lake, partition_rows)

    launched = dagster.graphql(REEXECUTE_ALL, {"parentRunId": yesterday.run_id})
    result = launched["launchPipelineReexecution"]
    assert result["__typename"] == "LaunchRunSuccess", result
    rerun = wait_for_run(instance, result["run"]["runId"], timeout_s=180)

    assert rerun.status == dg.DagsterRunStatus.SUCCESS
    assert rerun.job_name == "gcore_partition_job"
    assert rerun.remote_job_origin is not None
    assert rerun.parent_run_id == yesterday.run_id
    assert rerun.root_run_id == (yesterday.root_run_id or yesterday.run_id)
    assert {tag: rerun.tags[tag] for tag in PARTITION_TAGS} == {
        tag: yesterday.tags[tag] for tag in PARTITION_TAGS
    }
    # It replaced the partition, exactly: a past day's requests do not change.
    assert query(demo.lake, partition_rows) == before


# The README's picture: what the UI shows after the demo, at a size that reads well there.
SCREENSHOT_SIZE = (1400, 900)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_the_ui_shows_what_the_demo_materialized(dagster_after_demo, tmp_path):
    """The global asset lineage after the demo, saved as a PNG: to WAAP_SCREENSHOT when set
    (`make screenshot` regenerates the README's picture), otherwise to tmp_path."""
    dagster, _ = dagster_after_demo
    path = Path(os.environ.get("WAAP_SCREENSHOT") or tmp_path / "dagster-ui-after-demo.png")
    # As the UI's own "Skip" does: no "Join the Dagster community" dialog over the page.
    assert dagster.graphql("mutation { setNuxSeen }") == {"setNuxSeen": True}
    with chromium(*SCREENSHOT_SIZE) as browser, screenshot_on_failure(browser, tmp_path):
        # The picture is the page's viewport: the window's frame would take some of it.
        browser.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": SCREENSHOT_SIZE[0], "height": SCREENSHOT_SIZE[1]}
            | {"deviceScaleFactor": 1, "mobile": False},
        )
        browser.get(f"{dagster.url}/asset-groups")
        # Every table's node, the three snapshot tables materialized and the partitioned
        # ones partly filled.
        shown = (*(table.name for table in TABLES), r"(?s)(Materialized.*){3}", r"\d+% filled")
        page_text(browser, *shown)
        path.parent.mkdir(parents=True, exist_ok=True)
        assert browser.save_screenshot(str(path))

    png = path.read_bytes()
    assert png.startswith(PNG_SIGNATURE)
    assert png.endswith(b"IEND\xaeB`\x82")
    width, height = struct.unpack(">II", png[16:24])  # the IHDR chunk comes first
    assert (width, height) == SCREENSHOT_SIZE
    # A page of text, boxes and lines, not a blank one (which compresses to a few KB).
    assert len(png) > 50_000
