"""The README's first command runs end to end, as a user runs it."""

import subprocess
import sys
from pathlib import Path


def test_the_demo_reads_every_api_through_its_resource():
    script = Path(sys.executable).with_name("waap-sessions")
    finished = subprocess.run(
        [str(script), "demo"], capture_output=True, text=True, timeout=120, check=False
    )

    assert finished.returncode == 0, finished.stderr
    for section in (
        "Gcore WAAP domains",
        "Gcore request analytics",
        "Gcore IP Spotlight",
        "Access Watch current sessions",
        "Appgate SDP active sessions",
    ):
        assert section in finished.stdout
    assert "Traceback" not in finished.stderr
