"""Where the tables live: a DuckLake that many runs write and many BI readers read at once.

A DuckLake is a catalog database (SQLite on one machine, PostgreSQL for a team) plus
Parquet files under a data path (a folder or an object-store prefix). DuckDB is only the
engine in each process: every connection is a fresh in-memory DuckDB with the lake
attached as `waap` and made the default, so the tables answer by their plain names.

Two things here keep the lake usable where a plain DuckDB file is not:
- DuckDB's extensions come from the `duckdb-extension-*` wheels, loaded by file path with
  automatic installs and loads switched off, so nothing is downloaded at run time.
- DuckLake detects write conflicts per table at commit, and its own commit retry does not
  absorb them. `write_transaction` rolls back and redoes the whole transaction with
  backoff and jitter, a bounded number of times, then fails with `WarehouseConflictError`.

Nothing here knows Dagster: the resource, the checks, `waap_sessions.connect` and the
`migrate` command all open the lake through `open_lake`.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import importlib.util
import logging
import os
import re
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from waap_sessions.errors import InvalidParameterError, WarehouseConflictError, WarehouseError
from waap_sessions.models import settings_from_env
from waap_sessions.redact import credential_in
from waap_sessions.sql import literal, quoted

# DuckDB and tenacity load with the first connection: settings alone (a code location
# being loaded, a resource being configured) need neither.
if TYPE_CHECKING:
    import duckdb
    import tenacity

DEFAULT_CATALOG = "sqlite:data/waap_catalog.sqlite"
DEFAULT_DATA_PATH = "data/waap_lake/"
# The name the lake is attached under in every connection (and in the README's SQL).
LAKE = "waap"
# The settings `LakeSettings.from_env()` reads, by field.
ENVIRONMENT_VARIABLES = {
    "catalog": "WAAP_DUCKLAKE_CATALOG",
    "data_path": "WAAP_DUCKLAKE_DATA_PATH",
    "catalog_password": "WAAP_DUCKLAKE_CATALOG_PASSWORD",
}
# Variables earlier versions read, and what replaced them: one still set means a
# deployment that believes its lake is elsewhere, so it fails rather than being ignored.
RETIRED_VARIABLES = {
    "WAAP_DUCKDB_PATH": "the lake is WAAP_DUCKLAKE_CATALOG and WAAP_DUCKLAKE_DATA_PATH",
}
# Object-store prefixes DuckDB reads through its httpfs extension.
REMOTE_PREFIXES = ("s3://", "s3a://", "gs://", "gcs://", "r2://", "http://", "https://")
# The wheel that carries each extension DuckLake may need.
EXTENSION_PACKAGES = {
    "ducklake": "duckdb_extension_ducklake",
    "sqlite_scanner": "duckdb_extension_sqlite_scanner",
    "postgres_scanner": "duckdb_extension_postgres_scanner",
    "httpfs": "duckdb_extension_httpfs",
}
# A commit that lost to another writer: DuckLake's conflict (PostgreSQL catalog), a
# SQLite catalog busy with another writer's commit, or a step (housekeeping's flush of
# inlined rows) whose transaction such a lost race aborted halfway.
_CONFLICT = re.compile(
    r"Transaction conflict|database is locked|Failed to commit DuckLake"
    r"|Current transaction is aborted"
)
# Tries of a write that keeps losing commit conflicts: at most about a minute of backoff
# in all (half that on average), so a write among several busy writers gets its turn.
WRITE_ATTEMPTS = 20

log = logging.getLogger(__name__)
T = TypeVar("T")


class LakeSettings(BaseModel):
    """Where the lake is: validated on construction, so a bad value fails before any load.

    Give them where the WAAP_DUCKLAKE_* variables will not do:

        settings = LakeSettings(catalog="sqlite:lake/catalog.sqlite", data_path="lake/data/")
        with connect(settings=settings) as lake:
            print(lake.sql("SELECT count(*) FROM gcore_requests").fetchone())
    """

    # hide_input_in_errors: pydantic's own message would quote a credential-bearing URL.
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    catalog: str = Field(
        default=DEFAULT_CATALOG,
        description="DuckLake catalog: `sqlite:<file>` or `postgres:dbname=... host=...`.",
    )
    data_path: str = Field(
        default=DEFAULT_DATA_PATH,
        description="Folder or object-store prefix (s3://...) of the Parquet files.",
    )
    catalog_password: SecretStr | None = Field(
        default=None, description="The PostgreSQL catalog's password, if it needs one."
    )

    @field_validator("catalog")
    @classmethod
    def _known_catalog(cls, value: str) -> str:
        if not value.startswith(("sqlite:", "postgres:")):
            raise ValueError(
                "must be 'sqlite:<file>' (one machine) or 'postgres:dbname=... host=...' "
                "(a team); a DuckDB-file catalog admits one process at a time"
            )
        if value.startswith("sqlite:") and not value.removeprefix("sqlite:").strip():
            raise ValueError("must name the SQLite file, as in 'sqlite:data/waap_catalog.sqlite'")
        if credential := credential_in(value):
            raise ValueError(
                f"must not hold {credential}: give the password in "
                "WAAP_DUCKLAKE_CATALOG_PASSWORD, which stays a secret"
            )
        if value.startswith("sqlite:"):
            blocked = _file_in_the_way(Path(value.removeprefix("sqlite:").strip()).parent)
            if blocked:
                raise ValueError(f"must be a file in a folder, but {blocked} is a file")
        return value

    @field_validator("data_path")
    @classmethod
    def _folder(cls, value: str) -> str:
        if not value.strip() or "'" in value:
            raise ValueError("must be a folder or an object-store prefix without quotes")
        if credential := credential_in(value):
            raise ValueError(
                f"must not hold {credential}: object-store keys come from the AWS_* variables"
            )
        if not value.startswith(REMOTE_PREFIXES):
            blocked = _file_in_the_way(Path(value))
            if blocked:
                raise ValueError(f"must be a folder, but {blocked} is a file")
        return value if value.endswith("/") else value + "/"

    @classmethod
    def from_env(cls) -> LakeSettings:
        """The defaults, overridden by each WAAP_DUCKLAKE_* variable that is set; a retired
        variable still set fails, naming what replaced it."""
        retired = [
            (name, f"is no longer read (got {os.environ[name]!r}): {replacement}")
            for name, replacement in RETIRED_VARIABLES.items()
            if os.environ.get(name)
        ]
        if retired:
            raise InvalidParameterError("warehouse settings", retired)
        return settings_from_env(cls, ENVIRONMENT_VARIABLES, "warehouse settings")

    @property
    def sqlite_file(self) -> Path | None:
        """The SQLite catalog file, for an embedded catalog."""
        if not self.catalog.startswith("sqlite:"):
            return None
        return Path(self.catalog.removeprefix("sqlite:")).expanduser().resolve()

    @property
    def resolved_catalog(self) -> str:
        """The catalog with a local file made absolute, so every process finds the same one."""
        sqlite_file = self.sqlite_file
        return f"sqlite:{sqlite_file}" if sqlite_file else self.catalog

    @property
    def resolved_data_path(self) -> str:
        """The data path, a local folder made absolute (DuckLake records it at creation)."""
        if self.is_remote:
            return self.data_path
        return str(Path(self.data_path).expanduser().resolve()) + "/"

    @property
    def is_remote(self) -> bool:
        return self.data_path.startswith(REMOTE_PREFIXES)

    def extensions(self) -> list[str]:
        """The extensions to load, in order: the catalog's scanner first, then DuckLake."""
        scanner = "sqlite_scanner" if self.sqlite_file else "postgres_scanner"
        return [scanner, *(["httpfs"] if self.is_remote else []), "ducklake"]

    def attach_sql(self, *, read_only: bool) -> str:
        """The ATTACH statement; it holds no secret (the password goes in a DuckDB secret)."""
        options = [f"DATA_PATH {literal(self.resolved_data_path)}", *(["READ_ONLY"] * read_only)]
        catalog = quoted(self.resolved_catalog)
        return f"ATTACH 'ducklake:{catalog}' AS {LAKE} ({', '.join(options)})"

    def describe(self) -> str:
        """Where the lake is, for messages: the catalog and the data path, no secret."""
        return f"catalog {self.resolved_catalog!r}, data path {self.resolved_data_path!r}"


def _file_in_the_way(folder: Path) -> Path | None:
    """The file (not a folder) at `folder` or at its nearest existing parent, if any: the
    lake could never create its files there. Nothing is created to find out."""
    for candidate in (folder.expanduser(), *folder.expanduser().parents):
        if candidate.exists():
            return None if candidate.is_dir() else candidate
    return None


def extension_file(name: str) -> Path:
    """The extension binary shipped in its `duckdb-extension-*` wheel for this DuckDB."""
    import duckdb

    package = EXTENSION_PACKAGES[name]
    spec = importlib.util.find_spec(package)
    wheel_folder = Path(spec.origin).parent if spec and spec.origin else Path(package)
    path = wheel_folder / "extensions" / f"v{duckdb.__version__}" / f"{name}.duckdb_extension"
    if not path.exists():
        raise WarehouseError(
            f"DuckDB extension {name} for DuckDB {duckdb.__version__} is not installed: "
            f"install {package.replace('_', '-')}=={duckdb.__version__} "
            "(see the README's 'DuckDB version')"
        )
    return path


def open_lake(settings: LakeSettings, *, read_only: bool) -> duckdb.DuckDBPyConnection:
    """A new in-memory DuckDB with the lake attached as `waap` and in use: its own engine.

    Opening one costs about 0.3 s (loading the extensions, attaching the catalog); code
    that connects often within a process takes `engine_connection` instead.
    """
    import duckdb

    connection = duckdb.connect(
        config={"autoinstall_known_extensions": False, "autoload_known_extensions": False}
    )
    try:
        attach(connection, settings, read_only=read_only)
    except BaseException:
        connection.close()
        raise
    return connection


def engine_connection(settings: LakeSettings, *, read_only: bool) -> duckdb.DuckDBPyConnection:
    """A new connection to this process's engine for the lake: cheap, and thread-safe.

    Each process opens the lake once per mode and hands out connections to that engine
    (DuckDB's `cursor()`), each with its own transactions, in UTC, with `waap` in use.
    A new transaction always sees the latest commit of every other process.
    """
    connection = _engine(settings, read_only, os.getpid()).cursor()
    connection.execute("SET TimeZone = 'UTC'")
    connection.execute(f"USE {LAKE}")
    return connection


@functools.cache
def _engine(settings: LakeSettings, read_only: bool, pid: int) -> duckdb.DuckDBPyConnection:
    # Keyed by process id as well: an engine inherited through fork() must not be reused.
    return open_lake(settings, read_only=read_only)


def attach(
    connection: duckdb.DuckDBPyConnection, settings: LakeSettings, *, read_only: bool
) -> None:
    """Attach the lake to an open connection and make it the default database.

    Works in UTC. A writer creates a missing SQLite catalog in WAL mode (readers then never
    wait for a writer); a reader expects the lake to exist and says so when it does not.
    """
    import duckdb
    import tenacity

    connection.execute("SET autoinstall_known_extensions = false")
    connection.execute("SET autoload_known_extensions = false")
    connection.execute("SET TimeZone = 'UTC'")
    for name in settings.extensions():
        connection.execute(f"LOAD {literal(extension_file(name))}")
    if settings.catalog_password is not None:
        password = quoted(settings.catalog_password.get_secret_value())
        # Unnamed: the postgres extension reads only its default secret when attaching.
        connection.execute(f"CREATE TEMPORARY SECRET (TYPE postgres, PASSWORD '{password}')")
    if settings.data_path.startswith(("s3://", "s3a://")):
        _add_s3_secret(connection)
    sqlite_file = settings.sqlite_file
    if sqlite_file is not None:
        if read_only and not sqlite_file.exists():
            raise WarehouseError(
                f"No lake yet at {settings.describe()}: the first load creates it "
                "(make demo, or any run)"
            )
        if not read_only:
            try:
                use_wal(sqlite_file)
            except sqlite3.DatabaseError as error:
                raise WarehouseError(
                    f"Cannot open the lake ({settings.describe()}): its catalog is not a "
                    f"SQLite database ({error})"
                ) from None
    if not read_only and not settings.is_remote:
        Path(settings.resolved_data_path).mkdir(parents=True, exist_ok=True)
    # Processes meeting a new lake race to create its catalog: the losers wait and retry.
    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception(lambda error: is_conflict(error) or _created(error)),
        stop=tenacity.stop_after_attempt(WRITE_ATTEMPTS),
        wait=tenacity.wait_random_exponential(multiplier=0.05, max=5),
        reraise=True,
    )
    try:
        retrying(connection.execute, settings.attach_sql(read_only=read_only))
    except duckdb.Error as error:
        # `from None`: DuckDB's own error may quote the catalog's connection string.
        raise WarehouseError(f"Cannot open the lake ({settings.describe()}): {error}") from None
    connection.execute(f"USE {LAKE}")


def _add_s3_secret(connection: duckdb.DuckDBPyConnection) -> None:
    """S3 credentials from the standard AWS_* variables, read when connecting, never stored.

    AWS_ENDPOINT_URL (or AWS_ENDPOINT_URL_S3) points at an S3-compatible store such as
    MinIO. Without AWS_ACCESS_KEY_ID, DuckDB's own S3 settings and secrets apply.
    """
    key, secret = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
    if not (key and secret):
        return
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    options = {"KEY_ID": key, "SECRET": secret, "REGION": region}
    if token := os.environ.get("AWS_SESSION_TOKEN"):
        options["SESSION_TOKEN"] = token
    if endpoint := os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL"):
        url = urlsplit(endpoint)
        options |= {"ENDPOINT": url.netloc, "URL_STYLE": "path"}
        use_ssl = "true" if url.scheme == "https" else "false"
    else:
        use_ssl = "true"
    listed = ", ".join(f"{name} '{quoted(value)}'" for name, value in options.items())
    connection.execute(f"CREATE TEMPORARY SECRET waap_data (TYPE s3, {listed}, USE_SSL {use_ssl})")


def use_wal(sqlite_file: Path) -> None:
    """Put the SQLite catalog in WAL mode (it stays so): writers then never block readers.

    Measured 3x faster than SQLite's default journal under concurrent writers. Processes
    and threads meeting a new catalog take turns (a lock on its folder), so none attaches
    it while Python's own SQLite has it open: two SQLite libraries in one process release
    each other's file locks when one closes.
    """
    sqlite_file.parent.mkdir(parents=True, exist_ok=True)
    folder = os.open(sqlite_file.parent, os.O_RDONLY)
    try:
        fcntl.flock(folder, fcntl.LOCK_EX)
        if not _is_wal(sqlite_file):
            with sqlite3.connect(sqlite_file, timeout=30) as catalog:
                catalog.execute("PRAGMA journal_mode = WAL")
            catalog.close()
    finally:
        os.close(folder)  # releases the lock


def _is_wal(sqlite_file: Path) -> bool:
    """Whether the file's header says WAL (read and write versions 2, at bytes 18 and 19)."""
    try:
        with sqlite_file.open("rb") as catalog:
            return catalog.read(20)[18:20] == b"\x02\x02"
    except FileNotFoundError:
        return False


def _created(error: BaseException) -> bool:
    """Whether another process created the catalog's tables under our feet."""
    import duckdb

    return isinstance(error, duckdb.Error) and "already exists" in str(error)


def is_conflict(error: BaseException) -> bool:
    """Whether `error` is a commit lost to another writer, which a redo can win."""
    import duckdb

    return isinstance(error, duckdb.Error) and bool(_CONFLICT.search(str(error)))


@contextmanager
def transaction(connection: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """One transaction: all of the block's writes land, or none do."""
    import duckdb

    connection.execute("BEGIN TRANSACTION")
    try:
        yield
    except BaseException:
        _rollback(connection)
        raise
    try:
        connection.execute("COMMIT")
    except duckdb.Error:
        # A failed DuckLake commit may or may not have ended the transaction already.
        _rollback(connection)
        raise


def _rollback(connection: duckdb.DuckDBPyConnection) -> None:
    import duckdb

    # "No transaction is active" when the failed commit has ended it already.
    with contextlib.suppress(duckdb.TransactionException):
        connection.execute("ROLLBACK")


def write_transaction(
    connection: duckdb.DuckDBPyConnection,
    work: Callable[[duckdb.DuckDBPyConnection], T],
    *,
    what: str,
    attempts: int = WRITE_ATTEMPTS,
    also_redo: Callable[[BaseException], bool] | None = None,
) -> T:
    """Run `work` in one transaction, redone from the start while it loses commit conflicts.

    Backoff is exponential with full jitter (50 ms doubling, at most 5 s a wait), so
    writers that collided spread out. After `attempts` tries it raises
    WarehouseConflictError; any other error is raised at once, unless `also_redo` says
    it is another race worth running `work` again for.
    """
    import tenacity

    def once() -> T:
        with transaction(connection):
            return work(connection)

    def report(state: tenacity.RetryCallState) -> None:
        wait = state.next_action.sleep if state.next_action else 0.0
        error = state.outcome.exception() if state.outcome else None
        race = (
            "lost a commit conflict to another writer"
            if error is None or is_conflict(error)
            else f"raced another writer ({error})"
        )
        log.warning(
            "%s %s (try %d of %d); redoing it in %.2f s",
            what,
            race,
            state.attempt_number,
            attempts,
            wait,
        )

    def give_up(state: tenacity.RetryCallState) -> T:
        raise WarehouseConflictError(what, attempts)

    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception(
            lambda error: is_conflict(error) or (also_redo is not None and also_redo(error))
        ),
        stop=tenacity.stop_after_attempt(attempts),
        wait=tenacity.wait_random_exponential(multiplier=0.05, max=5),
        before_sleep=report,
        retry_error_callback=give_up,
    )
    return retrying(once)
