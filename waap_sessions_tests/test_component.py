"""The component as a `dg` project uses it: found, scaffolded, checked, listed, merged, run.

The `dg` commands run in a fresh project in a temporary folder, in this interpreter's
environment (the project has no `.venv` of its own, so `dg` creates none and installs
nothing), against the session's simulator. Each costs seconds, so they are few, and
those that do not depend on each other run at once.
"""

import json
import os
import subprocess
import sys
import textwrap
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml
from dagster.components.testing import create_defs_folder_sandbox

from waap_sessions.component import WaapSessionsComponent
from waap_sessions.demo import simulator_environment
from waap_sessions.errors import InvalidParameterError
from waap_sessions.partitions import DOMAINS_PARTITIONS_NAME, partition_key
from waap_sessions_tests.conftest import CONFIG, YESTERDAY, query

TYPE = "waap_sessions.component.WaapSessionsComponent"
DG = Path(sys.executable).with_name("dg")
SECRETS = (CONFIG.gcore_api_key, CONFIG.accesswatch_api_key, CONFIG.appgate_password)

PROJECT = {
    "pyproject.toml": """\
        [project]
        name = "security-project"
        version = "0.1.0"

        [tool.dg]
        directory_type = "project"

        [tool.dg.project]
        root_module = "security_project"

        [tool.dg.cli.telemetry]
        enabled = false
        """,
    "security_project/__init__.py": "",
    "security_project/definitions.py": """\
        from pathlib import Path

        import dagster as dg


        @dg.definitions
        def defs() -> dg.Definitions:
            return dg.Definitions.merge(
                dg.load_from_defs_folder(path_within_project=Path(__file__).parent),
                # The project's choice: the component's definitions bring no executor.
                dg.Definitions(executor=dg.in_process_executor),
            )
        """,
    "security_project/defs/__init__.py": "",
    # Another team's definitions beside the component: a resource of their own, and an
    # asset downstream of one of the component's (by its translated key).
    "security_project/defs/reports.py": """\
        import dagster as dg


        class ReportStore(dg.ConfigurableResource):
            folder: str


        @dg.asset(deps=[dg.AssetKey(["security", "top_sessions"])], group_name="reports")
        def weekly_report(report_store: ReportStore) -> None:
            return None


        defs = dg.Definitions(
            assets=[weekly_report], resources={"report_store": ReportStore(folder="reports")}
        )
        """,
}


@dataclass
class Command:
    """A `dg` command under way, its output going to files (no pipe to fill up)."""

    process: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path

    def finished(self) -> tuple[str, str]:
        """What it printed, on stdout and on stderr; a failure fails the test with both."""
        self.process.wait(timeout=180)
        stdout, stderr = self.stdout.read_text(), self.stderr.read_text()
        assert self.process.returncode == 0, f"{self.process.args}:\n{stdout}\n{stderr}"
        return stdout, stderr


def start_dg(project: Path, environment: dict[str, str], *arguments: str) -> Command:
    logs = project.parent / "logs"
    logs.mkdir(exist_ok=True)
    name = f"{arguments[0]}-{arguments[1].lstrip('-')}"
    stdout, stderr = logs / f"{name}.out", logs / f"{name}.err"
    with stdout.open("w") as out, stderr.open("w") as err:
        process = subprocess.Popen(
            [str(DG), *arguments], cwd=project, env=environment, stdout=out, stderr=err
        )
    return Command(process, stdout, stderr)


def test_a_dg_project_scaffolds_checks_lists_merges_and_runs_the_component(simulator, tmp_path):
    project = tmp_path / "security_project"
    for name, text in PROJECT.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(textwrap.dedent(text))
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("")
    domain = str(simulator.dataset.domains[0].id)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        instance.add_dynamic_partitions(DOMAINS_PARTITIONS_NAME, [domain])
    environment = {
        "PATH": f"{DG.parent}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(tmp_path),
        "DAGSTER_HOME": str(home),
        **simulator_environment(simulator),
        # The component reads no WAAP_* variable: these would pick another source and lake.
        "WAAP_SOURCES": "accesswatch",
        "WAAP_DUCKLAKE_CATALOG": f"sqlite:{tmp_path}/elsewhere.sqlite",
    }

    listing = start_dg(project, environment, "list", "components", "--json")
    scaffolding = start_dg(
        project, environment, "scaffold", "defs", TYPE, "waap", "--sources", "gcore",
        "--sources", "appgate",
    )  # fmt: skip
    components = json.loads(listing.finished()[0])
    assert TYPE in [item["key"] for item in components["items"]]
    scaffolding.finished()

    defs_yaml = project / "security_project/defs/waap/defs.yaml"
    written = defs_yaml.read_text()
    scaffolded = yaml.safe_load(written)
    assert scaffolded["type"] == TYPE
    attributes = scaffolded["attributes"]
    assert attributes["sources"] == ["gcore", "appgate"]
    assert {"start_date", "catalog", "data_path"} <= set(attributes)
    assert attributes["gcore_api_key_env"] == "GCORE_API_KEY"
    assert attributes["appgate_password_env"] == "APPGATE_PASSWORD"
    assert "# The variables that hold the credentials: their names, never their values." in (
        written
    )
    assert not any(secret in written for secret in SECRETS)

    attributes.update(
        start_date="2026-11-01",
        translation={"key_prefix": "security", "group_name": "waap"},
        catalog="sqlite:lake/catalog.sqlite",  # relative to the project root
        data_path="lake/data/",
        gcore_base_url=simulator.base_url,
        automation={"enabled": False},
    )
    defs_yaml.write_text(yaml.safe_dump(scaffolded, sort_keys=False))
    key = str(partition_key(YESTERDAY.date(), domain))
    processes = [
        start_dg(project, environment, "check", "defs"),
        start_dg(project, environment, "list", "defs", "--json"),
        start_dg(
            project, environment, "launch", "--assets", "security/gcore_requests",
            "--partition", key,
        ),
    ]  # fmt: skip
    checked, listed, launched = ("\n".join(command.finished()) for command in processes)

    assert "All definitions loaded successfully" in checked
    definitions = json.loads(processes[1].stdout.read_text())
    assets = {asset["asset_key"]: asset for asset in definitions["assets"]}
    assert set(assets) == {
        "security/gcore_requests",
        "security/gcore_ip_top_sessions",
        "security/top_sessions",
        "security/appgate_active_sessions",
        "security/active_sessions",
        "weekly_report",
    }
    assert {assets[name]["group_name"] for name in assets if name != "weekly_report"} == {"waap"}
    assert assets["security/top_sessions"]["dependency_keys"] == ["security/gcore_requests"]
    assert assets["weekly_report"]["dependency_keys"] == ["security/top_sessions"]
    resources = {resource["name"] for resource in definitions["resources"]}
    assert resources == {"warehouse", "gcore", "appgate", "report_store"}
    assert not any(secret in listed + checked + launched for secret in SECRETS)

    assert "RUN_SUCCESS" in launched
    loaded = query(
        project / "lake",
        "SELECT count(*) FROM gcore_requests WHERE domain_id = ? AND request_time::date = ?",
        [int(domain), YESTERDAY.date()],
    )
    assert loaded[0][0] > 0


def load(attributes: dict[str, Any]) -> tuple[WaapSessionsComponent, dg.Definitions, Path]:
    """The component and its definitions, loaded from a defs.yaml; and the project's root."""
    with create_defs_folder_sandbox() as sandbox:
        path = sandbox.scaffold_component(
            WaapSessionsComponent, defs_yaml_contents={"type": TYPE, "attributes": attributes}
        )
        with sandbox.load_component_and_build_defs(defs_path=path) as (component, defs):
            assert isinstance(component, WaapSessionsComponent)
            return component, defs, sandbox.project_root


def cause(error: BaseException, kind: type[BaseException]) -> BaseException:
    """The first exception of `kind` in `error`'s chain, as a traceback shows it."""
    while not isinstance(error, kind):
        assert error.__cause__ or error.__context__, f"no {kind.__name__} in the chain"
        error = error.__cause__ or error.__context__
    return error


def test_attributes_shape_the_assets_resources_and_clocks(monkeypatch, tmp_path):
    monkeypatch.setenv("MY_GCORE_KEY", CONFIG.gcore_api_key)
    monkeypatch.setenv("MY_APPGATE_PASSWORD", CONFIG.appgate_password)
    monkeypatch.setenv("APPGATE_URL", "https://controller.example.com:8443/admin")
    monkeypatch.setenv("APPGATE_USERNAME", CONFIG.appgate_username)
    component, defs, _ = load(
        {
            "sources": ["gcore", "appgate"],
            "translation": {
                "key": "waap/{{ props.name }}",
                "owners": ["team:security"],
                "tags": {"summary": "{{ 'yes' if props.summary else 'no' }}"},
            },
            "start_date": "2026-11-01",
            "backfill": {"max_partitions_per_run": 7},
            "pool": "waap_api",
            "catalog": f"sqlite:{tmp_path}/catalog.sqlite",
            "data_path": f"{tmp_path}/lake/",
            "gcore_api_key_env": "MY_GCORE_KEY",
            "appgate_password_env": "MY_APPGATE_PASSWORD",
            "http": {"max_retries": 5, "read_timeout_s": 30},
            "gcore_http": {"requests_per_second": 2.5, "max_retries": 1},
            "automation": {"enabled": False, "backfill_days": 7},
        }
    )

    dg.Definitions.validate_loadable(defs)
    specs = {spec.key.to_user_string(): spec for spec in defs.resolve_all_asset_specs()}
    assert set(specs) == {
        "waap/gcore_requests",
        "waap/gcore_ip_top_sessions",
        "waap/top_sessions",
        "waap/appgate_active_sessions",
        "waap/active_sessions",
    }
    assert specs["waap/top_sessions"].owners == ["team:security"]
    assert specs["waap/top_sessions"].tags["summary"] == "yes"
    assert specs["waap/gcore_requests"].tags["summary"] == "no"
    requests = defs.resolve_assets_def(dg.AssetKey(["waap", "gcore_requests"]))
    assert requests.backfill_policy == dg.BackfillPolicy.multi_run(7)
    assert isinstance(requests.partitions_def, dg.MultiPartitionsDefinition)
    days = requests.partitions_def.get_partitions_def_for_dimension("date")
    assert isinstance(days, dg.DailyPartitionsDefinition)
    assert days.start.date().isoformat() == "2026-11-01"
    assert requests.op.pool == "waap_api"

    gcore, appgate = defs.resources["gcore"], defs.resources["appgate"]
    assert (gcore.max_retries, gcore.read_timeout_s, gcore.requests_per_second) == (1, 30, 2.5)
    assert (appgate.max_retries, appgate.read_timeout_s, appgate.requests_per_second) == (
        5,
        30,
        None,
    )
    # The resources hold the variables' names; Dagster reads their values at run time.
    assert gcore.api_key == "MY_GCORE_KEY"
    assert appgate.password == "MY_APPGATE_PASSWORD"
    assert "accesswatch" not in defs.resources
    with dg.build_resources({"gcore": gcore, "appgate": appgate}) as resolved:
        assert resolved.gcore.api_key == CONFIG.gcore_api_key
        assert resolved.appgate.password == CONFIG.appgate_password
        shown = repr(defs.resources) + repr(component) + repr(resolved.gcore)
        shown += repr(resolved.appgate)
    assert not any(secret in shown for secret in SECRETS)
    schedule = defs.resolve_schedule_def("gcore_daily_schedule")
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED


def test_defaults_come_from_the_named_credentials_and_the_project_not_waap_variables(
    monkeypatch,
):
    for name in ("GCORE_API_KEY", "ACCESSWATCH_API_KEY", "APPGATE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WATCH_KEY", CONFIG.accesswatch_api_key)
    # Not the component's configuration: it reads no WAAP_* variable.
    monkeypatch.setenv("WAAP_SOURCES", "gcore")

    monkeypatch.setenv("WAAP_DUCKLAKE_CATALOG", "sqlite:/elsewhere/catalog.sqlite")

    _, defs, root = load({"accesswatch_api_key_env": "WATCH_KEY"})

    keys = {key.to_user_string() for key in defs.resolve_all_asset_keys()}
    assert keys == {"accesswatch_sessions", "active_sessions"}
    assert set(defs.resources) == {"warehouse", "accesswatch"}
    # The default lake, in the project whatever the working directory of the process.
    warehouse = defs.resources["warehouse"]
    assert warehouse.catalog == f"sqlite:{root}/data/waap_catalog.sqlite"
    assert warehouse.data_path == f"{root}/data/waap_lake/"


@pytest.mark.parametrize(
    ("attributes", "named", "message"),
    [
        ({"sources": ["gcore", "fastly"]}, "sources", "(got 'fastly')"),
        ({"start_date": "yesterday"}, "start_date", "(got 'yesterday')"),
        ({"catalog": "data/waap.duckdb"}, "catalog", "must be 'sqlite:<file>'"),
        ({"gcore_base_url": "api.gcore.com"}, "gcore_base_url", "(got 'api.gcore.com')"),
        ({"gcore_http": {"max_retries": 99}}, "gcore_http.max_retries", "less than or equal"),
        ({"http": {"max_in_flight": 0}}, "http.max_in_flight", "greater than or equal to 1"),
        ({"backfill": {"max_partitions_per_run": 0}}, "backfill.max_partitions_per_run", "1 or"),
        ({"appgate_api_version": 19}, "appgate_api_version", "20 or more"),
        # A secret pasted where its variable's name belongs is refused, never echoed.
        ({"gcore_api_key_env": CONFIG.gcore_api_key}, "gcore_api_key_env", "not hold its value"),
    ],
)
def test_a_bad_attribute_fails_the_load_in_one_line_naming_it(attributes, named, message):
    with pytest.raises(Exception, match="WaapSessionsComponent") as caught:
        load(attributes)

    error = cause(caught.value, InvalidParameterError)
    assert "\n" not in str(error)
    assert str(error).startswith(f"Invalid WaapSessionsComponent attributes: {named}: ")
    assert message in str(error)
    assert CONFIG.gcore_api_key not in "".join(traceback.format_exception(caught.value))


def test_the_readmes_example_defs_yaml_loads():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("### As a component\n")[1]
    example = yaml.safe_load(section.split("```yaml\n")[1].split("```")[0])

    _, defs, _ = load(example["attributes"])

    keys = {key.to_user_string() for key in defs.resolve_all_asset_keys()}
    tables = ["gcore_requests", "gcore_ip_top_sessions", "top_sessions"]
    tables += ["appgate_active_sessions", "active_sessions"]
    assert keys == {f"security/{table}" for table in tables}
    assert defs.resources["gcore"].requests_per_second == 5
