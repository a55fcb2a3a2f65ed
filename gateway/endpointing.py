"""Endpointing: when a person starts and stops speaking, which in LiveKit Inference's STT
protocol is the server's to decide (its final transcript ends the person's speech for the
client). Silero VAD, as livekit-plugins-silero ships it, scores the session's 16 kHz audio in
32 ms windows; an utterance starts after 0.1 s above the activation threshold and ends after
0.5 s below the deactivation one (the plugin's defaults, near enough), or at 30 s, the most
audio Whisper hears in one call. The audio of the utterance under way is all that is kept,
with a short pre-roll so that Whisper hears its first syllable."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Literal

import numpy as np
import onnxruntime  # type: ignore[import-untyped]
from livekit.plugins.silero import onnx_model

SAMPLE_RATE = 16000
WINDOW = 512  # samples: the window Silero scores at 16 kHz (32 ms)
SMOOTHING = 0.35  # the plugin's exponential filter on the speech probability


@dataclass(frozen=True)
class Tuning:
    activation: float = 0.5  # probability at which silence turns to speech
    deactivation: float = 0.35  # and below which speech turns to silence (hysteresis)
    min_speech: float = 0.1  # seconds of speech before an utterance starts (a click is not one)
    min_silence: float = 0.5  # seconds of silence that end an utterance
    pause: float = 0.2  # seconds of silence after which the end is likely (see Paused)
    preroll: float = 0.3  # seconds of audio before the onset that Whisper hears too
    trail: float = 0.2  # seconds of silence after the last speech that Whisper hears
    max_utterance: float = 30.0  # Whisper's window: a longer utterance is cut into finals

    def samples(self, seconds: float) -> int:
        return math.ceil(seconds * SAMPLE_RATE)


def load_vad() -> onnxruntime.InferenceSession:
    """The Silero model, loaded once and shared: each Endpointer keeps its own state."""
    return onnx_model.new_inference_session(force_cpu=True)


class Utterance:
    """One utterance's audio and where it lies in the session's audio (in samples at 16 kHz,
    counted from the session's first)."""

    def __init__(self, index: int, offset: int, onset: int, chunks: list[np.ndarray], trail: int):
        self.index = index
        self.offset = offset  # where its audio (with the pre-roll) begins
        self.onset = onset  # where speech was first heard
        self._chunks = chunks
        self.samples = sum(len(c) for c in chunks)
        self.speech_end = offset + self.samples  # where the last window of speech ended
        self._trail = trail

    def append(self, chunk: np.ndarray) -> None:
        self._chunks.append(chunk)
        self.samples += len(chunk)

    def audio(self) -> np.ndarray:
        """Its audio up to a little after the last speech (a copy, safe for another thread)."""
        whole = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.float32)
        self._chunks = [whole]  # later calls concatenate only what came since
        return whole[: self.speech_end + self._trail - self.offset].copy()


@dataclass(frozen=True)
class Started:
    utterance: Utterance


@dataclass(frozen=True)
class Paused:
    """A short silence in an utterance: its end is likely, so its final can start early."""

    utterance: Utterance


@dataclass(frozen=True)
class Ended:
    utterance: Utterance
    reason: Literal["silence", "length", "finalize"]


Event = Started | Paused | Ended


class Endpointer:
    """One session's VAD state, fed float32 audio at 16 kHz, in order. Each window costs
    ~0.2 ms of one core, so it runs inline on the event loop: a 50 ms message is 1.5 windows,
    and a thread hop per message would cost more than the work."""

    def __init__(self, vad: onnxruntime.InferenceSession, tuning: Tuning | None = None) -> None:
        self.tuning = t = tuning or Tuning()
        self._model = onnx_model.OnnxModel(onnx_session=vad, sample_rate=SAMPLE_RATE)
        self._pending = np.zeros(0, np.float32)  # less than a window, not scored yet
        self._position = 0  # samples scored
        self._smoothed: float | None = None
        self._ring: deque[np.ndarray] = deque(
            maxlen=math.ceil(t.samples(t.preroll + t.min_speech) / WINDOW) + 1
        )
        self._speech_run = 0  # samples of speech before an utterance starts
        self._silence_run = 0  # samples of silence in the utterance under way
        self._paused = False
        self._count = 0
        self.current: Utterance | None = None

    @property
    def silent_for(self) -> float:
        """Seconds of silence at the end of the utterance under way."""
        return self._silence_run / SAMPLE_RATE

    def push(self, audio: np.ndarray) -> list[Event]:
        self._pending = np.concatenate([self._pending, audio])
        events: list[Event] = []
        while len(self._pending) >= WINDOW:
            window, self._pending = self._pending[:WINDOW], self._pending[WINDOW:]
            events.extend(self._step(window))
        return events

    def cut(self) -> Ended | None:
        """The utterance under way ends now (session.finalize), with every sample received."""
        utterance = self.current
        if utterance is None:
            return None
        if len(self._pending):
            utterance.append(self._pending)
            self._position += len(self._pending)
            self._pending = np.zeros(0, np.float32)
        if self._silence_run == 0:  # cut while speaking: all of it may be speech
            utterance.speech_end = self._position
        return self._end(utterance, "finalize")

    def _step(self, window: np.ndarray) -> list[Event]:
        t = self.tuning
        p = self._model(window)
        self._smoothed = (
            p if self._smoothed is None else SMOOTHING * self._smoothed + (1 - SMOOTHING) * p
        )
        self._position += WINDOW
        utterance = self.current
        if utterance is None:
            self._ring.append(window)
            if self._smoothed < t.activation:
                self._speech_run = 0
                return []
            self._speech_run += WINDOW
            if self._speech_run < t.samples(t.min_speech):
                return []
            chunks = list(self._ring)
            self._ring.clear()
            offset = self._position - sum(len(c) for c in chunks)
            onset = self._position - self._speech_run
            return [Started(self._start(offset, onset, chunks))]

        utterance.append(window)
        events: list[Event] = []
        if self._smoothed > t.deactivation:
            self._silence_run, self._paused = 0, False
            utterance.speech_end = self._position
        else:
            self._silence_run += WINDOW
            if not self._paused and self._silence_run >= t.samples(t.pause):
                self._paused = True
                events.append(Paused(utterance))
            if self._silence_run >= t.samples(t.min_silence):
                return [*events, self._end(utterance, "silence")]
        if utterance.samples >= t.samples(t.max_utterance):
            # The person is still speaking: what they say next is the next utterance.
            silence = self._silence_run
            events.append(self._end(utterance, "length"))
            events.append(Started(self._start(self._position, self._position, [])))
            self._silence_run = silence
        return events

    def _start(self, offset: int, onset: int, chunks: list[np.ndarray]) -> Utterance:
        self._count += 1
        self.current = Utterance(
            self._count, offset, onset, chunks, self.tuning.samples(self.tuning.trail)
        )
        self._silence_run, self._paused = 0, False
        return self.current

    def _end(self, utterance: Utterance, reason: Literal["silence", "length", "finalize"]) -> Ended:
        self.current = None
        self._speech_run = self._silence_run = 0
        self._paused = False
        self._ring.clear()
        return Ended(utterance, reason)
