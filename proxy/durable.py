"""The delivery watcher's state survives the proxy: kept in SQLite in the state dir
(DEVSTACK_STATE_DIR/devstack.db), written at each change and only then, read back at
start. A proxy killed with -9 and restarted by its supervisor resumes every dispatch it
was following (one held for a worker that had not registered yet is still delivered when
that worker registers), its tokens' room configs, its events and its counters."""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from proxy.deliveries import Delivery, Event
from proxy.delivery import DeliveryWatcher
from proxy.delivery_upkeep import STALE_SECONDS

logger = logging.getLogger("devstack.proxy")
DATABASE = "devstack.db"
# The counters carried over (their labels with them); the join-time histogram starts anew.
COUNTERS = ("requested", "delivered", "redispatched", "lost")


class DurableState:
    """One row per proxy (by its port: tests run several proxies on one state dir)."""

    def __init__(self, state_dir: Path, key: str) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        self.path = state_dir / DATABASE
        # Versioned: a row another version of the stack wrote is not read back.
        self.key = f"watcher:v1:{key}"
        with self._db() as db:
            db.execute("CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL)")

    def _db(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=5)

    def load(self) -> dict[str, Any] | None:
        with contextlib.closing(self._db()) as db:
            row = db.execute("SELECT value FROM kv WHERE key = ?", (self.key,)).fetchone()
        return json.loads(row[0]) if row else None

    def save(self, text: str) -> None:
        """Store the state, as the JSON text of dump()."""
        with contextlib.closing(self._db()) as db, db:
            db.execute(
                "INSERT INTO kv (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (self.key, text),
            )


def dump(watcher: DeliveryWatcher) -> dict[str, Any]:
    """Everything the watcher must not forget, as JSON."""
    return {
        "deliveries": [asdict(d) for d in watcher.deliveries.values()],
        "tokens": [[r, i, agents] for (r, i), agents in watcher.tokens.items()],
        "token_times": [[r, i, t] for (r, i), t in watcher.token_times.items()],
        "joined": list(watcher.joined.items())[-1000:],
        "events": watcher.events.dump(),
        "counters": counter_values(watcher),
    }


def counter_values(watcher: DeliveryWatcher) -> list[list[Any]]:
    """[[counter, labels, value]] of every counter sample with a value."""
    m = watcher.metrics
    out: list[list[Any]] = []
    for name in COUNTERS:
        counter = getattr(m, name)
        for metric in counter.collect():
            for sample in metric.samples:
                if sample.name.endswith("_total") and sample.value:
                    out.append([name, sample.labels, sample.value])
    return out


def restore(watcher: DeliveryWatcher, data: dict[str, Any]) -> int:
    """Put a saved state back into a fresh watcher; returns how many dispatches it resumes.
    A state it cannot read is left behind with one line: the proxy starts afresh."""
    try:
        return _restore(watcher, data)
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        logger.warning("the saved delivery state is unreadable (%s); starting afresh", exc)
        watcher.deliveries.clear()
        return 0


def _restore(watcher: DeliveryWatcher, data: dict[str, Any]) -> int:
    now = time.time()
    for d in data.get("deliveries", []):
        delivery = Delivery(**d)
        if now - delivery.requested_at > STALE_SECONDS:
            continue  # an earlier session's: its room is long gone
        if delivery.state == "redispatching":
            # The re-dispatch was cut by the crash: follow it as waiting, the next
            # registration (or the server's log, read again from its start) re-issues it.
            delivery.state = "waiting_for_worker"
        watcher.deliveries[(delivery.room, delivery.agent_name)] = delivery
    for room, identity, agents in data.get("tokens", []):
        watcher.tokens[(room, identity)] = [tuple(a) for a in agents]  # type: ignore[misc]
    for room, identity, at in data.get("token_times", []):
        watcher.token_times[(room, identity)] = at
    watcher.joined.update(dict(data.get("joined", [])))
    watcher.events.load([Event(**e) for e in data.get("events", [])])
    for name, labels, value in data.get("counters", []):
        counter = getattr(watcher.metrics, name)
        (counter.labels(**labels) if labels else counter).inc(value)
    return len(watcher.deliveries)


def save_on_change(watcher: DeliveryWatcher, store: DurableState) -> Callable[[], None]:
    """Write through, the one path the state takes to disk: every change the watcher makes
    fires its on_change, and is on disk before anything else happens (a kill -9 right
    after an answer loses nothing); a write takes milliseconds. Nothing is written while
    nothing changes. Returns the save, for the clean stop's last one."""
    last = ""

    def save() -> None:
        nonlocal last
        text = json.dumps(dump(watcher))
        if text == last:
            return  # fired by a step that changed nothing kept
        try:
            store.save(text)
            last = text
        except sqlite3.Error as exc:  # busy or locked: the next change writes it all again
            logger.warning("could not save the delivery state to %s: %s", store.path, exc)

    watcher.on_change.append(save)
    return save
