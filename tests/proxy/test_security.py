"""What the proxy refuses now that it mints tokens for other origins, against a real proxy
process: a foreign Host (DNS rebinding), a foreign origin (CORS), and a cross-site write
(CSRF), each before anything acts, in the one error shape."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from livekit import api

from devstack.local_server import LiveKitServer
from devstack.processes import AgentWorker, Proxy

pytestmark = pytest.mark.integration

DEV_SERVERS = (
    "http://localhost:3000",
    "http://localhost:5173",
    "http://127.0.0.1:3000",
    "http://127.0.0.1:5173",
)
ENDPOINTS = [
    ("GET", "/api/rooms"),
    ("GET", "/api/health"),
    ("GET", "/api/config"),
    ("POST", "/api/token"),
    ("POST", "/api/dispatch-agent"),
    ("POST", "/api/connection-details"),
    ("POST", "/api/v2/sandbox/connection-details"),
    ("GET", "/openapi.json"),
    ("GET", "/debug"),
    ("GET", "/no-such-path"),
]


def call(proxy: Proxy, method: str, path: str, **kwargs: object) -> httpx.Response:
    return httpx.request(method, proxy.url + path, timeout=15, **kwargs)  # type: ignore[arg-type]


def preflight(proxy: Proxy, origin: str, path: str = "/api/connection-details") -> httpx.Response:
    headers = {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-sandbox-id",
    }
    return call(proxy, "OPTIONS", path, headers=headers)


async def room_exists(server: LiveKitServer, room: str) -> bool:
    async with server.client() as lk:
        return bool((await lk.room.list_rooms(api.ListRoomsRequest(names=[room]))).rooms)


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_foreign_host_is_refused_on_every_endpoint(proxy: Proxy, method: str, path: str) -> None:
    """A DNS-rebinding page reaches 127.0.0.1 under its own name: 421, whatever the path."""
    resp = call(proxy, method, path, headers={"Host": "evil.example"}, json={"room": "r"})
    assert resp.status_code == 421, resp.text
    assert resp.json()["error"] == "host_not_allowed"
    assert set(resp.json()) == {"error", "detail", "hint"}


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "localhost:{port}", "127.0.0.1:{port}"])
def test_own_host_names_are_answered(proxy: Proxy, host: str) -> None:
    resp = call(proxy, "GET", "/api/config", headers={"Host": host.format(port=proxy.port)})
    assert resp.status_code == 200, resp.text


@pytest.mark.parametrize("origin", [*DEV_SERVERS, "own"])
def test_dev_servers_and_own_origin_pass_the_cors_preflight(proxy: Proxy, origin: str) -> None:
    """Next.js (:3000) and Vite (:5173) apps may ask for tokens, with livekit-client's headers."""
    origin = proxy.url if origin == "own" else origin
    resp = preflight(proxy, origin)
    assert resp.status_code == 200, resp.text
    assert resp.headers["access-control-allow-origin"] == origin
    allowed = resp.headers["access-control-allow-headers"].lower()
    assert "content-type" in allowed and "x-sandbox-id" in allowed


@pytest.mark.parametrize("origin", ["http://evil.example", "http://localhost:4000", "null"])
def test_other_origins_fail_the_cors_preflight(proxy: Proxy, origin: str) -> None:
    resp = preflight(proxy, origin)
    assert resp.status_code == 403
    assert resp.json()["error"] == "origin_not_allowed"
    assert "access-control-allow-origin" not in resp.headers


@pytest.fixture(scope="module")
def app_origin_proxy(livekit_server: LiveKitServer, named_worker: AgentWorker) -> Iterator[Proxy]:
    """A proxy that also allows http://app.example:8080 through PROXY_CORS_ORIGINS."""
    server = Proxy(
        livekit_server,
        named_worker.agent_name,
        named_worker.health_url,
        PROXY_CORS_ORIGINS="http://app.example:8080/, http://other.example",
    )
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def test_cors_origins_setting_adds_origins(app_origin_proxy: Proxy) -> None:
    """PROXY_CORS_ORIGINS adds to the defaults (a trailing slash is forgiven)."""
    for origin in ("http://app.example:8080", "http://other.example", DEV_SERVERS[0]):
        assert preflight(app_origin_proxy, origin).status_code == 200, origin
        resp = call(
            app_origin_proxy, "POST", "/api/connection-details", json={}, headers={"Origin": origin}
        )
        assert resp.status_code == 201, resp.text
        assert resp.headers["access-control-allow-origin"] == origin
    assert preflight(app_origin_proxy, "http://evil.example").status_code == 403


@pytest.mark.parametrize(
    ("content_type", "content"),
    [
        ("text/plain", b'{"room": "{room}"}'),
        ("application/x-www-form-urlencoded", b"room={room}"),
        ("multipart/form-data; boundary=x", b'--x\r\nContent-Disposition: form-data; name="room"'),
        (None, b'{"room": "{room}"}'),
    ],
)
async def test_a_cross_site_form_or_text_post_is_refused_before_it_acts(
    livekit_server: LiveKitServer,
    proxy: Proxy,
    room_name: str,
    content_type: str | None,
    content: bytes,
) -> None:
    """A text/plain or form POST needs no CORS preflight, so it is refused by type: 415, and
    the dispatch it asked for never happens."""
    headers = {"Content-Type": content_type} if content_type else {}
    body = content.replace(b"{room}", room_name.encode())
    resp = call(proxy, "POST", "/api/dispatch-agent", content=body, headers=headers)
    assert resp.status_code == 415, resp.text
    assert resp.json()["error"] == "unsupported_media_type"
    assert not await room_exists(livekit_server, room_name)


async def test_a_foreign_origin_post_is_refused_before_it_acts(
    livekit_server: LiveKitServer, proxy: Proxy, room_name: str
) -> None:
    """JSON from another site's page (it skipped the preflight, or ignored its answer): 403."""
    resp = call(
        proxy,
        "POST",
        "/api/dispatch-agent",
        json={"room": room_name},
        headers={"Origin": "http://evil.example"},
    )
    assert resp.status_code == 403, resp.text
    assert resp.json()["error"] == "origin_not_allowed"
    assert not await room_exists(livekit_server, room_name)


@pytest.mark.parametrize("origin", ["own", "localhost-own", DEV_SERVERS[1], None])
def test_same_origin_allowed_origins_and_no_origin_may_write(
    proxy: Proxy, origin: str | None
) -> None:
    """The debug page, a dev-server app, and curl (no Origin) all get their token."""
    if origin == "own":
        origin = proxy.url
    elif origin == "localhost-own":
        origin = f"http://localhost:{proxy.port}"
    headers = {"Origin": origin} if origin else {}
    resp = call(proxy, "POST", "/api/connection-details", json={}, headers=headers)
    assert resp.status_code == 201, resp.text


def test_a_bodyless_post_without_origin_is_not_refused_as_csrf(proxy: Proxy) -> None:
    """Nothing to parse and no browser involved: it reaches validation (422, not 415)."""
    resp = call(proxy, "POST", "/api/dispatch-agent")
    assert resp.status_code == 422, resp.text
