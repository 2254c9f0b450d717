"""The waap_sessions code location, as `dagster dev` loads it through workspace.yaml.

One call of the public factory, configured from the environment (see the README):
`WAAP_SOURCES` picks the sources, `WAAP_START_DATE` the first day, the `WAAP_*` clocks
the automation, and each source's variables its resource. Loading it reads
configuration only: secrets stay `EnvVar`s until a run needs them, and nothing here
calls an API. `WaapSessionsComponent` builds the same from a defs.yaml.
"""

import os

import dagster as dg

from waap_sessions.automation import AutomationSettings
from waap_sessions.factory import SelectionSettings, build_waap_sessions_definitions
from waap_sessions.resources import WarehouseResource


def definitions_from_env() -> dg.Definitions:
    """The factory's definitions as the environment configures them, run in process.

    One process per run: the HTTP work is bounded by the APIs' rate limits, not by cores,
    and runs of different partitions go in parallel. A deployment that outgrows one
    machine swaps this for its Kubernetes or Celery executor.
    """
    selection = SelectionSettings.from_env()
    return dg.Definitions.merge(
        build_waap_sessions_definitions(
            sources=selection.selected_sources(dict(os.environ)),
            start_date=selection.start_date,
            pool=selection.pool,
            automation=AutomationSettings.from_env(),
            warehouse=WarehouseResource.from_env(),
        ),
        dg.Definitions(executor=dg.in_process_executor),
    )


defs = definitions_from_env()
