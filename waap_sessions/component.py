"""waap_sessions as a Dagster component, for projects that assemble definitions from defs.yaml.

    type: waap_sessions.component.WaapSessionsComponent
    attributes:
      duckdb_path: data/waap_sessions.duckdb
      automation:
        backfill_days: 7
        snapshot_cron: "*/5 * * * *"

Only settings go in the YAML. Credentials stay in the environment variables the README
lists and are read through `dg.EnvVar` at run time: a `{{ env.X }}` template would be
resolved when the project loads and shown in the UI in plain text.
"""

import dagster as dg
from pydantic import Field

from waap_sessions.automation import AutomationSettings
from waap_sessions.definitions import build_definitions
from waap_sessions.resources import DEFAULT_DUCKDB_PATH, WarehouseResource


class WaapSessionsComponent(dg.Component, dg.Model, dg.Resolvable):
    """The four session APIs loaded into checked DuckDB tables, kept fresh on a schedule."""

    duckdb_path: str = Field(
        default=DEFAULT_DUCKDB_PATH, description="The DuckDB file, or a MotherDuck `md:` URL."
    )
    automation: AutomationSettings = Field(
        default_factory=AutomationSettings, description="The clocks that keep the tables fresh."
    )

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        return build_definitions(WarehouseResource(database=self.duckdb_path), self.automation)
