"""An agent that joins and announces nothing, no track and no attribute, reaches the other
participants only in livekit-server's batch every 3 s. The doctor says so, for a room and
for a probe, and an agent that sets one attribute is not blamed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from livekit import api

from bench.stack import PLAIN_AGENT, start_plain_agent
from devstack.local_server import LiveKitServer
from devstack.processes import Process
from devstack.rooms import wait_for_agent
from devstack.waiting import free_port
from tests.support.clients import connected, plain_token
from tests.support.doctor_cli import doctor

pytestmark = pytest.mark.integration


@pytest.fixture
def plain(livekit_server: LiveKitServer, request: pytest.FixtureRequest) -> Iterator[Process]:
    worker = start_plain_agent(
        livekit_server, announce=getattr(request, "param", False), port=free_port()
    )
    yield worker
    worker.stop()


def flags(server: LiveKitServer, worker: Process) -> list[str]:
    assert server.log_path is not None
    port = worker.env["PLAIN_AGENT_PORT"]
    return [
        "--server-log", str(server.log_path),
        "--worker-url", f"http://127.0.0.1:{port}",
        "--agent-name", PLAIN_AGENT,
    ]  # fmt: skip


async def test_an_agent_in_the_room_that_announces_nothing(
    livekit_server: LiveKitServer, plain: Process, room_name: str
) -> None:
    async with connected(livekit_server, plain_token(livekit_server, room_name, "user")) as client:
        async with livekit_server.client() as lk:
            await lk.agent_dispatch.create_dispatch(
                api.CreateAgentDispatchRequest(agent_name=PLAIN_AGENT, room=room_name)
            )
            assert await wait_for_agent(lk, room_name, PLAIN_AGENT, 20) is not None
        await client.wait_for_agents(1)  # the person does see it, with the batch
        code, d = doctor(livekit_server, *flags(livekit_server, plain), "--room", room_name)
    assert code == 0, d["verdict"]
    assert d["cause"] == "agent_unannounced"
    assert "only in its batch every 3 s" in d["verdict"]
    assert all(c["status"] != "fail" for c in d["checks"])


async def test_a_probe_agent_that_announces_nothing(
    livekit_server: LiveKitServer, plain: Process
) -> None:
    code, d = doctor(livekit_server, *flags(livekit_server, plain), "--probe")
    assert code == 0, d["verdict"]
    assert d["cause"] == "probe_unannounced"
    probe = next(c for c in d["checks"] if c["key"] == "probe")
    assert "published no track and set no attribute" in probe["evidence"]


@pytest.mark.parametrize("plain", [True], indirect=True)
async def test_one_attribute_after_connecting_is_enough(
    livekit_server: LiveKitServer, plain: Process
) -> None:
    """The README's fix: the same agent, setting `lk.agent.state` right after connecting."""
    code, d = doctor(livekit_server, *flags(livekit_server, plain), "--probe")
    assert code == 0, d["verdict"]
    assert d["cause"] == "ok"
    assert d["evidence"]["probe"]["announced"] is True
