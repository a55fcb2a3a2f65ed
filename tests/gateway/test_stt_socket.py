"""The gateway's STT socket spoken to directly, as a client that is not livekit-agents may:
the door, garbage and oversize messages answered with an `error` and a clean close while
other sockets are served, speech over 30 s cut into finals, and a client that vanishes
mid-speech leaving no traceback (tests/gateway/test_stt.py has livekit-agents' own client)."""

from __future__ import annotations

import base64
import json

import aiohttp
import numpy as np
import pytest
from livekit.agents.inference._utils import create_access_token

from devstack.local_server import LiveKitServer
from devstack.processes import Gateway
from devstack.word_errors import word_errors, words
from tests.gateway.test_stt import FIRST, SECOND, http, speech, voiced

pytestmark = pytest.mark.integration
__all__ = ["http", "speech"]  # fixtures, shared with test_stt.py


def socket_url(gateway: Gateway, model_name: str = "deepgram/nova-3") -> str:
    return gateway.url.replace("http", "ws", 1) + f"/stt?model={model_name}"


def bearer(key: str, secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_access_token(key, secret)}"}


def at_16k(clip: np.ndarray, rate: int, *, trim: bool = False) -> np.ndarray:
    """int16 at 16 kHz (linear interpolation is enough for Whisper); `trim`: without the
    silence espeak-ng leaves around the words."""
    if trim:
        clip = voiced(clip)
    positions = np.arange(0, len(clip), rate / 16000)
    return np.interp(positions, np.arange(len(clip)), clip).astype(np.int16)


async def send_audio(ws: aiohttp.ClientWebSocketResponse, audio: np.ndarray) -> None:
    """As fast as the socket takes it, in 50 ms messages as livekit-agents sends them."""
    for i in range(0, len(audio), 800):
        chunk = base64.b64encode(audio[i : i + 800].tobytes()).decode()
        await ws.send_str(json.dumps({"type": "input_audio", "audio": chunk}))


CREATE = {"type": "session.create", "settings": {"sample_rate": "16000", "encoding": "pcm_s16le"}}


@pytest.mark.parametrize("headers", [{}, "forged"], ids=["no token", "forged token"])
async def test_the_door_refuses_a_socket_without_a_token_of_ours(
    livekit_server: LiveKitServer,
    gateway: Gateway,
    http: aiohttp.ClientSession,
    headers: dict[str, str] | str,
) -> None:
    """No token, or one signed with another secret: the handshake is refused with 401."""
    if headers == "forged":
        headers = bearer(livekit_server.api_key, "not-the-secret-of-this-server")
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await http.ws_connect(socket_url(gateway), headers=headers)  # type: ignore[arg-type]
    assert refused.value.status == 401


@pytest.mark.parametrize(
    ("garbage", "code"),
    [
        ("this is not json", "bad_message"),
        (json.dumps({"type": "input_audio", "audio": "%%% not base64 %%%"}), "bad_audio"),
        (json.dumps({"type": "session.shout"}), "unknown_message"),
        (json.dumps({"type": "input_audio", "audio": "AAAA" * 12000}), "audio_too_large"),
    ],
    ids=["not json", "bad base64", "unknown type", "audio over the bound"],
)
async def test_garbage_gets_an_error_and_the_gateway_serves_on(
    livekit_server: LiveKitServer,
    gateway: Gateway,
    http: aiohttp.ClientSession,
    garbage: str,
    code: str,
) -> None:
    """A message the protocol does not take: an `error` naming it, then a clean close;
    another socket is served as before."""
    headers = bearer(livekit_server.api_key, livekit_server.api_secret)
    async with http.ws_connect(socket_url(gateway), headers=headers) as ws:
        await ws.send_str(json.dumps(CREATE))
        assert (await ws.receive_json(timeout=10))["type"] == "session.created"
        await ws.send_str(garbage)
        error = await ws.receive_json(timeout=10)
        assert error["type"] == "error" and error["code"] == code and error["message"]
        closing = await ws.receive(timeout=10)
        assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    async with http.ws_connect(socket_url(gateway), headers=headers) as other:
        await other.send_str(json.dumps(CREATE))
        assert (await other.receive_json(timeout=10))["type"] == "session.created"
        await other.send_str(json.dumps({"type": "session.finalize"}))
        assert (await other.receive_json(timeout=10))["type"] == "session.finalized"
        await other.send_str(json.dumps({"type": "session.close"}))
        assert (await other.receive_json(timeout=10))["type"] == "session.closed"


async def test_speech_longer_than_30_s_is_cut_into_finals(
    livekit_server: LiveKitServer,
    gateway: Gateway,
    http: aiohttp.ClientSession,
    speech: dict[str, tuple[np.ndarray, int]],
) -> None:
    """36 s of speech with no pause, sent faster than real time: a final of its first 30 s
    (the most Whisper hears at once), then the rest as the next utterance."""
    clips = [at_16k(*speech[text], trim=True) for text in (FIRST, SECOND)]
    audio = np.concatenate([np.zeros(8000, np.int16), *clips * 6])
    assert len(audio) / 16000 > 36
    headers = bearer(livekit_server.api_key, livekit_server.api_secret)
    async with http.ws_connect(socket_url(gateway), headers=headers) as ws:
        await ws.send_str(json.dumps(CREATE))
        await send_audio(ws, audio)
        await ws.send_str(json.dumps({"type": "session.finalize"}))
        received = []
        while not received or received[-1]["type"] != "session.finalized":
            received.append(await ws.receive_json(timeout=30))
    finals = [m for m in received if m["type"] == "final_transcript"]
    assert [m["type"] for m in received if m["type"] != "interim_transcript"] == [
        "session.created",
        "start_of_speech",
        "final_transcript",
        "start_of_speech",
        "final_transcript",
        "session.finalized",
    ]
    first, rest = finals
    assert 29 <= first["start"] + first["duration"] <= 30.6
    assert first["words"][-1]["end"] <= 30.6 <= rest["words"][0]["start"] + 0.5
    assert rest["start"] + rest["duration"] > 36
    assert word_errors(FIRST, " ".join(words(first["transcript"])[:10])) <= 1
    assert (
        word_errors(" ".join([FIRST, SECOND] * 6), f"{first['transcript']} {rest['transcript']}")
        <= 8
    )


async def test_a_client_that_goes_away_mid_speech_leaves_no_traceback(
    livekit_server: LiveKitServer,
    gateway: Gateway,
    http: aiohttp.ClientSession,
    speech: dict[str, tuple[np.ndarray, int]],
) -> None:
    """A socket dropped while its speech is being transcribed: no traceback in the
    gateway's log, and the next socket is served."""
    headers = bearer(livekit_server.api_key, livekit_server.api_secret)
    ws = await http.ws_connect(socket_url(gateway), headers=headers)
    await ws.send_str(json.dumps(CREATE))
    await ws.receive_json(timeout=10)
    await send_audio(ws, at_16k(*speech[FIRST]))
    await ws.send_str(json.dumps({"type": "session.finalize"}))
    await ws.close()
    async with http.ws_connect(socket_url(gateway), headers=headers) as other:
        await other.send_str(json.dumps(CREATE))
        assert (await other.receive_json(timeout=10))["type"] == "session.created"
        # Whisper serves one call at a time, in order: this socket's final comes back only
        # once the dropped socket's call (queued before it) has ended with nobody to hear it.
        await send_audio(other, at_16k(*speech[FIRST]))
        await other.send_str(json.dumps({"type": "session.finalize"}))
        while (await other.receive_json(timeout=30))["type"] != "session.finalized":
            pass
    traceback = gateway.output.find("Traceback")
    assert traceback == -1, gateway.output[traceback - 300 :]
