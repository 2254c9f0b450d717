"""waap_sessions as a Dagster component, for projects that assemble definitions from defs.yaml.

    type: waap_sessions.component.WaapSessionsComponent
    attributes:
      catalog: sqlite:data/waap_catalog.sqlite
      data_path: data/waap_lake/
      automation:
        backfill_days: 7
        snapshot_cron: "*/5 * * * *"

Only settings go in the YAML. Credentials, the catalog password among them, stay in the
environment variables the README lists and are read through `dg.EnvVar` at run time: a
`{{ env.X }}` template would be resolved when the project loads and shown in the UI in
plain text.
"""

import os

import dagster as dg
from pydantic import Field, model_validator

from waap_sessions.automation import AutomationSettings
from waap_sessions.definitions import build_definitions
from waap_sessions.lake import (
    DEFAULT_CATALOG,
    DEFAULT_DATA_PATH,
    ENVIRONMENT_VARIABLES,
    LakeSettings,
)
from waap_sessions.models import validate_parameters
from waap_sessions.resources import WarehouseResource


class WaapSessionsComponent(dg.Component, dg.Model, dg.Resolvable):
    """The four session APIs loaded into checked DuckDB tables, kept fresh on a schedule."""

    catalog: str = Field(
        default=DEFAULT_CATALOG, description=LakeSettings.model_fields["catalog"].description
    )
    data_path: str = Field(
        default=DEFAULT_DATA_PATH, description=LakeSettings.model_fields["data_path"].description
    )
    automation: AutomationSettings = Field(
        default_factory=AutomationSettings, description="The clocks that keep the tables fresh."
    )

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        password = ENVIRONMENT_VARIABLES["catalog_password"]
        warehouse = WarehouseResource(
            catalog=self.catalog,
            data_path=self.data_path,
            catalog_password=dg.EnvVar(password) if os.environ.get(password) else None,
        )
        return build_definitions(warehouse, self.automation)

    @model_validator(mode="after")
    def _valid_lake(self) -> "WaapSessionsComponent":
        """A bad catalog or data path fails when the project loads, naming the attribute."""
        validate_parameters(
            LakeSettings, {"catalog": self.catalog, "data_path": self.data_path}, "lake settings"
        )
        return self
