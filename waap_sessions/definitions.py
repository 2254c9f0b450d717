"""The waap_sessions code location, as `dagster dev` loads it through workspace.yaml.

Loading it reads configuration only: secrets stay `EnvVar`s until a run needs them, and
nothing here calls an API. `WaapSessionsComponent` builds the same thing from a defs.yaml.
"""

import dagster as dg

from waap_sessions.assets import ASSETS
from waap_sessions.automation import AutomationSettings, build_automation, with_automation
from waap_sessions.checks import CHECKS
from waap_sessions.resources import (
    AccessWatchResource,
    AppgateSdpResource,
    GcoreWaapResource,
    WarehouseResource,
)


def build_definitions(
    warehouse: WarehouseResource, automation: AutomationSettings
) -> dg.Definitions:
    """The six tables, their checks and their automation; the APIs configured from the
    environment (see the README), the warehouse and the clocks as given."""
    return dg.Definitions.merge(
        dg.Definitions(
            assets=with_automation(ASSETS, automation),
            asset_checks=CHECKS,
            resources={
                "gcore": GcoreWaapResource.from_env(),
                "accesswatch": AccessWatchResource.from_env(),
                "appgate": AppgateSdpResource.from_env(),
                "warehouse": warehouse,
            },
            # One process per run: the HTTP work is bounded by the APIs' rate limits, not
            # by cores, and runs of different partitions go in parallel. A deployment that
            # outgrows one machine swaps this for its Kubernetes or Celery executor.
            executor=dg.in_process_executor,
        ),
        build_automation(automation).definitions(),
    )


defs = build_definitions(WarehouseResource.from_env(), AutomationSettings.from_env())
