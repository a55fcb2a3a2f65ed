"""The records the delivery watcher keeps: one per followed dispatch, and its events (each
also a log line); and which disconnect reasons mean an agent left on purpose."""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any, Literal

from livekit import api

Reason = api.DisconnectReason
# Why an agent may leave without being replaced: it ended its job, someone removed it, the
# room ended, or a newer connection of the same identity took its place.
ENDED_ON_PURPOSE = {
    Reason.CLIENT_INITIATED,
    Reason.PARTICIPANT_REMOVED,
    Reason.ROOM_DELETED,
    Reason.ROOM_CLOSED,
    Reason.DUPLICATE_IDENTITY,
    Reason.SERVER_SHUTDOWN,
    Reason.MIGRATION,
}
MAX_REDISPATCHES = 5  # per room and agent name
BACKOFF_SECONDS = (0.0, 1.0, 2.0, 4.0, 8.0)  # before re-dispatch 1, 2, 3, ...
EVENTS_KEPT = 200
State = Literal["pending", "waiting_for_worker", "redispatching", "joined", "ended", "lost"]


@dataclass
class Delivery:
    room: str
    agent_name: str
    source: str  # "explicit" | "token"
    dispatch_id: str
    metadata: str
    requested_at: float
    # When the server created the current dispatch (its clock, seconds; re-dispatches too)
    created_at: float = 0.0
    state: State = "pending"
    agent_identity: str = ""
    redispatches: int = 0
    warned: bool = False


@dataclass
class Event:
    at: float
    room: str
    agent_name: str
    kind: str
    message: str


def reason_name(value: int) -> str:
    """A disconnect reason's name; a newer server may send one this SDK does not know."""
    try:
        return Reason.Name(value)  # type: ignore[arg-type]
    except ValueError:
        return f"reason {value}"


logger = logging.getLogger("devstack.proxy.delivery")
LOUD = {"agent lost", "gave up", "no agent yet", "not assigned"}


class EventLog:
    """The watcher's last events, for the page, each also one log line with the room,
    agent name and dispatch id, so a dispatch can be followed across the logs."""

    def __init__(self) -> None:
        self._events: deque[Event] = deque(maxlen=EVENTS_KEPT)

    def add(self, d: Delivery, kind: str, message: str) -> None:
        self._events.append(Event(time.time(), d.room, d.agent_name, kind, message))
        logger.log(
            logging.WARNING if kind in LOUD else logging.INFO,
            "%s: room=%s agent_name=%s dispatch_id=%s %s",
            kind,
            d.room,
            d.agent_name,
            d.dispatch_id,
            message,
        )

    def of(self, room: str | None) -> list[dict[str, Any]]:
        return [asdict(e) for e in self._events if room is None or e.room == room]

    def dump(self) -> list[dict[str, Any]]:
        return self.of(None)

    def load(self, events: list[Event]) -> None:
        """Events kept from before a restart, older than any new one (proxy/durable.py)."""
        self._events.extendleft(reversed(events[-EVENTS_KEPT:]))
