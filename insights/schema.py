"""The sessions store's tables in SQLite: one row per session (a job), the spans, log
lines and metric points it uploaded, and its session report with its transcript and audio;
and how a store an older stack wrote is brought up to date."""

from __future__ import annotations

import contextlib
import sqlite3

DATABASE = "insights.db"
SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    job_id TEXT PRIMARY KEY, room_id TEXT NOT NULL DEFAULT '', room TEXT NOT NULL DEFAULT '',
    agent_name TEXT NOT NULL DEFAULT '', first_ns INTEGER, last_ns INTEGER,
    received_at REAL NOT NULL, dispatch TEXT, unverified INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS spans (
    job_id TEXT NOT NULL, span_id TEXT NOT NULL, trace_id TEXT, parent_id TEXT, name TEXT,
    start_ns INTEGER, end_ns INTEGER, status TEXT, attributes TEXT, events TEXT,
    PRIMARY KEY (job_id, span_id));
CREATE TABLE IF NOT EXISTS logs (
    id INTEGER PRIMARY KEY, job_id TEXT NOT NULL, at_ns INTEGER, severity TEXT, logger TEXT,
    body TEXT, attributes TEXT);
CREATE INDEX IF NOT EXISTS logs_job ON logs (job_id, at_ns);
CREATE TABLE IF NOT EXISTS metrics (
    id INTEGER PRIMARY KEY, job_id TEXT NOT NULL, name TEXT, at_ns INTEGER, value REAL,
    attributes TEXT);
CREATE INDEX IF NOT EXISTS metrics_job ON metrics (job_id);
CREATE TABLE IF NOT EXISTS reports (
    job_id TEXT PRIMARY KEY, summary TEXT, chat_history TEXT, duration_ms INTEGER,
    audio_started_ms INTEGER, audio BLOB, audio_bytes INTEGER NOT NULL DEFAULT 0,
    received_at REAL NOT NULL);
"""
KINDS = ("spans", "logs", "metrics")


def create(db: sqlite3.Connection) -> None:
    """Make the tables, or bring those of an older stack up to date."""
    db.executescript(SCHEMA)
    with contextlib.suppress(sqlite3.OperationalError):  # a store of an older stack
        db.execute("ALTER TABLE sessions ADD COLUMN unverified INTEGER NOT NULL DEFAULT 0")
