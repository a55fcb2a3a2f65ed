"""The offline Inference gateway's engines measured alone, in the same run as the turns:
its Whisper on the utterances the people said and its voice on the answers, called
directly in a process of their own once the stack is down (bench/turns.py), so a turn's
latency reads as a ratio to what the engines cost."""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

import numpy as np
from livekit import rtc

from bench.spawned import send
from bench.speech import Speech

ENGINE_ROUNDS = 3


def engines_main(speeches: list[Speech], results: Any) -> None:
    send(results, engines(speeches))


def engines(speeches: list[Speech]) -> dict[str, Any]:
    """The engines' own compute, called directly (gateway/whisper.py, gateway/tts.py) with
    the gateway's settings: Whisper transcribing each utterance as the gateway hears it
    (its pre-roll and trail of silence, word timings on), then the voice speaking the
    stand-in's answer to it until its first audio."""
    from devstack.settings import Settings
    from gateway import tts
    from gateway.endpointing import SAMPLE_RATE, Tuning
    from gateway.whisper import load_whisper

    settings = Settings(_env_file=None)  # type: ignore[call-arg]  # the gateway's: no .env
    whisper, tuning = load_whisper(settings), Tuning()
    stt: list[float] = []
    answers = []
    for speech in speeches:
        audio = np.concatenate(
            [
                np.zeros(tuning.samples(tuning.preroll), np.float32),
                to_16k(speech),
                np.zeros(tuning.samples(tuning.trail), np.float32),
            ]
        )
        for _ in range(ENGINE_ROUNDS):
            heard = whisper.run(audio, True, "en")
            stt.append(heard.seconds)
        answers.append(f"You said: {heard.text.rstrip('.!?')}.")
    server = tts.load(settings)
    first = asyncio.run(first_audio(server.voice, answers))
    return {
        "stt": whisper.name,
        "tts": server.description,
        "audio_rate": SAMPLE_RATE,
        "whisper_p50_s": round(statistics.median(stt), 4),
        "tts_first_audio_p50_s": round(statistics.median(first), 4),
        "answers": answers,
    }


def to_16k(speech: Speech) -> np.ndarray:
    resampler = rtc.AudioResampler(speech.rate, 16000)
    frame = rtc.AudioFrame(speech.samples.tobytes(), speech.rate, 1, len(speech.samples))
    frames = [*resampler.push(frame), *resampler.flush()]
    return (
        np.concatenate([np.frombuffer(f.data, np.int16) for f in frames]).astype(np.float32)
        / 32768.0
    )


async def first_audio(voice: Any, answers: list[str]) -> list[float]:
    """Seconds until the voice's first audio for each answer (each spoken to its end)."""
    out = []
    for _ in range(ENGINE_ROUNDS):
        for text in answers:
            started = time.perf_counter()
            line = voice.submit(text)
            first = None
            async for _chunk in line.audio():
                first = first or time.perf_counter() - started
            out.append(first or 0.0)
    return out
