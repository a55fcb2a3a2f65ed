"""Fixtures that start real components: livekit-server (testcontainers or binary)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.support.livekit_server import (
    LiveKitServer,
    choose_runtime,
    docker_engine_up,
    start_livekit_server,
)


def require_docker() -> None:
    """Skip without a Docker engine, except in CI, where a missing engine is a failure."""
    if docker_engine_up():
        return
    message = "no Docker engine answers ('docker info' failed)"
    if os.environ.get("DEVSTACK_REQUIRE_DOCKER") == "1":
        pytest.fail(f"{message}, but DEVSTACK_REQUIRE_DOCKER=1")
    pytest.skip(message)


@pytest.fixture(scope="session")
def livekit_server() -> Iterator[LiveKitServer]:
    """One real livekit-server for the whole session, on free ports."""
    runtime = choose_runtime()
    if runtime == "docker":
        require_docker()
    server = start_livekit_server(runtime)
    yield server
    server.stop()
