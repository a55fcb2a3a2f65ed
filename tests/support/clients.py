"""A real WebRTC client (livekit.rtc) that reports what a user of the room would see."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import numpy as np
from livekit import rtc

from devstack.local_server import LiveKitServer
from devstack.rooms import STATE_ATTRIBUTE
from devstack.tokens import mint_token

AGENT = rtc.ParticipantKind.PARTICIPANT_KIND_AGENT


def plain_token(server: LiveKitServer, room: str, identity: str) -> str:
    """A token with no room configuration: joining with it dispatches no named agent."""
    return mint_token(
        api_key=server.api_key, api_secret=server.api_secret, room=room, identity=identity
    )


class Client:
    """One participant; records when agents join and what text they send."""

    def __init__(self) -> None:
        self.room = rtc.Room()
        self.connected_at = 0.0
        self.agent_joined_at: dict[str, float] = {}
        self.texts: list[str] = []
        self._changed = asyncio.Event()
        self._readers: set[asyncio.Task[None]] = set()
        self.room.on("participant_connected", self._on_participant)
        self.room.on("participant_disconnected", lambda _: self._changed.set())
        self.room.on("track_subscribed", lambda *_: self._changed.set())
        self.room.on("participant_attributes_changed", lambda *_: self._changed.set())
        self.room.register_text_stream_handler("lk.transcription", self._on_text)

    def _on_participant(self, participant: rtc.RemoteParticipant) -> None:
        if participant.kind == AGENT:
            self.agent_joined_at.setdefault(participant.identity, time.monotonic())
            self._changed.set()

    def _on_text(self, reader: rtc.TextStreamReader, _sender: str) -> None:
        async def read() -> None:
            self.texts.append(await reader.read_all())
            self._changed.set()

        task = asyncio.ensure_future(read())
        self._readers.add(task)
        task.add_done_callback(self._readers.discard)

    def agents(self) -> list[rtc.RemoteParticipant]:
        """AGENT participants in the room now."""
        return [p for p in self.room.remote_participants.values() if p.kind == AGENT]

    async def _wait(self, condition: object, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not condition():  # type: ignore[operator]
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                return bool(condition())  # type: ignore[operator]
        return True

    async def wait_for_agents(
        self, count: int = 1, timeout: float = 20
    ) -> list[rtc.RemoteParticipant]:
        """The agents once `count` are in the room; fails at the deadline."""
        if not await self._wait(lambda: len(self.agents()) >= count, timeout):
            raise AssertionError(
                f"expected {count} agent(s) within {timeout} s, saw {len(self.agents())}"
            )
        return self.agents()

    async def wait_for_agent_gone(self, identity: str, timeout: float = 10) -> None:
        """Until the agent `identity` has left (another agent may already be in its place)."""
        if not await self._wait(lambda: identity not in self.room.remote_participants, timeout):
            raise AssertionError(f"agent {identity} still in the room after {timeout} s")

    async def wait_for_new_agent(self, exclude: set[str], timeout: float = 10) -> str:
        """The identity of an agent in the room that is not one of `exclude`."""

        def fresh() -> str | None:
            return next((a.identity for a in self.agents() if a.identity not in exclude), None)

        if not await self._wait(lambda: fresh() is not None, timeout):
            raise AssertionError(f"no new agent within {timeout} s (besides {sorted(exclude)})")
        return fresh() or ""

    async def wait_for_no_agents(self, timeout: float = 10) -> None:
        if not await self._wait(lambda: not self.agents(), timeout):
            raise AssertionError(f"agents still in the room after {timeout} s: {self.agents()}")

    async def agents_seen_within(self, seconds: float) -> int:
        """How many agents joined during an observation window (for 'no agent' and 'only one')."""
        await self._wait(lambda: False, seconds)
        return len(self.agent_joined_at)

    async def wait_for_agent_audio(self, identity: str, timeout: float = 10) -> rtc.Track:
        """The agent's subscribed audio track."""

        def track() -> rtc.Track | None:
            participant = self.room.remote_participants.get(identity)
            pubs = participant.track_publications.values() if participant else []
            return next(
                (p.track for p in pubs if p.track and p.kind == rtc.TrackKind.KIND_AUDIO), None
            )

        if not await self._wait(lambda: track() is not None, timeout):
            raise AssertionError(f"agent {identity} published no audio track within {timeout} s")
        found = track()
        assert found is not None
        return found

    async def wait_for_agent_state(self, identity: str, wanted: str, timeout: float = 20) -> None:
        """Until the agent's lk.agent.state is `wanted` (text typed while it speaks
        interrupts it); fails at the deadline."""

        def reached() -> bool:
            agent = self.room.remote_participants.get(identity)
            return agent is not None and agent.attributes.get(STATE_ATTRIBUTE) == wanted

        if not await self._wait(reached, timeout):
            raise AssertionError(f"the agent never became {wanted!r} within {timeout} s")

    async def wait_for_text(self, fragment: str, timeout: float = 20) -> str:
        if not await self._wait(lambda: any(fragment in t for t in self.texts), timeout):
            raise AssertionError(
                f"no text containing {fragment!r} within {timeout} s; got {self.texts}"
            )
        return next(t for t in self.texts if fragment in t)

    async def wait_for_nth_text(self, fragment: str, nth: int, timeout: float = 20) -> str:
        """The `nth` (1-based) text containing `fragment`: the agent's second answer, say."""

        def matching() -> list[str]:
            return [t for t in self.texts if fragment in t]

        if not await self._wait(lambda: len(matching()) >= nth, timeout):
            raise AssertionError(
                f"no {nth} texts containing {fragment!r} within {timeout} s; got {self.texts}"
            )
        return matching()[nth - 1]


@asynccontextmanager
async def connected(server: LiveKitServer, token: str) -> AsyncIterator[Client]:
    """A client joined with `token`, disconnected afterwards."""
    client = Client()
    await client.room.connect(server.url, token)
    client.connected_at = time.monotonic()
    try:
        yield client
    finally:
        await client.room.disconnect()


async def publish_wav(
    room: rtc.Room, samples: np.ndarray, sample_rate: int, trailing_silence: float = 1.5
) -> None:
    """Publish mono int16 `samples` as a microphone track, in real time, then silence
    (Silero needs a pause to call the utterance finished). With an agent in the room, the
    speech starts once the agent has subscribed to the track (or after 5 s): words said
    before that would be lost, as a person's first words are before a mic is heard."""
    source = rtc.AudioSource(sample_rate, 1)
    track = rtc.LocalAudioTrack.create_audio_track("mic", source)
    heard = asyncio.Event()

    def subscribed(subscribed_track: rtc.LocalTrack) -> None:
        if subscribed_track.sid == track.sid:
            heard.set()

    room.on("local_track_subscribed", subscribed)
    await room.local_participant.publish_track(
        track, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
    )
    if any(p.kind == AGENT for p in room.remote_participants.values()):
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                await heard.wait()
    room.off("local_track_subscribed", subscribed)
    chunk = sample_rate // 100  # 10 ms frames; capture_frame paces them in real time
    padded = np.concatenate(
        [samples, np.zeros(int(sample_rate * trailing_silence), dtype=np.int16)]
    )
    for start in range(0, len(padded) - chunk + 1, chunk):
        frame = rtc.AudioFrame(padded[start : start + chunk].tobytes(), sample_rate, 1, chunk)
        await source.capture_frame(frame)
    await source.wait_for_playout()


async def peak_rms(track: rtc.Track, timeout: float, threshold: float) -> float:
    """Listen to `track` until a 10 ms frame's RMS passes `threshold` or the deadline ends;
    returns the loudest RMS heard (int16 scale)."""
    stream = rtc.AudioStream.from_track(track=track, sample_rate=16000, num_channels=1)
    loudest = 0.0

    async def listen() -> None:
        nonlocal loudest
        async for event in stream:
            data = np.frombuffer(event.frame.data, dtype=np.int16).astype(np.float64)
            loudest = max(loudest, float(np.sqrt(np.mean(data**2))) if data.size else 0.0)
            if loudest > threshold:
                return

    try:
        await asyncio.wait_for(listen(), timeout)
    except TimeoutError:
        pass
    finally:
        await stream.aclose()
    return loudest
