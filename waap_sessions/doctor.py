"""`waap-sessions doctor`: can this environment load? One line per API and the warehouse.

Each API is configured exactly as the code location configures it (the resources'
`from_env()`, so the same variables and defaults) and asked one cheap question with its
credentials: Gcore for its domains, Access Watch for one session, Appgate for its
dashboard after a login. The warehouse is opened as a run opens it, and its folders are
probed for writing. A failure says what to do; no line ever holds a secret, since every
message comes from this package's errors, which carry none.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from waap_sessions.errors import (
    ApiError,
    ApiTransportError,
    AuthenticationError,
    InvalidParameterError,
    NotAcceptableError,
    NotFoundError,
    PermissionDeniedError,
    ResponseFormatError,
    WaapSessionsError,
)
from waap_sessions.factory import CREDENTIAL_VARIABLES
from waap_sessions.lake import ENVIRONMENT_VARIABLES, LakeSettings, open_lake
from waap_sessions.resources import (
    AccessWatchResource,
    AppgateSdpResource,
    GcoreWaapResource,
    HttpResource,
)
from waap_sessions.translator import Source

if TYPE_CHECKING:
    from waap_sessions.accesswatch import AccessWatchClient
    from waap_sessions.appgate import AppgateSdpClient
    from waap_sessions.gcore import GcoreWaapClient

Status = Literal["ok", "skipped", "FAILED"]
APPGATE_SETTINGS = ("URL", "USERNAME", "PASSWORD", "TOKEN", "PROVIDER", "API_VERSION")


@dataclass(frozen=True)
class Check:
    """What one check found: a status, and what it saw or what to do."""

    name: str
    status: Status
    detail: str

    def line(self) -> str:
        return f"{self.name:<14}{self.status}: {self.detail}"


@dataclass(frozen=True)
class _Api:
    """One API: its name, the variables that configure it, and its one question."""

    source: Source
    name: str
    url_variable: str
    credential_help: str
    variables: tuple[str, ...]
    resource: Callable[..., HttpResource]
    probe: Callable[[Any], str]


def _gcore(client: GcoreWaapClient) -> str:
    return f"domains listed: {sum(1 for _ in client.iter_domains())}"


def _accesswatch(client: AccessWatchClient) -> str:
    client.get_sessions(limit=1)
    return "sessions read"


def _appgate(client: AppgateSdpClient) -> str:
    client.get_active_sessions_dashboard()
    return "logged in, dashboard read" if client.credentials.can_login else "dashboard read"


APIS = (
    _Api(
        Source.GCORE,
        "Gcore WAAP",
        "GCORE_BASE_URL",
        "GCORE_API_KEY",
        ("GCORE_API_KEY", "GCORE_BASE_URL"),
        GcoreWaapResource.from_env,
        _gcore,
    ),
    _Api(
        Source.ACCESSWATCH,
        "Access Watch",
        "ACCESSWATCH_BASE_URL",
        "ACCESSWATCH_API_KEY",
        ("ACCESSWATCH_API_KEY", "ACCESSWATCH_BASE_URL"),
        AccessWatchResource.from_env,
        _accesswatch,
    ),
    _Api(
        Source.APPGATE,
        "Appgate SDP",
        "APPGATE_URL",
        "APPGATE_USERNAME and APPGATE_PASSWORD (or APPGATE_TOKEN)",
        tuple(f"APPGATE_{name}" for name in APPGATE_SETTINGS),
        AppgateSdpResource.from_env,
        _appgate,
    ),
)


def run_checks(timeout_s: float = 10.0) -> Iterator[Check]:
    """Each API's check, then the warehouse's, as each finishes."""
    for api in APIS:
        yield check_api(api, timeout_s)
    yield check_warehouse()


def check_api(api: _Api, timeout_s: float) -> Check:
    """Ask the API one question with the configured credentials; say what to do if it fails."""
    variable = CREDENTIAL_VARIABLES[api.source]
    if not os.environ.get(variable):
        return Check(api.name, "skipped", f"not configured ({variable} is not set)")
    import dagster as dg

    # No retry and short timeouts: a doctor answers in seconds, a run may wait longer.
    overrides = {"connect_timeout_s": timeout_s, "read_timeout_s": timeout_s, "max_retries": 0}
    try:
        with dg.build_resources({"api": api.resource(**overrides)}) as built:
            resource = built.api
            with resource.get_client() as client:
                seen = api.probe(client)
    except WaapSessionsError as error:
        return Check(api.name, "FAILED", _advice(api, error))
    return Check(api.name, "ok", f"{seen} at {_host(resource.base_url)}")


def _advice(api: _Api, error: WaapSessionsError) -> str:
    """The error, and what to do about it."""
    match error:
        case AuthenticationError():
            todo = f"check {api.credential_help}"
        case PermissionDeniedError():
            todo = f"give the credentials in {api.credential_help} read access"
        case NotAcceptableError():
            todo = "set APPGATE_API_VERSION to a peer API version the controller speaks"
        case NotFoundError() | ResponseFormatError():
            todo = f"check that {api.url_variable} is the API's base URL"
        case ApiTransportError():
            todo = f"check {api.url_variable}, the network, or raise --timeout"
        case ApiError():
            todo = "the API failed; try again later"
        case InvalidParameterError():
            todo = f"fix the setting it names, among {', '.join(api.variables)}"
        case _:
            todo = "see the error"
    return f"{error}; {todo}"


def _host(url: str) -> str:
    """Where an API is, without a path or query that could carry a token."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def check_warehouse() -> Check:
    """The lake's settings valid, its catalog open for writing, its folders writable.

    A local lake not created yet is fine when its folders can be: the first load creates it.
    """
    name = "warehouse"
    catalog_variable = ENVIRONMENT_VARIABLES["catalog"]
    path_variable = ENVIRONMENT_VARIABLES["data_path"]
    try:
        settings = LakeSettings.from_env()
    except InvalidParameterError as error:
        return Check(name, "FAILED", f"{error}; fix the variable it names")
    folders = [] if settings.is_remote else [(path_variable, Path(settings.resolved_data_path))]
    sqlite_file = settings.sqlite_file
    if sqlite_file is not None:
        folders.append((catalog_variable, sqlite_file.parent))
    for variable, folder in folders:
        problem = _unwritable(folder)
        if problem:
            return Check(name, "FAILED", f"{problem}; set {variable} to a place you can write")
    if sqlite_file is not None and not sqlite_file.exists():
        return Check(
            name, "ok", f"no lake yet at {settings.describe()}; the first load creates it there"
        )
    try:
        with open_lake(settings, read_only=False) as lake:
            lake.execute("SELECT count(*) FROM information_schema.tables").fetchone()
    except WaapSessionsError as error:
        return Check(
            name,
            "FAILED",
            f"{error}; check {catalog_variable}, {path_variable} and, for PostgreSQL, "
            f"{ENVIRONMENT_VARIABLES['catalog_password']}",
        )
    remote = " (an object store: writing not probed)" if settings.is_remote else ""
    return Check(name, "ok", f"opened for writing at {settings.describe()}{remote}")


def _unwritable(folder: Path) -> str | None:
    """Why files cannot be written in `folder` (made when missing), or None if they can."""
    existing = folder
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        return f"{folder} cannot be a folder: {existing} is a file"
    try:
        with tempfile.TemporaryFile(dir=existing, prefix=".waap-doctor-"):
            pass
    except OSError as error:
        return f"cannot write in {existing}: {error.strerror}"
    return None
