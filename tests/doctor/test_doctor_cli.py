"""`devstack doctor` names the right cause for each way an agent fails to join, run as
the real CLI against the real server and real worker processes."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid

import httpx
import pytest
from livekit import api

from devstack.local_server import LiveKitServer
from devstack.processes import ROOT, AgentWorker, Proxy
from devstack.rooms import UNTAKEN_AFTER_SECONDS
from devstack.waiting import free_port, wait_until
from tests.support.clients import connected, plain_token
from tests.support.doctor_cli import doctor
from tests.support.server_log import wait_for_job_given_up

pytestmark = pytest.mark.integration


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


async def test_doctor_no_dispatch_for_named_worker(
    livekit_server: LiveKitServer, named_worker: AgentWorker, room_name: str
) -> None:
    """A client alone in a room with a named worker: 'never dispatched'."""
    async with connected(livekit_server, plain_token(livekit_server, room_name, "user")):
        code, d = doctor(
            livekit_server,
            "--room",
            room_name,
            "--agent-name",
            named_worker.agent_name,
            "--worker-url",
            named_worker.health_url,
        )
    assert code == 1
    assert d["cause"] == "not_dispatched"
    assert (
        named_worker.agent_name in d["verdict"] and "never dispatched automatically" in d["verdict"]
    )


async def test_doctor_name_mismatch(
    livekit_server: LiveKitServer, named_worker: AgentWorker, proxy: Proxy, room_name: str
) -> None:
    """Dispatching a name the worker does not have: both names in the verdict."""
    wrong = unique("attar-travel-assistant")
    async with connected(livekit_server, plain_token(livekit_server, room_name, "user")):
        httpx.post(
            f"{proxy.url}/api/dispatch-agent",
            json={"room": room_name, "agent_name": wrong},
            timeout=10,
        )
        code, d = doctor(
            livekit_server,
            "--room",
            room_name,
            "--agent-name",
            wrong,
            "--worker-url",
            named_worker.health_url,
        )
    assert code == 1
    assert d["cause"] == "name_mismatch"
    assert wrong in d["verdict"] and named_worker.agent_name in d["verdict"]


async def test_doctor_token_dispatch_into_existing_room(
    livekit_server: LiveKitServer, named_worker: AgentWorker, proxy: Proxy, room_name: str
) -> None:
    """A token with room config, used on a room that already existed: 'ignored'."""
    async with livekit_server.client() as lk:
        await lk.room.create_room(api.CreateRoomRequest(name=room_name, empty_timeout=60))
    token = httpx.post(
        f"{proxy.url}/api/token", json={"room": room_name, "dispatch": "token"}, timeout=10
    ).json()["token"]
    async with connected(livekit_server, token):
        code, d = doctor(
            livekit_server,
            "--token",
            token,
            "--agent-name",
            named_worker.agent_name,
            "--worker-url",
            named_worker.health_url,
        )
    assert code == 1
    assert d["cause"] == "token_ignored_room_existed"
    assert f"room `{room_name}` already existed" in d["verdict"]
    assert d["evidence"]["token"]["signature"] == "valid"


async def test_doctor_dispatch_before_worker_registered_with_redispatch_off(
    livekit_server: LiveKitServer, room_name: str
) -> None:
    """With AGENT_REDISPATCH=off, a dispatch older than its worker stays at 0 jobs (raw
    self-hosted behaviour), the proxy says so, and the doctor names it (with --probe)."""
    name = unique("late-worker")
    raw = Proxy(livekit_server, name, "http://127.0.0.1:9", AGENT_REDISPATCH="off")
    try:
        raw.wait_ready()
        async with connected(livekit_server, plain_token(livekit_server, room_name, "user")):
            created = time.monotonic()
            resp = httpx.post(f"{raw.url}/api/dispatch-agent", json={"room": room_name}, timeout=10)
            assert resp.status_code == 200, resp.text
            worker = AgentWorker(livekit_server, name)
            try:
                worker.wait_registered()
                # The doctor calls a dispatch untaken only once jobs would have shown up.
                wait_until(
                    lambda: time.monotonic() - created > UNTAKEN_AFTER_SECONDS + 1,
                    timeout=30,
                    what="the dispatch to age",
                )
                flags = [
                    "--room",
                    room_name,
                    "--agent-name",
                    name,
                    "--worker-url",
                    worker.health_url,
                ]
                code_plain, plain = doctor(livekit_server, *flags)
                code, d = doctor(livekit_server, *flags, "--probe")
            finally:
                worker.stop()
        events = httpx.get(f"{raw.url}/api/delivery", params={"room": room_name}).json()
    finally:
        raw.stop()
    assert [e["kind"] for e in events["events"]] == ["no worker", "not re-issued"]
    # Without the probe, the doctor cannot tell "registered later" from "registered elsewhere".
    assert code_plain == 1
    assert plain["cause"] == "dispatch_not_taken", plain["verdict"]
    assert "--probe" in plain["verdict"]
    assert code == 1
    assert d["cause"] == "dispatch_before_worker", d["verdict"]
    assert "0 jobs" in d["verdict"] and "never retries" in d["verdict"]


def test_doctor_worker_with_wrong_secret(livekit_server: LiveKitServer) -> None:
    """A worker whose secret the server rejects answers its health check but takes no job."""
    name = unique("bad-secret")
    worker = AgentWorker(livekit_server, name, LIVEKIT_API_SECRET="not-the-server-secret")
    try:
        wait_until(
            lambda: httpx.get(worker.health_url + "/worker", timeout=2).status_code == 200,
            timeout=60,
            what="the worker's health server",
        )
        code, d = doctor(
            livekit_server,
            "--agent-name",
            name,
            "--worker-url",
            worker.health_url,
            "--probe",
            "--probe-timeout",
            "5",
        )
    finally:
        worker.stop()
    assert code == 1
    assert d["cause"] == "worker_not_registered"
    assert "another key/secret" in d["verdict"]


def test_doctor_worker_not_running(livekit_server: LiveKitServer) -> None:
    code, d = doctor(
        livekit_server, "--agent-name", "anyone", "--worker-url", f"http://127.0.0.1:{free_port()}"
    )
    assert code == 1
    assert d["cause"] == "worker_down"


async def test_doctor_duplicate_dispatches(
    livekit_server: LiveKitServer, named_worker: AgentWorker, room_name: str
) -> None:
    """Two raw CreateDispatch calls: two agents, and the doctor says why."""
    async with connected(livekit_server, plain_token(livekit_server, room_name, "user")) as client:
        async with livekit_server.client() as lk:
            for _ in range(2):
                await lk.agent_dispatch.create_dispatch(
                    api.CreateAgentDispatchRequest(
                        agent_name=named_worker.agent_name, room=room_name
                    )
                )
        await client.wait_for_agents(2)
        code, d = doctor(
            livekit_server,
            "--room",
            room_name,
            "--agent-name",
            named_worker.agent_name,
            "--worker-url",
            named_worker.health_url,
        )
    assert code == 1
    assert d["cause"] == "duplicate_agents"
    assert "2 agents" in d["verdict"]


async def test_doctor_healthy_everything_passes(
    livekit_server: LiveKitServer, named_worker: AgentWorker, proxy: Proxy, room_name: str
) -> None:
    """Agent in the room and a probe that joins: every check passes, exit code 0."""
    async with connected(livekit_server, plain_token(livekit_server, room_name, "user")) as client:
        httpx.post(f"{proxy.url}/api/dispatch-agent", json={"room": room_name}, timeout=10)
        await client.wait_for_agents(1)
        code, d = doctor(
            livekit_server,
            "--room",
            room_name,
            "--agent-name",
            named_worker.agent_name,
            "--worker-url",
            named_worker.health_url,
            "--probe",
        )
        code_text, text = doctor(
            livekit_server,
            "--room",
            room_name,
            "--agent-name",
            named_worker.agent_name,
            "--worker-url",
            named_worker.health_url,
            human=True,
        )
    assert code == 0 and code_text == 0
    assert d["cause"] == "agent_present"
    assert {c["status"] for c in d["checks"]} == {"pass"}
    assert d["evidence"]["probe"]["joined"] is True
    assert "✗" not in text and text.count("✓") >= 5 and "verdict: agent" in text


@pytest.mark.parametrize(
    ("flags", "cause"),
    [
        (["--api-key", "nokey"], "bad_api_key"),
        (["--api-secret", "wrong-secret"], "bad_api_secret"),
    ],
)
def test_doctor_tells_wrong_key_from_wrong_secret(
    livekit_server: LiveKitServer, flags: list[str], cause: str
) -> None:
    code, d = doctor(livekit_server, *flags, "--worker-url", f"http://127.0.0.1:{free_port()}")
    assert code == 1
    assert d["cause"] == cause
    assert "wrong-secret" not in json.dumps(d)


def test_doctor_server_unreachable() -> None:
    dead = LiveKitServer(runtime="binary", port=free_port(), tcp_port=0, udp_port=0)
    code, d = doctor(dead, "--worker-url", f"http://127.0.0.1:{free_port()}")
    assert code == 1
    assert d["cause"] == "server_unreachable"


def test_doctor_help_documents_every_flag() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "doctor.cli", "doctor", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for flag in [
        "--url",
        "--api-key",
        "--api-secret",
        "--room",
        "--agent-name",
        "--token",
        "--worker-url",
        "--probe",
        "--json",
    ]:
        assert flag in out


async def test_doctor_job_the_server_gave_up(livekit_server: LiveKitServer, room_name: str) -> None:
    """A worker that answers its job request after the server's 3 s deadline (stopped here,
    busy in a burst for real): a dispatch made straight through the server API stays at 0
    jobs, and the doctor names the late answer, from the server's log."""
    name = unique("stalled")
    worker = AgentWorker(livekit_server, name)
    assert livekit_server.log_path is not None
    try:
        worker.wait_registered()
        async with connected(livekit_server, plain_token(livekit_server, room_name, "user")):
            with worker.paused():
                async with livekit_server.client() as lk:
                    made = await lk.agent_dispatch.create_dispatch(
                        api.CreateAgentDispatchRequest(agent_name=name, room=room_name)
                    )
                created = time.monotonic()
                await wait_for_job_given_up(livekit_server, room_name)
            # The doctor calls a dispatch untaken only once jobs would have shown up.
            wait_until(
                lambda: time.monotonic() - created > UNTAKEN_AFTER_SECONDS + 1,
                timeout=30,
                what="the dispatch to age",
            )
            code, d = doctor(
                livekit_server,
                *("--room", room_name, "--agent-name", name, "--worker-url", worker.health_url),
                *("--server-log", str(livekit_server.log_path)),
            )
    finally:
        worker.stop()
    assert code == 1
    assert d["cause"] == "job_not_answered", d["verdict"]
    assert made.id in d["verdict"] and "within the server's 3 s deadline" in d["verdict"]
    assert d["evidence"]["gave_up"][0]["error"] == "context deadline exceeded"
