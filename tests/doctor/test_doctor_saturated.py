"""A worker whose machine is saturated reports load 1.0, and livekit-server drops the job
of a dispatch at once ("no workers with sufficient capacity"), never retries it, and no
webhook says so. The doctor names the load while it lasts and, once it is down, the
dispatch it cost, from the server's log. The real CLI, server and worker."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
from livekit import api

from devstack.local_server import LiveKitServer
from devstack.rooms import UNTAKEN_AFTER_SECONDS
from devstack.server_log import NO_WORKER
from devstack.waiting import wait_until, wait_until_async
from devstack.worker_health import fetch_worker_status
from tests.support.clients import connected, plain_token
from tests.support.doctor_cli import doctor
from tests.support.saturation import start_saturated_worker, until_the_server_gives_no_job
from tests.support.server_log import wait_for_job_given_up

pytestmark = pytest.mark.integration


async def test_doctor_saturated_worker_then_the_dispatch_it_lost(
    livekit_server: LiveKitServer, room_name: str, tmp_path: Path
) -> None:
    name = f"saturated-{uuid.uuid4().hex[:6]}"
    flag = tmp_path / "saturated"
    worker = start_saturated_worker(livekit_server, name, flag)
    assert livekit_server.log_path is not None
    flags = [
        *("--room", room_name, "--agent-name", name, "--worker-url", worker.health_url),
        *("--server-log", str(livekit_server.log_path)),
    ]
    try:
        await until_the_server_gives_no_job(livekit_server, name, worker.health_url)
        async with connected(livekit_server, plain_token(livekit_server, room_name, "user")):
            async with livekit_server.client() as lk:
                made = await lk.agent_dispatch.create_dispatch(
                    api.CreateAgentDispatchRequest(agent_name=name, room=room_name)
                )
            created = time.monotonic()
            await wait_for_job_given_up(livekit_server, room_name, NO_WORKER)
            code_now, now = doctor(livekit_server, *flags)

            flag.unlink()  # the machine calms down; the dispatch stays lost

            async def calm() -> bool:
                return (await fetch_worker_status(worker.health_url)).load < 1.0

            await wait_until_async(calm, timeout=30, what="the worker's load to go down")
            # The doctor calls a dispatch untaken only once jobs would have shown up.
            wait_until(
                lambda: time.monotonic() - created > UNTAKEN_AFTER_SECONDS + 1,
                timeout=30,
                what="the dispatch to age",
            )
            code, later = doctor(livekit_server, *flags)
    finally:
        worker.stop()
    assert code_now == 1
    assert now["cause"] == "worker_saturated", now["verdict"]
    assert "reports load 1.00" in now["verdict"]
    assert code == 1
    assert later["cause"] == "job_no_capacity", later["verdict"]
    assert made.id in later["verdict"] and "no workers with sufficient capacity" in later["verdict"]
    assert room_name not in worker.output  # the worker never even heard of the job
