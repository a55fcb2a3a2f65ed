"""Which requests the proxy refuses before they act. It mints join tokens, also for apps
on other origins, so a web page the user happens to visit must not get one:

- Host: only the proxy's own names (localhost, 127.0.0.1, PROXY_HOST, with or without its
  port). A DNS-rebinding page reaches 127.0.0.1 under its own name, and the browser then
  treats the proxy as that page's origin; its Host header still carries that name.
- CORS: the proxy's own origins, the usual dev-server origins (Next.js :3000, Vite :5173)
  and PROXY_CORS_ORIGINS. A preflight from any other origin is refused.
- Writes (POST, ...): a foreign Origin is refused, and so is a body that is not JSON
  (`application/json`, or `application/*+json` like livekit-server's webhooks), because a
  cross-site text/plain or form POST needs no preflight and would otherwise reach the
  handler. No Origin (curl, a server) passes, and so does a write with no body and no
  Content-Type (nothing to parse; a browser sending one cross-site adds an Origin).
  livekit-agents' uploads (/observability/...) are protobuf or multipart: they pass this
  check, not the Origin one, and their route refuses any without a JWT signed with the
  API secret.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from devstack.settings import Settings
from proxy.errors import ApiError, error_response

# Where `npm run dev` serves a front end: Next.js (agent-starter-react) and Vite.
DEV_SERVER_ORIGINS = (
    "http://localhost:3000",
    "http://localhost:5173",
    "http://127.0.0.1:3000",
    "http://127.0.0.1:5173",
)
# What livekit-client's TokenSource sends (X-Sandbox-ID for the sandbox path); apps that
# point TokenSource.endpoint at the stack often add their own Authorization, ignored here.
CORS_HEADERS = ("Content-Type", "X-Sandbox-ID", "Authorization")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
ORIGIN_HINT = (
    "If this is your app, add its origin to PROXY_CORS_ORIGINS (comma-separated) in .env "
    "and restart the proxy."
)


def _own_names(settings: Settings) -> list[str]:
    names = ["localhost", "127.0.0.1", settings.proxy_host.lower()]
    # An IPv6 address appears in brackets in Host headers and origins.
    return [f"[{n}]" if ":" in n else n for n in names]


def allowed_hosts(settings: Settings) -> frozenset[str]:
    """Host header values the proxy answers: its names, with or without its port."""
    names = _own_names(settings)
    return frozenset(names) | {f"{n}:{settings.proxy_port}" for n in names}


def allowed_origins(settings: Settings) -> list[str]:
    """The page's own origins, the dev-server origins, plus PROXY_CORS_ORIGINS."""
    own = {f"http://{n}:{settings.proxy_port}" for n in _own_names(settings)}
    configured = {o.rstrip("/") for o in settings.cors_origins}
    return sorted(own | set(DEV_SERVER_ORIGINS) | configured)


class HostGuard:
    """ASGI middleware, outermost: refuse a foreign Host on every request, and a CORS
    preflight from a foreign origin, in the one error shape (Starlette's own refusals are
    plain text)."""

    def __init__(self, app: ASGIApp, hosts: frozenset[str], origins: frozenset[str]) -> None:
        self.app, self.hosts, self.origins = app, hosts, origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        host = headers.get("host", "")
        if host.lower() not in self.hosts:
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
                return
            response = error_response(
                421,
                "host_not_allowed",
                f"Host {host!r} is not a name of this proxy ({', '.join(sorted(self.hosts))})",
                "Open the proxy as http://localhost:<port> or http://127.0.0.1:<port>; to use "
                "another name, set PROXY_HOST to it. Other names are refused so that a web "
                "page cannot reach the proxy through DNS rebinding.",
            )
            await response(scope, receive, send)
            return
        origin = headers.get("origin")
        preflight = scope["method"] == "OPTIONS" and "access-control-request-method" in headers
        if preflight and origin is not None and origin not in self.origins:
            response = error_response(
                403,
                "origin_not_allowed",
                f"origin {origin} may not call this proxy (CORS preflight refused)",
                ORIGIN_HINT,
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _is_json(content_type: str | None) -> bool:
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    # application/*+json too: livekit-server posts webhooks as application/webhook+json, and
    # a browser cannot send such a type cross-site without a CORS preflight either.
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def _has_body(request: Request) -> bool:
    length = request.headers.get("content-length", "0")
    return "transfer-encoding" in request.headers or length.strip() not in ("", "0")


def write_guard(
    origins: frozenset[str], upload_paths: frozenset[str]
) -> Callable[[Request], Awaitable[None]]:
    """An app-wide dependency refusing cross-site writes. It runs after routing, so an
    unknown path is still 404 and a wrong method 405, and before the handler acts."""

    async def refuse_cross_site_writes(request: Request) -> None:
        if request.method in SAFE_METHODS:
            return
        origin = request.headers.get("origin")
        same_origin = f"{request.url.scheme}://{request.headers.get('host', '')}"
        if origin is not None and origin not in origins and origin != same_origin:
            raise ApiError(
                403,
                "origin_not_allowed",
                f"origin {origin} may not call {request.method} {request.url.path}",
                ORIGIN_HINT,
            )
        content_type = request.headers.get("content-type")
        if request.url.path in upload_paths:
            return  # livekit-agents' protobuf or multipart; its route checks the JWT first
        if content_type is None and not _has_body(request):
            return  # nothing to parse, and a browser's cross-site write carries an Origin
        if not _is_json(content_type):
            raise ApiError(
                415,
                "unsupported_media_type",
                f"{request.method} {request.url.path} takes a JSON body, got Content-Type "
                f"{content_type!r}",
                "Send JSON with Content-Type: application/json. Other types are refused "
                "because a browser sends them cross-site without asking (CSRF).",
            )

    return refuse_cross_site_writes
