"""waap_sessions as a `dg` component: the factory's definitions, configured in a defs.yaml.

    dg scaffold defs waap_sessions.component.WaapSessionsComponent waap_sessions

writes a defs.yaml to start from. Its attributes are the whole configuration: the
component does NOT read the `WAAP_*` environment variables that `waap_sessions.definitions`
reads, so what the defs.yaml says is what loads, whatever the environment. The
environment holds only what a defs.yaml must not: secrets. Each `*_env` attribute
names the variable that holds one, and the resource reads it through `dg.EnvVar` when a
run needs it, so the UI shows the name and never the value (a `{{ env.X }}` template
would be resolved when the project loads and shown in plain text). The one other look at
the environment is the default of `sources`: each source whose credential variable, as
these attributes name it, is set (all three when none is).

`build_defs` returns the factory's definitions (assets, checks, jobs, schedules,
sensors, resources; no executor), so they merge with the project's other components.
One per code location: its resource, job, schedule and sensor names are the factory's.
"""

import os
import re
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import dagster as dg

# TranslationFn and its resolver are how Dagster's own integration components (Fivetran,
# dbt, Sling) take a `translation:` block with template variables. The module is public
# (not underscore-private), but `dagster` does not re-export it at the top level.
from dagster.components.utils.translation import TranslationFn, TranslationFnResolver
from pydantic import BaseModel, ConfigDict, Field, create_model

from waap_sessions.accesswatch import ACCESSWATCH_BASE_URL
from waap_sessions.appgate import DEFAULT_API_VERSION
from waap_sessions.automation import AutomationSettings
from waap_sessions.errors import InvalidParameterError
from waap_sessions.factory import (
    CREDENTIAL_VARIABLES,
    SelectionSettings,
    build_waap_sessions_definitions,
)
from waap_sessions.gcore import GCORE_BASE_URL
from waap_sessions.http_core import HttpSettings
from waap_sessions.lake import DEFAULT_CATALOG, DEFAULT_DATA_PATH, LakeSettings
from waap_sessions.models import validate_parameters
from waap_sessions.partitions import default_start_date
from waap_sessions.resources import (
    AccessWatchResource,
    AppgateSdpResource,
    GcoreWaapResource,
    HttpResource,
    WarehouseResource,
)
from waap_sessions.translator import (
    Source,
    WaapSessionsTableProps,
    WaapSessionsTranslator,
    parse_sources,
)

# An environment variable's name as deployments write them (GCORE_API_KEY): a pasted
# secret, mixed-case as API keys are, fails this rather than become a variable's name.
_VARIABLE_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
_HTTP_BLOCKS = ("http", "gcore_http", "accesswatch_http", "appgate_http")


class HttpAttributes(BaseModel):
    """How hard to try an API; a field left out keeps the resource's default."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    connect_timeout_s: float | None = Field(
        default=None, description=HttpResource.model_fields["connect_timeout_s"].description
    )
    read_timeout_s: float | None = Field(
        default=None, description=HttpResource.model_fields["read_timeout_s"].description
    )
    request_deadline_s: float | None = Field(
        default=None, description=HttpResource.model_fields["request_deadline_s"].description
    )
    max_retries: int | None = Field(
        default=None, description=HttpResource.model_fields["max_retries"].description
    )
    requests_per_second: float | None = Field(
        default=None, description=HttpResource.model_fields["requests_per_second"].description
    )
    max_in_flight: int | None = Field(
        default=None, description=HttpResource.model_fields["max_in_flight"].description
    )

    def given(self) -> dict[str, Any]:
        """The fields the defs.yaml sets (`requests_per_second: null`, no limit, among them)."""
        return self.model_dump(exclude_unset=True)


# HttpSettings' limits without its base URL: each `*http` block is checked against the
# very limits the clients enforce, when the project loads rather than when a run starts.
_HTTP_LIMITS_FIELDS: dict[str, Any] = {
    name: (HttpSettings.model_fields[name].annotation, HttpSettings.model_fields[name])
    for name in HttpAttributes.model_fields
}
_HTTP_LIMITS = create_model(
    "HttpLimits", __config__=ConfigDict(extra="forbid"), **_HTTP_LIMITS_FIELDS
)


class BackfillAttributes(BaseModel):
    """How a range of request partitions (a backfill) is split into runs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_partitions_per_run: int | None = Field(
        default=None, description="Partitions per run; unset: the whole range in a single run."
    )

    def policy(self) -> dg.BackfillPolicy:
        if self.max_partitions_per_run is None:
            return dg.BackfillPolicy.single_run()
        return dg.BackfillPolicy.multi_run(max_partitions_per_run=self.max_partitions_per_run)


class _TranslatedSpecs(WaapSessionsTranslator):
    """The default spec of each table, then the defs.yaml's `translation` over it."""

    def __init__(self, translation: TranslationFn[WaapSessionsTableProps]) -> None:
        self._translation = translation

    def get_asset_spec(self, props: WaapSessionsTableProps) -> dg.AssetSpec:
        return self._translation(super().get_asset_spec(props), props)


class ScaffoldParams(BaseModel):
    """`dg scaffold defs ... --sources gcore --sources appgate`."""

    # Strings, not Sources: `dg` turns a list of strings into a repeatable option.
    sources: list[str] | None = Field(
        default=None, description="The APIs to load (repeat the option); default: all three."
    )


class WaapSessionsScaffolder(dg.Scaffolder[ScaffoldParams]):
    """`dg scaffold defs` writes a defs.yaml with every setting a team decides on, commented."""

    @classmethod
    def get_scaffold_params(cls) -> type[ScaffoldParams]:
        return ScaffoldParams

    def scaffold(self, request: dg.ScaffoldRequest[ScaffoldParams]) -> None:
        if request.scaffold_format != "yaml":
            dg.scaffold_component(request)
            return
        chosen = parse_sources(request.params.sources or list(Source))
        sources = [source for source in Source if source in chosen]
        (request.target_path / "defs.yaml").write_text(scaffolded_yaml(request.type_name, sources))


def scaffolded_yaml(type_name: str, sources: list[Source]) -> str:
    """The defs.yaml `dg scaffold defs` writes: the defaults, made explicit and explained."""
    fields = WaapSessionsComponent.model_fields
    automation = AutomationSettings()
    http = HttpResource.model_fields
    start = default_start_date(automation.backfill_days).isoformat()
    return f"""\
# waap_sessions: Gcore WAAP, Access Watch and Appgate SDP sessions in a DuckLake.
# These attributes are the whole configuration: the WAAP_* environment variables are
# not read. Secrets never go here: each *_env attribute names the environment variable
# that holds one, read through dg.EnvVar when a run needs it.
type: {type_name}

attributes:
  # The APIs to load. Leave it out to load each one whose credential variable
  # (gcore_api_key_env, accesswatch_api_key_env, appgate_url_env) is set, all when none is.
  sources: [{", ".join(sources)}]

  # The first UTC day of the request partitions.
  start_date: "{start}"

  # Asset attributes over the defaults; {{{{ props.name }}}} is the table's name.
  # translation:
  #   key: "waap/{{{{ props.name }}}}"
  #   group_name: waap

  # The DuckLake: a catalog (sqlite:<file> on one machine; postgres:dbname=... host=...
  # user=... for a team) and the folder or object-store prefix (s3://bucket/waap/) of its
  # Parquet files. Relative paths are relative to the project root.
  catalog: {DEFAULT_CATALOG}
  data_path: {DEFAULT_DATA_PATH}
  # catalog_password_env: WAAP_DUCKLAKE_CATALOG_PASSWORD

  # The variables that hold the credentials: their names, never their values.
  gcore_api_key_env: {fields["gcore_api_key_env"].default}
  accesswatch_api_key_env: {fields["accesswatch_api_key_env"].default}
  appgate_url_env: {fields["appgate_url_env"].default}
  appgate_username_env: {fields["appgate_username_env"].default}
  appgate_password_env: {fields["appgate_password_env"].default}
  # appgate_token_env: APPGATE_TOKEN

  # How hard to try every API; a gcore_http, accesswatch_http or appgate_http block
  # overrides it for one (say, its requests_per_second).
  http:
    max_retries: {http["max_retries"].default}
    max_in_flight: {http["max_in_flight"].default}

  # A backfill of many partitions loads in one run; or at most this many per run:
  # backfill:
  #   max_partitions_per_run: 30

  # The clocks that keep the tables fresh (UTC).
  automation:
    backfill_days: {automation.backfill_days}
    daily_cron: "{automation.daily_cron}"
    snapshot_cron: "{automation.snapshot_cron}"
    enabled: {str(automation.enabled).lower()}
"""


@dg.scaffold_with(WaapSessionsScaffolder)
class WaapSessionsComponent(dg.Component, dg.Model, dg.Resolvable):
    """Gcore WAAP, Access Watch and Appgate SDP sessions loaded into checked DuckLake tables.

    Configured by its attributes alone, never by the WAAP_* environment variables.
    Secrets stay in the environment variables the `*_env` attributes name, read through
    `dg.EnvVar` at run time. Bad attributes fail when the project loads, naming them.
    """

    sources: list[str] | None = Field(
        default=None,
        description="The APIs to load, of gcore, accesswatch and appgate; default: each one "
        "whose credential variable is set (gcore_api_key_env, accesswatch_api_key_env, "
        "appgate_url_env), all three when none is.",
    )
    translation: (
        Annotated[
            TranslationFn[WaapSessionsTableProps],
            TranslationFnResolver[WaapSessionsTableProps](lambda props: {"props": props}),
        ]
        | None
    ) = Field(
        default=None,
        description="Asset attributes over the defaults (key, key_prefix, group_name, owners, "
        "tags, ...); `{{ props.name }}` is the table's name.",
    )
    # A YAML date (2026-11-01) arrives as a date, a quoted or templated one as a string.
    start_date: Annotated[
        date | str | None, dg.Resolver.default(model_field_type=date | str | None)
    ] = Field(
        default=None,
        description="The first UTC day of the request partitions (YYYY-MM-DD); default: "
        "automation.backfill_days before today.",
    )
    backfill: BackfillAttributes = Field(
        default_factory=BackfillAttributes, description=BackfillAttributes.__doc__
    )
    pool: str | None = Field(
        default=None, description="The Dagster pool every asset runs in; none by default."
    )
    automation: AutomationSettings = Field(
        default_factory=AutomationSettings, description="The clocks that keep the tables fresh."
    )
    catalog: str = Field(
        default=DEFAULT_CATALOG, description=LakeSettings.model_fields["catalog"].description
    )
    data_path: str = Field(
        default=DEFAULT_DATA_PATH, description=LakeSettings.model_fields["data_path"].description
    )
    catalog_password_env: str | None = Field(
        default=None, description="The variable holding a PostgreSQL catalog's password."
    )
    gcore_base_url: str = Field(default=GCORE_BASE_URL, description="Gcore API base URL.")
    gcore_api_key_env: str = Field(
        default="GCORE_API_KEY", description="The variable holding the Gcore API key."
    )
    accesswatch_base_url: str = Field(
        default=ACCESSWATCH_BASE_URL, description="Access Watch API base URL."
    )
    accesswatch_api_key_env: str = Field(
        default="ACCESSWATCH_API_KEY", description="The variable holding the Access Watch key."
    )
    appgate_url_env: str = Field(
        default="APPGATE_URL",
        description="The variable holding the controller's Admin API URL, "
        "e.g. https://controller.example.com:8443/admin.",
    )
    appgate_username_env: str | None = Field(
        default="APPGATE_USERNAME", description="The variable holding the admin user name."
    )
    appgate_password_env: str | None = Field(
        default="APPGATE_PASSWORD", description="The variable holding the admin password."
    )
    appgate_token_env: str | None = Field(
        default=None, description="The variable holding a ready-made bearer token."
    )
    appgate_provider: str = Field(
        default="local", description="The identity provider of the admin user."
    )
    appgate_api_version: int = Field(
        default=DEFAULT_API_VERSION, description="Peer API version (20 or more)."
    )
    http: HttpAttributes = Field(
        default_factory=HttpAttributes, description="How hard to try every API."
    )
    gcore_http: HttpAttributes = Field(
        default_factory=HttpAttributes, description="Overrides of `http` for Gcore."
    )
    accesswatch_http: HttpAttributes = Field(
        default_factory=HttpAttributes, description="Overrides of `http` for Access Watch."
    )
    appgate_http: HttpAttributes = Field(
        default_factory=HttpAttributes, description="Overrides of `http` for Appgate SDP."
    )

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        self.validate_attributes()
        selected = self.selected_sources()
        return build_waap_sessions_definitions(
            sources=selected,
            translator=_TranslatedSpecs(self.translation) if self.translation else None,
            start_date=self.start_date,
            backfill_policy=self.backfill.policy(),
            pool=self.pool,
            automation=self.automation,
            warehouse=self.warehouse_resource(context.project_root),
            gcore=self.gcore_resource() if Source.GCORE in selected else None,
            accesswatch=self.accesswatch_resource() if Source.ACCESSWATCH in selected else None,
            appgate=self.appgate_resource() if Source.APPGATE in selected else None,
        )

    def validate_attributes(self) -> None:
        """Fail on every bad attribute at once, in one line, each named as in the defs.yaml.

        The value of an `*_env` attribute is never echoed: a secret pasted there by
        mistake must not reach a log.
        """
        problems = [
            (name, "must name an environment variable (LIKE_THIS), not hold its value")
            for name, value in self._variables().items()
            if value is not None and not _VARIABLE_NAME.match(value)
        ]
        if self.sources is not None:
            try:
                parse_sources(self.sources)
            except InvalidParameterError as error:
                problems += error.problems
        problems += _problems(SelectionSettings, {"start_date": self.start_date})
        problems += _problems(LakeSettings, {"catalog": self.catalog, "data_path": self.data_path})
        for name in ("gcore_base_url", "accesswatch_base_url"):
            problems += _problems(HttpSettings, {"base_url": getattr(self, name)}, name)
        for block in _HTTP_BLOCKS:
            problems += _problems(_HTTP_LIMITS, getattr(self, block).given(), block + ".{}")
        if self.appgate_api_version < 20:
            problems.append(
                ("appgate_api_version", f"must be 20 or more (got {self.appgate_api_version})")
            )
        per_run = self.backfill.max_partitions_per_run
        if per_run is not None and per_run < 1:
            problems.append(
                ("backfill.max_partitions_per_run", f"must be 1 or more (got {per_run})")
            )
        if problems:
            raise InvalidParameterError(f"{type(self).__name__} attributes", problems)

    def selected_sources(self) -> frozenset[Source]:
        """`sources`, or else those whose credential variable, as named here, is set."""
        if self.sources:
            return parse_sources(self.sources)
        named = {
            Source.GCORE: self.gcore_api_key_env,
            Source.ACCESSWATCH: self.accesswatch_api_key_env,
            Source.APPGATE: self.appgate_url_env,
        }
        # The factory's rule, asked about the variables these attributes name.
        environment = {
            CREDENTIAL_VARIABLES[source]: os.environ.get(name, "") for source, name in named.items()
        }
        return SelectionSettings().selected_sources(environment)

    def warehouse_resource(self, project_root: Path) -> WarehouseResource:
        """The lake, with a local catalog file or folder taken relative to the project root."""
        settings = LakeSettings(catalog=self.catalog, data_path=self.data_path)
        catalog, data_path = settings.catalog, settings.data_path
        if settings.sqlite_file is not None:
            catalog = f"sqlite:{project_root / Path(catalog.removeprefix('sqlite:')).expanduser()}"
        if not settings.is_remote:
            data_path = f"{project_root / Path(data_path).expanduser()}/"
        return WarehouseResource(
            catalog=catalog,
            data_path=data_path,
            catalog_password=_secret(self.catalog_password_env),
        )

    def gcore_resource(self) -> GcoreWaapResource:
        return GcoreWaapResource(
            api_key=dg.EnvVar(self.gcore_api_key_env),
            base_url=self.gcore_base_url,
            **self._http(self.gcore_http),
        )

    def accesswatch_resource(self) -> AccessWatchResource:
        return AccessWatchResource(
            api_key=dg.EnvVar(self.accesswatch_api_key_env),
            base_url=self.accesswatch_base_url,
            **self._http(self.accesswatch_http),
        )

    def appgate_resource(self) -> AppgateSdpResource:
        return AppgateSdpResource(
            base_url=dg.EnvVar(self.appgate_url_env),
            username=_secret(self.appgate_username_env),
            password=_secret(self.appgate_password_env),
            token=_secret(self.appgate_token_env),
            provider=self.appgate_provider,
            api_version=self.appgate_api_version,
            **self._http(self.appgate_http),
        )

    def _http(self, specific: HttpAttributes) -> dict[str, Any]:
        return {**self.http.given(), **specific.given()}

    def _variables(self) -> dict[str, str | None]:
        """Every `*_env` attribute by name: the variables that hold secrets."""
        return {
            name: getattr(self, name) for name in type(self).model_fields if name.endswith("_env")
        }


def _problems(
    model: type[BaseModel], values: Mapping[str, Any], attribute: str = "{}"
) -> list[tuple[str, str]]:
    """What `model` finds wrong with `values`, each field named as its attribute.

    `attribute` formats a field's name: "http.{}" for a nested block, or a plain name
    when the attribute is that one field.
    """
    try:
        validate_parameters(model, values, "attributes")
    except InvalidParameterError as error:
        return [(attribute.format(field), message) for field, message in error.problems]
    return []


def _secret(variable: str | None) -> str | None:
    """A secret's resource field: its variable's name as an EnvVar, or nothing."""
    return dg.EnvVar(variable) if variable else None
