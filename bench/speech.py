"""What the people of the conversation benchmark say: a sentence spoken by espeak-ng, trimmed
to its speech, so that a turn is timed from the end of the speech and not of a silent tail
(bench/conversations.py says it; bench/first_answer.py asks agent-starter-python with it)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FRAME_S = 0.01
# What is said counts as speech where a frame is louder than this (RMS, int16): well above
# the near-silence of a codec, well below a voice.
SPEECH_RMS = 100.0


@dataclass(frozen=True)
class Speech:
    """An utterance: int16 mono samples, trimmed to the speech (no silence either side)."""

    text: str
    samples: np.ndarray
    rate: int

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.rate


def synthesize(text: str) -> Speech:
    """`text` spoken by espeak-ng (scripts/setup installs it), trimmed to its speech."""
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        raise RuntimeError("espeak-ng is not installed; run scripts/setup")
    with tempfile.TemporaryDirectory(prefix="bench-speech-") as tmp:
        path = Path(tmp) / "speech.wav"
        subprocess.run([espeak, "-w", str(path), "-s", "150", text], check=True)
        with wave.open(str(path), "rb") as w:
            rate = w.getframerate()
            samples = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    return Speech(text, trim(samples, rate), rate)


def trim(samples: np.ndarray, rate: int) -> np.ndarray:
    """The samples from the first to the last 10 ms frame louder than SPEECH_RMS: the turn
    is timed from the end of the speech, not of a silent tail."""
    size = int(rate * FRAME_S)
    frames = samples[: len(samples) // size * size].astype(np.float64).reshape(-1, size)
    loud = np.flatnonzero(np.sqrt((frames**2).mean(axis=1)) > SPEECH_RMS)
    if not len(loud):
        return samples
    return samples[loud[0] * size : (loud[-1] + 1) * size].copy()
