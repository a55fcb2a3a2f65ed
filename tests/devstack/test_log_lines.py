"""Reading a log as it grows (pure file logic; the server-log waits use it on real logs)."""

from __future__ import annotations

from pathlib import Path

from devstack.log_lines import NewLines


def test_only_whole_lines_and_each_once(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    log.write_bytes(b"old line\n")
    new_lines = NewLines(log)  # from where the log ends now
    assert new_lines() == []
    with log.open("ab") as f:
        f.write(b"first\nsecond, still bein")
    assert new_lines() == ["first"]
    with log.open("ab") as f:
        f.write(b"g written\n")
    assert new_lines() == ["second, still being written"]
    assert new_lines() == []


def test_a_multibyte_character_split_across_reads(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    log.write_bytes(b"")
    new_lines = NewLines(log, since=0)
    text = "dropping pass-through signal — no stream\n".encode()
    cut = text.index("—".encode()) + 1  # inside the dash's three bytes
    with log.open("ab") as f:
        f.write(text[:cut])
    assert new_lines() == []
    with log.open("ab") as f:
        f.write(text[cut:])
    assert new_lines() == ["dropping pass-through signal — no stream"]
