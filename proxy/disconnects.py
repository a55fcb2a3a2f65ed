"""A client that went away is not an error. livekit-server stopping mid-webhook, a worker
killed mid-upload, a browser tab closed while posting: the request's body never arrives
whole, so no route acts on it (each reads its whole body before it does anything), and
nobody is left to answer. One INFO line says so, instead of uvicorn's "Exception in ASGI
application" and a traceback."""

from __future__ import annotations

import logging

import anyio
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger("devstack.proxy")

# What reading from, or answering, a peer that is gone raises besides ClientDisconnect.
# Each also has causes of its own (a reset from livekit-server, a closed stream of ours),
# so it counts as the client's going only once the server has said the client is gone.
GONE_WITH_THE_CLIENT: tuple[type[BaseException], ...] = (
    anyio.EndOfStream,
    anyio.ClosedResourceError,
    anyio.BrokenResourceError,
    ConnectionResetError,
    BrokenPipeError,
)


def client_gone(exc: BaseException, disconnected: bool) -> bool:
    """Whether `exc` means no more than that the client went away."""
    if isinstance(exc, ClientDisconnect):
        return True  # raised only on the server's http.disconnect
    if isinstance(exc, BaseExceptionGroup):
        return all(client_gone(e, disconnected) for e in exc.exceptions)
    return disconnected and isinstance(exc, GONE_WITH_THE_CLIENT)


class QuietDisconnects:
    """ASGI middleware: a request whose client went away ends with one INFO line and no
    answer (there is no one to send it to; uvicorn drops what is sent after a disconnect)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        disconnected = False

        async def watched() -> Message:
            nonlocal disconnected
            message = await receive()
            disconnected = disconnected or message["type"] == "http.disconnect"
            return message

        try:
            await self.app(scope, watched, send)
        except Exception as exc:
            if not client_gone(exc, disconnected):
                raise
            # uvicorn has no address for a peer that reset before it was read.
            client = scope.get("client")
            who = f"{client[0]}:{client[1]}" if client else "(address unknown)"
            # A ClientDisconnect is raised by the body's read, which every route finishes
            # before it acts: what was sent of the request was dropped.
            done = (
                "before its request arrived whole: not acted on"
                if isinstance(exc, ClientDisconnect)
                else "before it was answered"
            )
            logger.info(
                "client %s went away during %s %s %s (%s); no answer sent",
                who,
                scope["method"],
                scope["path"],
                done,
                type(exc).__name__,
            )
