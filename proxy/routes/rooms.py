"""GET /api/rooms and /api/rooms/{room}: rooms, participants with kind, dispatches with jobs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from livekit import api

from proxy.deps import LiveKit, SettingsDep
from proxy.errors import ApiError
from proxy.models import InputError, check_room
from proxy.views import describe_room, room_view

router = APIRouter(prefix="/api/rooms", tags=["rooms"])


@router.get("")
async def list_rooms(lk: LiveKit) -> dict[str, Any]:
    """Every active room."""
    rooms = await lk.room.list_rooms(api.ListRoomsRequest())
    return {"rooms": [room_view(r) for r in rooms.rooms]}


@router.get("/{room}")
async def get_room(room: str, lk: LiveKit, settings: SettingsDep) -> dict[str, Any]:
    """Participants (kind AGENT/STANDARD, attributes, tracks) and dispatches with jobs."""
    try:
        name = check_room(room)
    except InputError as exc:
        raise ApiError(422, "invalid_request", f"room: {exc}", exc.hint) from None
    described = await describe_room(lk, name)
    if described is None:
        raise ApiError(
            404,
            "room_not_found",
            f"room {name!r} does not exist on {settings.livekit_url}",
            "A room exists while someone is in it, or until its empty/departure timeout ends.",
        )
    return described
