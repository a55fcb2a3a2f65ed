"""Real speech for the media tests, spoken by espeak-ng (installed by scripts/setup)."""

from __future__ import annotations

import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np

PHRASE = "Hello agent. This is a test of the loopback path through the LiveKit server."


def speech_wav(directory: Path, text: str = PHRASE) -> Path:
    """A 16-bit mono PCM WAV of `text` (espeak-ng's native 22050 Hz)."""
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        raise RuntimeError(
            "espeak-ng is not installed; run scripts/setup (or apt-get install espeak-ng)"
        )
    path = directory / "speech.wav"
    subprocess.run([espeak, "-w", str(path), "-s", "150", text], check=True, capture_output=True)
    return path


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """Samples (int16, mono) and sample rate."""
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2 or w.getnchannels() != 1:
            raise ValueError(f"{path} must be 16-bit mono PCM")
        return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16), w.getframerate()


def write_wav(path: Path, samples: np.ndarray, rate: int) -> Path:
    """int16 mono `samples` as a 16-bit PCM WAV (a fake microphone's file, say)."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.astype(np.int16).tobytes())
    return path
