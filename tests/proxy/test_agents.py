"""GET /api/agents lists every registered agent, whoever started its worker, and follows
registrations within a second or two; POST /api/switch-agent refuses a name nobody has."""

from __future__ import annotations

import time

import httpx
import pytest

from devstack.local_server import LiveKitServer
from devstack.processes import AgentWorker, Proxy
from devstack.waiting import wait_until
from tests.support.clients import connected, plain_token
from tests.support.seed_worker import SEED_AGENT, start_seed_worker

pytestmark = pytest.mark.integration


def listed(proxy: Proxy) -> dict[str, dict[str, object]]:
    body = httpx.get(f"{proxy.url}/api/agents", timeout=10).json()
    assert body["known"] is True
    return {a["agent_name"]: a for a in body["agents"]}


def test_a_worker_the_stack_did_not_start_comes_and_goes_in_the_list(
    livekit_server: LiveKitServer, named_worker: AgentWorker, proxy: Proxy
) -> None:
    """The seeds' interviewer run by hand: listed within 2 s of registering, gone within
    2 s of its exit; the stack's own worker is listed beside it as its own."""
    worker = start_seed_worker(livekit_server)
    registered = time.monotonic()
    try:
        wait_until(lambda: SEED_AGENT in listed(proxy), timeout=3, what="my-interviewer listed")
        appeared = time.monotonic() - registered
        agents = listed(proxy)
        assert agents[SEED_AGENT]["started_by_stack"] is False
        assert agents[named_worker.agent_name]["started_by_stack"] is True
        (seed,) = agents[SEED_AGENT]["workers"]  # type: ignore[misc]
        assert seed["worker_id"].startswith("AW_")
    finally:
        worker.stop()
    exited = time.monotonic()
    wait_until(lambda: SEED_AGENT not in listed(proxy), timeout=3, what="my-interviewer gone")
    gone = time.monotonic() - exited
    print(
        f"\nlisted {appeared * 1000:.0f} ms after registering, gone {gone * 1000:.0f} ms after exit"
    )


async def test_switch_to_a_name_nobody_registered_changes_nothing(
    livekit_server: LiveKitServer, named_worker: AgentWorker, proxy: Proxy, room_name: str
) -> None:
    """A switch to a typo is refused before anything happens, with the closest name."""
    async with connected(livekit_server, plain_token(livekit_server, room_name, "user")) as client:
        async with httpx.AsyncClient(base_url=proxy.url, timeout=30) as http:
            await http.post("/api/dispatch-agent", json={"room": room_name})
            (agent,) = await client.wait_for_agents(1)
            resp = await http.post(
                "/api/switch-agent",
                json={"room": room_name, "agent_name": named_worker.agent_name + "x"},
            )
        assert resp.status_code == 409
        assert resp.json()["error"] == "agent_not_registered"
        assert named_worker.agent_name in resp.json()["hint"]
        assert await client.agents_seen_within(3.0) == 1
        assert [a.identity for a in client.agents()] == [agent.identity]
