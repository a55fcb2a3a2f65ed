"""The benchmark runs end to end and writes valid output. Figures are judged in its own
report, never here: a slow machine must not fail the build."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from devstack.processes import ROOT

pytestmark = pytest.mark.bench


def test_bench_smoke_writes_json_markdown_and_plot(tmp_path: Path) -> None:
    """`python -m bench --rooms 3 --concurrency 2` measures every mode and writes its files."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--rooms",
            "3",
            "--concurrency",
            "2",
            "--out",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads((tmp_path / "bench.json").read_text())
    assert set(result["sequential"]) == {"explicit", "token", "auto"}
    for summary in result["sequential"].values():
        assert summary["rooms"] == 3
        assert len(summary["latencies_ms"]) == summary["joined"]
    (level,) = result["concurrent"]
    assert level["concurrency"] == 2 and level["summary"]["rooms"] == 2
    assert set(level["resources"]) == {"livekit-server", "agent worker"}
    assert (tmp_path / "bench.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    markdown = (tmp_path / "bench.md").read_text()
    assert "| explicit | 3 |" in markdown and "### Targets" in markdown
    assert "### Sequential join latency" in done.stdout
