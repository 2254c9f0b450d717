"""The public factory: the selected sources' assets, checks, automation and resources.

Modelled on dagster-fivetran's `build_fivetran_assets_definitions`: one call builds
everything for the sources a team has, shaped by a translator it may override.

    import dagster as dg
    from waap_sessions import build_waap_sessions_definitions

    defs = build_waap_sessions_definitions(sources=["gcore"], start_date="2026-11-01")

The result holds no executor, so it merges with any other `Definitions`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

import dagster as dg
from pydantic import BaseModel, ConfigDict, Field, field_validator

from waap_sessions.assets import BUILDERS, AssetOptions, op_name
from waap_sessions.automation import AutomationSettings, automation_attributes, build_automation
from waap_sessions.checks import build_checks
from waap_sessions.errors import InvalidParameterError
from waap_sessions.models import settings_from_env, validate_parameters
from waap_sessions.partitions import default_start_date, request_partitions
from waap_sessions.resources import (
    AccessWatchResource,
    AppgateSdpResource,
    GcoreWaapResource,
    WarehouseResource,
)
from waap_sessions.run_config import CONFIG_CLASSES
from waap_sessions.summaries import LINEAGE
from waap_sessions.translator import (
    Source,
    WaapSessionsTableProps,
    WaapSessionsTranslator,
    parse_sources,
    selected_tables,
)
from waap_sessions.warehouse import TABLES

# A range of partitions (a backfill, `--partition-range`) loads in one run by default.
DEFAULT_BACKFILL_POLICY = dg.BackfillPolicy.single_run()
# The variable each source's credentials start with: a source is selected by default
# when its variable is set.
CREDENTIAL_VARIABLES = {
    Source.GCORE: "GCORE_API_KEY",
    Source.ACCESSWATCH: "ACCESSWATCH_API_KEY",
    Source.APPGATE: "APPGATE_URL",
}
ENVIRONMENT_VARIABLES = {
    "sources": "WAAP_SOURCES",
    "start_date": "WAAP_START_DATE",
    "pool": "WAAP_POOL",
}


class SelectionSettings(BaseModel):
    """Which sources to load, from which day, in which pool: the environment's choices."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sources: frozenset[Source] | None = Field(
        default=None,
        description="Sources to load, comma-separated; default: each one whose credentials "
        "are set (all three when none is).",
    )
    start_date: date | None = Field(
        default=None,
        description="The first day of the request partitions; default: the backfill window's.",
    )
    pool: str | None = Field(
        default=None,
        pattern=r"^\S+$",  # Dagster's own rule for a pool's name
        description="The Dagster pool every asset runs in; none by default.",
    )

    @field_validator("sources", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            return parse_sources(value.split(","))
        return value

    @classmethod
    def from_env(cls) -> SelectionSettings:
        """WAAP_SOURCES, WAAP_START_DATE and WAAP_POOL; a bad value fails naming its variable."""
        return settings_from_env(cls, ENVIRONMENT_VARIABLES, "source selection")

    def selected_sources(self, environment: dict[str, str]) -> frozenset[Source]:
        """The sources named, or else those whose credentials `environment` sets, or else all."""
        if self.sources:
            return self.sources
        configured = {s for s, name in CREDENTIAL_VARIABLES.items() if environment.get(name)}
        return frozenset(configured or Source)


def build_waap_sessions_definitions(
    *,
    sources: Iterable[Source | str] = tuple(Source),
    translator: WaapSessionsTranslator | None = None,
    start_date: date | str | None = None,
    backfill_policy: dg.BackfillPolicy | None = DEFAULT_BACKFILL_POLICY,
    pool: str | None = None,
    automation: AutomationSettings | None = None,
    warehouse: WarehouseResource | None = None,
    gcore: GcoreWaapResource | None = None,
    accesswatch: AccessWatchResource | None = None,
    appgate: AppgateSdpResource | None = None,
) -> dg.Definitions:
    """The assets, checks, jobs, schedules, sensors and resources of the selected sources.

    - `sources`: any of "gcore", "accesswatch", "appgate". The summaries and checks
      follow: top_sessions needs gcore, active_sessions either snapshot source. An
      unselected source has no asset, check or schedule, and needs no credentials.
    - `translator`: shapes each asset's spec (keys, groups, owners, tags, kinds); the
      dependencies, checks and jobs follow the keys it gives.
    - `start_date`: the first day of the request partitions (default: the first day a
      new domain loads, `automation.backfill_days` before today).
    - `backfill_policy`, `pool`: how a partition range runs, and the pool that bounds runs.
    - The resources default to their `from_env()`; only the selected sources' are added.

        defs = build_waap_sessions_definitions(
            sources=["gcore", "appgate"],
            translator=MyTranslator(),
            start_date="2026-11-01",
            backfill_policy=dg.BackfillPolicy.multi_run(max_partitions_per_run=30),
        )
    """
    selected = parse_sources(sources)
    automation = automation or AutomationSettings()
    first_day = _start_date(start_date, automation)
    partitions = request_partitions(first_day)
    props = selected_tables(selected)
    specs = translated_specs(props, translator or WaapSessionsTranslator())
    asset_keys = {name: spec.key for name, spec in specs.items()}
    options = AssetOptions(
        backfill_policy=backfill_policy,
        pool=pool,
        run_configs={
            op_name(spec): CONFIG_CLASSES[name]
            for name, spec in specs.items()
            if name in CONFIG_CLASSES
        },
    )
    assets = [
        BUILDERS[prop.name](
            specs[prop.name].replace_attributes(
                partitions_def=partitions if prop.partitioned else None,
                **_unless_set(specs[prop.name], automation_attributes(prop.name, automation)),
            ),
            options,
        )
        for prop in props
    ]
    resources: dict[str, Any] = {"warehouse": warehouse or WarehouseResource.from_env()}
    if Source.GCORE in selected:
        resources["gcore"] = gcore or GcoreWaapResource.from_env()
    if Source.ACCESSWATCH in selected:
        resources["accesswatch"] = accesswatch or AccessWatchResource.from_env()
    if Source.APPGATE in selected:
        resources["appgate"] = appgate or AppgateSdpResource.from_env()
    return dg.Definitions.merge(
        dg.Definitions(assets=assets, asset_checks=build_checks(asset_keys), resources=resources),
        build_automation(automation, asset_keys, first_day).definitions(),
    )


def translated_specs(
    props: list[WaapSessionsTableProps], translator: WaapSessionsTranslator
) -> dict[str, dg.AssetSpec]:
    """Each table's spec as the translator gives it, its dependencies moved to the new keys.

    A dependency the translator added itself (say, on an asset of another integration)
    stays; those on contract tables are the factory's. The summaries' column lineage
    follows the new keys too, unless the translator set its own.
    """
    specs = {prop.name: translator.get_asset_spec(prop) for prop in props}
    keys = {name: spec.key for name, spec in specs.items()}
    doubled = sorted({key.to_user_string() for key in keys.values() if _count(keys, key) > 1})
    if doubled:
        raise InvalidParameterError(
            "translator", [("get_asset_spec", f"gave two tables the same key {doubled}")]
        )
    contract_keys = {dg.AssetKey(table.name) for table in TABLES}
    return {
        prop.name: specs[prop.name].replace_attributes(
            deps=[
                *(keys[upstream] for upstream in prop.upstream),
                *(
                    dep
                    for dep in specs[prop.name].deps
                    if dep.asset_key not in contract_keys and dep.asset_key not in keys.values()
                ),
            ],
            metadata={**column_lineage(prop.name, keys), **specs[prop.name].metadata},
        )
        for prop in props
    }


def column_lineage(table: str, keys: Mapping[str, dg.AssetKey]) -> dict[str, Any]:
    """`dagster/column_lineage` of a summary: the raw columns each column is computed from,
    on the raw tables' asset keys (`keys`, by table name); unselected tables are left out."""
    deps_by_column = {
        column: [
            dg.TableColumnDep(asset_key=keys[upstream], column_name=name)
            for upstream, names in sources.items()
            if upstream in keys
            for name in names
        ]
        for column, sources in LINEAGE.get(table, {}).items()
    }
    lineage = {column: deps for column, deps in deps_by_column.items() if deps}
    return {"dagster/column_lineage": dg.TableColumnLineage(lineage)} if lineage else {}


def _count(keys: dict[str, dg.AssetKey], key: dg.AssetKey) -> int:
    return sum(other == key for other in keys.values())


def _unless_set(spec: dg.AssetSpec, attributes: dict[str, Any]) -> dict[str, Any]:
    """The factory's automation attributes, except those the translator set itself."""
    return {name: value for name, value in attributes.items() if getattr(spec, name) is None}


def _start_date(value: date | str | None, automation: AutomationSettings) -> date:
    if value is None:
        return default_start_date(automation.backfill_days)
    if isinstance(value, date):
        return value
    settings = validate_parameters(SelectionSettings, {"start_date": value}, "partitions")
    assert settings.start_date is not None
    return settings.start_date
