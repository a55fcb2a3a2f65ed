"""A log its writer cuts or begins anew is read again from its start (pure file logic)."""

from __future__ import annotations

from pathlib import Path

import pytest

from devstack.log_lines import NewLines

pytestmark = pytest.mark.unit


def test_a_log_begun_anew_is_read_from_its_start(tmp_path: Path) -> None:
    """Emptied, then written again (a new `make dev`): its new lines, and one restart."""
    log = tmp_path / "agent.log"
    log.write_bytes(b"one\ntwo\n")
    new_lines = NewLines(log, since=0)
    assert new_lines() == ["one", "two"]
    log.write_bytes(b"three\n")
    assert new_lines() == ["three"]
    assert new_lines.restarts == 1


def test_a_log_cut_and_grown_past_the_old_end_is_noticed(tmp_path: Path) -> None:
    """Cut to its newer half, then grown longer than it was: its size alone would not
    tell; the bytes last read are no longer where they were."""
    log = tmp_path / "agent.log"
    log.write_bytes(b"a" * 50 + b"\nend of the old text\n")
    new_lines = NewLines(log, since=0)
    assert new_lines()[-1] == "end of the old text"
    log.write_bytes(b"newer half\n" + b"b" * 200 + b"\n")
    assert new_lines() == ["newer half", "b" * 200]
    assert new_lines.restarts == 1


def test_a_restart_with_a_tail_reads_only_the_end(tmp_path: Path) -> None:
    """With `tail`, a rewritten log is read from that many bytes before its end."""
    log = tmp_path / "agent.log"
    log.write_bytes(b"old\n")
    new_lines = NewLines(log, since=0, tail=6)
    assert new_lines() == ["old"]
    log.write_bytes(b"first\nsecond\nlast\n")
    assert new_lines() == ["last"]  # "second" is cut by the tail: not a whole line
    assert new_lines() == []


def test_a_tail_starts_at_a_whole_line(tmp_path: Path) -> None:
    """From the last `tail` bytes, the first line whole in them, or the log's start."""
    log = tmp_path / "agent.log"
    log.write_bytes(b"first\nsecond\n")
    assert NewLines(log, tail=7)() == ["second"]
    assert NewLines(log, tail=100)() == ["first", "second"]
