"""The Access Watch client: current sessions, in agreement with the other APIs."""

from collections import Counter

import pytest

from waap_sessions.accesswatch import AccessWatchClient, Session
from waap_sessions.errors import AuthenticationError
from waap_sessions.models import unknown_fields
from waap_sessions_tests.conftest import fast_settings


def test_sessions_are_the_active_ones_most_recent_first(simulator, accesswatch):
    sessions = accesswatch.get_sessions(limit=1000)

    active = simulator.dataset.active_sessions(simulator.now())
    assert {s.id for s in sessions} == {s.session.id for s in active}
    updated = [s.updated for s in sessions]
    assert updated == sorted(updated, reverse=True)


def test_the_limit_is_respected(accesswatch):
    assert len(accesswatch.get_sessions(limit=3)) == 3


def test_sessions_agree_with_the_request_analytics(simulator, accesswatch):
    for session in accesswatch.get_sessions(limit=20):
        rows = [
            row
            for domain in simulator.dataset.domains
            for row in simulator.dataset.requests(domain.id)
            if row["session_id"] == session.id
        ]
        assert rows, "every Access Watch session is a session of the request analytics"
        assert session.count == len(rows)
        assert session.address.value == rows[-1]["client_ip"]
        assert session.address.country_code == rows[-1]["country"]


def test_nested_objects_are_parsed(accesswatch):
    sessions = accesswatch.get_sessions(limit=1000)

    assert {s.identity.type for s in sessions} >= {"browser", "robot"}
    assert all(s.robot is not None for s in sessions if s.identity.type == "robot")
    assert {s.reputation.status for s in sessions} <= {"nice", "ok", "suspicious", "bad"}
    assert any(s.user_agent and s.user_agent.agent and s.user_agent.agent.name for s in sessions)
    assert any(s.signature is None for s in sessions), "optional objects are sometimes absent"


def test_a_wrong_key_is_a_clear_error(simulator):
    settings = fast_settings(simulator.accesswatch_base_url)
    with (
        AccessWatchClient("wrong", settings) as client,
        pytest.raises(AuthenticationError) as caught,
    ):
        client.get_sessions(limit=5)
    assert caught.value.status == 401
    assert caught.value.path == "/1.1/sessions"
    assert len(simulator.request_log) == 1


def test_undocumented_fields_are_counted_and_kept_aside(simulator, accesswatch):
    simulator.faults.extra_fields = {"asn_org": "Example"}
    sessions = accesswatch.get_sessions(limit=3)

    assert accesswatch.schema_drift == Counter({"Session.asn_org": 3})
    assert sessions[0].model_extra == {"asn_org": "Example"}
    assert "asn_org" not in sessions[0].model_dump(exclude=set(sessions[0].model_extra or {}))


def test_undocumented_fields_are_found_in_nested_objects():
    session = Session.model_validate(
        {
            "id": "8efe0f2ac4767f4e1131f4d6a5186767",
            "count": 1,
            "identity": {"id": "i", "type": "browser", "trust": 3},
            "address": {"value": "192.0.2.1", "flags": ["vpn"], "asn_org": "Example"},
            "reputation": {"status": "ok", "threats": [], "score": 0.2},
            "user_agent": {"agent": {"name": "chrome", "engine": "blink"}},
        }
    )
    assert sorted(unknown_fields(session)) == [
        "Address.asn_org",
        "Agent.engine",
        "Identity.trust",
        "Reputation.score",
    ]
