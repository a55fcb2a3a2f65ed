"""`--profile`: py-spy samples the worker and its job processes during the largest burst
and writes a flame graph, so a slow step is found in a profile rather than guessed at."""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def py_spy(pid: int, out: Path) -> Iterator[None]:
    """py-spy record on `pid` and its children until the block ends (SIGINT makes it write)."""
    exe = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    spy = subprocess.Popen(
        [exe, "record", "--pid", str(pid), "--subprocesses", "--rate", "50", "--output", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)
        try:
            _, err = spy.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            spy.kill()
            _, err = spy.communicate()
        if spy.returncode not in (0, -signal.SIGINT) or not out.exists():
            # Usually ptrace is not allowed (a container without CAP_SYS_PTRACE): say so.
            print(f"bench: py-spy wrote no profile: {err.strip()[-500:]}", file=sys.stderr)
