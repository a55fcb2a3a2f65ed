"""A spoken conversation as a test: `devstack.converse()` joins a room as a person with a
real microphone track, dispatches the agent and returns a `Call`; `call.listen()` is the
agent's next utterance, `call.say()` speaks and returns the `Turn` it led to.

What the agent said and heard comes from livekit-agents' own transcription streams
(`lk.transcription`: the agent's speech is sent by the agent's identity, the person's words
as its STT heard them by the person's, final when `lk.transcription_final` is "true").
Timings come from the audio the person receives: a 10 ms frame louder than ENERGY is the
agent's voice. The microphone sends silence between sentences, as an open microphone does,
so the agent's VAD hears the person stop."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
from livekit import api, rtc

from devstack.conversation_gateway import INSTALL_HINT, mic_frames, speech
from devstack.rooms import STATE_ATTRIBUTE
from devstack.tokens import mint_token
from devstack.worker_log import read_failures

if TYPE_CHECKING:
    from devstack.testing import Devstack

T = TypeVar("T")
PERSON = "devstack-test-person"
AGENT = rtc.ParticipantKind.PARTICIPANT_KIND_AGENT
TRANSCRIPTION = "lk.transcription"
FINAL = "lk.transcription_final"
RATE = 48000
FRAME = RATE // 100  # 10 ms
ENERGY = 150.0  # RMS on the int16 scale: the agent's voice; silence and dither stay far below
QUIET = 0.3  # seconds without a loud frame: the agent's utterance has ended
BUSY = ("initializing", "thinking", "speaking")  # lk.agent.state: not yet listening


@dataclass
class Utterance:
    text: str  # from the agent's transcription stream
    audio_s: float  # its audio as the person heard it, first to last loud frame (0: none)
    started_s: float  # when that audio began, in seconds since the person joined


@dataclass
class Session:
    """The agent's session in this room, as its worker's log tells it."""

    room: str
    agent_identity: str
    errors: list[str] = field(default_factory=list)  # failures logged for the room's job


@dataclass
class Turn:
    heard: str  # what the agent's STT made of the person (its final transcripts)
    reply: Utterance
    latency_s: float  # end of the person's speech -> first loud frame of the reply
    session: Session


class UnansweredError(Exception):
    """What went wrong, said before the doctor's verdict is added (outside the event loop)."""


@dataclass
class _Said:
    opened: float  # monotonic time the stream's first chunk came
    done: float
    text: str


class Call:
    """One person in one room with the agent; made by `Devstack.converse()`."""

    def __init__(self, stack: Devstack, agent_name: str, room: str) -> None:
        self.stack, self.agent_name, self.room = stack, agent_name, room
        self.agent_identity = ""
        self.joined_at = 0.0
        self._room: rtc.Room | None = None
        self._source: rtc.AudioSource | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._said: asyncio.Queue[_Said] = asyncio.Queue()  # the agent's finished streams
        self._heard: list[tuple[float, str]] = []  # (arrival, final transcript of the person)
        self._loud: list[float] = []  # arrival times of the agent's loud frames
        self._changed = asyncio.Event()
        self._subscribed = asyncio.Event()  # the agent takes the person's microphone
        self._to_speak: deque[np.ndarray] = deque()
        self._spoken: asyncio.Future[float] | None = None
        self._mark = 0.0  # where the next utterance's audio may begin

    # --- the test's side (plain functions, run on the stack's loop) ---

    def listen(self, timeout: float = 30) -> Utterance:
        """The agent's next utterance (the greeting, first)."""
        return self._run(self._listen(timeout), timeout)

    def say(self, text_or_wav: str | Path, timeout: float = 30) -> Turn:
        """Speak into the microphone (text in a voice, or a 16-bit WAV as it is), then wait
        `timeout` seconds for the agent's answer."""
        samples, rate = speech(text_or_wav)
        return self._run(self._say(mic_frames(samples, rate, RATE, ENERGY), timeout), 2 * timeout)

    def _run(self, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        try:
            return self.stack._loop.run(coro, timeout + 60)
        except UnansweredError as exc:
            why = self.stack.why(self.room, self.agent_name)
            if self.stack.gateway is None:  # Inference strings cannot work without it
                why += f" (no Inference gateway runs here: {INSTALL_HINT})"
            raise AssertionError(f"{exc}: {why}") from None

    # --- joining and leaving ---

    async def open(self, timeout: float) -> None:
        server = self.stack.server
        assert server is not None, "the devstack is not started"
        self._room = room = rtc.Room()
        room.on("track_subscribed", self._on_track)
        room.on("local_track_subscribed", lambda *_: self._subscribed.set())
        room.on("participant_connected", lambda *_: self._changed.set())
        room.on("participant_disconnected", lambda *_: self._changed.set())
        room.on("participant_attributes_changed", lambda *_: self._changed.set())
        room.register_text_stream_handler(TRANSCRIPTION, self._on_text)
        token = mint_token(
            api_key=server.api_key, api_secret=server.api_secret, room=self.room, identity=PERSON
        )
        await room.connect(server.url, token)
        self.joined_at = time.monotonic()
        # A small queue: the pump is never more than 50 ms ahead of what is sent.
        self._source = rtc.AudioSource(RATE, 1, queue_size_ms=50)
        track = rtc.LocalAudioTrack.create_audio_track("microphone", self._source)
        options = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
        await room.local_participant.publish_track(track, options)
        self._spawn(self._pump())
        async with server.client() as lk:
            await lk.agent_dispatch.create_dispatch(
                api.CreateAgentDispatchRequest(agent_name=self.agent_name, room=self.room)
            )
        if not await self._until(lambda: self._agent() is not None, timeout):
            raise AssertionError(self.stack.diagnose(self.room, self.agent_name, timeout))
        self.agent_identity = self._agent().identity  # type: ignore[union-attr]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._room is not None:
            await self._room.disconnect()
        if self._source is not None:
            await self._source.aclose()
        server = self.stack.server
        if server is not None:  # the agent's job ends with the room, not at its own pace
            with contextlib.suppress(Exception):
                async with server.client() as lk:
                    await lk.room.delete_room(api.DeleteRoomRequest(room=self.room))

    # --- what the person hears ---

    def _agent(self) -> rtc.RemoteParticipant | None:
        assert self._room is not None
        agents = (p for p in self._room.remote_participants.values() if p.kind == AGENT)
        return next(agents, None)

    def _on_track(
        self, track: rtc.Track, _pub: rtc.RemoteTrackPublication, who: rtc.RemoteParticipant
    ) -> None:
        if who.kind == AGENT and track.kind == rtc.TrackKind.KIND_AUDIO:
            self._spawn(self._hear(track))

    async def _hear(self, track: rtc.Track) -> None:
        stream = rtc.AudioStream.from_track(track=track, sample_rate=16000, num_channels=1)
        try:
            async for event in stream:
                data = np.frombuffer(event.frame.data, dtype=np.int16).astype(np.float64)
                if data.size and float(np.sqrt(np.mean(data**2))) > ENERGY:
                    self._loud.append(time.monotonic())
                    self._changed.set()
        finally:
            await stream.aclose()

    def _on_text(self, reader: rtc.TextStreamReader, sender: str) -> None:
        opened = time.monotonic()

        async def read() -> None:
            text = (await reader.read_all()).strip()
            if sender == PERSON:  # the person's words, as the agent's STT heard them
                if reader.info.attributes.get(FINAL) == "true" and text:
                    self._heard.append((time.monotonic(), text))
            elif text:
                await self._said.put(_Said(opened, time.monotonic(), text))
            self._changed.set()

        self._spawn(read())

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _until(self, condition: Callable[[], bool], timeout: float) -> bool:
        """Wait for `condition()` to hold, woken by the room's events, and by the clock when
        the agent is to fall quiet (conditions on quiet hold by time alone); False at the
        deadline."""
        deadline = time.monotonic() + timeout
        while not condition():
            self._changed.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            if (quiet_in := self._quiet_in()) > 0:
                remaining = min(remaining, quiet_in)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)
        return True

    def _quiet_in(self) -> float:
        """Seconds until the agent's audio has been quiet for QUIET (<= 0: it has)."""
        return QUIET - (time.monotonic() - (self._loud[-1] if self._loud else 0))  # in time order

    async def _utterance(self, said: _Said, after: float) -> Utterance:
        """`said` with its audio: the first loud frame after `after`, to the last one before
        the agent has been quiet for QUIET seconds."""
        await self._until(lambda: self._quiet_in() <= 0, 5)
        loud = [t for t in self._loud if t >= after]
        self._mark = loud[-1] if loud else said.done
        if not loud:
            return Utterance(said.text, 0.0, round(said.opened - self.joined_at, 3))
        first, last = loud[0], loud[-1] + 0.01
        return Utterance(said.text, round(last - first, 3), round(first - self.joined_at, 3))

    async def _next_said(self, timeout: float) -> _Said | None:
        """The agent's next finished utterance; None at the deadline. An agent that left
        will say nothing more: that fails at once."""
        await self._until(lambda: not self._said.empty() or self._agent() is None, timeout)
        if not self._said.empty():
            return self._said.get_nowait()
        if self._agent() is None:
            raise UnansweredError(f"the agent {self.agent_identity} left the room")
        return None

    async def _listen(self, timeout: float) -> Utterance:
        said = await self._next_said(timeout)
        if said is None:
            raise UnansweredError(f"the agent said nothing within {timeout:g} s")
        return await self._utterance(said, max(self._mark, said.opened - 0.5))

    # --- what the person says ---

    async def _pump(self) -> None:
        """The microphone: speech when there is some, else silence, in real time."""
        assert self._source is not None
        silence = np.zeros(FRAME, dtype=np.int16)
        while True:
            frame = self._to_speak.popleft() if self._to_speak else silence
            last = frame is not silence and not self._to_speak
            await self._source.capture_frame(rtc.AudioFrame(frame.tobytes(), RATE, 1, FRAME))
            if last and self._spoken is not None and not self._spoken.done():
                # The last frame of speech leaves once what is queued before it has gone.
                self._spoken.set_result(time.monotonic() + self._source.queued_duration)

    def _listening(self) -> bool:
        agent = self._agent()
        state = agent.attributes.get(STATE_ATTRIBUTE) if agent else None
        return state not in BUSY and self._quiet_in() <= 0

    async def _say(self, frames: list[np.ndarray], timeout: float) -> Turn:
        if not await self._until(self._subscribed.is_set, timeout):
            raise UnansweredError(
                f"the agent never listened: it did not subscribe to the person's microphone "
                f"within {timeout:g} s"
            )
        # Speaking over the agent would interrupt it: wait for it to listen, as a person does.
        await self._until(self._listening, timeout)
        while not self._said.empty():
            self._said.get_nowait()  # what it said before: not the answer
        start = time.monotonic()
        self._spoken = asyncio.get_running_loop().create_future()
        self._to_speak.extend(frames)
        end = await self._spoken
        said = await self._reply(start, end, end + timeout)
        heard = " ".join(text for at, text in self._heard if start <= at <= said.done)
        reply = await self._utterance(said, max(end, said.opened - 0.5))
        if reply.audio_s == 0:
            raise UnansweredError(
                f"the agent answered {said.text!r} in text, but the person heard no audio of it"
            )
        latency = self.joined_at + reply.started_s - end
        # Off the loop: the microphone pump must keep sending in real time meanwhile.
        failures = await asyncio.to_thread(read_failures, self.stack.state_dir, room=self.room)
        errors = [f.error for f in failures]
        session = Session(self.room, self.agent_identity, errors)
        return Turn(heard, reply, round(latency, 3), session)

    async def _reply(self, start: float, end: float, deadline: float) -> _Said:
        """The agent's first utterance after it heard the person: one begun before its first
        final transcript of them is a greeting the person spoke over."""
        waited = f"in {deadline - end:g} s"
        try:
            while (said := await self._next_said(deadline - time.monotonic())) is not None:
                finals = [at for at, _ in self._heard if at >= start]
                if said.opened >= (finals[0] if finals else end):
                    return said
        except UnansweredError as gone:  # the agent left: no use waiting out the deadline
            waited = f"before {gone}"
        heard = " ".join(text for at, text in self._heard if at >= start)
        if not heard:
            raise UnansweredError(f"the agent heard nothing (no transcript of the person {waited})")
        raise UnansweredError(f"the agent heard {heard!r} but did not answer ({waited})")
