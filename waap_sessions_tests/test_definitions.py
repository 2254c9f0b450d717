"""The code location loads as `dagster dev` loads it, with this repository's instance."""

import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg

from waap_sessions.definitions import defs
from waap_sessions.warehouse import TABLES, table_reference

ROOT = Path(__file__).resolve().parents[1]


def test_definitions_are_loadable_without_any_environment(monkeypatch):
    for name in ("GCORE_API_KEY", "ACCESSWATCH_API_KEY", "APPGATE_URL", "APPGATE_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    dg.Definitions.validate_loadable(defs)
    assert set(defs.resources) == {"gcore", "accesswatch", "appgate", "warehouse"}
    keys = {key.to_user_string() for key in defs.resolve_all_asset_keys()}
    assert keys == {table.name for table in TABLES}


def test_the_workspace_validates_with_the_repository_instance(tmp_path):
    shutil.copy(ROOT / "dagster.yaml", tmp_path / "dagster.yaml")
    dagster = Path(sys.executable).with_name("dagster")

    finished = subprocess.run(
        [str(dagster), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=ROOT,
        env={"DAGSTER_HOME": str(tmp_path), "PATH": str(dagster.parent)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert "waap_sessions.definitions" in finished.stdout + finished.stderr


def test_the_readme_documents_every_table_as_declared():
    readme = (ROOT / "README.md").read_text()
    documented = readme.split("<!-- tables:start -->\n")[1].split("\n<!-- tables:end -->")[0]
    assert documented == table_reference()
