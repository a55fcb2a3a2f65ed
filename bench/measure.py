"""One measured join: a real livekit.rtc client, timed until the AGENT participant is
visible to it, then until the agent's first audio frame arrives."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import Literal

from livekit import api, rtc

from devstack.rooms import AGENT_WAIT_SECONDS
from devstack.tokens import mint_token

Mode = Literal["explicit", "token", "auto"]
AGENT = rtc.ParticipantKind.PARTICIPANT_KIND_AGENT


@dataclass
class Join:
    mode: Mode
    room: str
    joined: bool
    join_s: float | None = (
        None  # dispatch request (explicit) or connect (token/auto) -> agent visible
    )
    audio_s: float | None = None  # same start -> first audio frame from the agent
    error: str = ""


@dataclass
class Target:
    url: str  # ws://...
    api_key: str
    api_secret: str
    agent_name: str


def _token(t: Target, room: str, identity: str, with_agent: bool) -> str:
    return mint_token(
        api_key=t.api_key,
        api_secret=t.api_secret,
        room=room,
        identity=identity,
        agent_name=t.agent_name if with_agent else None,
    )


async def _first_frame(track: rtc.Track) -> None:
    stream = rtc.AudioStream.from_track(track=track, sample_rate=48000, num_channels=1)
    try:
        async for _ in stream:
            return
    finally:
        await stream.aclose()


async def join_once(t: Target, lk: api.LiveKitAPI, mode: Mode, room: str) -> Join:
    """Join `room` as a client the way `mode` does it and time the agent's arrival."""
    client = rtc.Room()
    agent_seen = asyncio.Event()
    audio_track: asyncio.Future[rtc.Track] = asyncio.get_running_loop().create_future()

    def on_participant(p: rtc.RemoteParticipant) -> None:
        if p.kind == AGENT:
            agent_seen.set()

    def on_track(
        track: rtc.Track, _pub: rtc.RemoteTrackPublication, p: rtc.RemoteParticipant
    ) -> None:
        if p.kind == AGENT and track.kind == rtc.TrackKind.KIND_AUDIO and not audio_track.done():
            audio_track.set_result(track)

    client.on("participant_connected", on_participant)
    client.on("track_subscribed", on_track)
    result = Join(mode=mode, room=room, joined=False)
    try:
        started = time.perf_counter()
        await client.connect(t.url, _token(t, room, "bench-user", with_agent=mode == "token"))
        if mode == "explicit":
            started = time.perf_counter()
            await lk.agent_dispatch.create_dispatch(
                api.CreateAgentDispatchRequest(agent_name=t.agent_name, room=room)
            )
        if any(p.kind == AGENT for p in client.remote_participants.values()):
            agent_seen.set()
        await asyncio.wait_for(agent_seen.wait(), AGENT_WAIT_SECONDS)
        result.joined, result.join_s = True, time.perf_counter() - started
        track = await asyncio.wait_for(audio_track, 10)
        await asyncio.wait_for(_first_frame(track), 10)
        result.audio_s = time.perf_counter() - started
    except TimeoutError:
        result.error = (
            "no agent audio within 10 s"
            if result.joined
            else f"no agent within {AGENT_WAIT_SECONDS:.0f} s"
        )
    except Exception as exc:  # a failed join is a data point, not a crash
        result.error = f"{type(exc).__name__}: {exc}"
    finally:
        await client.disconnect()
        # Ending the room ends the agent's job, so each measurement starts from the same state.
        with contextlib.suppress(api.TwirpError):
            await lk.room.delete_room(api.DeleteRoomRequest(room=room))
    return result
