"""`python -m bench.first_answer`: how long from `make dev` (honcho with the Procfile, as
the Makefile runs it) until an AGENT_DIR project answers a person's first sentence. By
default the project is LiveKit's agent-starter-python, unchanged (tests/agent/starter),
copied without an environment, so the time includes syncing it (from uv's cache when
warm) and the gateway loading its engines. The person joins as soon as the worker has
registered, as someone who opened the page at once would, and speaks one sentence."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
from livekit import rtc

from bench.speech import synthesize
from bench.stack import stop_on_sigterm
from devstack.make_dev_env import make_dev_env, three_free_ports
from devstack.processes import ROOT
from devstack.tokens import mint_token
from devstack.waiting import free_port, wait_until

STARTER = ROOT / "tests" / "agent" / "starter"
SENTENCE = "What is the weather like in Paris today?"


async def speak(room: rtc.Room, text: str) -> float:
    """`text` said into a microphone track in real time, then 1.5 s of silence; returns when
    the speech's last sample left the microphone (monotonic)."""
    speech = synthesize(text)
    source = rtc.AudioSource(speech.rate, 1)
    track = rtc.LocalAudioTrack.create_audio_track("mic", source)
    await room.local_participant.publish_track(
        track, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
    )
    step = speech.rate // 100  # 10 ms frames; capture_frame paces them in real time
    samples = np.concatenate([speech.samples, np.zeros(int(speech.rate * 1.5), np.int16)])
    ended = 0.0
    for i in range(0, len(samples) - step + 1, step):
        chunk = samples[i : i + step].astype(np.int16)
        await source.capture_frame(rtc.AudioFrame(chunk.tobytes(), speech.rate, 1, step))
        if not ended and i + step >= len(speech.samples):
            # Captured is not sent: what is queued still leaves in real time.
            ended = time.monotonic() + source.queued_duration
    return ended


async def converse(url: str, proxy: str, agent_name: str, began: float) -> dict[str, float]:
    """Join, dispatch, wait until the agent listens, speak; the times since `began`."""
    marks: dict[str, float] = {}
    answered = asyncio.Event()
    room = rtc.Room()
    reads: set[asyncio.Task[None]] = set()  # held until done: a bare task may be collected

    def on_text(reader: rtc.TextStreamReader, sender: str) -> None:
        # A stream opens with the reply's first words, in step with its first audio (the
        # agent's transcription follows its speech); it completes only when the reply ends.
        opened = time.monotonic() - began
        if sender == room.local_participant.identity or "speaking_s" not in marks:
            return  # the person's own words coming back, or the agent before the question

        async def read() -> None:
            if "You said:" in await reader.read_all():
                marks.setdefault("answered_s", opened)
                marks.setdefault("answer_done_s", time.monotonic() - began)
                answered.set()

        task = asyncio.ensure_future(read())
        reads.add(task)
        task.add_done_callback(reads.discard)

    room.register_text_stream_handler("lk.transcription", on_text)
    token = mint_token(api_key="devkey", api_secret="secret", room="first-answer", identity="me")
    await room.connect(url, token)
    async with httpx.AsyncClient(timeout=30) as http:
        made = await http.post(
            f"{proxy}/api/dispatch-agent", json={"room": "first-answer", "agent_name": agent_name}
        )
        made.raise_for_status()
    async with asyncio.timeout(120):
        while not any(
            p.attributes.get("lk.agent.state") == "listening"
            for p in room.remote_participants.values()
        ):
            await asyncio.sleep(0.05)
    marks["agent_listening_s"] = time.monotonic() - began
    marks["speaking_s"] = time.monotonic() - began
    marks["speech_ended_s"] = await speak(room, SENTENCE) - began
    async with asyncio.timeout(60):
        await answered.wait()
    await room.disconnect()
    return marks


def measure(project_source: Path, agent_name: str, log: Path | None) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="first-answer-") as tmp:
        project = Path(tmp) / "project"
        shutil.copytree(project_source, project, ignore=shutil.ignore_patterns(".venv"))
        port, proxy_port = three_free_ports(), free_port()
        env = make_dev_env(Path(tmp) / "state", port, proxy_port, AGENT_DIR=str(project))
        began = time.monotonic()
        honcho = subprocess.Popen(
            [str(Path(sys.executable).parent / "honcho"), "start"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True,
        )  # fmt: skip
        lines: list[str] = []
        marks: dict[str, float] = {}

        def read() -> None:
            assert honcho.stdout is not None
            for line in honcho.stdout:
                lines.append(f"+{time.monotonic() - began:7.2f}s {line}")
                now = time.monotonic() - began
                if "LiveKit Inference offline at" in line:
                    marks.setdefault("gateway_ready_s", now)
                if "registered worker" in line:
                    marks.setdefault("worker_registered_s", now)

        threading.Thread(target=read, daemon=True).start()
        try:
            wait_until(
                lambda: "worker_registered_s" in marks or honcho.poll() is not None,
                timeout=600, what="the project's worker to register",
            )  # fmt: skip
            if honcho.poll() is not None:
                raise RuntimeError("make dev stopped:\n" + "".join(lines[-40:]))
            url, proxy = f"ws://localhost:{port}", f"http://127.0.0.1:{proxy_port}"
            marks.update(asyncio.run(converse(url, proxy, agent_name, began)))
        finally:
            os.killpg(honcho.pid, signal.SIGINT)
            try:
                honcho.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(honcho.pid, signal.SIGKILL)
            if log is not None:  # what `make dev` printed, each line stamped with its time
                log.write_text("".join(lines))
        return {k: round(v, 2) for k, v in marks.items()}


def main(argv: list[str] | None = None) -> int:
    stop_on_sigterm()
    p = argparse.ArgumentParser(prog="python -m bench.first_answer", description=__doc__)
    p.add_argument("--agent-dir", type=Path, default=STARTER, help="the project (copied)")
    p.add_argument("--agent-name", default="my-agent", help="the project's agent name")
    p.add_argument("--log", type=Path, help="write make dev's output here, lines timed")
    args = p.parse_args(argv)
    print(json.dumps(measure(args.agent_dir, args.agent_name, args.log), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
