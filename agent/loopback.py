"""Offline media mode: Silero VAD cuts the user's speech into utterances and the agent
plays each one back on its own track, published when it first has something to play. It
proves mic -> server -> agent -> server -> speaker works end to end, with no cloud account
and no API key."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import numpy as np
from livekit import rtc
from livekit.agents import JobContext, vad
from livekit.agents.telemetry import tracer

from agent.state import CHAT_TOPIC, say_text, set_state

# Typed in the chat, it makes the agent end its job normally (disconnect CLIENT_INITIATED).
LEAVE_COMMAND = "/leave"
SAMPLE_RATE = 16000  # Silero's native rate: no resampling on the way in
SUBSCRIBE_WAIT_SECONDS = 2.0
# Frames of 50 ms, not the SDK's 10 ms: a fifth of the Python wake-ups per listened track.
FRAME_MS = 50
# About -60 dBFS (int16 RMS): below it a frame is silence, a muted or silent microphone.
SILENCE_RMS = 30.0
logger = logging.getLogger("devstack.agent.loopback")


class Loopback:
    """Echoes every utterance heard in the room, one at a time."""

    def __init__(self, ctx: JobContext, vad_model: vad.VAD) -> None:
        self._ctx = ctx
        self._vad = vad_model
        self._speaking = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        # The echo track's audio source, once published (see _voice).
        self._published: asyncio.Task[rtc.AudioSource] | None = None

    async def start(self) -> None:
        """Listen to every current and future audio track. The echo track is published the
        first time there is something to play back (see _voice)."""
        room = self._ctx.room
        room.on("track_subscribed", self._on_track_subscribed)
        for participant in room.remote_participants.values():
            for publication in participant.track_publications.values():
                if publication.track is not None:
                    self._on_track_subscribed(publication.track, publication, participant)
        room.register_text_stream_handler(CHAT_TOPIC, self._on_chat)

    def _spawn(self, coro: object) -> None:
        task = asyncio.create_task(coro)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _on_track_subscribed(
        self,
        track: rtc.Track,
        _publication: rtc.RemoteTrackPublication,
        participant: rtc.RemoteParticipant,
    ) -> None:
        is_agent = participant.kind == rtc.ParticipantKind.PARTICIPANT_KIND_AGENT
        if track.kind == rtc.TrackKind.KIND_AUDIO and not is_agent:
            logger.info("listening to %s", participant.identity)
            self._spawn(self._listen(track, participant.identity))

    def _on_chat(self, reader: rtc.TextStreamReader, sender: str) -> None:
        async def reply() -> None:
            text = await reader.read_all()
            if text.strip() == LEAVE_COMMAND:
                # An agent that ends its job on purpose: the stack must not replace it.
                await say_text(self._ctx.room, "leaving: my job ends here")
                logger.info("%s asked the agent to leave; ending the job", sender)
                self._ctx.shutdown(reason=f"{sender} sent {LEAVE_COMMAND}")
                return
            await say_text(self._ctx.room, f"loopback mode: you wrote {text!r}")

        logger.info("chat from %s", sender)
        self._spawn(reply())

    async def _listen(self, track: rtc.Track, identity: str) -> None:
        stream = rtc.AudioStream.from_track(
            track=track, sample_rate=SAMPLE_RATE, num_channels=1, frame_size_ms=FRAME_MS
        )
        vad_stream = self._vad.stream()
        speaking = False

        async def feed() -> None:
            # A person in the room who says nothing would cost the VAD's model a run every
            # frame: silence is not fed to it, except while it is in speech (it needs the
            # pause to call the utterance finished).
            async for event in stream:
                if speaking or not _silent(event.frame):
                    vad_stream.push_frame(event.frame)
            vad_stream.end_input()

        feeder = asyncio.create_task(feed())
        try:
            async for event in vad_stream:
                if event.type == vad.VADEventType.START_OF_SPEECH:
                    speaking = True
                if event.type == vad.VADEventType.END_OF_SPEECH:
                    speaking = False
                    if event.frames:
                        await self._echo(event.frames, event.speech_duration, identity)
        finally:
            feeder.cancel()
            await vad_stream.aclose()
            await stream.aclose()

    async def _voice(self) -> rtc.AudioSource:
        """The echo track's source, the track published once, when the agent first has
        something to say. A published track costs an Opus encoder running 50 times a second
        even in silence, in the worker, the server and every subscriber: with 50 rooms that
        was most of a core spent on nothing. Even an unpublished audio source ticks in the
        SDK's native threads (50 idle ones cost 7 % of a core), so it is made here too.
        Waits briefly for a subscriber, so the first echo is heard from its start."""
        if self._published is None:
            self._published = asyncio.create_task(self._publish())
        return await self._published

    async def _publish(self) -> rtc.AudioSource:
        room = self._ctx.room
        subscribed = asyncio.Event()
        room.on("local_track_subscribed", lambda _track: subscribed.set())
        source = rtc.AudioSource(SAMPLE_RATE, 1, queue_size_ms=1000)
        track = rtc.LocalAudioTrack.create_audio_track("agent-echo", source)
        options = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
        await room.local_participant.publish_track(track, options)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(subscribed.wait(), SUBSCRIBE_WAIT_SECONDS)
        return source

    async def _echo(self, frames: list[rtc.AudioFrame], duration: float, identity: str) -> None:
        async with self._speaking:
            # One turn in the session's timeline (/sessions), as AgentSession draws its own.
            with tracer.start_as_current_span("agent_turn") as span:
                span.set_attribute("devstack.heard_seconds", round(duration, 2))
                await self._play(frames, duration, identity)

    async def _play(self, frames: list[rtc.AudioFrame], duration: float, identity: str) -> None:
        room = self._ctx.room
        logger.info("heard %.1f s of speech from %s, playing it back", duration, identity)
        await say_text(room, f"heard {duration:.1f} s of speech")
        source = await self._voice()
        await set_state(room, "speaking")
        for frame in frames:
            await source.capture_frame(frame)
        await source.wait_for_playout()
        await set_state(room, "listening")


def _silent(frame: rtc.AudioFrame) -> bool:
    samples = np.frombuffer(frame.data, dtype=np.int16).astype(np.float32)
    return samples.size == 0 or float(np.sqrt(np.mean(samples**2))) < SILENCE_RMS
