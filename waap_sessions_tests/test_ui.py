"""The Dagster UI, as `dagster dev` serves it: every asset, check, schedule and sensor, and
partitions counted from the configured start date. The webserver's GraphQL API answers for
the whole code location; a headless Chromium (`browser.py`) reads the pages a user opens."""

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import httpx
import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from waap_sessions.partitions import DOMAINS_PARTITIONS_NAME
from waap_sessions.warehouse import TABLES
from waap_sessions_tests.browser import PAGE_TIMEOUT_S, chromium, page_text, screenshot_on_failure
from waap_sessions_tests.postgres import free_port

# One worker runs the whole module (`--dist loadgroup`): its tests share one webserver.
pytestmark = pytest.mark.xdist_group("ui")
ROOT = Path(__file__).resolve().parents[1]
QUERY = """
{ repositoriesOrError { ... on RepositoryConnection { nodes {
    assetNodes { assetKey { path } assetChecksOrError { ... on AssetChecks { checks { name } } } }
    schedules { name scheduleState { status } }
    sensors { name sensorState { status } }
} } } }
"""


# The first day of the request partitions: a few days ago, as WAAP_START_DATE sets it.
DAYS_LOADED = 5  # unlike the default window (3 days): WAAP_START_DATE must take effect
START_DATE = datetime.now(UTC).date() - timedelta(days=DAYS_LOADED)
DOMAINS = ["1001", "1002", "1003"]
PARTITIONS_QUERY = """
{ assetNodeOrError(assetKey: {path: ["gcore_requests"]}) { ... on AssetNode {
    partitionStats { numMaterialized numPartitions numFailed numMaterializing }
    partitionKeysByDimension { name partitionKeys }
} } }
"""
# How many request partitions there are: DAYS_LOADED complete days and today of each
# domain; a day more when the test crossed midnight since START_DATE was set.
PARTITION_COUNTS = {days * len(DOMAINS) for days in (DAYS_LOADED + 1, DAYS_LOADED + 2)}
# A count as the UI shows it, with thousands separators: "3,177 partitions".
COUNT = r"(\d[\d,]*)"


@pytest.fixture(scope="module")
def webserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The UI's webserver on the code location, its request partitions starting
    DAYS_LOADED days ago, on an instance that knows DOMAINS (as the domain sensor adds them).
    """
    home = tmp_path_factory.mktemp("dagster_home")
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        instance.add_dynamic_partitions(DOMAINS_PARTITIONS_NAME, DOMAINS)
    port = free_port()
    webserver = Path(sys.executable).with_name("dagster-webserver")
    server = subprocess.Popen(
        [str(webserver), "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=ROOT,
        env={**os.environ, "DAGSTER_HOME": str(home), "WAAP_START_DATE": START_DATE.isoformat()},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)


def ask(url: str, query: str) -> Any:
    """The webserver's answer to `query`, waiting for it to load the code location."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            return httpx.post(f"{url}/graphql", json={"query": query}, timeout=10).json()
        except httpx.TransportError:
            time.sleep(0.5)
    raise AssertionError("the webserver did not answer")


def test_the_webserver_shows_the_whole_code_location(webserver):
    answer = ask(webserver, QUERY)

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


def test_a_partitioned_asset_counts_missing_only_days_from_the_start_date(webserver):
    """The partitions tab of gcore_requests: its "N missing" covers the configured days
    (DAYS_LOADED complete days and today) of each known domain, not every day since 2024."""
    answer = ask(webserver, PARTITIONS_QUERY)

    asset = answer["data"]["assetNodeOrError"]
    stats = asset["partitionStats"]
    dimensions = {d["name"]: d["partitionKeys"] for d in asset["partitionKeysByDimension"]}
    assert dimensions["domain"] == DOMAINS
    assert dimensions["date"][0] == START_DATE.isoformat()
    # Up to today; a day more when the test crossed midnight since START_DATE was set.
    assert len(dimensions["date"]) in {DAYS_LOADED + 1, DAYS_LOADED + 2}
    # Nothing is loaded: every partition is missing, and only those.
    missing = stats["numPartitions"] - stats["numMaterialized"] - stats["numFailed"]
    assert missing == stats["numPartitions"] == len(dimensions["date"]) * len(DOMAINS)


@pytest.fixture(scope="module")
def browser(webserver: str) -> Iterator[WebDriver]:
    """One headless Chromium for the module (each start costs seconds), opened once the
    webserver has loaded the code location."""
    ask(webserver, "{ version }")
    with chromium(1600, 1000) as driver:  # every asset's row in view
        yield driver


def counts(pattern: str, text: str) -> list[int]:
    """The counts that `pattern`, holding one COUNT, finds in the page's `text`."""
    return [int(found.replace(",", "")) for found in re.findall(pattern, text)]


def asset_links(driver: WebDriver) -> set[str]:
    """The names shown by the page's links to the asset of that name."""
    links = driver.find_elements(By.CSS_SELECTOR, "a[href^='/assets/']")
    return {link.text for link in links if link.get_dom_attribute("href") == f"/assets/{link.text}"}


def test_the_asset_catalog_lists_every_asset(browser, webserver, tmp_path):
    """The Catalog page: a row of each of the six tables, and partitioned ones counted
    from the configured start date."""
    tables = {table.name for table in TABLES}
    with screenshot_on_failure(browser, tmp_path):
        browser.get(f"{webserver}/assets")

        def every_table_shown(driver: WebDriver) -> set[str] | None:
            links = asset_links(driver)
            return links if tables <= links else None

        # The app re-renders the rows as its queries answer: a link read may go stale.
        shown = WebDriverWait(
            browser, PAGE_TIMEOUT_S, 0.2, ignored_exceptions=[StaleElementReferenceException]
        ).until(every_table_shown)
        text = page_text(browser, rf"{COUNT} partitions")

        assert shown == tables
        assert set(counts(rf"{COUNT} partitions", text)) <= PARTITION_COUNTS


def test_the_partitions_tab_shows_missing_only_days_from_the_start_date(
    browser, webserver, tmp_path
):
    """What a user sees on gcore_requests' Partitions tab: "Missing (N)" counts the
    configured days of each known domain (nothing is loaded), not every day since 2024,
    and the first day shown is the start date."""
    with screenshot_on_failure(browser, tmp_path):
        browser.get(f"{webserver}/assets/gcore_requests?view=partitions")
        missing, selected = rf"Missing \({COUNT}\)", rf"{COUNT} Partitions Selected"
        text = page_text(browser, missing, selected, DOMAINS[-1])

        assert counts(missing, text) == counts(selected, text)
        (missing_count,) = counts(missing, text)
        assert missing_count in PARTITION_COUNTS
        days = sorted(set(re.findall(r"\b\d{4}-\d\d-\d\d\b", text)))
        assert days[0] == START_DATE.isoformat()
        assert len(days) * len(DOMAINS) == missing_count
        assert days[-1] <= datetime.now(UTC).date().isoformat()
