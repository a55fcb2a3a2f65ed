""" "My agent joins" as a test: what the pytest plugin's `devstack` fixture is. A real
livekit-server (a container where Docker answers, else the binary), the user's own agent
file running in the test's own Python (through the stack's runner, as `AGENT_FILE` runs),
and real livekit.rtc participants that dispatch the agent as an app does. When the agent
does not join, the doctor says why."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

from livekit import api, rtc

from devstack.conversation import AGENT, PERSON, Call, Turn
from devstack.conversation_gateway import VoiceGateway, voice_installed
from devstack.local_server import LiveKitServer, Runtime, choose_runtime, start_livekit_server
from devstack.server_log import read_registry
from devstack.stack_cli import doctor_command
from devstack.stack_files import AGENT_RUNNER
from devstack.tokens import mint_token
from devstack.waiting import ProcessExitedError, free_port, wait_until

T = TypeVar("T")
CHAT_TOPIC = "lk.chat"
REPLY_TOPICS = ("lk.transcription", "lk.chat")  # what AgentSession sends, and plain chat


@dataclass
class JoinResult:
    agent_joined: bool
    room: str
    agent_name: str
    latency_s: float | None  # from the dispatch (or the token's join) to the agent seen
    agent_identity: str | None
    diagnosis: str  # the doctor's verdict when the agent did not join; '' when it did


class _Loop:
    """An event loop on a thread of its own: livekit.rtc needs one running the whole time,
    and the user's tests are plain functions."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)


class Devstack:
    """Start with `start()`, end with `close()` (the fixture does both)."""

    def __init__(self, agent_file: Path, runtime: Runtime | None = None) -> None:
        self.agent_file = agent_file.resolve()
        self.runtime = runtime or choose_runtime()
        self.state_dir = Path(tempfile.mkdtemp(prefix="devstack-pytest-"))
        self.server: LiveKitServer | None = None
        self.gateway: VoiceGateway | None = None  # with livekit-devstack[voice]
        self.worker: subprocess.Popen[bytes] | None = None
        self.worker_port = free_port()
        self.agent_name = ""
        self._loop = _Loop()
        self._room: rtc.Room | None = None
        self._replies: asyncio.Queue[str] | None = None
        self._readers: set[asyncio.Future[None]] = set()

    # --- what the user's code needs ---

    @property
    def url(self) -> str:
        assert self.server is not None, "the devstack is not started"
        return self.server.url

    @property
    def api_key(self) -> str:
        assert self.server is not None
        return self.server.api_key

    @property
    def api_secret(self) -> str:
        assert self.server is not None
        return self.server.api_secret

    @property
    def worker_log(self) -> Path:
        # Where the doctor reads job failures (devstack/worker_log.py: logs/agent*.log).
        return self.state_dir / "logs" / "agent.log"

    # --- start and stop ---

    def start(self, timeout: float = 90) -> Devstack:
        if not self.agent_file.is_file():
            raise FileNotFoundError(f"--devstack-agent {self.agent_file}: no such file")
        self.server = start_livekit_server(self.runtime, state_dir=self.state_dir)
        if voice_installed():  # its engines load while the worker registers
            self.gateway = VoiceGateway(self.server, self.state_dir)
        self.worker_log.parent.mkdir(parents=True, exist_ok=True)
        with self.worker_log.open("ab") as sink:
            self.worker = subprocess.Popen(
                [sys.executable, str(AGENT_RUNNER), str(self.agent_file)],
                cwd=self.agent_file.parent,
                env=self._worker_env(),
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its job processes go with it
            )
        self.agent_name = wait_until(self._registered, timeout=timeout, what="the agent worker")
        if self.gateway is not None:
            self.gateway.wait_ready(timeout=timeout)
        return self

    def _worker_env(self) -> dict[str, str]:
        assert self.server is not None
        env = {k: v for k, v in os.environ.items() if not k.startswith("LIVEKIT_")}
        env.update(
            LIVEKIT_URL=self.server.url,
            LIVEKIT_API_KEY=self.server.api_key,
            LIVEKIT_API_SECRET=self.server.api_secret,
            PYTHONUNBUFFERED="1",
            DEVSTACK_RUN_HTTP_HOST="127.0.0.1",
            DEVSTACK_RUN_HTTP_PORT=str(self.worker_port),
            DEVSTACK_RUN_IDLE_PROCESSES="1",
            DEVSTACK_RUN_DEV="1",
            DEVSTACK_RUN_LABEL="--devstack-agent",
            DEVSTACK_RUN_SHOWN=str(self.agent_file),
        )
        if self.gateway is not None:
            env.update(self.gateway.worker_env())
        return env

    def _registered(self) -> str | None:
        """The agent name the worker registered under, once the server's log says so."""
        assert self.server is not None and self.server.log_path is not None
        if self.worker is not None and self.worker.poll() is not None:
            raise ProcessExitedError(
                f"your agent ({self.agent_file}) exited with {self.worker.returncode} before "
                f"it registered; its last output:\n{self._worker_tail()}"
            )
        if self.gateway is not None:
            self.gateway.check_running()
        registry = read_registry({"": self.server.log_path})
        workers = list(registry.workers.values()) if registry else []
        return workers[0].agent_name if workers else None

    def _worker_tail(self, chars: int = 3000) -> str:
        with contextlib.suppress(OSError):
            return self.worker_log.read_text(errors="replace")[-chars:]
        return ""

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._loop.run(self._leave(), timeout=10)
        self._loop.close()
        if self.worker is not None:
            _stop_group(self.worker)
            self.worker = None
        if self.gateway is not None:
            self.gateway.stop()
            self.gateway = None
        if self.server is not None:
            self.server.stop()
            self.server = None

    # --- joins ---

    def join(
        self,
        agent_name: str | None = None,
        room: str | None = None,
        dispatch: Literal["explicit", "token"] = "explicit",
        timeout: float = 10,
    ) -> JoinResult:
        """A person joins `room` and dispatches the agent (through the server API, or the
        token's room configuration), then waits for the AGENT participant."""
        name = self.agent_name if agent_name is None else agent_name
        room = room or f"devstack-test-{uuid.uuid4().hex[:8]}"
        if dispatch not in ("explicit", "token"):
            raise ValueError(f"dispatch must be 'explicit' or 'token', not {dispatch!r}")
        joined = self._loop.run(self._join(name, room, dispatch, timeout), timeout=timeout + 30)
        if joined is not None:
            identity, latency = joined
            return JoinResult(True, room, name, latency, identity, "")
        return JoinResult(False, room, name, None, None, self.diagnose(room, name, timeout))

    async def _join(
        self, name: str, room: str, dispatch: str, timeout: float
    ) -> tuple[str, float] | None:
        await self._leave()
        server = self.server
        assert server is not None
        token = mint_token(
            api_key=server.api_key,
            api_secret=server.api_secret,
            room=room,
            identity=PERSON,
            agent_name=name if dispatch == "token" else None,
        )
        self._room, self._replies = rtc.Room(), asyncio.Queue()
        seen = asyncio.Event()
        self._room.on("participant_connected", lambda p: p.kind == AGENT and seen.set())
        for topic in REPLY_TOPICS:
            self._room.register_text_stream_handler(topic, self._on_text)
        started = time.monotonic()
        await self._room.connect(server.url, token)
        if dispatch == "explicit":
            started = time.monotonic()
            async with server.client() as lk:
                await lk.agent_dispatch.create_dispatch(
                    api.CreateAgentDispatchRequest(agent_name=name, room=room)
                )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(seen.wait(), timeout)
        agent = next((p for p in self._room.remote_participants.values() if p.kind == AGENT), None)
        return (agent.identity, round(time.monotonic() - started, 3)) if agent else None

    def _on_text(self, reader: rtc.TextStreamReader, sender: str) -> None:
        async def read() -> None:
            text = await reader.read_all()
            if self._replies is not None and text.strip():
                await self._replies.put(text)

        task = asyncio.ensure_future(read())
        self._readers.add(task)
        task.add_done_callback(self._readers.discard)

    async def _leave(self) -> None:
        if self._room is not None:
            await self._room.disconnect()
            self._room = None

    def say(self, text: str, timeout: float = 10) -> str:
        """Send `text` on lk.chat in the room of the last join; the agent's first answer
        (a transcription, as AgentSession sends, or a chat message)."""
        return self._loop.run(self._say(text, timeout), timeout=timeout + 5)

    async def _say(self, text: str, timeout: float) -> str:
        if self._room is None or self._replies is None:
            raise RuntimeError("say() needs a join() first: it talks in the joined room")
        while not self._replies.empty():
            self._replies.get_nowait()  # what the agent said before: not the answer
        await self._room.local_participant.send_text(text, topic=CHAT_TOPIC)
        try:
            return await asyncio.wait_for(self._replies.get(), timeout)
        except TimeoutError:
            raise AssertionError(f"the agent did not answer {text!r} within {timeout} s") from None

    # --- why not ---

    def diagnose(self, room: str, agent_name: str, timeout: float = 10) -> str:
        """The doctor's verdict for `room` and `agent_name`, in one paragraph."""
        return (
            f"no agent joined room {room!r} within {timeout:g} s "
            f"(agent_name {agent_name!r}): {self.why(room, agent_name)}"
        )

    def why(self, room: str, agent_name: str) -> str:
        """The doctor's `cause: verdict` for the room; the gateway's state when it matters."""
        assert self.server is not None and self.server.log_path is not None
        command, env = doctor_command(
            "doctor", "--room", room, "--agent-name", agent_name, "--json",
            "--worker-url", f"http://127.0.0.1:{self.worker_port}",
        )  # fmt: skip
        env = {k: v for k, v in env.items() if not k.startswith(("LIVEKIT_", "AGENT_"))}
        env.update(
            LIVEKIT_URL=self.server.url,
            LIVEKIT_API_KEY=self.server.api_key,
            LIVEKIT_API_SECRET=self.server.api_secret,
            DEVSTACK_STATE_DIR=str(self.state_dir),
            DEVSTACK_ENV_FILE="",
            DEVSTACK_INFERENCE="off",  # as a self-hosted server, unless the gateway runs
        )
        if self.gateway is not None:
            env.update(self.gateway.doctor_env())
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
        try:
            verdict = json.loads(done.stdout)
        except ValueError:
            return f"the doctor could not run: {done.stderr.strip()[-1000:]}"
        said = f"{verdict['cause']}: {verdict['verdict']}"
        if self.gateway is not None and not self.gateway.running():
            said += f"; the Inference gateway exited:\n{self.gateway.output[-2000:]}"
        return said

    # --- spoken conversations (livekit-devstack[voice]) ---

    @contextlib.contextmanager
    def converse(
        self, agent_name: str | None = None, room: str | None = None, timeout: float = 30
    ) -> Iterator[Call]:
        """A person with a microphone joins `room` (a new one by default) and dispatches the
        agent; fails with the doctor's verdict when no agent joins within `timeout`."""
        name = self.agent_name if agent_name is None else agent_name
        call = Call(self, name, room or f"devstack-talk-{uuid.uuid4().hex[:8]}")
        try:
            self._loop.run(call.open(timeout), timeout=timeout + 60)
            yield call
        finally:
            self._loop.run(call.close(), timeout=30)

    def talk(self, text: str, agent_name: str | None = None, timeout: float = 30) -> Turn:
        """One `converse()` and one `say()` (which lets a greeting end before it speaks)."""
        with self.converse(agent_name, timeout=timeout) as call:
            return call.say(text, timeout)


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    """One SIGINT, as Ctrl-C (the worker ends its jobs); the group is killed after 5 s."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGINT)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
