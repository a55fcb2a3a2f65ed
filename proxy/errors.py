"""One error shape for every failure: {"error": code, "detail": what, "hint": what to do}."""

from __future__ import annotations

import logging

import aiohttp
import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from livekit import api
from starlette.exceptions import HTTPException

from devstack.errors import ErrorBody, error_body
from proxy.models import InputError

logger = logging.getLogger("devstack.proxy")

ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorBody, "description": text}
    for code, text in (
        (404, "Unknown room or path"),
        (422, "Invalid request: detail names the field, hint says how to fix it"),
        (502, "livekit-server refused the proxy's keys or answered unexpectedly"),
        (503, "livekit-server is not reachable"),
    )
}


class ApiError(Exception):
    """Raised by handlers; rendered as ErrorBody with its status."""

    def __init__(self, status: int, error: str, detail: str, hint: str) -> None:
        super().__init__(detail)
        self.status, self.error, self.detail, self.hint = status, error, detail, hint


def livekit_unreachable(url: str, exc: Exception) -> ApiError:
    return ApiError(
        503,
        "livekit_unreachable",
        f"livekit-server at {url} is not reachable ({type(exc).__name__}: {exc})",
        "Start it with `make dev` (or scripts/livekit-server), or fix LIVEKIT_URL in .env.",
    )


def livekit_refused(url: str, exc: api.TwirpError) -> ApiError:
    if exc.status == 401:
        return ApiError(
            502,
            "livekit_auth_failed",
            f"livekit-server at {url} refused the proxy's API key/secret ({exc.message})",
            "LIVEKIT_API_KEY/LIVEKIT_API_SECRET in .env must match the keys in livekit.yaml.",
        )
    return ApiError(
        502,
        "livekit_error",
        f"livekit-server answered {exc.status} {exc.code}: {exc.message}",
        "See the livekit-server log for this request.",
    )


def _body(status: int, error: str, detail: str, hint: str) -> JSONResponse:
    return JSONResponse(status_code=status, content=error_body(error, detail, hint))


def _render(err: ApiError) -> JSONResponse:
    return _body(err.status, err.error, err.detail, err.hint)


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
        if isinstance(cause, InputError):
            hint = cause.hint
        elif first.get("type") == "json_invalid":
            field, hint = "body", "Send a JSON object with Content-Type: application/json."
        elif first.get("type") == "missing":
            hint = f"Add '{field}' to the JSON body; see the schema at /docs."
        elif first.get("type") == "extra_forbidden":
            hint = "Remove this field; see the schema at /docs."
        else:
            hint = "See the request schema at /docs."
        return _body(422, "invalid_request", f"{field}: {message}", hint)

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        if exc.status_code == 404:
            return _body(404, "not_found", "no such path", "See the API at /docs.")
        if exc.status_code == 405:
            return _body(405, "method_not_allowed", str(exc.detail), "See the API at /docs.")
        return _body(exc.status_code, "http_error", str(exc.detail), "See the API at /docs.")

    async def _unreachable(_: Request, exc: Exception) -> JSONResponse:
        return _render(livekit_unreachable(livekit_url, exc))

    # A refused connection and a timed-out one mean the same to the user: no server there.
    app.add_exception_handler(aiohttp.ClientError, _unreachable)
    app.add_exception_handler(TimeoutError, _unreachable)

    @app.exception_handler(api.TwirpError)
    async def _refused(_: Request, exc: api.TwirpError) -> JSONResponse:
        return _render(livekit_refused(livekit_url, exc))

    @app.exception_handler(httpx.HTTPError)
    async def _worker(_: Request, exc: httpx.HTTPError) -> JSONResponse:
        return _body(503, "worker_unreachable", str(exc), "Is the agent worker running?")

    @app.exception_handler(Exception)
    async def _bug(_: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error")
        return _body(
            500,
            "internal_error",
            f"{type(exc).__name__}: {exc}",
            "This is a bug in the proxy; see its log.",
        )
