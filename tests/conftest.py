"""Fixtures that start real components: livekit-server (testcontainers or binary), the
agent worker and the proxy as subprocesses."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator

import pytest

from devstack.local_server import (
    LiveKitServer,
    choose_runtime,
    docker_engine_up,
    start_livekit_server,
)
from devstack.processes import AgentWorker, Gateway, Proxy
from devstack.waiting import free_port
from doctor.probe import ProbeFacts, run_probe
from tests.support.insights import RecordedSession, hold_conversation, start_insights_worker

# Every process the tests start is configured by its environment alone: a developer's
# .env (an agent name, a load threshold) must not change what the tests see.
os.environ["DEVSTACK_ENV_FILE"] = ""


def require_docker() -> None:
    """Skip without a Docker engine, except in CI, where a missing engine is a failure."""
    if docker_engine_up():
        return
    message = "no Docker engine answers ('docker info' failed)"
    if os.environ.get("DEVSTACK_REQUIRE_DOCKER") == "1":
        pytest.fail(f"{message}, but DEVSTACK_REQUIRE_DOCKER=1")
    pytest.skip(message)


@pytest.fixture(scope="session")
def proxy_port() -> int:
    """Chosen before the server starts: the server posts its webhooks to this proxy."""
    return free_port()


@pytest.fixture(scope="session")
def livekit_server(
    proxy_port: int, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveKitServer]:
    """One real livekit-server for the whole session, on free ports, with its webhooks
    going to the session's proxy and its log in a state directory the proxy reads."""
    runtime = choose_runtime()
    if runtime == "docker":
        require_docker()
    server = start_livekit_server(
        runtime,
        state_dir=tmp_path_factory.mktemp("state"),
        webhook_url=f"http://127.0.0.1:{proxy_port}/api/webhooks/livekit",
    )
    yield server
    server.stop()


SHARED_AGENT_NAME = "devstack-test-agent"


async def warm_up(server: LiveKitServer, agent_name: str) -> ProbeFacts:
    """One throw-away dispatch, the same probe `devstack doctor --probe` runs."""
    async with server.client() as lk:
        return await run_probe(lk, agent_name, timeout=30)


@pytest.fixture(scope="session")
def named_worker(livekit_server: LiveKitServer) -> Iterator[AgentWorker]:
    """A real `python -m agent` worker registered as SHARED_AGENT_NAME."""
    worker = AgentWorker(livekit_server, SHARED_AGENT_NAME)
    try:
        worker.wait_registered()
        # Registered is not yet serving: prove it takes a job (and warm it) before any test.
        probe = asyncio.run(warm_up(livekit_server, SHARED_AGENT_NAME))
        if not probe.joined:
            pytest.fail(
                f"the shared worker took no probe job: {probe.detail}\n{worker.output[-3000:]}"
            )
        yield worker
    finally:
        worker.stop()


@pytest.fixture(scope="session")
def proxy(
    livekit_server: LiveKitServer, named_worker: AgentWorker, proxy_port: int
) -> Iterator[Proxy]:
    """A real `python -m proxy` for the test server, expecting the shared worker's name; it
    receives the server's webhooks, so its delivery watcher is on."""
    server = Proxy(
        livekit_server, named_worker.agent_name, named_worker.health_url, port=proxy_port
    )
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture
def room_name(request: pytest.FixtureRequest) -> str:
    """A room name no other test uses, so state never leaks between tests."""
    stem = request.node.name.removeprefix("test_").replace("_", "-")[:40]
    return f"{stem}-{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="session")
def recorded_session(livekit_server: LiveKitServer, proxy: Proxy) -> RecordedSession:
    """One real conversation with the fixture agent, uploaded to the session's proxy through
    livekit-agents' own path (tests/support/insights.py); its worker is gone by the tests."""
    worker = start_insights_worker(livekit_server, proxy)
    try:
        room = f"insights-{uuid.uuid4().hex[:6]}"
        return asyncio.run(hold_conversation(livekit_server, proxy, worker, room))
    finally:
        worker.stop()


@pytest.fixture(scope="session")
def gateway(livekit_server: LiveKitServer) -> Iterator[Gateway]:
    """A real `python -m gateway` (LiveKit Inference offline) with the test server's keys,
    shared by every test that has an agent talk: its models load once."""
    process = Gateway(livekit_server)
    try:
        process.wait_ready(timeout=120)
        yield process
    finally:
        process.stop()
