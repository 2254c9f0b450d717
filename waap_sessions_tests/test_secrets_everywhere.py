"""No secret anywhere a run leaves a trace: marked secrets (unique random strings as API
keys, passwords and tokens in URLs) go through real materializations, good and failing
(401, 403, a timeout, a refused URL), on an instance in its own DAGSTER_HOME. Then every
file under DAGSTER_HOME (SQLite storage, event logs, compute logs), the process's own
output, the resources' and clients' reprs and errors, and the answers of a real
dagster-webserver on that instance are searched for each secret."""

import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from waap_sessions.errors import WaapSessionsError
from waap_sessions.partitions import DOMAINS_PARTITIONS_NAME, partition_key
from waap_sessions.resources import (
    AccessWatchResource,
    AppgateSdpResource,
    GcoreWaapResource,
    WarehouseResource,
)
from waap_sessions.simulator import ScriptedFault, Simulator, SimulatorConfig
from waap_sessions_tests.conftest import (
    NOW,
    YESTERDAY,
    accesswatch_sessions,
    appgate_active_sessions,
    gcore_requests,
    lake_settings,
)
from waap_sessions_tests.postgres import free_port
from waap_sessions_tests.test_ui import ask

# Beside test_ui's webserver on one worker: two webservers at once starve a small machine.
pytestmark = pytest.mark.xdist_group("ui")
ROOT = Path(__file__).resolve().parents[1]
# Each secret is unique to this test run, so any trace of it is a leak.
SECRETS = {
    name: f"marked-{name}-{secrets.token_hex(12)}"
    for name in (
        "gcore_key",
        "wrong_gcore_key",
        "accesswatch_key",
        "appgate_password",
        "wrong_appgate_password",
        "url_token",
        "catalog_password",
        "motherduck_token",
    )
}
LOCATION = """\
from waap_sessions.factory import build_waap_sessions_definitions

defs = build_waap_sessions_definitions(start_date="2026-01-01")
"""
# Everything the UI shows about runs, their logs, assets and resources.
RUNS_QUERY = """
{ runsOrError { ... on Runs { results { runId status runConfigYaml tags { key value } } } } }
"""
LOGS_QUERY = """
{ logsForRun(runId: "RUN_ID") { ... on EventConnection { events {
    __typename
    ... on MessageEvent { message }
    ... on ExecutionStepFailureEvent {
        error { ...Error } failureMetadata { metadataEntries { ...Entries } }
    }
    ... on RunFailureEvent { pipelineFailureError: error { ...Error } }
    ... on MaterializationEvent { metadataEntries { ...Entries } }
    ... on EngineEvent { error { ...Error } metadataEntries { ...Entries } }
    ... on ResourceInitFailureEvent { error { ...Error } }
} } } }
fragment Error on PythonError { message stack causes { message stack } cause { message stack } }
fragment Entries on MetadataEntry {
    label description
    ... on TextMetadataEntry { text }
    ... on JsonMetadataEntry { jsonString }
    ... on MarkdownMetadataEntry { mdStr }
    ... on UrlMetadataEntry { url }
    ... on PathMetadataEntry { path }
}
"""
LOCATION_QUERY = """
{ repositoriesOrError { ... on RepositoryConnection { nodes {
    allTopLevelResourceDetails { name configuredValues { key value type } }
    assetNodes { assetKey { path } description metadataEntries { label description
        ... on TextMetadataEntry { text } ... on JsonMetadataEntry { jsonString } } }
} } } }
"""


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """DAGSTER_HOME with the project's dagster.yaml (the package's log lines in the runs' logs)."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


@pytest.fixture
def simulator() -> Iterator[Simulator]:
    config = SimulatorConfig(
        seed=5,
        domains=1,
        days=2,
        requests_per_day=200,
        now=NOW,
        gcore_api_key=SECRETS["gcore_key"],
        accesswatch_api_key=SECRETS["accesswatch_key"],
        appgate_password=SECRETS["appgate_password"],
    )
    with Simulator(config) as served:
        yield served


def environment(simulator: Simulator, lake: Path) -> dict[str, str]:
    """A deployment's variables: the secrets, the simulator's URLs and the lake."""
    settings = lake_settings(lake)
    return {
        "GCORE_API_KEY": SECRETS["gcore_key"],
        "GCORE_BASE_URL": simulator.base_url,
        "ACCESSWATCH_API_KEY": SECRETS["accesswatch_key"],
        "ACCESSWATCH_BASE_URL": simulator.accesswatch_base_url,
        "APPGATE_URL": simulator.appgate_base_url,
        "APPGATE_USERNAME": simulator.config.appgate_username,
        "APPGATE_PASSWORD": SECRETS["appgate_password"],
        "WAAP_DUCKLAKE_CATALOG": settings.catalog,
        "WAAP_DUCKLAKE_DATA_PATH": settings.data_path,
        # Wrong or secret-bearing values that some runs are given, by variable.
        "WRONG_GCORE_KEY": SECRETS["wrong_gcore_key"],
        "WRONG_APPGATE_PASSWORD": SECRETS["wrong_appgate_password"],
        "TOKEN_URL": f"{simulator.base_url}/?access_token={SECRETS['url_token']}",
        "PASSWORD_CATALOG": (
            f"postgres:postgresql://waap:{SECRETS['catalog_password']}@127.0.0.1:9/waap"
        ),
        "MOTHERDUCK_CATALOG": f"md:waap?motherduck_token={SECRETS['motherduck_token']}",
    }


def run(
    instance: dg.DagsterInstance, assets: list[Any], resources: dict[str, Any], **kwargs: Any
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        assets, instance=instance, resources=resources, raise_on_error=False, **kwargs
    )


def test_no_secret_in_storage_logs_reprs_errors_or_the_ui(
    simulator, home, tmp_path, monkeypatch, capfd, caplog
):
    variables = environment(simulator, tmp_path / "lake")
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    shown: list[str] = []  # reprs and errors, as a log line would print them
    warehouse = WarehouseResource.from_env()
    good = {
        "gcore": GcoreWaapResource.from_env(max_retries=0),
        "accesswatch": AccessWatchResource.from_env(max_retries=0),
        "appgate": AppgateSdpResource.from_env(max_retries=0),
        "warehouse": warehouse,
    }
    domain = str(simulator.dataset.domains[0].id)
    key = partition_key(YESTERDAY.date(), domain)
    failed: dict[str, dg.ExecuteInProcessResult] = {}
    with dg.DagsterInstance.get() as instance:
        instance.add_dynamic_partitions(DOMAINS_PARTITIONS_NAME, [domain])
        # Runs that succeed.
        assert run(instance, [gcore_requests], good, partition_key=key).success
        assert run(instance, [accesswatch_sessions, appgate_active_sessions], good).success
        # Wrong credentials: 401 from Gcore and from Appgate's login.
        failed["gcore 401"] = run(
            instance,
            [gcore_requests],
            {**good, "gcore": GcoreWaapResource.from_env(api_key=dg.EnvVar("WRONG_GCORE_KEY"))},
            partition_key=key,
        )
        failed["appgate 401"] = run(
            instance,
            [appgate_active_sessions],
            {
                **good,
                "appgate": AppgateSdpResource.from_env(
                    password=dg.EnvVar("WRONG_APPGATE_PASSWORD")
                ),
            },
        )
        # A key the server refuses this call: 403.
        simulator.faults.script.append(ScriptedFault(status=403))
        failed["accesswatch 403"] = run(instance, [accesswatch_sessions], good)
        # An answer slower than the read timeout, not retried.
        simulator.faults.latency_s = 1.0
        failed["timeout"] = run(
            instance,
            [accesswatch_sessions],
            {
                **good,
                "accesswatch": AccessWatchResource.from_env(read_timeout_s=0.2, max_retries=0),
            },
        )
        simulator.faults.latency_s = 0.0
        # A token in the base URL, and passwords or tokens in catalogs: refused.
        failed["token url"] = run(
            instance,
            [gcore_requests],
            {**good, "gcore": GcoreWaapResource.from_env(base_url=dg.EnvVar("TOKEN_URL"))},
            partition_key=key,
        )
        for variable in ("PASSWORD_CATALOG", "MOTHERDUCK_CATALOG"):
            failed[variable] = run(
                instance,
                [appgate_active_sessions],
                {**good, "warehouse": WarehouseResource(catalog=dg.EnvVar(variable))},
            )
        run_ids = [run.run_id for run in instance.get_runs()]

    for result in failed.values():
        shown.extend(str(event) for event in result.all_events)

    # The resources and clients a run uses, their variables resolved; errors of bad settings.
    with dg.build_resources(good) as initialized:
        for name in good:
            resource = getattr(initialized, name)
            shown.append(repr(resource) + str(resource))
            if name != "warehouse":
                with resource.get_client() as client:
                    shown.append(repr(client) + repr(client.http) + str(vars(client)))
    unrefused: list[str] = []  # variables whose bad value loaded, or failed without its name
    for variable, value, load in [
        ("GCORE_BASE_URL", variables["TOKEN_URL"], GcoreWaapResource.from_env),
        ("ACCESSWATCH_BASE_URL", variables["TOKEN_URL"], AccessWatchResource.from_env),
        ("APPGATE_URL", variables["TOKEN_URL"], AppgateSdpResource.from_env),
        ("WAAP_DUCKLAKE_CATALOG", variables["PASSWORD_CATALOG"], WarehouseResource.from_env),
        ("WAAP_DUCKLAKE_CATALOG", variables["MOTHERDUCK_CATALOG"], WarehouseResource.from_env),
    ]:
        with monkeypatch.context() as patched:
            patched.setenv(variable, value)
            try:
                shown.append(repr(load()))
            except WaapSessionsError as refused:
                shown.append(str(refused))
                if variable in str(refused):
                    continue
            unrefused.append(variable)

    # The UI, as a real webserver on this instance answers it.
    (tmp_path / "location.py").write_text(LOCATION)
    port = free_port()
    server = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("dagster-webserver")),
            *("-f", str(tmp_path / "location.py"), "-h", "127.0.0.1", "-p", str(port)),
        ],
        cwd=tmp_path,
        env={**os.environ, "DAGSTER_HOME": str(home)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        answers = [ask(url, RUNS_QUERY), ask(url, LOCATION_QUERY)]
        for run_id in run_ids:
            answers.append(ask(url, LOGS_QUERY.replace("RUN_ID", run_id)))
    finally:
        server.terminate()
        server.wait(timeout=30)
    ui = str(answers)
    stored = [
        path.read_bytes().decode("utf-8", "replace") for path in home.rglob("*") if path.is_file()
    ]
    assert any("compute_logs" in str(path) for path in home.rglob("*")), "no compute logs kept"
    output = capfd.readouterr()
    places = {
        "DAGSTER_HOME": "\n".join(stored),
        "reprs and errors": "\n".join(shown),
        "the process's output": output.out + output.err + caplog.text,
        "the webserver's answers": ui,
    }
    found = {
        (name, place)
        for name, secret in SECRETS.items()
        for place, text in places.items()
        if secret in text
    }
    assert found == set()
    # The search was real: every run failed as meant to, and the UI answered about all.
    assert unrefused == []
    assert {name for name, result in failed.items() if result.success} == set()
    assert [answer["errors"] for answer in answers if "errors" in answer] == []
    assert len(run_ids) == 9
    assert all(run_id in ui for run_id in run_ids)
    for reason in ("HTTP 401", "HTTP 403", "imed out", "access_token=***", "password"):
        assert reason in ui, reason
    resources = answers[1]["data"]["repositoriesOrError"]["nodes"][0]["allTopLevelResourceDetails"]
    configured = {
        (resource["name"], value["key"]): value["value"]
        for resource in resources
        for value in resource["configuredValues"]
    }
    # Base URLs and secrets show as their variables' names.
    assert configured[("gcore", "base_url")] == "GCORE_BASE_URL"
    assert configured[("accesswatch", "base_url")] == "ACCESSWATCH_BASE_URL"
    assert configured[("appgate", "password")] == "APPGATE_PASSWORD"
