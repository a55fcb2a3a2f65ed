"""Agent Insights offline: a real conversation with an unchanged AgentSession agent
(tests/agent/fixtures/insights_agent.py) reaches the proxy through livekit-agents' own
upload path, and GET /api/sessions shows what Cloud's Agent Insights would: its dispatch,
the turns, every span, the agent's logs, both sides of the transcript and the audio."""

from __future__ import annotations

import asyncio
import contextlib
import io
import sqlite3
from pathlib import Path
from typing import Any

import av
import httpx
import pytest
from livekit import api

from devstack.local_server import LiveKitServer
from devstack.processes import ROOT, AgentWorker, Proxy, insights_env
from devstack.waiting import wait_until
from tests.support.clients import connected, plain_token, publish_wav
from tests.support.insights import (
    AGENT_NAME,
    FAILURE,
    RecordedSession,
    session_detail,
    session_in_room,
)
from tests.support.speech import read_wav, speech_wav

pytestmark = pytest.mark.integration


def stored_bytes(server: LiveKitServer, job_id: str) -> dict[str, int]:
    """What the session takes in the state dir's insights.db (read-only)."""
    assert server.log_path is not None
    path = server.log_path.parent / "insights.db"
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        rows = 0
        for table, columns in (
            ("spans", "attributes || events || name"),
            ("logs", "attributes || body"),
            ("metrics", "attributes || name"),
            ("reports", "summary || COALESCE(chat_history, '')"),
        ):
            (size,) = db.execute(
                f"SELECT COALESCE(SUM(LENGTH({columns})), 0) FROM {table} WHERE job_id = ?",
                (job_id,),
            ).fetchone()
            rows += size
        (audio,) = db.execute(
            "SELECT COALESCE(SUM(audio_bytes), 0) FROM reports WHERE job_id = ?", (job_id,)
        ).fetchone()
    return {"rows": rows, "audio": audio}


def test_the_session_is_listed_with_its_counts(
    livekit_server: LiveKitServer, proxy: Proxy, recorded_session: RecordedSession
) -> None:
    listed = httpx.get(f"{proxy.url}/api/sessions", timeout=10).json()
    assert listed["insights"] is True
    (row,) = [s for s in listed["sessions"] if s["job_id"] == recorded_session.job_id]
    print(
        f"\nsession listed {recorded_session.listed_after_s:.2f} s after its room was deleted, "
        f"its last spans in after {recorded_session.complete_after_s:.2f} s; "
        f"{row['spans']} spans, {row['logs']} logs, {row['transcript_items']} messages"
    )
    stored = stored_bytes(livekit_server, recorded_session.job_id)
    minutes = row["duration_s"] / 60
    print(
        f"stored {stored['audio'] / 1024:.0f} KiB of audio and {stored['rows'] / 1024:.0f} KiB "
        f"of spans, logs and transcript for {row['duration_s']:.1f} s: "
        f"{stored['audio'] / 1024 / minutes:.0f} + {stored['rows'] / 1024 / minutes:.0f} KiB "
        "per minute"
    )
    assert row["room"] == recorded_session.room and row["agent_name"] == AGENT_NAME
    assert row["spans"] > 0 and row["logs"] > 0 and row["has_audio"] and row["reported"]
    assert row["transcript_items"] >= 4


def test_the_session_has_its_dispatch_turns_logs_and_both_sides_of_the_transcript(
    proxy: Proxy, recorded_session: RecordedSession
) -> None:
    s = session_detail(proxy.url, recorded_session.job_id)
    dispatch = s["dispatch"]
    assert dispatch["source"] == "explicit"
    assert dispatch["dispatch_id"] == recorded_session.dispatch_id
    steps = [step["step"] for step in dispatch["steps"]]
    # The stack's steps (the watcher, the server's log) and the worker's own, in time order.
    for step in ("dispatched", "job request", "job assigned", "entrypoint started", "agent joined"):
        assert step in steps, steps
    assert steps.index("dispatched") < steps.index("job request") < steps.index("agent joined")
    said = [(m["role"], m["text"]) for m in s["transcript"]]
    assert ("user", "hello there") in said and ("assistant", "You said: hello there.") in said
    assert said[0] == ("assistant", "Hello, I am the insights agent.")
    # The greeting (spoken, no model) and the answer; the failed turn after them never spoke.
    greeting, answer = [t for t in s["turns"] if t["kind"] == "agent_turn"][:2]
    assert "tts_ttfb" in greeting and "llm_ttft" not in greeting, greeting
    assert answer["llm_ttft"] > 0 and answer["tts_ttfb"] > 0, answer
    names = set()
    stack = list(s["spans"])
    while stack:
        span = stack.pop()
        names.add(span["name"])
        stack.extend(span["children"])
    assert {"agent_session", "agent_turn", "llm_request", "tts_request"} <= names
    messages = [r["message"] for r in s["logs"]]
    assert f"insights agent started in room {recorded_session.room}" in messages
    assert "user turn: hello there" in messages
    assert any(u.get("model") == "echo" for u in s["usage"])


def test_the_failing_turn_shows_its_error_where_it_happened(
    proxy: Proxy, recorded_session: RecordedSession
) -> None:
    s = session_detail(proxy.url, recorded_session.job_id)
    failures = [e for e in s["errors"] if FAILURE in e["message"]]
    assert failures, s["errors"]
    # After the last answer the person heard, before the session ended.
    answered = max(m["at"] for m in s["transcript"] if m["role"] == "assistant")
    assert answered < failures[0]["at"] <= s["ended_at"] + 1


def test_the_audio_is_the_conversation(proxy: Proxy, recorded_session: RecordedSession) -> None:
    resp = httpx.get(f"{proxy.url}/api/sessions/{recorded_session.job_id}/audio", timeout=10)
    assert resp.status_code == 200 and resp.headers["content-type"] == "audio/ogg"
    with av.open(io.BytesIO(resp.content)) as ogg:
        stream = ogg.streams.audio[0]
        seconds = sum(float(f.duration * f.time_base) for f in ogg.decode(stream))
    s = session_detail(proxy.url, recorded_session.job_id)
    print(
        f"\naudio {seconds:.1f} s, {len(resp.content)} bytes "
        f"({len(resp.content) / seconds * 60 / 1024:.0f} KiB per minute)"
    )
    assert seconds > 2  # the greeting alone is about 2 s of espeak-ng
    assert s["audio"]["bytes"] == len(resp.content)


def test_the_session_outlives_the_proxy(
    livekit_server: LiveKitServer, proxy: Proxy, recorded_session: RecordedSession
) -> None:
    """A new proxy process on the same state dir serves the session from disk alone."""
    before = session_detail(proxy.url, recorded_session.job_id)
    again = Proxy(livekit_server, AGENT_NAME, "http://127.0.0.1:9")
    try:
        again.wait_ready()
        after = session_detail(again.url, recorded_session.job_id)
    finally:
        again.stop()
    assert after["transcript"] == before["transcript"]
    assert after["spans"] == before["spans"] and after["logs"] == before["logs"]
    assert after["dispatch"]["dispatch_id"] == recorded_session.dispatch_id


def test_unknown_sessions_are_404_in_the_one_error_shape(proxy: Proxy) -> None:
    for path in ("/api/sessions/AJ_nothing", "/api/sessions/AJ_nothing/audio"):
        resp = httpx.get(proxy.url + path, timeout=10)
        assert resp.status_code == 404 and {"error", "detail", "hint"} <= resp.json().keys()
    bad = httpx.get(proxy.url + "/api/sessions/not%20an%20id", timeout=10)
    assert bad.status_code == 422


def test_the_built_in_agents_sessions_show_too(
    livekit_server: LiveKitServer, proxy: Proxy, tmp_path: Path, room_name: str
) -> None:
    """The loopback agent has no AgentSession: its job records its spans and logs itself,
    through the same upload path, and each echo is a turn."""
    worker = AgentWorker(livekit_server, "insights-builtin", **insights_env(proxy.url))
    try:
        worker.wait_registered()
        asyncio.run(echo_once(livekit_server, proxy, room_name, tmp_path))

        def echoed() -> dict[str, Any] | None:
            worker.check_running()
            s = session_in_room(proxy.url, room_name)
            if s is None:
                return None
            heard = any(r["message"].startswith("heard ") for r in s["logs"])
            return s if heard and any(t["kind"] == "agent_turn" for t in s["turns"]) else None

        s = wait_until(echoed, timeout=30, what="the loopback session's echo turn and log")
    finally:
        worker.stop()
    assert s["agent_name"] == "insights-builtin" and s["room"] == room_name
    assert s["dispatch"]["source"] == "explicit"


async def echo_once(server: LiveKitServer, proxy: Proxy, room: str, tmp_path: Path) -> None:
    async with connected(server, plain_token(server, room, "person")) as client:
        made = httpx.post(
            f"{proxy.url}/api/dispatch-agent",
            json={"room": room, "agent_name": "insights-builtin"},
            timeout=15,
        )
        assert made.status_code == 200, made.text
        (agent,) = await client.wait_for_agents(1, timeout=30)
        samples, rate = read_wav(speech_wav(tmp_path))
        await publish_wav(client.room, samples, rate)
        # The echo turn ends when the agent has played the speech back.
        await client.wait_for_agent_state(agent.identity, "speaking", timeout=30)
        await client.wait_for_agent_state(agent.identity, "listening", timeout=30)
    async with server.client() as lk:
        await lk.room.delete_room(api.DeleteRoomRequest(room=room))


def test_a_job_that_crashed_before_joining_has_its_exception_in_its_session(
    livekit_server: LiveKitServer, proxy: Proxy, room_name: str
) -> None:
    """The agent never joins; livekit-agents still uploads the job's logs at its end, so the
    session says why, with the exception, where the user looks for it."""
    crash = ROOT / "tests/agent/project/src/crash_before_connect.py"
    worker = AgentWorker(
        livekit_server,
        "my-crashing-agent",
        AGENT_FILE=str(crash.relative_to(ROOT)),
        **insights_env(proxy.url),
    )
    try:
        worker.wait_for_line("registered worker", timeout=90)
        made = httpx.post(
            f"{proxy.url}/api/dispatch-agent",
            json={"room": room_name, "agent_name": "my-crashing-agent"},
            timeout=15,
        )
        assert made.status_code == 200, made.text

        def crashed() -> list[dict[str, Any]] | None:
            worker.check_running()
            s = session_in_room(proxy.url, room_name)
            return (s["errors"] or None) if s else None

        try:
            errors = wait_until(crashed, timeout=60, what="the crashed job's session and its error")
        except TimeoutError:
            listed = httpx.get(f"{proxy.url}/api/sessions", timeout=10).json()["sessions"]
            raise AssertionError(f"{listed}\n{worker.output[-3000:]}") from None
    finally:
        worker.stop()
    assert any(
        "RuntimeError: FIXTURE_DATABASE_URL is not set" in str(e["message"]) for e in errors
    ), errors
