"""Run config: each asset's settings, and the whole run's checked before anything happens.

Dagster checks a run's config against each op's schema when the run is launched, but
the rules a `Config` class adds (`top_ips` from 1 to 1,000) only when that op's step
starts: a bad `top_ips` failed after gcore_requests had fetched and rewritten its
partition. So every API asset's step first validates the config of every op of the run
against its class (`check_run_config`): whichever step starts first refuses a bad value
of any op, before a request is sent or a row written. The ops take their config schema
from the classes (`to_fields_dict()`) and build the object themselves (`run_settings`),
so their own bad value fails in the same one line, not in pydantic's multi-line message.
"""

from collections.abc import Mapping
from typing import Any, TypeVar

import dagster as dg
from pydantic import Field

from waap_sessions.accesswatch import MAX_SESSIONS
from waap_sessions.errors import InvalidParameterError
from waap_sessions.models import validate_parameters
from waap_sessions.warehouse import ACCESSWATCH_SESSIONS, GCORE_IP_TOP_SESSIONS, GCORE_REQUESTS

ConfigT = TypeVar("ConfigT", bound=dg.Config)


class RequestsConfig(dg.Config):
    """Whether to read again past partitions the API says have not changed."""

    reload_unchanged: bool = Field(
        default=False,
        description=(
            "Reload a past day even when the API's count of its requests still matches the "
            "rows stored (normally one request proves it unchanged and it is kept)."
        ),
    )


class TopSessionsConfig(dg.Config):
    """How many of a partition's busiest IPs to look up in IP Spotlight."""

    top_ips: int = Field(
        default=10, ge=1, le=1000, description="The busiest IPs looked up, 1 to 1,000."
    )


class SnapshotConfig(dg.Config):
    """How many Access Watch sessions one snapshot asks for."""

    limit: int = Field(
        default=MAX_SESSIONS,
        ge=1,
        le=MAX_SESSIONS,
        description=f"Sessions asked for, 1 to {MAX_SESSIONS:,} (the API's most).",
    )


# The config class of each table's asset, for those that take one.
CONFIG_CLASSES: dict[str, type[dg.Config]] = {
    GCORE_REQUESTS.name: RequestsConfig,
    GCORE_IP_TOP_SESSIONS.name: TopSessionsConfig,
    ACCESSWATCH_SESSIONS.name: SnapshotConfig,
}


def check_run_config(run_config: Mapping[str, Any], classes: Mapping[str, type[dg.Config]]) -> None:
    """Validate each op's config in `run_config` against its class (`classes`, by op name).

    Raises InvalidParameterError naming every bad setting by its place in the run config,
    with its value and the rule, e.g. `ops.gcore_ip_top_sessions.config.top_ips: Input
    should be greater than or equal to 1 (got 0)`.
    """
    ops = run_config.get("ops") or {}
    problems: list[tuple[str, str]] = []
    for op, config_class in classes.items():
        entry = ops.get(op)
        if not isinstance(entry, Mapping):
            continue
        try:
            validate_parameters(config_class, entry.get("config") or {}, "run config")
        except InvalidParameterError as error:
            problems += [(f"ops.{op}.config.{name}", rule) for name, rule in error.problems]
    if problems:
        raise InvalidParameterError("run config", problems)


def run_settings(
    context: dg.AssetExecutionContext,
    classes: Mapping[str, type[dg.Config]],
    config_class: type[ConfigT],
) -> ConfigT:
    """The step's own settings, once the whole run's config passed `check_run_config`."""
    check_run_config(context.run.run_config, classes)
    return validate_parameters(
        config_class, context.op_execution_context.op_config or {}, "run config"
    )
