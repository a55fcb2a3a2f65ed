"""How much the sessions store keeps: the MAX_SESSIONS sessions that uploaded last, the
newest MAX_ROWS spans (and every root span), logs and metric points each per session, and
at most MAX_AUDIO_BYTES of audio in all (the audio of the session that reported first goes
first; its transcript stays). Each bound runs in the transaction of the write that could
pass it, so the store never grows past it between writes."""

from __future__ import annotations

import sqlite3

from insights.schema import KINDS

MAX_SESSIONS = 200
MAX_ROWS = 5000  # of each kind, per session
MAX_AUDIO_BYTES = 512 * 1024 * 1024


def trim_rows(db: sqlite3.Connection, kind: str, job_ids: set[str]) -> None:
    """Keep the newest MAX_ROWS of each session's rows of this kind (a span tree keeps its
    roots)."""
    keep = "parent_id != '' AND " if kind == "spans" else ""
    order = "start_ns" if kind == "spans" else "id"
    for job_id in job_ids:
        db.execute(
            f"DELETE FROM {kind} WHERE {keep}job_id = ? AND rowid NOT IN (SELECT rowid "
            f"FROM {kind} WHERE job_id = ? ORDER BY {order} DESC LIMIT {MAX_ROWS})",
            (job_id, job_id),
        )


def bound_sessions(db: sqlite3.Connection) -> None:
    """Forget, with all their rows, the sessions past the MAX_SESSIONS that uploaded last."""
    old = [
        row[0]
        for row in db.execute(
            "SELECT job_id FROM sessions ORDER BY received_at DESC LIMIT -1 OFFSET ?",
            (MAX_SESSIONS,),
        )
    ]
    for job_id in old:
        for table in ("sessions", "reports", *KINDS):
            db.execute(f"DELETE FROM {table} WHERE job_id = ?", (job_id,))


def bound_audio(db: sqlite3.Connection) -> None:
    """Drop the audio of the sessions that reported first, past MAX_AUDIO_BYTES in all."""
    total = 0
    for row in db.execute(
        "SELECT job_id, audio_bytes FROM reports WHERE audio_bytes > 0 ORDER BY received_at DESC"
    ).fetchall():
        total += row["audio_bytes"]
        if total > MAX_AUDIO_BYTES:
            db.execute(
                "UPDATE reports SET audio = NULL, audio_bytes = 0 WHERE job_id = ?",
                (row["job_id"],),
            )
