"""Agent sessions on disk: what livekit-agents uploaded for each job (spans, logs, metric
points, the session report with its transcript and audio), in SQLite in the state dir
(DEVSTACK_STATE_DIR/insights.db, its tables in schema.py), so they outlive the proxy.
Retention is bounded (retention.py)."""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from insights.otlp import LogRecord, MetricPoint, Span
from insights.recordings import Recording
from insights.retention import MAX_SESSIONS, bound_audio, bound_sessions, trim_rows
from insights.schema import DATABASE, create

logger = logging.getLogger("devstack.insights")
ROOT_SPAN = "job_entrypoint"  # livekit-agents' root span of a job (ipc/job_proc_lazy_main.py)
ROOM_NAME = "lk.pii.room_name"  # its room (telemetry/trace_types.py ATTR_ROOM_NAME)


class InsightStore:
    """One SQLite file per state dir, shared by every proxy on it (the tests run several);
    each call opens its own connection, under one lock per process."""

    def __init__(self, state_dir: Path) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        self.path = state_dir / DATABASE
        self._lock = threading.Lock()
        with self._db() as db:
            create(db)

    @contextlib.contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        with self._lock, contextlib.closing(sqlite3.connect(self.path, timeout=10)) as db, db:
            db.row_factory = sqlite3.Row
            yield db

    # --- writes (each from a verified upload) ---

    def add_spans(self, rows: list[Span]) -> list[dict[str, Any]]:
        """Store the spans; the sessions they belong to, as stored now."""
        with self._db() as db:
            self._touch_each(
                db, [(s.job_id, s.room_id, s.start_ns, s.end_ns, s.agent_name) for s in rows]
            )
            for s in rows:
                db.execute(
                    "INSERT OR REPLACE INTO spans VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (
                        s.job_id,
                        s.span_id,
                        s.trace_id,
                        s.parent_id,
                        s.name,
                        s.start_ns,
                        s.end_ns,
                        s.status,
                        json.dumps(s.attributes),
                        json.dumps(s.events),
                    ),
                )
                if s.name == ROOT_SPAN and isinstance(room := s.attributes.get(ROOM_NAME), str):
                    # The job's own root span names its room: that label wins.
                    db.execute("UPDATE sessions SET room = ? WHERE job_id = ?", (room, s.job_id))
            return self._trim(db, "spans", {s.job_id for s in rows})

    def add_logs(self, rows: list[LogRecord]) -> list[dict[str, Any]]:
        with self._db() as db:
            self._touch_each(db, [(r.job_id, r.room_id, r.at_ns, r.at_ns, "") for r in rows])
            for job_id in {r.job_id for r in rows if r.unverified}:
                marked = db.execute(
                    "UPDATE sessions SET unverified = 1 WHERE job_id = ? AND unverified = 0",
                    (job_id,),
                ).rowcount
                if marked:  # once per session
                    logger.warning(
                        "session %s: its worker runs several jobs in one process and was not "
                        "started by the stack, so its log lines cannot be told apart (the "
                        "session page says why; run it with AGENT_FILE or AGENT_DIR)",
                        job_id,
                    )
            for r in rows:
                if r.room:
                    # Until the root span or the report names it: a log line's label only.
                    db.execute(
                        "UPDATE sessions SET room = ? WHERE job_id = ? AND room = ''",
                        (r.room, r.job_id),
                    )
                db.execute(
                    "INSERT INTO logs (job_id, at_ns, severity, logger, body, attributes) "
                    "VALUES (?,?,?,?,?,?)",
                    (
                        r.job_id,
                        r.at_ns,
                        r.severity,
                        r.logger,
                        r.body,
                        json.dumps(r.attributes),
                    ),
                )
            return self._trim(db, "logs", {r.job_id for r in rows})

    def add_metrics(self, rows: list[MetricPoint]) -> list[dict[str, Any]]:
        with self._db() as db:
            self._touch_each(db, [(p.job_id, "", None, None, "") for p in rows])
            for p in rows:
                db.execute(
                    "INSERT INTO metrics (job_id, name, at_ns, value, attributes) "
                    "VALUES (?,?,?,?,?)",
                    (p.job_id, p.name, p.at_ns, p.value, json.dumps(p.attributes)),
                )
            return self._trim(db, "metrics", {p.job_id for p in rows})

    def add_recording(self, r: Recording) -> list[dict[str, Any]]:
        start_ns = r.audio_started_ms * 1_000_000 or None
        end_ns = start_ns + r.duration_ms * 1_000_000 if start_ns else None
        with self._db() as db:
            self._touch(db, r.job_id, r.room_id, start_ns, end_ns)
            if isinstance(room := r.summary.get("room"), str) and room:
                db.execute("UPDATE sessions SET room = ? WHERE job_id = ?", (room, r.job_id))
            db.execute(
                "INSERT OR REPLACE INTO reports VALUES (?,?,?,?,?,?,?,?)",
                (
                    r.job_id,
                    json.dumps(r.summary),
                    json.dumps(r.chat_history) if r.chat_history is not None else None,
                    r.duration_ms,
                    r.audio_started_ms,
                    r.audio or None,
                    len(r.audio),
                    time.time(),
                ),
            )
            bound_audio(db)
            return self._rows(db, {r.job_id})

    def note_dispatch(self, job_id: str, dispatch: dict[str, Any]) -> None:
        """What the stack knows of the job's dispatch (session_dispatch.py): the watcher
        forgets a room, the session keeps it."""
        with self._db() as db:
            db.execute(
                "UPDATE sessions SET room = CASE room WHEN '' THEN ? ELSE room END, "
                "agent_name = CASE agent_name WHEN '' THEN ? ELSE agent_name END, "
                "dispatch = ? WHERE job_id = ?",
                (dispatch["room"], dispatch["agent_name"], json.dumps(dispatch), job_id),
            )

    def _touch_each(
        self, db: sqlite3.Connection, seen: list[tuple[str, str, int | None, int | None, str]]
    ) -> None:
        """One session update per job of an upload (a batch holds hundreds of records of a
        few jobs): its room id and agent name, its earliest and latest times."""
        jobs: dict[str, tuple[str, int | None, int | None, str]] = {}
        for job_id, room_id, first, last, agent in seen:
            known = jobs.get(job_id)
            if known is not None:
                firsts = [t for t in (known[1], first) if t]
                lasts = [t for t in (known[2], last) if t]
                first, last = min(firsts, default=None), max(lasts, default=None)
                room_id, agent = known[0] or room_id, known[3] or agent
            jobs[job_id] = (room_id, first, last, agent)
        for job_id, (room_id, first, last, agent) in jobs.items():
            self._touch(db, job_id, room_id, first, last, agent)

    def _rows(self, db: sqlite3.Connection, job_ids: set[str]) -> list[dict[str, Any]]:
        if not job_ids:
            return []
        marks = ",".join("?" * len(job_ids))
        query = f"SELECT * FROM sessions WHERE job_id IN ({marks})"
        return [dict(row) for row in db.execute(query, tuple(job_ids))]

    def _touch(
        self,
        db: sqlite3.Connection,
        job_id: str,
        room_id: str,
        first_ns: int | None,
        last_ns: int | None,
        agent_name: str = "",
    ) -> None:
        values = {
            "job": job_id,
            "room_id": room_id,
            "agent": agent_name,
            "first": first_ns or None,
            "last": last_ns or None,
            "now": time.time(),
        }
        new = db.execute(
            "INSERT OR IGNORE INTO sessions (job_id, room_id, agent_name, first_ns, last_ns, "
            "received_at) VALUES (:job, :room_id, :agent, :first, :last, :now)",
            values,
        ).rowcount
        if new:
            bound_sessions(db)
            return
        db.execute(
            "UPDATE sessions SET received_at = :now, "
            "room_id = CASE room_id WHEN '' THEN :room_id ELSE room_id END, "
            "agent_name = CASE agent_name WHEN '' THEN :agent ELSE agent_name END, "
            "first_ns = MIN(COALESCE(first_ns, :first), COALESCE(:first, first_ns)), "
            "last_ns = MAX(COALESCE(last_ns, :last), COALESCE(:last, last_ns)) "
            "WHERE job_id = :job",
            values,
        )

    def _trim(self, db: sqlite3.Connection, kind: str, job_ids: set[str]) -> list[dict[str, Any]]:
        """Bound the sessions' rows of this kind (retention.py); returns the sessions' rows."""
        trim_rows(db, kind, job_ids)
        return self._rows(db, job_ids)

    # --- reads ---

    def sessions(self, limit: int = MAX_SESSIONS) -> list[dict[str, Any]]:
        with self._db() as db:
            rows = db.execute(
                "SELECT s.*, "
                "(SELECT COUNT(*) FROM spans WHERE job_id = s.job_id) AS spans, "
                "(SELECT COUNT(*) FROM logs WHERE job_id = s.job_id) AS logs, "
                "r.chat_history AS chat_history, COALESCE(r.audio_bytes, 0) AS audio_bytes, "
                "r.duration_ms AS duration_ms, r.job_id IS NOT NULL AS reported "
                "FROM sessions s LEFT JOIN reports r ON r.job_id = s.job_id "
                "ORDER BY COALESCE(s.first_ns, 0) DESC, s.received_at DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [dict(row) for row in rows]

    def session(self, job_id: str) -> dict[str, Any] | None:
        with self._db() as db:
            row = db.execute("SELECT * FROM sessions WHERE job_id = ?", (job_id,)).fetchone()
            if row is None:
                return None
            out: dict[str, Any] = dict(row)
            out["spans"] = [
                dict(r)
                for r in db.execute(
                    "SELECT * FROM spans WHERE job_id = ? ORDER BY start_ns", (job_id,)
                )
            ]
            out["logs"] = [
                dict(r)
                for r in db.execute(
                    "SELECT * FROM logs WHERE job_id = ? ORDER BY at_ns, id", (job_id,)
                )
            ]
            report = db.execute(
                "SELECT summary, chat_history, duration_ms, audio_started_ms, audio_bytes, "
                "received_at FROM reports WHERE job_id = ?",
                (job_id,),
            ).fetchone()
            out["report"] = dict(report) if report else None
        return out

    def metrics(self, job_id: str) -> list[dict[str, Any]]:
        """The session's metric points, oldest first: {name, at_ns, value, attributes}."""
        with self._db() as db:
            rows = db.execute(
                "SELECT name, at_ns, value, attributes FROM metrics WHERE job_id = ? "
                "ORDER BY at_ns, id",
                (job_id,),
            ).fetchall()
        return [{**dict(r), "attributes": json.loads(r["attributes"] or "{}")} for r in rows]

    def audio(self, job_id: str) -> bytes | None:
        with self._db() as db:
            row = db.execute("SELECT audio FROM reports WHERE job_id = ?", (job_id,)).fetchone()
        return bytes(row[0]) if row and row[0] else None
