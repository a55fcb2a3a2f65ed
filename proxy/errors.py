"""One error shape for every failure: {"error": code, "detail": what, "hint": what to do}."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import aiohttp
import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from livekit import api
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from devstack.errors import ApiError, ErrorBody, error_body
from devstack.livekit import SERVER_ERRORS
from proxy.models import InputError

logger = logging.getLogger("devstack.proxy")

ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorBody, "description": text}
    for code, text in (
        (403, "A write from an origin that is not allowed (CORS and CSRF guard)"),
        (404, "Unknown room or path"),
        (415, "A write whose body is not JSON (CSRF guard)"),
        (421, "A Host header that is not the proxy's own (DNS-rebinding guard)"),
        (422, "Invalid request: detail names the field, hint says how to fix it"),
        (502, "livekit-server refused the proxy's keys or answered unexpectedly"),
        (503, "livekit-server is not reachable"),
    )
}


def livekit_unreachable(url: str, exc: Exception) -> ApiError:
    return ApiError(
        503,
        "livekit_unreachable",
        f"livekit-server at {url} is not reachable ({type(exc).__name__}: {exc})",
        "Start it with `make dev` (or scripts/livekit-server), or fix LIVEKIT_URL in .env.",
    )


def livekit_refused(url: str, exc: api.TwirpError | api.ServerError) -> ApiError:
    if exc.status == 401:
        return ApiError(
            502,
            "livekit_auth_failed",
            f"livekit-server at {url} refused the proxy's API key/secret ({exc.message})",
            "LIVEKIT_API_KEY/LIVEKIT_API_SECRET in .env must match the keys in livekit.yaml.",
        )
    if "no response from servers" in exc.message:
        return ApiError(
            502,
            "no_node_answered",
            f"livekit-server at {url} routed this to a node that does not answer: {exc.message}",
            "With several nodes, one that just died is still picked for new rooms for about "
            "5 s; try again, and see GET /api/health for the nodes.",
        )
    # Several nodes: the room router and the room list live in Redis. Its being gone shows
    # as the router's own words, or as the node's failed dial to it.
    if "could not get node for room" in exc.message or "dial tcp" in exc.message:
        # Several nodes: the room router lives in Redis, and without it no node takes a room.
        return ApiError(
            502,
            "cluster_routing_failed",
            f"livekit-server at {url} cannot route the room: {exc.message}",
            "The nodes share a Redis (LIVEKIT_REDIS): start it, then try again.",
        )
    return ApiError(
        502,
        "livekit_error",
        f"livekit-server answered {exc.status} {exc.code}: {exc.message}",
        "See the livekit-server log for this request.",
    )


def error_response(
    status: int, error: str, detail: str, hint: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        status_code=status, content=error_body(error, detail, hint), headers=headers
    )


def _render(err: ApiError) -> JSONResponse:
    return error_response(err.status, err.error, err.detail, err.hint)


def _field(loc: tuple[object, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    return ".".join(parts) or "body"


def install_error_handlers(app: FastAPI, livekit_url: str) -> None:
    """Map every failure, including ones raised by libraries, to ErrorBody."""

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return _render(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0]
        field = _field(tuple(first.get("loc", ())))
        message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
        cause = first.get("ctx", {}).get("error")
        error = "invalid_request"
        if isinstance(cause, InputError):
            hint, error = cause.hint, cause.error or error
        elif first.get("type") == "json_invalid":
            field, hint = "body", "Send a JSON object with Content-Type: application/json."
        elif first.get("type") == "missing":
            hint = f"Add '{field}' to the JSON body; see the schema at /docs."
        elif first.get("type") == "extra_forbidden":
            hint = "Remove this field; see the schema at /docs."
        else:
            hint = "See the request schema at /docs."
        return error_response(422, error, f"{field}: {message}", hint)

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        if exc.status_code == 404:
            return error_response(404, "not_found", "no such path", "See the API at /docs.")
        if exc.status_code == 405:
            # The router's `Allow` header says which methods the path takes (RFC 9110).
            return error_response(
                405,
                "method_not_allowed",
                str(exc.detail),
                "See the API at /docs.",
                headers=exc.headers,
            )
        if isinstance(exc.__cause__, ClientDisconnect):
            # FastAPI reads a JSON body before the route runs and turns a client that went
            # away meanwhile into a 400; nobody is left to read it. proxy/disconnects.py
            # logs it as what it is.
            raise exc.__cause__
        if exc.status_code == 400 and isinstance(exc.__cause__, UnicodeError):
            # FastAPI answers a body that is not UTF-8 with a bare 400; it is bad JSON like
            # any other, so it gets the same 422 as a syntax error.
            return error_response(
                422,
                "invalid_request",
                f"body: not UTF-8 ({exc.__cause__})",
                "Send a JSON object encoded as UTF-8 with Content-Type: application/json.",
            )
        return error_response(
            exc.status_code,
            "http_error",
            str(exc.detail),
            "See the API at /docs.",
            headers=exc.headers,
        )

    async def _unreachable(_: Request, exc: Exception) -> JSONResponse:
        return _render(livekit_unreachable(livekit_url, exc))

    # A refused connection and a timed-out one mean the same to the user: no server there.
    app.add_exception_handler(aiohttp.ClientError, _unreachable)
    app.add_exception_handler(TimeoutError, _unreachable)

    async def _refused(_: Request, exc: Exception) -> JSONResponse:
        return _render(livekit_refused(livekit_url, exc))  # type: ignore[arg-type]

    for server_error in SERVER_ERRORS:
        app.add_exception_handler(server_error, _refused)

    @app.exception_handler(httpx.HTTPError)
    async def _worker(_: Request, exc: httpx.HTTPError) -> JSONResponse:
        return error_response(503, "worker_unreachable", str(exc), "Is the agent worker running?")

    @app.exception_handler(Exception)
    async def _bug(_: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error")
        return error_response(
            500,
            "internal_error",
            f"{type(exc).__name__}: {exc}",
            "This is a bug in the proxy; see its log.",
        )
