"""A burst of rooms, each with a person already in it, dispatched at once: every one gets
its agent, with the worker in dev mode and in production (`start`) mode. livekit-agents'
production default (full at 0.7 of the CPU) lost most of such a burst."""

from __future__ import annotations

import uuid

import pytest

from bench.measure import Target, join_burst
from devstack.local_server import LiveKitServer
from devstack.processes import AgentWorker

pytestmark = pytest.mark.integration

BURST = 20


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
