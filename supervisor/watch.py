"""Restart the worker when a file of the user's agent changes, as `lk agent dev` does:
watchfiles (the library livekit-agents' own dev reload uses), on the project AGENT_DIR
names or the folder of AGENT_FILE, ignoring environments, caches and VCS folders."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from watchfiles import Change, DefaultFilter, watch

from devstack.settings import Settings

# What a change to can change the agent: its code, its dependencies, its settings. Not
# uv.lock: the worker's own `uv sync` rewrites it after a pyproject.toml change (which
# already restarted it), and `uv add` changes pyproject.toml too.
WATCHED_SUFFIXES = (".py", ".toml", ".txt", ".json", ".yaml", ".yml", ".cfg", ".ini")


def watched_folder(settings: Settings) -> Path | None:
    """The user's agent: AGENT_DIR, else AGENT_FILE's folder; None for the built-in one."""
    if settings.agent_dir:
        return Path(settings.agent_dir).expanduser().resolve()
    if settings.agent_file:
        return Path(settings.agent_file).expanduser().resolve().parent
    return None


# What building the project writes (uv sync builds a setuptools project in place, as
# agent-starter-python is): a change there is the stack's own, and would restart forever.
BUILD_DIRS = ("build", "dist", ".ruff_cache", ".cache")


class AgentFilter(DefaultFilter):
    def __call__(self, change: Change, path: str) -> bool:
        parts = Path(path).parts
        if any(p in BUILD_DIRS or p.endswith((".egg-info", ".dist-info")) for p in parts):
            return False
        name = parts[-1]
        wanted = name.endswith(WATCHED_SUFFIXES) or name.startswith(".env")
        return wanted and super().__call__(change, path)


class Watcher:
    """Calls `changed(file)` from its own thread for each batch of changes, until stopped."""

    def __init__(self, folder: Path, changed: Callable[[str], None]) -> None:
        self.folder, self.changed = folder, changed
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        if self.folder.is_dir():
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        for changes in watch(
            self.folder,
            watch_filter=AgentFilter(),
            stop_event=self._stop,
            debounce=400,
            raise_interrupt=False,
        ):
            first = sorted(path for _, path in changes)[0]
            self.changed(str(Path(first).relative_to(self.folder)))
