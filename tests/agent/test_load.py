"""The load a worker reports (agent/load.py): below 1.0 whatever the CPU reads, so that
livekit-server, which gives a worker at 1.0 no job, never drops a dispatch for it; and a
load function of the user's own is left alone."""

from __future__ import annotations

import pytest
from livekit.agents import AgentServer

from agent.load import MAX_REPORTED_LOAD, capped, uses_default_load

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("cpu", [0.0, 0.42, 0.989])
def test_a_load_below_the_cap_is_reported_as_it_is(cpu: float) -> None:
    assert capped(cpu) == cpu


@pytest.mark.parametrize("cpu", [0.99, 0.9998, 1.0])
def test_a_saturated_cpu_is_reported_below_one(cpu: float) -> None:
    assert capped(cpu) == MAX_REPORTED_LOAD < 1.0


def test_only_livekit_agents_default_load_is_replaced() -> None:
    assert uses_default_load(AgentServer())
    assert not uses_default_load(AgentServer(load_fnc=lambda: 0.3))
