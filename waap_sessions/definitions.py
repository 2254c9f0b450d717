"""The waap_sessions code location, as `dagster dev` loads it through workspace.yaml.

Loading it reads configuration only: secrets stay `EnvVar`s until a run needs them, and
nothing here calls an API.
"""

import dagster as dg

from waap_sessions.resources import AccessWatchResource, AppgateSdpResource, GcoreWaapResource

defs = dg.Definitions(
    resources={
        "gcore": GcoreWaapResource.from_env(),
        "accesswatch": AccessWatchResource.from_env(),
        "appgate": AppgateSdpResource.from_env(),
    },
)
