"""The gateway's door and its turn-detection answers, over HTTP and WebSocket as
livekit-agents reaches them."""

from __future__ import annotations

from datetime import timedelta

import aiohttp
import httpx
import pytest
from livekit import api

from devstack.local_server import LiveKitServer
from devstack.processes import Gateway

pytestmark = pytest.mark.integration

SOCKETS = ("/stt", "/tts", "/eot", "/bargein")


def tokens(server: LiveKitServer) -> dict[str, str | None]:
    """Tokens the door must refuse: none, another secret, no grant, not a JWT, expired."""
    grant = api.access_token.InferenceGrants(perform=True)

    def made(secret: str, *, grants: bool = True, ttl: float = 600) -> str:
        token = api.AccessToken(server.api_key, secret).with_identity("agent")
        if grants:
            token = token.with_inference_grants(grant)
        return token.with_ttl(timedelta(seconds=ttl)).to_jwt()

    return {
        "none": None,
        "forged": made("not-the-secret"),
        "no grant": made(server.api_secret, grants=False),
        "not a JWT": "garbage",
        "expired": made(server.api_secret, ttl=-120),
    }


@pytest.mark.parametrize("path", ["/models", "/chat/completions"])
def test_http_routes_refuse_every_bad_token(
    livekit_server: LiveKitServer, gateway: Gateway, path: str
) -> None:
    """401 in the error shape, for every kind of bad token."""
    for kind, token in tokens(livekit_server).items():
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        method = httpx.get if path == "/models" else httpx.post
        kwargs = {} if path == "/models" else {"json": {"messages": []}}
        resp = method(f"{gateway.url}{path}", headers=headers, timeout=10, **kwargs)
        assert resp.status_code == 401, (kind, resp.text)
        assert resp.json()["error"] == "inference_unauthorized", kind


async def test_sockets_refuse_every_bad_token(
    livekit_server: LiveKitServer, gateway: Gateway
) -> None:
    """Every socket refuses the handshake with 401 before it is accepted."""
    url = gateway.url.replace("http", "ws", 1)
    async with aiohttp.ClientSession() as http:
        for path in SOCKETS:
            for kind, token in tokens(livekit_server).items():
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                    async with http.ws_connect(f"{url}{path}", headers=headers):
                        pass
                assert refused.value.status == 401, (path, kind)
    assert "ERROR" not in gateway.output and "Traceback" not in gateway.output


async def test_cloud_only_sockets_are_refused_fast_with_a_good_token(
    livekit_server: LiveKitServer, gateway: Gateway
) -> None:
    """/eot and /bargein say 501 at once: livekit-agents falls back to its local mini model
    and to VAD interruptions."""
    token = api.AccessToken(livekit_server.api_key, livekit_server.api_secret)
    jwt = token.with_inference_grants(api.access_token.InferenceGrants(perform=True)).to_jwt()
    url = gateway.url.replace("http", "ws", 1)
    async with aiohttp.ClientSession() as http:
        for path in ("/eot", "/bargein"):
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                async with http.ws_connect(
                    f"{url}{path}", headers={"Authorization": f"Bearer {jwt}"}
                ):
                    pass
            assert refused.value.status == 501, path


def test_the_multilingual_model_gets_a_threshold_and_a_probability(gateway: Gateway) -> None:
    """What MultilingualModel posts (no token, as it sends none): a threshold for a
    language, a float probability from how the person's last words end."""
    url = f"{gateway.url}/eot/multi"
    assert httpx.post(url, json={"language": "en"}, timeout=10).json() == {"threshold": 0.2}

    def probability(text: str) -> float:
        chat = {
            "items": [
                {"type": "message", "role": "assistant", "content": ["How can I help?"]},
                {"type": "message", "role": "user", "content": [text]},
            ],
            "jobId": "AJ_test",
            "workerId": "AW_test",
        }
        value = httpx.post(url, json=chat, timeout=10).json()["probability"]
        assert isinstance(value, float)
        return value

    assert probability("What is the weather in Paris?") > 0.2
    assert probability("I would like to book a table for") < 0.2
    assert httpx.post(url, content=b"not json", timeout=10).status_code == 400
