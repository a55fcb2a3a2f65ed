"""The causes that need a fault of their own: bad tokens, a URL that is not a LiveKit
server, an unnamed or full worker, an agent that left. Each is the real CLI
against the real server, with the fault made for real."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
import pytest
from livekit import api

from devstack.local_server import LiveKitServer
from devstack.processes import AgentWorker, Proxy
from devstack.tokens import mint_token
from devstack.waiting import wait_until, wait_until_async
from doctor.probe import run_probe
from tests.support.clients import connected, plain_token
from tests.support.doctor_cli import doctor

pytestmark = pytest.mark.integration


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def token_for(server: LiveKitServer, *, secret: str | None = None, ttl_s: int = 600) -> str:
    return mint_token(
        api_key=server.api_key,
        api_secret=secret or server.api_secret,
        room="doctor-token-room",
        identity="user",
        ttl=timedelta(seconds=ttl_s),
    )


@pytest.mark.parametrize(
    ("make_token", "cause", "words"),
    [
        (lambda s: "not-a-jwt", "token_invalid", "3 dot-separated parts"),
        (lambda s: token_for(s, ttl_s=-120), "token_expired", "expired"),
        (lambda s: token_for(s, secret="another-secret"), "token_bad_signature", "signature"),
    ],
)
def test_doctor_bad_tokens(
    livekit_server: LiveKitServer,
    named_worker: AgentWorker,
    make_token: object,
    cause: str,
    words: str,
) -> None:
    """A token the client cannot join with is named before anything about agents."""
    token = make_token(livekit_server)  # type: ignore[operator]
    code, d = doctor(livekit_server, "--token", token, "--worker-url", named_worker.health_url)
    assert code == 1
    assert d["cause"] == cause and words in d["verdict"]
    assert next(c for c in d["checks"] if c["key"] == "token")["status"] == "fail"


def test_doctor_url_that_is_not_a_livekit_server(
    livekit_server: LiveKitServer, proxy: Proxy, named_worker: AgentWorker
) -> None:
    """LIVEKIT_URL pointing at some other HTTP server: it answers, but refuses the API."""
    other = LiveKitServer(runtime="binary", port=proxy.port, tcp_port=0, udp_port=0)
    code, d = doctor(other, "--worker-url", named_worker.health_url)
    assert code == 1
    assert d["cause"] == "server_refused" and "HTTP 404" in d["verdict"]


def test_doctor_room_that_does_not_exist_and_the_healthy_case(
    livekit_server: LiveKitServer, named_worker: AgentWorker
) -> None:
    """No room by that name: not blocking. No room asked: everything checks out."""
    flags = ["--agent-name", named_worker.agent_name, "--worker-url", named_worker.health_url]
    code, d = doctor(livekit_server, "--room", unique("nobody-here"), *flags)
    assert code == 0 and d["cause"] == "no_room"
    code, d = doctor(livekit_server, *flags)
    assert code == 0 and d["cause"] == "ok"
    assert {c["status"] for c in d["checks"]} == {"pass"}


def test_doctor_unnamed_worker_never_gets_a_named_dispatch(livekit_server: LiveKitServer) -> None:
    """An unnamed worker takes automatic dispatch only: asking for a name is explained."""
    worker = AgentWorker(livekit_server, "")
    try:
        worker.wait_registered()
        code, d = doctor(
            livekit_server, "--agent-name", "my-interviewer", "--worker-url", worker.health_url
        )
    finally:
        worker.stop()
    assert code == 1
    assert d["cause"] == "worker_unnamed" and "LIVEKIT_AGENT_NAME=my-interviewer" in d["verdict"]


async def test_doctor_full_worker_and_a_pending_dispatch(
    livekit_server: LiveKitServer, room_name: str
) -> None:
    """A worker at its load threshold takes no job: a fresh dispatch is pending, and with
    the threshold known (and a probe that gets no agent) the doctor names it full."""
    name = unique("full-worker")
    threshold = "0.000001"  # any CPU use at all counts as full
    worker = AgentWorker(livekit_server, name, AGENT_LOAD_THRESHOLD=threshold)
    flags = ["--room", room_name, "--agent-name", name, "--worker-url", worker.health_url]
    try:
        worker.wait_registered()
        # The worker tells the server it is full on its next status update, and says so.
        worker.wait_for_line("worker is at full capacity", timeout=30)
        async with connected(livekit_server, plain_token(livekit_server, room_name, "user")):
            async with livekit_server.client() as lk:
                await lk.agent_dispatch.create_dispatch(
                    api.CreateAgentDispatchRequest(agent_name=name, room=room_name)
                )
            code_pending, pending = doctor(livekit_server, *flags)
            code, d = doctor(
                livekit_server, *flags, "--load-threshold", threshold, "--probe",
                "--probe-timeout", "4",
            )  # fmt: skip
    finally:
        worker.stop()
    assert code_pending == 0 and pending["cause"] == "dispatch_pending"
    assert code == 1
    assert d["cause"] == "worker_full", d["verdict"]
    assert d["evidence"]["probe"]["joined"] is False  # the fault is real: no job was taken
    assert f"room={room_name}" not in worker.output


async def test_doctor_agent_that_left(
    livekit_server: LiveKitServer, named_worker: AgentWorker, proxy: Proxy, room_name: str
) -> None:
    """The agent joined and was removed: its dispatch has a job, but nobody is in the room."""
    async with connected(livekit_server, plain_token(livekit_server, room_name, "user")) as client:
        httpx.post(f"{proxy.url}/api/dispatch-agent", json={"room": room_name}, timeout=10)
        (agent,) = await client.wait_for_agents(1)
        async with livekit_server.client() as lk:

            async def job_recorded() -> bool:
                dispatches = await lk.agent_dispatch.list_dispatch(room_name)
                return any(d.state.jobs for d in dispatches)

            # The job appears in the dispatch's state a moment after the agent joined.
            await wait_until_async(job_recorded, timeout=20, what="the dispatch's job")
            await lk.room.remove_participant(
                api.RoomParticipantIdentity(room=room_name, identity=agent.identity)
            )
        await client.wait_for_no_agents()
        code, d = doctor(
            livekit_server,
            "--room", room_name, "--agent-name", named_worker.agent_name,
            "--worker-url", named_worker.health_url,
        )  # fmt: skip
    assert code == 1
    assert d["cause"] == "agent_left" and "joined and left" in d["verdict"]


async def test_probe_ends_the_agents_job_cleanly(
    livekit_server: LiveKitServer, named_worker: AgentWorker
) -> None:
    """The probe closes its room only once the agent has started: the job ends with
    'room disconnected', and no traceback lands in the worker's log."""
    first_line = len(named_worker.lines)
    async with livekit_server.client() as lk:
        probe = await run_probe(lk, named_worker.agent_name, timeout=20)
    assert probe.joined

    def job_ended() -> bool:
        return any(
            "job ended" in line and f"room={probe.room}" in line
            for line in named_worker.lines[first_line:]
        )

    wait_until(job_ended, timeout=20, what="the probe job to end")
    since = "\n".join(named_worker.lines[first_line:])
    for crash in ("Traceback", "StreamError", "PublishTrackError"):
        assert crash not in since, since[-3000:]
