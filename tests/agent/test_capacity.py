"""A burst of rooms, each with a person already in it, dispatched at once: every one gets
its agent, with the worker in dev mode and in production (`start`) mode. livekit-agents'
production default (full at 0.7 of the CPU) lost most of such a burst. And a machine whose
CPU is saturated does not cost the stack's worker its jobs."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from livekit import api

from agent.load import MAX_REPORTED_LOAD
from bench.measure import Target, join_burst
from devstack.local_server import LiveKitServer
from devstack.processes import AgentWorker
from devstack.waiting import wait_until_async
from devstack.worker_health import fetch_worker_status
from tests.support.clients import connected, plain_token
from tests.support.saturation import every_core_busy

pytestmark = pytest.mark.integration

BURST = 20
FIXTURES = Path(__file__).resolve().parent / "fixtures"
FLOAT32 = 1e-6  # the health server's JSON carries the load as a float32


async def saturated_load(health_url: str) -> float:
    """The load the worker reports once it reads the machine as saturated: with every core
    busy for a few seconds livekit-agents' load reads 0.997-0.9998, above the stack's cap,
    so a capped worker then reports exactly the cap and an uncapped one more."""

    async def load() -> float | None:
        reported = (await fetch_worker_status(health_url)).load
        return reported if reported >= MAX_REPORTED_LOAD - FLOAT32 else None

    return await wait_until_async(load, timeout=30, what="the worker to read the CPU as busy")


@pytest.mark.parametrize("args", [(), ("--prod",)], ids=["dev", "start"])
async def test_a_burst_of_rooms_all_get_their_agent(
    livekit_server: LiveKitServer, args: tuple[str, ...]
) -> None:
    name = f"burst-{uuid.uuid4().hex[:6]}"
    worker = AgentWorker(livekit_server, name, *args)
    try:
        worker.wait_registered(timeout=90)
        target = Target(livekit_server.url, livekit_server.api_key, livekit_server.api_secret, name)
        rooms = [f"{name}-{i}" for i in range(BURST)]
        async with livekit_server.client() as lk:
            joins = await join_burst(target, lk, rooms)
        lost = {j.room: j.error for j in joins if not j.joined}
        assert lost == {}, f"{len(lost)} of {BURST} rooms got no agent: {lost}"
        assert "worker is at full capacity" not in worker.output
    finally:
        worker.stop()


async def test_on_a_saturated_machine_the_stack_s_worker_still_takes_a_dispatch(
    livekit_server: LiveKitServer, named_worker: AgentWorker, room_name: str
) -> None:
    """Every core busy, as a laptop's is in a burst: livekit-agents' load (the machine's CPU)
    reads 0.997 to 1.0, and livekit-server gives a worker at 1.0 no job. The stack's worker
    reports its cap, 0.99, instead (agent/load.py): that reading is what proves the cap,
    since the raw load reaches 1.0 only at times; and a dispatch made straight through the
    server API, with no watcher to re-issue it, brings its agent on the busy machine."""
    with every_core_busy():
        load = await saturated_load(named_worker.health_url)
        async with connected(
            livekit_server, plain_token(livekit_server, room_name, "user")
        ) as client:
            async with livekit_server.client() as lk:
                await lk.agent_dispatch.create_dispatch(
                    api.CreateAgentDispatchRequest(
                        agent_name=named_worker.agent_name, room=room_name
                    )
                )
            (agent,) = await client.wait_for_agents(1, timeout=30)
    assert load == pytest.approx(MAX_REPORTED_LOAD, abs=FLOAT32)
    assert agent.attributes["devstack.agent_name"] == named_worker.agent_name


async def test_your_agent_file_is_kept_below_one_on_a_saturated_machine(
    livekit_server: LiveKitServer,
) -> None:
    """AGENT_FILE that leaves livekit-agents' load function as it is: the stack caps it as
    it caps its own worker's (a load function of the file's own is kept, see test_load)."""
    worker = AgentWorker(
        livekit_server, "my-server-agent", AGENT_FILE=str(FIXTURES / "agent_server_style.py")
    )
    try:
        worker.wait_for_line("registered worker", timeout=60)  # livekit-agents' own line
        with every_core_busy():
            load = await saturated_load(worker.health_url)
    finally:
        worker.stop()
    assert load == pytest.approx(MAX_REPORTED_LOAD, abs=FLOAT32)
