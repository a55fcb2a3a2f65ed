"""What the rule table keeps asking of the evidence: the requested agent's participants
and dispatches in the room, which of those no worker took, whether a worker of that name
takes jobs, and the names registered instead. Derived once per diagnosis, so each rule
reads as one condition (rules.py) and each check line as one lookup (checks.py)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from devstack.rooms import UNTAKEN_AFTER_SECONDS
from doctor.evidence import DispatchFacts, Evidence


def name_of(name: str | None) -> str:
    return f"`{name}`" if name else "unnamed"


@dataclass
class Facts:
    """Evidence plus what the rules keep asking of it."""

    ev: Evidence
    load_threshold: float | None = None

    @cached_property
    def room_exists(self) -> bool:
        return bool(self.ev.room and self.ev.room.exists)

    @cached_property
    def _agent_participants(self) -> list[dict[str, Any]]:
        if not self.room_exists:
            return []
        want = self.ev.agent_name or ""
        return [
            p
            for p in self.ev.room.participants  # type: ignore[union-attr]
            if p["kind"] == "AGENT" and p["agent_name"] == want
        ]

    @cached_property
    def agents(self) -> list[str]:
        """Agents of the requested name in the room now."""
        return [p["identity"] for p in self._agent_participants]

    @cached_property
    def mine(self) -> list[DispatchFacts]:
        """Dispatches of the requested name in the room."""
        if not self.room_exists:
            return []
        want = self.ev.agent_name or ""
        return [d for d in self.ev.room.dispatches if d.agent_name == want]  # type: ignore[union-attr]

    @cached_property
    def untaken(self) -> list[DispatchFacts]:
        return [d for d in self.mine if d.jobs == 0 and d.age_seconds >= UNTAKEN_AFTER_SECONDS]

    @property
    def all_untaken(self) -> bool:
        return bool(self.mine) and len(self.untaken) == len(self.mine)

    @property
    def worker_up(self) -> bool:
        return self.ev.worker.reachable and self.ev.worker.healthy

    @property
    def known(self) -> bool:
        """Whether the server's log tells which workers are registered."""
        return self.ev.registered is not None

    @property
    def taken(self) -> bool:
        """A worker of the requested name takes jobs: registered (the server's log), or a
        probe agent joined. Either beats what one worker's health server says."""
        name = self.ev.agent_name or ""
        probed = bool(self.ev.probe and self.ev.probe.joined)
        return probed or bool(self.ev.registered and self.ev.registered.get(name))

    @property
    def suggestion(self) -> str:
        """For a name nobody registered: what is registered, and the closest name."""
        names = sorted(self.ev.registered or {})
        if not names:
            return "no worker at all is registered"
        close = difflib.get_close_matches(self.ev.agent_name or "", names, n=1, cutoff=0.6)
        shown = ", ".join(name_of(n) for n in names)
        return f"registered: {shown}" + (f"; did you mean {name_of(close[0])}?" if close else "")

    @cached_property
    def unannounced(self) -> list[str]:
        """Agents of the requested name that publish no track and set no state: the server
        tells other participants about them only in its 3 s batch."""
        return [
            p["identity"]
            for p in self._agent_participants
            if p.get("tracks") == 0 and not p.get("state")
        ]

    def failures(self, kind: str) -> list[dict[str, Any]]:
        """The room's jobs of this kind of failure, from the worker's own log, newest last."""
        return [j for j in self.ev.job_failures if j["kind"] == kind]

    @property
    def room_age(self) -> str:
        age = self.ev.room.age_seconds if self.ev.room else None
        return f"{age:.0f} s" if age is not None else "a while"
