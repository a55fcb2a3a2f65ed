"""The debug page at /debug, the sessions page at /sessions, and the few static files they
load (served by name only)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, RedirectResponse

from proxy.errors import ApiError

STATIC = Path(__file__).resolve().parents[2] / "static"
# The page's own files and the browser bundle from the npm package; nothing else.
PAGE_FILES = {
    "debug.js": STATIC / "debug.js",
    "debug.css": STATIC / "debug.css",
    "sessions.js": STATIC / "sessions.js",
    "sessions.css": STATIC / "sessions.css",
    "timeline.js": STATIC / "timeline.js",
    "livekit-client.umd.js": STATIC / "node_modules/livekit-client/dist/livekit-client.umd.js",
}
router = APIRouter(include_in_schema=False)


@router.get("/")
async def root() -> RedirectResponse:
    return RedirectResponse("/debug")


@router.get("/debug")
async def debug_page() -> FileResponse:
    return FileResponse(STATIC / "index.html")


@router.get("/sessions")
async def sessions_page() -> FileResponse:
    return FileResponse(STATIC / "sessions.html")


@router.get("/static/{name}")
async def static_file(name: str) -> FileResponse:
    path = PAGE_FILES.get(name)
    if path is None:
        raise ApiError(404, "not_found", f"no static file {name!r}", "The debug page is at /debug.")
    if not path.exists():
        raise ApiError(
            503,
            "asset_missing",
            f"{path.relative_to(STATIC.parent)} is not installed",
            "Run `make dev` (or scripts/setup), which installs the npm packages in static/.",
        )
    return FileResponse(path, headers={"Cache-Control": "no-cache"})
