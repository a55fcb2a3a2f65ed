"""A real `python -m gateway` for the gateway's tests, with the test server's keys."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devstack.local_server import LiveKitServer
from devstack.processes import Gateway


@pytest.fixture(scope="session")
def gateway(livekit_server: LiveKitServer) -> Iterator[Gateway]:
    process = Gateway(livekit_server)
    try:
        process.wait_ready(timeout=120)
        yield process
    finally:
        process.stop()
