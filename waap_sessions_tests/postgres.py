"""A real, throwaway PostgreSQL server for the tests of the lake's PostgreSQL catalog.

It runs Debian's `postgresql` package from a temporary folder, on 127.0.0.1 and a free
port, with password authentication only, so the catalog password really is needed.
Without the package the tests that need it are skipped, except in CI (CI=true), where
they fail: CI installs the package, and a missing server must not pass unnoticed.

conftest.py registers the fixture, so one server serves the whole session:
`from waap_sessions_tests.postgres import postgres_catalog`.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

USER = "waap"
# The database made at start, for a test that needs no fresh one.
DATABASE = "waap_lake"
# initdb, start and stop each take a few seconds; nothing here should take a minute.
TIMEOUT_S = 60


@dataclass(frozen=True)
class PostgresServer:
    """A running server: how to reach it, and fresh databases on it."""

    port: int
    password: str
    bin_dir: Path

    @property
    def catalog(self) -> str:
        """The lake's catalog setting for the database made at start."""
        return self.catalog_of(DATABASE)

    def catalog_of(self, database: str) -> str:
        """The lake's catalog setting for `database`; the password is given separately."""
        return f"postgres:dbname={database} host=127.0.0.1 port={self.port} user={USER}"

    def new_database(self, name: str) -> str:
        """Create an empty database `name` and return its catalog setting."""
        address = ["-h", "127.0.0.1", "-p", str(self.port), "-U", USER]
        run([str(self.bin_dir / "createdb"), *address, name], PGPASSWORD=self.password)
        return self.catalog_of(name)


def run(command: list[str], **environment: str) -> None:
    """Run a PostgreSQL program; when it fails, say what it printed."""
    done = subprocess.run(
        command,
        env={**os.environ, **environment},
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}")


def postgres_bin_dir() -> Path | None:
    """The newest installed server's binaries (/usr/lib/postgresql/<version>/bin)."""
    found = [path.parent for path in Path("/usr/lib/postgresql").glob("*/bin/pg_ctl")]
    return max(
        found, key=lambda path: [int(part) for part in path.parent.name.split(".")], default=None
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def postgres_catalog() -> Iterator[PostgresServer]:
    """A PostgreSQL server for the session: a `waap` superuser with a password, and an
    empty database `waap_lake`."""
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        reason = "no PostgreSQL server installed (make postgres installs it)"
        if os.environ.get("CI", "").lower() not in ("", "0", "false"):
            pytest.fail(f"{reason}, and CI must run the PostgreSQL catalog tests")
        pytest.skip(reason)
    # The server refuses to run as root: then it runs as Debian's `postgres` user.
    as_owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    folder = Path(tempfile.mkdtemp(prefix="waap-postgres-"))
    data, password_file = folder / "data", folder / "password"
    server = PostgresServer(free_port(), secrets.token_urlsafe(16), bin_dir)
    password_file.write_text(server.password)
    if as_owner:
        shutil.chown(folder, "postgres")
        shutil.chown(password_file, "postgres")
    pg_ctl = [*as_owner, str(bin_dir / "pg_ctl"), "-D", str(data)]
    try:
        run([
            *as_owner, str(bin_dir / "initdb"), "-D", str(data), "-U", USER,
            "-A", "scram-sha-256", f"--pwfile={password_file}",
        ])  # fmt: skip
        # The server's own output goes to a log file: it would hold a captured pipe open.
        options = f"-p {server.port} -k {folder} -c listen_addresses=127.0.0.1"
        run([*pg_ctl, "-o", options, "-l", str(folder / "server.log"), "-w", "start"])
        server.new_database(DATABASE)
        yield server
    finally:
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            run([*pg_ctl, "-m", "fast", "-w", "stop"])
        shutil.rmtree(folder, ignore_errors=True)
