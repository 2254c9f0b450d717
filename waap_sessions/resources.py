"""Dagster resources: configuration in, a plain API client out.

As in dagster-fivetran, each resource only holds configuration and hands out a client
that knows nothing of Dagster. Give secrets as `dg.EnvVar("NAME")`, so the UI shows the
variable's name and never its value; `from_env()` does that for every variable the
README lists.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import tenacity
from dagster_duckdb import DuckDBResource
from pydantic import Field

from waap_sessions.accesswatch import ACCESSWATCH_BASE_URL, AccessWatchClient
from waap_sessions.appgate import AppgateSdpClient
from waap_sessions.appgate.client import DEFAULT_API_VERSION
from waap_sessions.errors import InvalidParameterError
from waap_sessions.gcore import GCORE_BASE_URL, GcoreWaapClient
from waap_sessions.http_core import HttpSettings
from waap_sessions.models import validate_parameters
from waap_sessions.warehouse import create_tables

DEFAULT_DUCKDB_PATH = "data/waap_sessions.duckdb"


class HttpResource(dg.ConfigurableResource[Any]):
    """What every API resource shares: where the API is and how hard to try."""

    base_url: str
    connect_timeout_s: float = Field(default=5.0, description="Seconds to wait for a connection.")
    read_timeout_s: float = Field(default=120.0, description="Seconds to wait for an answer.")
    max_retries: int = Field(default=3, description="Retries of 408, 409, 429, 5xx and timeouts.")
    requests_per_second: float | None = Field(
        default=None, description="Client-side rate limit; none when unset."
    )
    max_in_flight: int = Field(default=4, description="Requests in flight at once, at most.")

    def http_settings(self) -> HttpSettings:
        """The validated settings; a bad value fails here, naming the field and the limit."""
        values = {name: getattr(self, name) for name in HttpResource.model_fields}
        return validate_parameters(HttpSettings, values, f"{type(self).__name__} settings")


class GcoreWaapResource(HttpResource):
    """Gcore WAAP request analytics, IP Spotlight and domains."""

    api_key: str = Field(description="Gcore API key: EnvVar('GCORE_API_KEY').")
    base_url: str = Field(default=GCORE_BASE_URL, description="Gcore API base URL.")

    def get_client(self) -> GcoreWaapClient:
        return GcoreWaapClient(self.api_key, self.http_settings())

    @classmethod
    def from_env(cls, **overrides: Any) -> GcoreWaapResource:
        """GCORE_API_KEY (required) and GCORE_BASE_URL, the names Gcore's own client reads."""
        return cls(
            api_key=dg.EnvVar("GCORE_API_KEY"),
            base_url=os.environ.get("GCORE_BASE_URL") or GCORE_BASE_URL,
            **overrides,
        )


class AccessWatchResource(HttpResource):
    """Access Watch current sessions."""

    api_key: str = Field(description="Access Watch API key: EnvVar('ACCESSWATCH_API_KEY').")
    base_url: str = Field(default=ACCESSWATCH_BASE_URL, description="Access Watch API base URL.")

    def get_client(self) -> AccessWatchClient:
        return AccessWatchClient(self.api_key, self.http_settings())

    @classmethod
    def from_env(cls, **overrides: Any) -> AccessWatchResource:
        """ACCESSWATCH_API_KEY (required) and ACCESSWATCH_BASE_URL."""
        return cls(
            api_key=dg.EnvVar("ACCESSWATCH_API_KEY"),
            base_url=os.environ.get("ACCESSWATCH_BASE_URL") or ACCESSWATCH_BASE_URL,
            **overrides,
        )


class AppgateSdpResource(HttpResource):
    """Appgate SDP Controller active-sessions dashboard (Admin API)."""

    base_url: str = Field(
        description="The controller's Admin API, e.g. https://controller.example.com:8443/admin."
    )
    username: str | None = Field(
        default=None, description="Admin user name: EnvVar('APPGATE_USERNAME')."
    )
    password: str | None = Field(
        default=None, description="Admin password: EnvVar('APPGATE_PASSWORD')."
    )
    provider: str = Field(default="local", description="Identity provider of the admin user.")
    device_id: str | None = Field(
        default=None, description="A stable UUID for this client; derived when unset."
    )
    token: str | None = Field(
        default=None, description="A ready-made bearer token: EnvVar('APPGATE_TOKEN')."
    )
    api_version: int = Field(default=DEFAULT_API_VERSION, description="Peer API version (>= 20).")

    def get_client(self) -> AppgateSdpClient:
        return AppgateSdpClient(
            self.http_settings(),
            username=self.username,
            password=self.password,
            provider=self.provider,
            device_id=self.device_id,
            token=self.token,
            api_version=self.api_version,
        )

    @classmethod
    def from_env(cls, **overrides: Any) -> AppgateSdpResource:
        """APPGATE_URL (required), _USERNAME, _PASSWORD, _PROVIDER, _TOKEN, _API_VERSION.

        Secrets that are set become EnvVars; unset ones stay empty, so a deployment may
        use a login, a token or both.
        """
        secrets: dict[str, Any] = {
            field: dg.EnvVar(name)
            for field, name in (
                ("username", "APPGATE_USERNAME"),
                ("password", "APPGATE_PASSWORD"),
                ("token", "APPGATE_TOKEN"),
            )
            if os.environ.get(name)
        }
        version = os.environ.get("APPGATE_API_VERSION") or str(DEFAULT_API_VERSION)
        if not version.isdigit():
            raise InvalidParameterError(
                "Appgate SDP settings",
                [("APPGATE_API_VERSION", f"must be a whole number such as 23 (got {version!r})")],
            )
        settings: dict[str, Any] = {
            "base_url": dg.EnvVar("APPGATE_URL"),
            "provider": os.environ.get("APPGATE_PROVIDER") or "local",
            "api_version": int(version),
        }
        return cls(**settings, **secrets, **overrides)


class WarehouseResource(DuckDBResource):
    """The DuckDB warehouse: writers through dagster-duckdb, readers read-only.

    Every connection works in UTC and finds every table of the contract in place. The
    database may be a local path (its folder is created) or a MotherDuck `md:` URL.
    """

    @contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-write connection (one writing process per file: keep its work short)."""
        if "://" not in self.database and not self.database.startswith(("md:", ":memory:")):
            Path(self.database).parent.mkdir(parents=True, exist_ok=True)
        with super().get_connection() as connection:
            # dagster-duckdb closes only on success; a failed write must not hold the file.
            try:
                connection.execute("SET TimeZone = 'UTC'")
                create_tables(connection)
                yield connection
            finally:
                connection.close()

    @contextmanager
    def read_only_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only connection, waiting (up to a minute) while a writer holds the file."""
        connection = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(duckdb.IOException),
            stop=tenacity.stop_after_delay(60),
            wait=tenacity.wait_exponential(multiplier=0.05, max=2),
            reraise=True,
        )(duckdb.connect, self.database, read_only=True)
        try:
            connection.execute("SET TimeZone = 'UTC'")
            yield connection
        finally:
            connection.close()

    @classmethod
    def from_env(cls) -> WarehouseResource:
        """WAAP_DUCKDB_PATH, by default data/waap_sessions.duckdb."""
        return cls(database=os.environ.get("WAAP_DUCKDB_PATH") or DEFAULT_DUCKDB_PATH)
