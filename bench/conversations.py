"""One person's side of a spoken conversation with the agent (bench/turns.py runs one per
process, as real people have a device each): a livekit.rtc participant with a microphone
track that carries silence between the utterances it says (bench/speech.py), as a real
microphone does, and an ear on the agent's audio track. A turn is timed where the person
is: from the end of their speech, as it leaves their microphone, to the first frame of the
agent's audio with energy in it reaching them."""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import time
import uuid
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from livekit import api, rtc

from bench.spawned import send
from bench.speech import FRAME_S, Speech
from devstack.livekit import api_client
from devstack.rooms import STATE_ATTRIBUTE
from devstack.tokens import mint_token

# The agent's audio is heard where a frame is louder than this (RMS, int16): well above
# the near-silence of a codec, well below a voice (Piper's peaks at several 1000).
HEARD_RMS = 500.0
# How far ahead of the wire the microphone may capture: small, so that "the end of the
# speech left the microphone" is known to within a few frames (livekit.rtc's default 1 s).
MIC_QUEUE_MS = 200
AGENT_WAIT_S = 60.0  # for the agent to join, publish, and finish its greeting
REPLY_WAIT_S = 30.0  # for one reply; a turn that gets none is counted as lost


@dataclass
class Turn:
    said: str
    speech_s: float
    latency_s: float | None  # end of speech -> first agent audio with energy, at the person
    thinking_s: float | None  # end of speech -> the agent's state "thinking" seen here
    final_s: float | None  # end of speech -> the final transcript of it, back at the person


class Person:
    """A participant who speaks into a microphone track and listens to the agent."""

    def __init__(self, rate: int) -> None:
        self.room = rtc.Room()
        self.source = rtc.AudioSource(rate, 1, queue_size_ms=MIC_QUEUE_MS)
        self.rate = rate
        self.states: list[tuple[float, str]] = []  # (when seen, lk.agent.state)
        self.loud: list[float] = []  # when each frame of the agent's with energy arrived
        self.changed = asyncio.Event()
        self._say: asyncio.Queue[tuple[Speech, asyncio.Future[float]]] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self.room.on("participant_attributes_changed", self._on_attributes)
        self.room.on("track_subscribed", lambda *_: self.changed.set())
        # The agent sends the person's own words back as transcription streams in the
        # person's name, the final one marked: when the gateway's STT was done, seen here.
        self.finals: list[float] = []
        self.room.register_text_stream_handler("lk.transcription", self._on_transcription)

    def _on_transcription(self, reader: rtc.TextStreamReader, sender: str) -> None:
        attributes = reader.info.attributes or {}
        if sender == self.room.local_participant.identity and (
            attributes.get("lk.transcription_final") == "true"
        ):
            self.finals.append(time.monotonic())
            self.changed.set()

    def _on_attributes(self, _changed: dict[str, str], who: rtc.Participant) -> None:
        state = who.attributes.get(STATE_ATTRIBUTE)
        if who.kind == rtc.ParticipantKind.PARTICIPANT_KIND_AGENT and state is not None:
            self.states.append((time.monotonic(), state))
            self.changed.set()

    async def join(self, url: str, token: str) -> None:
        await self.room.connect(url, token)
        track = rtc.LocalAudioTrack.create_audio_track("mic", self.source)
        options = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
        await self.room.local_participant.publish_track(track, options)
        self._tasks.append(asyncio.create_task(self._microphone()))

    async def _microphone(self) -> None:
        """10 ms frames in real time (capture_frame paces them): silence, or what to say."""
        size = int(self.rate * FRAME_S)
        silence = rtc.AudioFrame(bytes(size * 2), self.rate, 1, size)
        while True:
            if self._say.empty():
                await self.source.capture_frame(silence)
                continue
            speech, done = self._say.get_nowait()
            for at in range(0, len(speech.samples), size):
                chunk = speech.samples[at : at + size]
                await self.source.capture_frame(
                    rtc.AudioFrame(chunk.tobytes(), self.rate, 1, len(chunk))
                )
            # Captured is not sent: what is still queued leaves the microphone in real time.
            done.set_result(time.monotonic() + self.source.queued_duration)

    async def say(self, speech: Speech) -> float:
        """Say `speech`; returns when its last sample left the microphone (monotonic)."""
        done: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._say.put_nowait((speech, done))
        return await done

    async def listen(self, track: rtc.Track) -> None:
        stream = rtc.AudioStream.from_track(track=track, sample_rate=16000, num_channels=1)

        async def hear() -> None:
            async for event in stream:
                pcm = np.frombuffer(event.frame.data, dtype=np.int16).astype(np.float64)
                if pcm.size and np.sqrt((pcm**2).mean()) > HEARD_RMS:
                    self.loud.append(time.monotonic())
                    self.changed.set()

        self._tasks.append(asyncio.create_task(hear()))

    async def until(self, condition: Any, timeout: float) -> Any:
        """The first true value of `condition()`, re-checked at each change; None at the
        deadline."""
        deadline = time.monotonic() + timeout
        while not (found := condition()):
            if (left := deadline - time.monotonic()) <= 0:
                return None
            self.changed.clear()
            try:
                async with asyncio.timeout(left):
                    await self.changed.wait()
            except TimeoutError:
                return condition() or None
        return found

    def first_loud_after(self, at: float) -> float | None:
        i = bisect.bisect_right(self.loud, at)
        return self.loud[i] if i < len(self.loud) else None

    def final_after(self, at: float) -> float | None:
        i = bisect.bisect_right(self.finals, at)
        return self.finals[i] if i < len(self.finals) else None

    def state_after(self, state: str, at: float) -> float | None:
        return next((t for t, s in self.states if s == state and t > at), None)

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        await self.room.disconnect()


async def converse(
    url: str,
    key: str,
    secret: str,
    agent: str,
    room: str,
    speeches: list[Speech],
    turns: int,
    offset_s: float,
) -> dict[str, Any]:
    """Join `room`, dispatch `agent` into it, hear its greeting out, wait `offset_s`, then
    say `turns` of `speeches` in turn, each once the agent has answered the one before."""
    person = Person(speeches[0].rate)
    token = mint_token(api_key=key, api_secret=secret, room=room, identity=f"person-{room}")
    await person.join(url, token)
    out: dict[str, Any] = {"room": room, "turns": [], "error": None, "cycle_s": None}
    try:
        async with api_client(url, key, secret) as lk:
            request = api.CreateAgentDispatchRequest(agent_name=agent, room=room)
            await lk.agent_dispatch.create_dispatch(request)
        track = await person.until(lambda: _agent_audio(person.room), AGENT_WAIT_S)
        if track is None:
            raise TimeoutError(f"no agent audio track in {room} within {AGENT_WAIT_S:.0f} s")
        await person.listen(track)
        # The greeting: the agent speaks, then listens. A turn starts only after it.
        spoke = await person.until(lambda: person.state_after("speaking", 0.0), AGENT_WAIT_S)
        if spoke is None or not await person.until(
            lambda: person.state_after("listening", spoke), AGENT_WAIT_S
        ):
            raise TimeoutError(f"the agent in {room} did not finish a greeting")
        # Conversations at once are people out of step, as independent people are: each
        # starts its first sentence a share of one turn later than the one before.
        await asyncio.sleep(offset_s)
        first = time.monotonic()
        for i in range(turns):
            speech = speeches[i % len(speeches)]
            ended = await person.say(speech)
            heard = await person.until(lambda e=ended: person.first_loud_after(e), REPLY_WAIT_S)
            thinking = person.state_after("thinking", ended)
            final = person.final_after(ended)
            out["turns"].append(
                asdict(
                    Turn(
                        speech.text,
                        round(speech.seconds, 3),
                        None if heard is None else round(heard - ended, 4),
                        None if thinking is None else round(thinking - ended, 4),
                        None if final is None else round(final - ended, 4),
                    )
                )
            )
            if heard is None:
                break  # no answer: the conversation is over, and says so
            # Its answer is over (it listens again) before the person speaks again.
            await person.until(lambda h=heard: person.state_after("listening", h), REPLY_WAIT_S)
        # One turn's length, sentence to the end of the answer: how far apart to start people.
        out["cycle_s"] = round((time.monotonic() - first) / max(1, len(out["turns"])), 2)
    except Exception as exc:  # reported with the figures: one failed person is a finding
        out["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        await person.aclose()
    return out


def _agent_audio(room: rtc.Room) -> rtc.Track | None:
    for participant in room.remote_participants.values():
        if participant.kind != rtc.ParticipantKind.PARTICIPANT_KIND_AGENT:
            continue
        for pub in participant.track_publications.values():
            if pub.track is not None and pub.kind == rtc.TrackKind.KIND_AUDIO:
                return pub.track
    return None


def person_main(
    url: str,
    key: str,
    secret: str,
    agent: str,
    room: str,
    speeches: list[Speech],
    turns: int,
    offset_s: float,
    results: Any,
) -> None:
    """A spawned process's whole life (bench/spawned.py): one conversation, its result."""
    talk = converse(url, key, secret, agent, room, speeches, turns, offset_s)
    send(results, asyncio.run(talk))


def room_names(count: int) -> list[str]:
    tag = uuid.uuid4().hex[:6]
    return [f"talk-{tag}-{i}" for i in range(count)]


async def delete_rooms(url: str, key: str, secret: str, rooms: list[str]) -> None:
    """Ends the agents' jobs at once: each then uploads its session's report."""
    async with api_client(url, key, secret) as lk:
        for room in rooms:
            with contextlib.suppress(api.TwirpError):  # already gone with its person
                await lk.room.delete_room(api.DeleteRoomRequest(room=room))
