"""The load a worker reports (agent/load.py): below 1.0 whatever the CPU reads, so that
livekit-server, which gives a worker at 1.0 no job, never drops a dispatch for it; and a
load function of the user's own is left alone."""

from __future__ import annotations

import re

import pytest
from livekit.agents import AgentServer

from agent.load import MAX_REPORTED_LOAD, capped, uses_default_load
from devstack.processes import ROOT

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


def test_the_stack_s_server_offers_jobs_to_a_worker_at_the_cap() -> None:
    """livekit-server offers a job request only to a node whose workers score target_load
    minus load above 0 (JobRequestAffinity): with its default of 0.7, a worker at the cap
    would never be asked. livekit.yaml keeps target_load above the cap."""
    config = (ROOT / "livekit.yaml").read_text()
    found = re.search(r"^agents:\n(?:\s+#.*\n)*\s+target_load: ([0-9.]+)$", config, re.M)
    assert found, "livekit.yaml sets no agents.target_load"
    assert float(found[1]) > MAX_REPORTED_LOAD
