"""How each table of the contract becomes a Dagster asset, and how a user reshapes it.

As with dagster-fivetran's `DagsterFivetranTranslator` and dagster-dlt's
`DagsterDltTranslator`, the factory asks a translator for each table's `AssetSpec`. The
default one names each asset after its table; a subclass renames keys, adds a prefix,
moves groups, sets owners, tags and kinds:

    class MyTranslator(WaapSessionsTranslator):
        def get_asset_spec(self, props: WaapSessionsTableProps) -> dg.AssetSpec:
            spec = super().get_asset_spec(props)
            return spec.replace_attributes(key=spec.key.with_prefix("security"), owners=["me@x.io"])

What the factory owns stays its own: partitions, dependencies between the tables (they
follow the translated keys), checks and automation (they follow them too).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import dagster as dg

# TableMetadataSet is the typed way to write Dagster's `dagster/column_schema`,
# `dagster/table_name` and `dagster/row_count` keys; dagster exports it only from here.
from dagster._core.definitions.metadata.metadata_set import TableMetadataSet

from waap_sessions.errors import InvalidParameterError
from waap_sessions.lake import LAKE
from waap_sessions.warehouse import (
    ACCESSWATCH_SESSIONS,
    ACTIVE_SESSIONS,
    APPGATE_ACTIVE_SESSIONS,
    GCORE_IP_TOP_SESSIONS,
    GCORE_REQUESTS,
    TOP_SESSIONS,
    Table,
)

DEFAULT_GROUP = "waap_sessions"


class Source(StrEnum):
    """An API the integration loads from.

    Its plain value works wherever a Source does:

        defs = build_waap_sessions_definitions(sources=[Source.GCORE, "appgate"])
        assert Source("accesswatch") is Source.ACCESSWATCH
    """

    GCORE = "gcore"
    ACCESSWATCH = "accesswatch"
    APPGATE = "appgate"


@dataclass(frozen=True)
class WaapSessionsTableProps:
    """What a translator knows of one table: its declaration and where its rows come from.

    `sources` are the selected APIs the table is loaded or computed from; `upstream`
    names the selected tables it is computed from (their assets are its dependencies).

        class ByKind(WaapSessionsTranslator):
            def get_asset_spec(self, props: WaapSessionsTableProps) -> dg.AssetSpec:
                spec = super().get_asset_spec(props)
                group = "waap_summaries" if props.summary else "waap_raw"
                return spec.replace_attributes(group_name=group)
    """

    table: Table
    sources: frozenset[Source]
    upstream: tuple[str, ...]
    partitioned: bool
    summary: bool

    @property
    def name(self) -> str:
        return self.table.name


@dataclass(frozen=True)
class _Lineage:
    table: Table
    sources: frozenset[Source]
    upstream: tuple[Table, ...]
    partitioned: bool
    summary: bool


# Every table, in load order: which sources feed it and which tables it is computed from.
_LINEAGE: tuple[_Lineage, ...] = (
    _Lineage(GCORE_REQUESTS, frozenset({Source.GCORE}), (), partitioned=True, summary=False),
    _Lineage(
        GCORE_IP_TOP_SESSIONS,
        frozenset({Source.GCORE}),
        (GCORE_REQUESTS,),
        partitioned=True,
        summary=False,
    ),
    _Lineage(
        ACCESSWATCH_SESSIONS, frozenset({Source.ACCESSWATCH}), (), partitioned=False, summary=False
    ),
    _Lineage(
        APPGATE_ACTIVE_SESSIONS, frozenset({Source.APPGATE}), (), partitioned=False, summary=False
    ),
    _Lineage(
        TOP_SESSIONS, frozenset({Source.GCORE}), (GCORE_REQUESTS,), partitioned=True, summary=True
    ),
    _Lineage(
        ACTIVE_SESSIONS,
        frozenset({Source.ACCESSWATCH, Source.APPGATE}),
        (ACCESSWATCH_SESSIONS, APPGATE_ACTIVE_SESSIONS),
        partitioned=False,
        summary=True,
    ),
)


def parse_sources(values: Iterable[str | Source], setting: str = "sources") -> frozenset[Source]:
    """The sources named in `values`; an unknown or empty selection fails naming `setting`."""
    names = [str(value).strip().lower() for value in values if str(value).strip()]
    known = [source.value for source in Source]
    unknown = [name for name in names if name not in known]
    if unknown or not names:
        got = f" (got {', '.join(repr(name) for name in unknown)})" if unknown else ""
        raise InvalidParameterError(
            "sources", [(setting, f"must name one or more of {', '.join(known)}{got}")]
        )
    return frozenset(Source(name) for name in names)


def selected_tables(sources: Iterable[Source]) -> list[WaapSessionsTableProps]:
    """The props of every table the sources feed, in load order.

    A summary fed by several sources stays while any of them is selected, computed from
    the selected ones' tables.
    """
    chosen = frozenset(sources)
    props = []
    for lineage in _LINEAGE:
        feeding = lineage.sources & chosen
        if not feeding:
            continue
        upstream = tuple(
            table.name
            for table in lineage.upstream
            if any(item.table is table and item.sources & chosen for item in _LINEAGE)
        )
        props.append(
            WaapSessionsTableProps(
                table=lineage.table,
                sources=feeding,
                upstream=upstream,
                partitioned=lineage.partitioned,
                summary=lineage.summary,
            )
        )
    return props


def table_metadata(
    table: Table, row_count: int | None = None, partition_row_count: int | None = None
) -> dict[str, Any]:
    """Dagster's table metadata: column schema, qualified table name and row counts."""
    return dict(
        TableMetadataSet(
            column_schema=table.column_schema(),
            table_name=f"{LAKE}.main.{table.name}",
            row_count=row_count,
            partition_row_count=partition_row_count,
        )
    )


class WaapSessionsTranslator:
    """Turns each table's props into the `AssetSpec` of its asset; subclass to reshape.

    Example (a prefix and another owner for every asset):

        class Prefixed(WaapSessionsTranslator):
            def get_asset_spec(self, props):
                spec = super().get_asset_spec(props)
                return spec.replace_attributes(
                    key=spec.key.with_prefix("waap"), owners=["team:security"]
                )

        defs = build_waap_sessions_definitions(translator=Prefixed(), ...)
    """

    def get_asset_spec(self, props: WaapSessionsTableProps) -> dg.AssetSpec:
        """The default: the table's name as key, its description and column schema."""
        return dg.AssetSpec(
            key=dg.AssetKey(props.name),
            description=props.table.description,
            group_name=DEFAULT_GROUP,
            owners=["team:data-platform"],
            kinds={"sql", "duckdb"} if props.summary else {*props.sources, "duckdb"},
            metadata=table_metadata(props.table),
            deps=[dg.AssetKey(name) for name in props.upstream],
        )
