"""A client that goes away mid-request is not an error: a real proxy process gets a POST
whose body stops short of its Content-Length (the socket closed, or reset), on every route
that reads a body, and logs one INFO line: no ERROR, no traceback, nothing done, and it
keeps answering. livekit-server does this to the webhook route when it stops."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import socket
import struct
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from google.protobuf.json_format import MessageToJson
from livekit import api

from devstack.local_server import LiveKitServer
from devstack.processes import Proxy
from devstack.waiting import wait_until

pytestmark = pytest.mark.integration

AGENT_NAME = "nobody-agent"  # no worker has it: a dispatch is followed, never taken
BAD = re.compile(r"\bERROR\b|Traceback")
GONE = "went away"  # proxy/disconnects.py's INFO line


@pytest.fixture(scope="module")
def quiet_proxy(livekit_server: LiveKitServer) -> Iterator[Proxy]:
    """A proxy of its own, so its output holds only what these tests sent it."""
    proxy = Proxy(livekit_server, AGENT_NAME, "http://127.0.0.1:9")
    try:
        proxy.wait_ready()
        yield proxy
    finally:
        proxy.stop()


def upload_token(server: LiveKitServer) -> str:
    """What livekit-agents signs its uploads with, so the route goes on to read the body."""
    grant = api.ObservabilityGrants(write=True)
    token = api.AccessToken(server.api_key, server.api_secret).with_ttl(timedelta(minutes=5))
    return token.with_observability_grants(grant).to_jwt()


def signed_webhook(server: LiveKitServer, event: api.WebhookEvent) -> tuple[bytes, str]:
    """The body and Authorization livekit-server sends: a JWT whose sha256 is the body's."""
    body = MessageToJson(event).encode()
    digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
    token = api.AccessToken(server.api_key, server.api_secret).with_sha256(digest).to_jwt()
    return body, token


def requests(server: LiveKitServer, port: int) -> dict[str, tuple[dict[str, str], bytes]]:
    """Per route, the headers its guards and checks want, and a whole body."""
    origin = {"Origin": f"http://127.0.0.1:{port}"}  # as the debug page sends it
    as_json = {"Content-Type": "application/json", **origin}
    upload = {"Authorization": f"Bearer {upload_token(server)}"}
    hook, hook_token = signed_webhook(
        server, api.WebhookEvent(event="room_finished", room=api.Room(name="gone-room"))
    )
    return {
        "/api/webhooks/livekit": (
            {"Content-Type": "application/webhook+json", "Authorization": hook_token},
            hook,
        ),
        "/observability/traces/otlp/v0": (
            {"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip", **upload},
            b"\x1f\x8b" + b"\x00" * 4000,
        ),
        "/observability/recordings/v0": (
            {"Content-Type": "multipart/form-data; boundary=b", **upload},
            b"--b\r\n" + b"x" * 4000 + b"\r\n--b--\r\n",
        ),
        "/api/token": (as_json, b'{"room": "gone-room", "identity": "someone"}'),
        "/api/dispatch-agent": (as_json, b'{"room": "gone-room"}'),
        "/api/connection-details": (as_json, b'{"room_name": "gone-room"}'),
    }


def post_part(port: int, path: str, headers: dict[str, str], body: bytes, reset: bool) -> None:
    """POST `body`'s first half, declaring all of it, then close the socket (or reset it,
    as a peer that dies does)."""
    head = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", f"Content-Length: {len(body)}"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall("\r\n".join(head).encode() + b"\r\n\r\n" + body[: len(body) // 2])
        if reset:  # SO_LINGER on, 0 s: close() sends RST, not FIN
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def told(proxy: Proxy, since: int, path: str) -> list[str]:
    """The proxy's lines since `since`, once it logged the disconnect of `path` (or any
    ERROR or traceback: then there is no need to wait for more)."""

    def done() -> list[str] | None:
        proxy.check_running()
        lines = proxy.lines[since:]
        seen = any(GONE in line and path in line for line in lines)
        return lines if seen or any(BAD.search(line) for line in lines) else None

    try:
        return wait_until(done, timeout=10, what=f"the proxy to log the disconnect on {path}")
    except TimeoutError as exc:
        raise AssertionError(f"{exc}\n" + "\n".join(proxy.lines[since:])) from None


@pytest.mark.parametrize("reset", [False, True], ids=["closed", "reset"])
@pytest.mark.parametrize(
    "path",
    [
        "/api/webhooks/livekit",
        "/observability/traces/otlp/v0",
        "/observability/recordings/v0",
        "/api/token",
        "/api/dispatch-agent",
        "/api/connection-details",
    ],
)
def test_a_client_gone_mid_body_is_one_info_line_not_an_error(
    livekit_server: LiveKitServer, quiet_proxy: Proxy, path: str, reset: bool
) -> None:
    """Half a body then a closed or reset socket: one INFO line, no ERROR, no traceback."""
    headers, body = requests(livekit_server, quiet_proxy.port)[path]
    since = len(quiet_proxy.lines)
    # The state dir's store is the whole test session's: other tests' sessions are in it.
    stored = session_ids(quiet_proxy)
    post_part(quiet_proxy.port, path, headers, body, reset)
    lines = told(quiet_proxy, since, path)
    assert not [line for line in lines if BAD.search(line)], "\n".join(lines)
    (gone,) = [line for line in lines if GONE in line]
    assert " INFO " in gone, gone
    # Nothing was done: no token minted, no agent dispatched, no session stored.
    assert not any(done in line for line in lines for done in ("token minted", "dispatch created"))
    assert session_ids(quiet_proxy) == stored
    assert httpx.get(f"{quiet_proxy.url}/api/delivery", timeout=10).status_code == 200


def session_ids(proxy: Proxy) -> set[str]:
    listed = httpx.get(f"{proxy.url}/api/sessions", timeout=10).json()["sessions"]
    return {s["job_id"] for s in listed}


def test_a_webhook_cut_short_changes_nothing(
    livekit_server: LiveKitServer, quiet_proxy: Proxy, room_name: str
) -> None:
    """A signed room_finished that never fully arrived leaves the room's dispatch followed;
    the same webhook sent whole ends it."""
    made = httpx.post(f"{quiet_proxy.url}/api/dispatch-agent", json={"room": room_name}, timeout=15)
    assert made.status_code == 200, made.text

    def followed() -> int:
        url = f"{quiet_proxy.url}/api/delivery"
        return len(httpx.get(url, params={"room": room_name}, timeout=10).json()["deliveries"])

    try:
        assert followed() == 1
        event = api.WebhookEvent(event="room_finished", room=api.Room(name=room_name))
        body, token = signed_webhook(livekit_server, event)
        headers = {"Content-Type": "application/webhook+json", "Authorization": token}
        since = len(quiet_proxy.lines)
        post_part(quiet_proxy.port, "/api/webhooks/livekit", headers, body, reset=False)
        lines = told(quiet_proxy, since, "/api/webhooks/livekit")
        assert not [line for line in lines if BAD.search(line)], "\n".join(lines)
        assert followed() == 1
        whole = httpx.post(
            f"{quiet_proxy.url}/api/webhooks/livekit", content=body, headers=headers, timeout=10
        )
        assert whole.status_code == 200, whole.text
        assert followed() == 0
    finally:
        asyncio.run(delete_room(livekit_server, room_name))


async def delete_room(server: LiveKitServer, room: str) -> None:
    async with server.client() as lk:
        await lk.room.delete_room(api.DeleteRoomRequest(room=room))
