"""The suite's own footing: `make test`'s `--dist loadgroup` keeps an `xdist_group` on one
worker.

The demo's tests share one demo, the crash tests one machine's worth of processes, the UI
tests one webserver: each module marks its tests with a group. When grouping silently stops
(pytest 9.2 with pytest-xdist 3.8 did, pytest-xdist#1386), a group's fixtures run once per
worker, the suite passes and takes minutes longer. This test fails instead.
"""

import re
import subprocess
import sys
from pathlib import Path

GROUPED = """
import pytest

pytestmark = pytest.mark.xdist_group("shared")


@pytest.mark.parametrize("case", range(4))
def test_shared(case):
    pass
"""
UNGROUPED = """
import time

import pytest


@pytest.mark.parametrize("case", range(6))
def test_alone(case):
    time.sleep(0.2)
"""


def test_a_marked_group_runs_on_one_worker(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_grouped.py").write_text(GROUPED)
    (tmp_path / "test_ungrouped.py").write_text(UNGROUPED)

    command = [sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup", "-v"]
    ran = subprocess.run(
        [*command, "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert ran.returncode == 0, ran.stdout[-2000:]
    workers = re.findall(r"^\[(gw\d)\] .* PASSED test_grouped\.py::", ran.stdout, re.M)
    assert len(workers) == 4, ran.stdout[-2000:]
    assert len(set(workers)) == 1, ran.stdout[-2000:]
