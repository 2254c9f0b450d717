"""Gcore's official Python client, pointed at the simulator, understands its answers.

Proof that the simulator speaks Gcore's dialect, independently of our own client.
"""

import warnings
from datetime import timedelta

from gcore import Gcore

from waap_sessions_tests.conftest import CONFIG, YESTERDAY


def official_client(simulator) -> Gcore:
    return Gcore(api_key=CONFIG.gcore_api_key, base_url=simulator.base_url, max_retries=0)


def test_request_analytics_parse_and_page_with_the_official_client(simulator):
    domain = simulator.dataset.domains[0]
    start, end = YESTERDAY, YESTERDAY + timedelta(hours=6)
    expected = {
        row["id"]
        for row in simulator.dataset.requests(domain.id)
        if int(start.timestamp() * 1000) <= row["request_time"] < int(end.timestamp() * 1000)
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # Gcore deprecates v1 analytics
        page = official_client(simulator).waap.analytics.get_requests(
            start=start.isoformat(), end=end.isoformat(), domains=[domain.id], limit=100
        )
        # The official auto-pager follows `count` as the total, as Gcore's API reports it.
        ids = [row.id for row in page]

    assert len(expected) > 100
    assert sorted(ids) == sorted(expected)
    assert page.results[0].domain_id == domain.id


def test_top_sessions_parse_with_the_official_client(simulator):
    domain = simulator.dataset.domains[0]
    rows = simulator.dataset.requests(domain.id)
    ip = max(
        {row["client_ip"] for row in rows}, key=lambda ip: sum(r["client_ip"] == ip for r in rows)
    )

    sessions = official_client(simulator).waap.ip_info.get_top_user_sessions(
        domain_id=domain.id, ip=ip
    )

    assert 1 <= len(sessions) <= 10
    assert all(session.requests > 0 and session.duration >= 0 for session in sessions)
    assert sessions[0].start_time.tzinfo is not None


def test_domains_parse_with_the_official_client(simulator):
    listed = list(official_client(simulator).waap.domains.list())
    assert [domain.id for domain in listed] == [domain.id for domain in simulator.dataset.domains]
