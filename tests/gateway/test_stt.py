"""The gateway's STT as livekit-agents' own `inference.STT` uses it: espeak-ng speech pushed
in real time over one socket, interims while it speaks, a final with word timings when the
silence after it lasts (the gateway's own endpointing), one final per utterance, a final on
end of input, 24 kHz for OpenAI names, two sockets at once (test_stt_socket.py has the
socket spoken to directly: the door, garbage, long speech, a vanished client).

With -s, each test prints how long after the last word's audio was pushed its final came."""

from __future__ import annotations

import asyncio
import itertools
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import numpy as np
import pytest
from livekit import rtc
from livekit.agents import stt
from livekit.agents.inference import STT

from devstack.local_server import LiveKitServer
from devstack.processes import Gateway
from devstack.word_errors import word_errors
from tests.support.speech import read_wav, speech_wav

pytestmark = pytest.mark.integration
FIRST = "Can you remind me to call my mother tomorrow morning?"
SECOND = "How long does it take to drive from Boston to New York?"
LEAD = 0.5  # seconds of silence before the first words
GAP = 2.5  # seconds of silence between and after utterances: more than the endpointing's


@dataclass
class Heard:
    events: list[tuple[float, stt.SpeechEvent]]  # (monotonic time, event)
    speech_ends: list[float]  # monotonic time each utterance's last voiced sample was pushed

    def of(self, kind: stt.SpeechEventType) -> list[tuple[float, stt.SpeechEvent]]:
        return [(t, e) for t, e in self.events if e.type == kind]

    @property
    def finals(self) -> list[stt.SpeechData]:
        return [e.alternatives[0] for _, e in self.of(stt.SpeechEventType.FINAL_TRANSCRIPT)]


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[np.ndarray, int]]:
    """Each sentence spoken by espeak-ng (22050 Hz: the client resamples, as for a mic)."""
    spoken = {}
    for text in (FIRST, SECOND):
        spoken[text] = read_wav(speech_wav(tmp_path_factory.mktemp("speech"), text))
    return spoken


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def model(server: LiveKitServer, gateway: Gateway, http: aiohttp.ClientSession, name: str) -> STT:
    return STT(
        model=name,
        language="en",
        base_url=gateway.url,
        api_key=server.api_key,
        api_secret=server.api_secret,
        http_session=http,
    )


def voiced(clip: np.ndarray) -> np.ndarray:
    """The clip without the silence espeak-ng leaves before and after the words."""
    loud = np.nonzero(np.abs(clip) > 300)[0]
    return clip[loud[0] : loud[-1] + 1]


async def converse(
    stt_model: STT, clips: list[tuple[np.ndarray, int]], *, trailing: float = GAP
) -> Heard:
    """Push LEAD of silence, then each clip followed by GAP of silence (the last by
    `trailing`), in 20 ms frames in real time, then end the input; every event until the
    stream ends."""
    rate = clips[0][1]
    step = rate // 50
    parts, ends = [np.zeros(int(LEAD * rate), np.int16)], []
    for i, (clip, _) in enumerate(clips):
        # The end of the words, not of the clip: espeak-ng ends it with ~0.4 s of silence.
        ends.append(sum(len(p) for p in parts) + int(np.nonzero(np.abs(clip) > 300)[0][-1]))
        parts.append(clip)
        parts.append(np.zeros(int((trailing if i == len(clips) - 1 else GAP) * rate), np.int16))
    audio = np.concatenate(parts)
    events: list[tuple[float, stt.SpeechEvent]] = []
    speech_ends: list[float] = []
    stream = stt_model.stream()

    async def read() -> None:
        async for event in stream:
            events.append((time.monotonic(), event))

    reader = asyncio.create_task(read())
    started = time.monotonic()
    for i in range(0, len(audio), step):
        chunk = audio[i : i + step]
        stream.push_frame(rtc.AudioFrame(chunk.tobytes(), rate, 1, len(chunk)))
        speech_ends.extend(time.monotonic() for end in ends if i < end <= i + step)
        await asyncio.sleep(max(0.0, started + (i + step) / rate - time.monotonic()))
    stream.end_input()
    try:
        await asyncio.wait_for(reader, timeout=30)
    finally:
        await stream.aclose()
    return Heard(events, speech_ends)


def engine_seconds(gateway: Gateway) -> list[float]:
    """What the gateway's log says each final's Whisper call took."""
    return [float(s) for s in re.findall(r"transcribed in ([0-9.]+) s", gateway.output)]


def assert_heard(final: stt.SpeechData, sentence: str, start: float, seconds: float) -> None:
    """The sentence, at most one word wrong, with word timings inside the speech."""
    assert word_errors(sentence, final.text) <= 1, (sentence, final.text)
    assert final.language == "en"
    assert final.words, "a final carries word timings"
    timings = [(w.start_time, w.end_time) for w in final.words]
    assert all(s <= e for s, e in timings)
    assert all(a[1] <= b[0] + 0.01 for a, b in itertools.pairwise(timings))
    # Whisper's word timings are coarse (the gateway keeps them within the VAD's speech).
    assert start - 0.3 <= timings[0][0] <= start + 0.8, (timings[0], start)
    assert start + seconds - 1.0 <= timings[-1][1] <= start + seconds + 0.5, (timings, start)
    assert final.start_time == pytest.approx(timings[0][0], abs=0.01)


async def test_a_sentence_gets_interims_then_a_final_with_word_timings(
    livekit_server: LiveKitServer,
    gateway: Gateway,
    http: aiohttp.ClientSession,
    speech: dict[str, tuple[np.ndarray, int]],
) -> None:
    """While the person speaks, interims; when their silence lasts, the final, with the
    sentence and its words' timings, and the end of their speech."""
    clip, rate = speech[FIRST]
    heard = await converse(model(livekit_server, gateway, http, "deepgram/nova-3"), [speech[FIRST]])
    kinds = [e.type for _, e in heard.events]
    assert kinds[0] == stt.SpeechEventType.START_OF_SPEECH
    assert stt.SpeechEventType.INTERIM_TRANSCRIPT in kinds
    assert kinds.index(stt.SpeechEventType.INTERIM_TRANSCRIPT) < kinds.index(
        stt.SpeechEventType.FINAL_TRANSCRIPT
    )
    assert kinds[-1] == stt.SpeechEventType.END_OF_SPEECH
    assert len(heard.finals) == 1
    assert_heard(heard.finals[0], FIRST, LEAD, len(clip) / rate)
    final_at = heard.of(stt.SpeechEventType.FINAL_TRANSCRIPT)[0][0]
    latency = final_at - heard.speech_ends[0]
    whisper = engine_seconds(gateway)[-1]
    print(
        f"\nSTT: final transcript {latency:.2f} s after the last word's audio was pushed "
        f"(endpointing silence 0.5 s; the final's Whisper call {whisper:.2f} s; "
        f"{latency / (0.5 + whisper):.2f}x their sum)"
    )


async def test_two_utterances_in_one_stream_give_two_finals(
    livekit_server: LiveKitServer,
    gateway: Gateway,
    http: aiohttp.ClientSession,
    speech: dict[str, tuple[np.ndarray, int]],
) -> None:
    """Two sentences with a silence between them, over one socket: two finals, in order,
    each with its own start and end of speech."""
    clips = [speech[FIRST], speech[SECOND]]
    heard = await converse(model(livekit_server, gateway, http, "deepgram/nova-3"), clips)
    assert len(heard.finals) == 2
    first_seconds = len(clips[0][0]) / clips[0][1]
    assert_heard(heard.finals[0], FIRST, LEAD, first_seconds)
    assert_heard(
        heard.finals[1], SECOND, LEAD + first_seconds + GAP, len(clips[1][0]) / clips[1][1]
    )
    assert len(heard.of(stt.SpeechEventType.START_OF_SPEECH)) == 2
    assert len(heard.of(stt.SpeechEventType.END_OF_SPEECH)) == 2
    # The first final came while the person was still to speak the second sentence.
    assert heard.of(stt.SpeechEventType.FINAL_TRANSCRIPT)[0][0] < heard.speech_ends[1]
    for end, (at, _) in zip(
        heard.speech_ends, heard.of(stt.SpeechEventType.FINAL_TRANSCRIPT), strict=True
    ):
        print(f"\nSTT: final {at - end:.2f} s after its last word's audio was pushed")


async def test_two_sockets_at_once_each_hear_their_own_speech(
    livekit_server: LiveKitServer,
    gateway: Gateway,
    http: aiohttp.ClientSession,
    speech: dict[str, tuple[np.ndarray, int]],
) -> None:
    """Two conversations at the same time share the engine, not their words."""
    first, second = await asyncio.gather(
        converse(model(livekit_server, gateway, http, "deepgram/nova-3"), [speech[FIRST]]),
        converse(model(livekit_server, gateway, http, "cartesia/ink-whisper"), [speech[SECOND]]),
    )
    assert [word_errors(FIRST, f.text) <= 1 for f in first.finals] == [True]
    assert [word_errors(SECOND, f.text) <= 1 for f in second.finals] == [True]
    for heard in (first, second):
        at = heard.of(stt.SpeechEventType.FINAL_TRANSCRIPT)[0][0]
        print(
            f"\nSTT, two sockets at once: final {at - heard.speech_ends[0]:.2f} s after its last word"
        )


async def test_end_of_input_right_after_speech_still_gives_the_final(
    livekit_server: LiveKitServer,
    gateway: Gateway,
    http: aiohttp.ClientSession,
    speech: dict[str, tuple[np.ndarray, int]],
) -> None:
    """end_input() right after the last word (session.finalize): the final comes."""
    clip, rate = speech[FIRST]
    clip = voiced(clip)
    heard = await converse(
        model(livekit_server, gateway, http, "deepgram/nova-3"), [(clip, rate)], trailing=0
    )
    assert len(heard.finals) == 1
    assert_heard(heard.finals[0], FIRST, LEAD, len(clip) / rate)
    latency = heard.of(stt.SpeechEventType.FINAL_TRANSCRIPT)[0][0] - heard.speech_ends[0]
    print(f"\nSTT: final {latency:.2f} s after end_input (session.finalize)")


async def test_an_openai_model_at_24_khz_is_served(
    livekit_server: LiveKitServer,
    gateway: Gateway,
    http: aiohttp.ClientSession,
    speech: dict[str, tuple[np.ndarray, int]],
) -> None:
    """openai/* sends 24 kHz and finalizes on its own VAD too: the same final arrives."""
    clip, rate = speech[SECOND]
    heard = await converse(
        model(livekit_server, gateway, http, "openai/gpt-4o-transcribe"), [speech[SECOND]]
    )
    assert len(heard.finals) == 1
    assert_heard(heard.finals[0], SECOND, LEAD, len(clip) / rate)
    assert "model 'openai/gpt-4o-transcribe' asked (language en, 24000 Hz)" in gateway.output
