"""The simulator's faults of answers that come short, slow or late, seen with plain httpx."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from waap_sessions.simulator import Simulator

DOMAINS = "/waap/v1/domains"


@pytest.fixture
def raw(simulator: Simulator) -> Iterator[httpx.Client]:
    """Plain httpx with Gcore's key: what the simulator sends, byte for byte."""
    headers = {"Authorization": f"APIKey {simulator.config.gcore_api_key}"}
    with httpx.Client(base_url=simulator.base_url, headers=headers, timeout=10) as client:
        yield client


def test_a_short_body_is_a_whole_http_message_with_half_the_json(
    simulator: Simulator, raw: httpx.Client
) -> None:
    whole = raw.get(DOMAINS).content
    simulator.faults.short_body_rate = 1.0
    short = raw.get(DOMAINS)  # no transport error: the message itself is complete
    assert short.status_code == 200
    assert short.headers["content-length"] == str(len(short.content))
    assert short.content == whole[: len(whole) // 2]
    with pytest.raises(json.JSONDecodeError):
        json.loads(short.content)


def test_a_trickling_body_outlasts_every_read_timeout_but_comes_whole(
    simulator: Simulator, raw: httpx.Client
) -> None:
    whole = raw.get(DOMAINS, params={"limit": 1}).content
    simulator.faults.trickle_rate, simulator.faults.trickle_bytes_per_s = 1.0, len(whole) / 2.5
    # Each read gets bytes every 0.1 s or so, though the body takes about 2.5 s.
    with httpx.Client(
        base_url=simulator.base_url,
        headers=raw.headers,
        timeout=httpx.Timeout(1.0, connect=5),
    ) as client:
        answer = client.get(DOMAINS, params={"limit": 1})
    assert answer.content == whole
    assert answer.elapsed.total_seconds() >= 2.0


def test_a_latency_spike_outlasts_a_read_timeout(simulator: Simulator, raw: httpx.Client) -> None:
    simulator.faults.spike_rate, simulator.faults.spike_s = 1.0, 3.0
    with pytest.raises(httpx.ReadTimeout):
        raw.get(DOMAINS, timeout=httpx.Timeout(0.5, connect=5))
    simulator.faults.spike_rate = 0.0
    assert raw.get(DOMAINS, timeout=httpx.Timeout(0.5, connect=5)).status_code == 200
