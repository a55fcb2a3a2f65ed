"""Ctrl-C on `make dev`: the whole stack (honcho with the Procfile: livekit-server, the
proxy, a worker of your own agent file with jobs in progress) stops with no ERROR, no
traceback, and nothing left running, with rooms live at the stop: people and agents in
them, so livekit-server posts its last webhooks (participant_left, room_finished) while
everything stops. A job ended by the stop is expected, not an error; each job's session
still reaches the proxy's store as it ends."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import psutil
import pytest
from livekit import rtc

from devstack.local_server import docker_engine_up
from devstack.make_dev_env import make_dev_env, three_free_ports
from devstack.processes import ROOT
from devstack.tokens import mint_token
from devstack.waiting import free_port, wait_until
from tests.support.clients import AGENT

pytestmark = pytest.mark.integration

AGENT_NAME = "my-interviewer"  # tests/agent/fixtures/seed_interviewer.py: a process per job
# What a user must not read on a clean stop: any ERROR (livekit-agents' colored one, the
# server's tab-separated one, uvicorn's), Python's traceback, honcho's report of a process
# killed by a signal.
BAD = re.compile(r"ERROR|Traceback|stopped \(rc=-")
LIVE_ROOMS = 3  # each with a person and an agent in it at the stop
WEBHOOK_POST = "POST /api/webhooks/livekit"  # uvicorn's access line for each webhook


def tree(pid: int) -> list[psutil.Process]:
    with contextlib.suppress(psutil.NoSuchProcess):
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    return []


def alive(procs: list[psutil.Process]) -> list[str]:
    left = []
    for p in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                left.append(" ".join(p.cmdline())[:120])
    return left


def containers() -> set[str]:
    done = subprocess.run(
        ["docker", "ps", "-q", "--filter", "name=livekit-devstack-server-"],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    return set(done.stdout.split())


async def join_and_dispatch(url: str, proxy: str, room: str) -> rtc.Room:
    """A person in `room`, then the agent dispatched through the proxy, as the page does."""
    person = rtc.Room()
    token = mint_token(api_key="devkey", api_secret="secret", room=room, identity="person")
    await person.connect(url, token)
    async with httpx.AsyncClient(timeout=30) as http:
        resp = await http.post(
            f"{proxy}/api/dispatch-agent", json={"room": room, "agent_name": AGENT_NAME}
        )
    assert resp.status_code == 200, resp.text
    async with asyncio.timeout(30):
        while not any(p.kind == AGENT for p in person.remote_participants.values()):
            await asyncio.sleep(0.1)
    return person


async def test_ctrl_c_stops_the_whole_stack_cleanly(tmp_path: Path) -> None:
    """SIGINT to honcho's process group, as Ctrl-C in its terminal, with rooms live and
    webhooks in flight: no ERROR, no traceback, every process and container gone."""
    port, proxy_port = three_free_ports(), free_port()
    env = make_dev_env(
        tmp_path,
        port,
        proxy_port,
        AGENT_FILE="tests/agent/fixtures/seed_interviewer.py",
        LIVEKIT_AGENT_NAME=AGENT_NAME,
    )
    docker = docker_engine_up()
    before = containers() if docker else set()
    honcho = subprocess.Popen(
        [str(Path(sys.executable).parent / "honcho"), "start"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,  # its own terminal's process group
    )  # fmt: skip
    lines: list[str] = []
    reader = asyncio.get_running_loop().run_in_executor(None, read_all, honcho, lines)
    proxy = f"http://127.0.0.1:{proxy_port}"
    try:
        try:
            wait_until(
                lambda: any("registered worker" in line for line in lines)
                or honcho.poll() is not None,
                timeout=180, what="the stack's worker to register",
            )  # fmt: skip
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}\n" + "\n".join(lines[-40:])) from None
        assert honcho.poll() is None, "\n".join(lines[-40:])
        rooms = [f"stop-room-{i}" for i in range(LIVE_ROOMS)]
        people = await asyncio.gather(
            *(join_and_dispatch(f"ws://localhost:{port}", proxy, room) for room in rooms)
        )
        running = tree(honcho.pid)
        stopped_at = len(lines)
        os.killpg(honcho.pid, signal.SIGINT)
        code = await asyncio.to_thread(honcho.wait, 60)
        for person in people:
            await person.disconnect()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(honcho.pid, signal.SIGKILL)
    await reader
    output = "\n".join(lines)
    assert code == 130, output[-4000:]  # honcho's own exit for Ctrl-C, after a clean stop
    assert "sending SIGKILL" not in output, output[-4000:]  # every process stopped in time
    bad = [line for line in lines if BAD.search(line)]
    assert not bad, "\n".join(bad)
    assert "process exiting" in output  # the jobs were running, and ended with the stop
    # Webhooks were in flight: the server posted its rooms' last events as the stack stopped.
    in_flight = [line for line in lines[stopped_at:] if WEBHOOK_POST in line]
    assert in_flight, output[-4000:]
    cut = [line for line in lines[stopped_at:] if "went away" in line]
    print(
        f"\n{len(rooms)} rooms live at the stop: {len(in_flight)} webhooks answered during it, "
        f"{len(cut)} requests cut short by their client (an INFO line each)"
    )
    for line in cut:
        print(line)
    # The job's logs reached the proxy as the job ended with the stop (Agent Insights
    # offline): the proxy served until the worker uploading to it was gone. This agent has
    # no AgentSession, so livekit-agents holds its job's logs until the job ends and sends
    # them then (job.py, _start_log_buffering, replayed in _on_cleanup): only at the stop.
    for room in rooms:
        assert f"interviewer joined room {room}" in session_logs(tmp_path, room), output
    try:
        wait_until(lambda: not alive(running), timeout=10, what="every process to end")
    except TimeoutError:
        pytest.fail(f"left running after the stop: {alive(running)}")
    if docker:
        assert containers() <= before, "a livekit-server container was left running"


def session_logs(state: Path, room: str) -> list[str]:
    """The log lines the proxy stored for the agent sessions of `room` (insights.db)."""
    path = state / "insights.db"
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        rows = db.execute(
            "SELECT body FROM logs JOIN sessions USING (job_id) WHERE sessions.room = ?", (room,)
        ).fetchall()
    return [body for (body,) in rows]


def read_all(proc: subprocess.Popen[str], lines: list[str]) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line.rstrip())
