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
from typing import TYPE_CHECKING, Any

import dagster as dg
from pydantic import Field

from waap_sessions.accesswatch import ACCESSWATCH_BASE_URL
from waap_sessions.appgate import DEFAULT_API_VERSION
from waap_sessions.errors import InvalidParameterError
from waap_sessions.gcore import GCORE_BASE_URL
from waap_sessions.lake import (
    DEFAULT_CATALOG,
    DEFAULT_DATA_PATH,
    ENVIRONMENT_VARIABLES,
    LakeSettings,
    engine_connection,
)
from waap_sessions.models import validate_parameters
from waap_sessions.warehouse import create_tables

# The clients and the HTTP stack load when a run asks for a client, not with the code
# location: loading it only configures the resources.
if TYPE_CHECKING:
    import duckdb

    from waap_sessions.accesswatch import AccessWatchClient
    from waap_sessions.appgate import AppgateSdpClient
    from waap_sessions.gcore import GcoreWaapClient
    from waap_sessions.http_core import HttpSettings


class HttpResource(dg.ConfigurableResource[Any]):
    """What every API resource shares: where the API is and how hard to try."""

    base_url: str
    connect_timeout_s: float = Field(default=5.0, description="Seconds to wait for a connection.")
    read_timeout_s: float = Field(default=120.0, description="Seconds to wait for an answer.")
    request_deadline_s: float = Field(
        default=120.0,
        description="Seconds one request may take in all, its whole answer included; "
        "past it the request is tried again.",
    )
    max_retries: int = Field(default=3, description="Retries of 408, 409, 429, 5xx and timeouts.")
    requests_per_second: float | None = Field(
        default=None, description="Client-side rate limit; none when unset."
    )
    max_in_flight: int = Field(default=16, description="Requests in flight at once, at most.")

    def http_settings(self) -> HttpSettings:
        """The validated settings; a bad value fails here, naming the field and the limit."""
        from waap_sessions.http_core import HttpSettings

        values = {name: getattr(self, name) for name in HttpResource.model_fields}
        return validate_parameters(HttpSettings, values, f"{type(self).__name__} settings")


class GcoreWaapResource(HttpResource):
    """Gcore WAAP request analytics, IP Spotlight and domains.

    An asset asks for it by its resource key:

        @dg.asset
        def domain_names(gcore: GcoreWaapResource) -> list[str]:
            with gcore.get_client() as client:
                return [domain.name for domain in client.iter_domains()]

        gcore = GcoreWaapResource.from_env()
        defs = dg.Definitions(assets=[domain_names], resources={"gcore": gcore})
    """

    # repr=False: once Dagster resolves the EnvVar, a printed resource would show the key.
    api_key: str = Field(description="Gcore API key: EnvVar('GCORE_API_KEY').", repr=False)
    base_url: str = Field(default=GCORE_BASE_URL, description="Gcore API base URL.")

    def get_client(self) -> GcoreWaapClient:
        from waap_sessions.gcore import GcoreWaapClient

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
    """Access Watch current sessions.

    An asset asks for it by its resource key; secrets go in as EnvVars:

        @dg.asset
        def busy_sessions(accesswatch: AccessWatchResource) -> int:
            with accesswatch.get_client() as client:
                return sum(session.count > 100 for session in client.get_sessions(limit=500))

        accesswatch = AccessWatchResource(api_key=dg.EnvVar("ACCESSWATCH_API_KEY"))
    """

    api_key: str = Field(
        description="Access Watch API key: EnvVar('ACCESSWATCH_API_KEY').", repr=False
    )
    base_url: str = Field(default=ACCESSWATCH_BASE_URL, description="Access Watch API base URL.")

    def get_client(self) -> AccessWatchClient:
        from waap_sessions.accesswatch import AccessWatchClient

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
    """Appgate SDP Controller active-sessions dashboard (Admin API).

    Secrets as EnvVars, so the UI shows their names only:

        appgate = AppgateSdpResource(
            base_url="https://controller.example.com:8443/admin",
            username=dg.EnvVar("APPGATE_USERNAME"),
            password=dg.EnvVar("APPGATE_PASSWORD"),
        )  # an asset taking `appgate: AppgateSdpResource` calls appgate.get_client()
    """

    base_url: str = Field(
        description="The controller's Admin API, e.g. https://controller.example.com:8443/admin."
    )
    username: str | None = Field(
        default=None, description="Admin user name: EnvVar('APPGATE_USERNAME')."
    )
    password: str | None = Field(
        default=None, description="Admin password: EnvVar('APPGATE_PASSWORD').", repr=False
    )
    provider: str = Field(default="local", description="Identity provider of the admin user.")
    device_id: str | None = Field(
        default=None, description="A stable UUID for this client; derived when unset."
    )
    token: str | None = Field(
        default=None, description="A ready-made bearer token: EnvVar('APPGATE_TOKEN').", repr=False
    )
    api_version: int = Field(default=DEFAULT_API_VERSION, description="Peer API version (>= 20).")

    def get_client(self) -> AppgateSdpClient:
        from waap_sessions.appgate import AppgateSdpClient

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


class WarehouseResource(dg.ConfigurableResource[Any]):
    """The DuckLake warehouse: many runs write it and many readers read it at once.

    Connections come from one DuckDB engine per process with the lake attached as `waap`
    and in use, so the tables answer by their plain names. dagster-duckdb's
    DuckDBResource is not the base: it opens a DuckDB file read-write, which is what a
    lake replaces. Give a catalog password as `EnvVar("WAAP_DUCKLAKE_CATALOG_PASSWORD")`;
    `from_env()` does.

        @dg.asset(deps=["gcore_requests"])
        def requests_by_country(warehouse: WarehouseResource) -> dict[str, int]:
            with warehouse.read_only_connection() as lake:
                rows = lake.sql("SELECT country, count(*) FROM gcore_requests GROUP BY 1")
                return dict(rows.fetchall())
    """

    catalog: str = Field(
        default=DEFAULT_CATALOG, description=LakeSettings.model_fields["catalog"].description
    )
    data_path: str = Field(
        default=DEFAULT_DATA_PATH, description=LakeSettings.model_fields["data_path"].description
    )
    catalog_password: str | None = Field(
        default=None,
        description="PostgreSQL catalog password: EnvVar('WAAP_DUCKLAKE_CATALOG_PASSWORD').",
        repr=False,  # a resource is printed in logs and errors once its EnvVars are resolved
    )

    def lake_settings(self) -> LakeSettings:
        """The validated settings; a bad value fails here, naming the field and the rule."""
        values = {
            "catalog": self.catalog,
            "data_path": self.data_path,
            "catalog_password": self.catalog_password,
        }
        return validate_parameters(LakeSettings, values, "warehouse settings")

    def open_engine(self) -> None:
        """Open this process's engine for writing ahead of the first connection.

        Loading DuckDB's extensions and attaching the lake take about 0.4 s, which a run
        can spend on a thread while it imports its API client.
        """
        engine_connection(self.lake_settings(), read_only=False).close()

    @contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-write connection to the lake, every table of the contract in place."""
        with engine_connection(self.lake_settings(), read_only=False) as connection:
            create_tables(connection)
            yield connection

    @contextmanager
    def read_only_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only connection: it never waits for a writer, and never blocks one."""
        with engine_connection(self.lake_settings(), read_only=True) as connection:
            yield connection

    @classmethod
    def from_env(cls) -> WarehouseResource:
        """WAAP_DUCKLAKE_CATALOG, WAAP_DUCKLAKE_DATA_PATH and, when set, the catalog
        password as an EnvVar. Bad values fail here, naming their variable."""
        settings = LakeSettings.from_env()
        password_variable = ENVIRONMENT_VARIABLES["catalog_password"]
        return cls(
            catalog=settings.catalog,
            data_path=settings.data_path,
            catalog_password=(
                dg.EnvVar(password_variable) if os.environ.get(password_variable) else None
            ),
        )
