"""A machine whose every core is busy, as a laptop's is in a burst of rooms; a worker of
your own that reads its load as 1.0 (tests/agent/fixtures/saturated_worker.py); and the
moment livekit-server starts giving such a worker no job.

livekit-agents' default load is the machine's CPU averaged over 2.5 s; with a busy loop per
core it reads 0.997-0.9998, and 1.0 only at times. The server learns it from the worker's
status update, sent every 2.5 s, and gives a worker at 1.0 no job."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

from livekit import api

from devstack.local_server import LiveKitServer
from devstack.processes import ROOT, AgentWorker
from devstack.server_log import ASSIGNED, NO_WORKER
from devstack.waiting import wait_until_async
from devstack.worker_health import fetch_worker_status
from tests.support.server_log import wait_for_server_line

ATTEMPTS = 20  # throwaway dispatches, each answered within the server's 200 ms window
SATURATED_WORKER = ROOT / "tests/agent/fixtures/saturated_worker.py"


@contextlib.contextmanager
def every_core_busy() -> Iterator[None]:
    hogs = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"])
        for _ in range(os.cpu_count() or 1)
    ]
    try:
        yield
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()


def start_saturated_worker(server: LiveKitServer, agent_name: str, flag: Path) -> AgentWorker:
    """The fixture as AGENT_FILE, reading its load as 1.0 for as long as `flag` exists."""
    flag.touch()
    worker = AgentWorker(
        server, agent_name, AGENT_FILE=str(SATURATED_WORKER), SATURATED_FLAG=str(flag)
    )
    try:
        worker.wait_for_line("registered worker", timeout=60)  # livekit-agents' own line
    except BaseException:
        worker.stop()
        raise
    return worker


async def until_the_server_gives_no_job(
    server: LiveKitServer, agent_name: str, health_url: str
) -> None:
    """Once the worker at `health_url` reads its load as 1.0 (it stays at 0.999 for a few
    seconds first, and the server still gives it jobs then), throwaway dispatches of
    `agent_name` until the server drops one for want of capacity: its own word that it now
    counts that name's workers as saturated. One it still assigns (it had not had the
    worker's status update yet) is cleared away and tried again."""

    async def full_load() -> bool:
        return (await fetch_worker_status(health_url)).load >= 1.0

    await wait_until_async(full_load, timeout=60, what=f"{agent_name} to read its load as 1.0")
    async with server.client() as lk:
        for _ in range(ATTEMPTS):
            room = f"saturation-check-{uuid.uuid4().hex[:6]}"
            # Its line comes after the dispatch: no need to read the log over again.
            since = server.log_path.stat().st_size if server.log_path else 0
            await lk.agent_dispatch.create_dispatch(
                api.CreateAgentDispatchRequest(agent_name=agent_name, room=room)
            )
            line = await wait_for_server_line(server, room, (NO_WORKER, ASSIGNED), since)
            await lk.room.delete_room(api.DeleteRoomRequest(room=room))
            if NO_WORKER in line:
                return
    raise AssertionError(f"the server still gave {agent_name} jobs after {ATTEMPTS} dispatches")
