"""Staged request pages: DuckDB reads back the rows staged, and a killed run leaves no file."""

import signal
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from waap_sessions.gcore import RequestSummary
from waap_sessions.staging import staged_requests
from waap_sessions.warehouse import GCORE_REQUESTS

DAY = date(2026, 11, 19)
LOADED_AT = datetime(2026, 11, 20, 0, 5, tzinfo=UTC)


def request(number: int, **fields: object) -> RequestSummary:
    """A request as the API could send it, `fields` changed."""
    values: dict[str, object] = {
        "id": f"{number:032x}-{number:06d}",
        "path": "/login's page",
        "client_ip": "192.0.2.1",
        "method": "POST",
        "rule_name": "",
        "country": "FR",
        "action": "",
        "rule_id": "",
        "domain": "shop.example.com",
        "domain_id": 17522,
        "user_agent": "curl/8.5",
        "user_agent_client": "curl",
        "organization": "Example",
        "request_time": 1_795_046_791_770 + number,
        "reference_id": "",
        "status_code": 200,
        "result": "passed",
        "traffic_types": "legit",
        "decision": "passed",
        "optional_action": "",
        **fields,
    }
    return RequestSummary.model_validate(values)


def test_duckdb_reads_back_exactly_the_rows_staged(tmp_path):
    pages = [[request(1), request(2, ja3="abc", session_id="f" * 32)], [], [request(3)]]
    with staged_requests(str(tmp_path)) as staged, duckdb.connect() as connection:
        for page in pages:
            staged.add(page)
        selected = staged.as_rows(DAY, LOADED_AT)
        rows = connection.execute(f"{selected.sql} ORDER BY id").fetchall()

    assert selected.num_rows == 3
    by_column = [dict(zip(GCORE_REQUESTS.column_names, row, strict=True)) for row in rows]
    assert [row["id"] for row in by_column] == [request(n).id for n in (1, 2, 3)]
    assert {row["day"] for row in by_column} == {DAY}
    assert {row["loaded_at"] for row in by_column} == {LOADED_AT}
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    assert by_column[0]["request_time"] == epoch + timedelta(milliseconds=request(1).request_time)
    assert by_column[0]["path"] == "/login's page"
    assert (by_column[0]["ja3"], by_column[1]["ja3"]) == ("", "abc")  # the model's default
    assert by_column[1]["session_id"] == "f" * 32


STAGE_THEN_WAIT = """
import sys, time
from waap_sessions.staging import staged_requests
from waap_sessions_tests.test_staging import request

with staged_requests(sys.argv[1]) as staged:
    staged.add([request(n) for n in range(2000)])
    print("staged", flush=True)
    time.sleep(60)
"""


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="unnamed files need procfs")
def test_a_run_killed_while_staging_leaves_no_file_behind(tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-c", STAGE_THEN_WAIT, str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "staged"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)

    assert process.returncode == -signal.SIGKILL
    assert list(tmp_path.iterdir()) == []
