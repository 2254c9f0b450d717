"""The baseline `bench.speed` runs: dlt's `rest_api` source loading Gcore request analytics.

Configured as a data team would write it for the Gcore API, with dlt's defaults wherever
the API does not force a choice: one resource per domain, each reading one UTC day with
the parameters the Gcore client sends (`start`, `end`, `domains`, `ordering=request_time`,
`limit=100`, offset paging until the `count` of matching rows), all into one table of a
DuckDB file, through dlt's parquet loader. The API key comes from GCORE_API_KEY, never
from the command line.

    GCORE_API_KEY=... python -m bench.dlt_baseline --base-url URL --day 2026-11-19 \\
        --domains 1001,1002 --duckdb out.duckdb --pipelines-dir pipelines/

`bench.speed` runs it in a process of its own and counts the rows it wrote.
"""

from __future__ import annotations

import argparse
import os
from datetime import date, timedelta

import dlt
from dlt.sources.rest_api import rest_api_source
from dlt.sources.rest_api.typing import RESTAPIConfig

DATASET = "gcore"
TABLE = "gcore_requests"


def gcore_config(base_url: str, api_key: str, day: date, domains: list[int]) -> RESTAPIConfig:
    """The rest_api configuration of one UTC day of `domains`, one resource per domain."""
    start, end = (f"{moment.isoformat()}T00:00:00.000Z" for moment in (day, day + timedelta(1)))
    return {
        "client": {
            "base_url": base_url,
            "auth": {
                "type": "api_key",
                "name": "Authorization",
                "api_key": f"APIKey {api_key}",
                "location": "header",
            },
            "paginator": {"type": "offset", "limit": 100, "total_path": "count"},
        },
        "resource_defaults": {"write_disposition": "append", "table_name": TABLE},
        "resources": [
            {
                "name": f"requests_{domain}",
                "endpoint": {
                    "path": "waap/v1/analytics/requests",
                    "params": {
                        "start": start,
                        "end": end,
                        "domains": domain,
                        "ordering": "request_time",
                    },
                    "data_selector": "results",
                },
            }
            for domain in domains
        ],
    }


def main(arguments: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--day", required=True, type=date.fromisoformat)
    parser.add_argument("--domains", required=True, help="comma-separated domain ids")
    parser.add_argument("--duckdb", required=True, help="the DuckDB file to load into")
    parser.add_argument("--pipelines-dir", required=True, help="dlt's working folder")
    options = parser.parse_args(arguments)
    domains = [int(domain) for domain in options.domains.split(",")]
    config = gcore_config(options.base_url, os.environ["GCORE_API_KEY"], options.day, domains)
    pipeline = dlt.pipeline(
        pipeline_name="gcore_bench",
        destination=dlt.destinations.duckdb(options.duckdb),
        dataset_name=DATASET,
        pipelines_dir=options.pipelines_dir,
    )
    info = pipeline.run(rest_api_source(config), loader_file_format="parquet")
    info.raise_on_failed_jobs()


if __name__ == "__main__":
    main()
