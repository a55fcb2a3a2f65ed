"""Clients in fresh processes: each runs one function and sends back one result.

Spawned, not forked: a fresh interpreter inherits no FFI threads and no event loop."""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
from collections.abc import Callable, Sequence
from typing import Any

SPAWN = mp.get_context("spawn")


def gather(
    main: Callable[..., None],
    arg_sets: Sequence[tuple[Any, ...]],
    what: str,
    timeout: float,
    meanwhile: Callable[[], None] | None = None,
) -> list[Any]:
    """`main(*args, results)` in one process per args; each result as `main` put it, in the
    order they came. `meanwhile` runs here once they have all started. A process that sends
    nothing within `timeout` fails the whole run."""
    results: Any = SPAWN.Queue()
    procs = [SPAWN.Process(target=main, args=(*a, results), daemon=True) for a in arg_sets]
    for proc in procs:
        proc.start()
    out: list[Any] = []
    try:
        if meanwhile is not None:
            meanwhile()
        for _ in procs:
            out.append(results.get(timeout=timeout))
    except queue.Empty:
        raise RuntimeError(
            f"bench: a process of {what} gave no result within {timeout:.0f} s "
            f"(exit codes {[p.exitcode for p in procs]})"
        ) from None
    finally:
        for proc in procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()
    return out


def send(results: Any, value: object) -> None:
    """The child's last act: its result out, then exit without the SDK's teardown (its
    native threads need none, and can hang an orderly interpreter exit)."""
    results.put(value)
    results.close()
    results.join_thread()
    os._exit(0)
