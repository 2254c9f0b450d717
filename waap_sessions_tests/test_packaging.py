"""What the package promises as a package: a deployment's install and its public API.

The deployment test builds the wheel as `pip` would and reads its runtime requirements;
then a fresh interpreter loads the code location from that wheel and runs its snapshot
job on the simulator, with every installed distribution outside those requirements'
closure hidden: an import of anything a runtime install lacks fails there as it would
on a deployment, while optional imports (pyarrow's of numpy) fall back as they would.
"""

from __future__ import annotations

import inspect
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from email.parser import HeaderParser
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import waap_sessions
from waap_sessions import errors
from waap_sessions.demo import simulator_environment

ROOT = Path(__file__).resolve().parent.parent
SIMULATOR_ONLY = {"starlette", "uvicorn", "pandas", "dagster-webserver"}

# Run with `python -I`: no PYTHONPATH, no current directory, so only the wheel's copy of
# waap_sessions (argv[1]) and the hiding finder decide what imports.
PROBE = r"""
import contextlib, importlib.abc, importlib.machinery, importlib.metadata, io, json, os
import re, site, sys

unpacked, allowed = sys.argv[1], set(json.loads(sys.argv[2]))
sys.path.insert(0, unpacked)
site_dirs = tuple(os.path.normpath(place) + os.sep for place in site.getsitepackages())
kept = set()
for dist in importlib.metadata.distributions():
    if re.sub(r"[-_.]+", "-", dist.metadata["Name"]).lower() in allowed:
        kept.update(os.path.normpath(dist.locate_file(file)) for file in dist.files or ())
hidden = set()


class HideOtherDistributions(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or not spec.has_location or not spec.origin:
            return None
        origin = os.path.normpath(spec.origin)
        if origin.startswith(site_dirs) and origin not in kept:
            hidden.add(name)
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, HideOtherDistributions())

import dagster as dg
import waap_sessions.component
from waap_sessions import connect
from waap_sessions.cli import main
from waap_sessions.definitions import defs

dg.Definitions.validate_loadable(defs)
snapshot = defs.resolve_job_def("snapshot_job").execute_in_process()
with connect() as lake:
    rows = {
        table: lake.sql(f"SELECT count(*) FROM {table}").fetchone()[0]
        for table in ("accesswatch_sessions", "appgate_active_sessions")
    }
loaded = sorted(name for name in sys.modules if name.startswith("waap_sessions"))
with contextlib.redirect_stdout(io.StringIO()) as printed:
    main(["tables"])
needs_extra = {}
for command in ("demo", "dev", "simulate"):
    try:
        main([command])
    except SystemExit as stop:
        needs_extra[command] = stop.code
print(json.dumps({
    "file": waap_sessions.__file__,
    "loaded": loaded,
    "snapshot": snapshot.success,
    "rows": rows,
    "tables": printed.getvalue(),
    "needs_extra": needs_extra,
    "hidden": sorted(hidden),
}))
"""


def build_wheel(folder: Path) -> Path:
    """The project's wheel, built from a copy of its sources with the installed backend."""
    source = folder / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source)
    shutil.copytree(
        ROOT / "waap_sessions",
        source / "waap_sessions",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
    command += ["--no-index", "--quiet", "--wheel-dir", str(folder), str(source)]
    subprocess.run(command, check=True, cwd=folder, capture_output=True, timeout=120)
    (wheel,) = folder.glob("waap_sessions-*.whl")
    return wheel


def requirements_of(wheel: Path) -> list[Requirement]:
    """The Requires-Dist lines of the wheel's METADATA."""
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [item for item in archive.namelist() if item.endswith(".dist-info/METADATA")]
        headers = HeaderParser().parsestr(archive.read(name).decode())
    return [Requirement(line) for line in headers.get_all("Requires-Dist", [])]


def extra_of(requirement: Requirement, extra: str) -> bool:
    """Whether the requirement applies when `extra` is installed ('' for none)."""
    return requirement.marker is None or requirement.marker.evaluate({"extra": extra})


def closure(requirements: list[Requirement]) -> set[str]:
    """The distributions an install of `requirements` brings, as installed here."""
    found: set[str] = set()
    todo = [(requirement, "") for requirement in requirements]
    seen: set[tuple[str, str]] = set()
    while todo:
        requirement, extra = todo.pop()
        if not extra_of(requirement, extra):
            continue
        name = canonicalize_name(requirement.name)
        found.add(name)
        for wanted in ("", *requirement.extras):
            if (name, wanted) in seen:
                continue
            seen.add((name, wanted))
            todo += [(Requirement(line), wanted) for line in metadata.requires(name) or []]
    return found


def test_a_runtime_install_loads_and_runs_the_code_location(tmp_path, simulator):
    wheel = build_wheel(tmp_path)
    requirements = requirements_of(wheel)
    runtime = [requirement for requirement in requirements if extra_of(requirement, "")]
    runtime_names = {canonicalize_name(requirement.name) for requirement in runtime}
    assert {"dagster", "duckdb", "duckdb-extension-ducklake", "httpx"} <= runtime_names
    assert not runtime_names & SIMULATOR_ONLY
    simulator_extra = {
        canonicalize_name(requirement.name)
        for requirement in requirements
        if requirement not in runtime and extra_of(requirement, "simulator")
    }
    assert simulator_extra == SIMULATOR_ONLY
    dev = [r for r in requirements if r not in runtime and extra_of(r, "dev")]
    assert any(r.name == "waap-sessions" and r.extras == {"simulator"} for r in dev)

    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(unpacked)
    allowed = sorted(closure(runtime))
    assert not set(allowed) & SIMULATOR_ONLY
    environment = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        **simulator_environment(simulator),
        "WAAP_DUCKLAKE_CATALOG": f"sqlite:{tmp_path}/lake/catalog.sqlite",
        "WAAP_DUCKLAKE_DATA_PATH": f"{tmp_path}/lake/data/",
    }
    done = subprocess.run(
        [sys.executable, "-I", "-c", PROBE, str(unpacked), json.dumps(allowed)],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    probe = json.loads(done.stdout.splitlines()[-1])

    assert Path(probe["file"]).is_relative_to(unpacked)
    assert "waap_sessions.definitions" in probe["loaded"]
    assert probe["snapshot"] is True
    assert all(count > 0 for count in probe["rows"].values()), probe["rows"]
    assert not [name for name in probe["loaded"] if name.startswith("waap_sessions.simulator")]
    assert "waap_sessions.demo" not in probe["loaded"]
    assert "### `gcore_requests`" in probe["tables"]
    # The simulator's own packages are there in this venv, and hidden from the probe.
    assert {"starlette", "pandas"} <= set(probe["hidden"])
    assert probe["needs_extra"] == {
        command: f"error: waap-sessions {command} needs the simulator extra: "
        "pip install 'waap-sessions[simulator]'"
        for command in ("demo", "dev", "simulate")
    }


# A docstring's example: an indented code block after a blank line, or a `>>>` line.
EXAMPLE = re.compile(r"\n\n {4}\S|^>>> ", re.MULTILINE)


def test_every_error_class_is_exported_from_the_package_root():
    defined = {
        name
        for name, value in vars(errors).items()
        if isinstance(value, type)
        and issubclass(value, errors.WaapSessionsError)
        and value.__module__ == errors.__name__
    }
    assert len(defined) >= 15
    assert defined <= set(waap_sessions.__all__)
    assert all(getattr(waap_sessions, name) is getattr(errors, name) for name in defined)


def test_every_public_name_has_a_docstring_with_an_example():
    lacking = [
        name
        for name in waap_sessions.__all__
        if not EXAMPLE.search(inspect.getdoc(getattr(waap_sessions, name)) or "")
    ]
    assert lacking == []
