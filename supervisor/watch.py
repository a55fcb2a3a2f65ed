"""Restart the worker when a file of the user's agent changes, as `lk agent dev` does:
watchfiles (the library livekit-agents' own dev reload uses), on the project AGENT_DIR
names or the folder of AGENT_FILE, ignoring environments, caches, VCS folders and the
stack's own state."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from pathlib import Path

from watchfiles import Change, DefaultFilter, watch

from devstack.settings import Settings

# What can change the agent: its code, its dependencies, its settings. Not uv.lock: the
# worker's own `uv sync` rewrites it after a pyproject.toml change (which already
# restarted it), and `uv add` changes pyproject.toml too. Not the data an agent writes
# while it runs (transcripts, JSON, logs): that would restart it mid-call.
WATCHED_NAMES = ("pyproject.toml",)
WATCHED_SUFFIXES = (".py",)
WATCHED_PREFIXES = (".env", "requirements")
# What building the project writes (uv sync builds a setuptools project in place, as
# agent-starter-python is), and environments without a dot: a change there is not the
# user's, and would restart forever.
IGNORED_DIRS = ("build", "dist", "venv", "env", ".ruff_cache", ".cache")


def watched_folder(settings: Settings) -> Path | None:
    """The user's agent: AGENT_DIR, else AGENT_FILE's folder; None for the built-in one."""
    if settings.agent_dir:
        return Path(settings.agent_dir).expanduser().resolve()
    if settings.agent_file:
        return Path(settings.agent_file).expanduser().resolve().parent
    return None


class AgentFilter(DefaultFilter):
    def __init__(self, folder: Path, ignored: tuple[Path, ...]) -> None:
        # The stack's state dir (the supervisor's own state files change at every start)
        # and cache, should the watched folder hold them (AGENT_FILE at the repo root).
        super().__init__(ignore_paths=ignored)
        self.folder = folder

    def __call__(self, change: Change, path: str) -> bool:
        # Only the folders below the watched one count: a project may live in ~/build/.
        full = Path(path)
        parts = (
            full.relative_to(self.folder).parts if full.is_relative_to(self.folder) else full.parts
        )
        if any(p in IGNORED_DIRS or p.endswith((".egg-info", ".dist-info")) for p in parts):
            return False
        name = parts[-1]
        wanted = (
            name in WATCHED_NAMES
            or name.endswith(WATCHED_SUFFIXES)
            or name.startswith(WATCHED_PREFIXES)
        )
        return wanted and super().__call__(change, path)


class Watcher:
    """Calls `changed(file)` from its own thread for each batch of changes, until stopped."""

    def __init__(
        self, folder: Path, changed: Callable[[str], None], ignored: tuple[Path, ...] = ()
    ) -> None:
        self.folder, self.changed, self.ignored = folder, changed, ignored
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        if self.folder.is_dir():
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        try:
            for changes in watch(
                self.folder,
                watch_filter=AgentFilter(self.folder, self.ignored),
                stop_event=self._stop,
                debounce=400,
                raise_interrupt=False,
            ):
                first = Path(sorted(path for _, path in changes)[0])
                shown = (
                    first.relative_to(self.folder) if first.is_relative_to(self.folder) else first
                )
                self.changed(str(shown))
        except Exception as exc:  # an inotify limit, the folder removed: say so, go on without
            print(
                f"[supervisor] not watching {self.folder} any more ({type(exc).__name__}: {exc});"
                " a change will not restart the worker",
                file=sys.stderr,
                flush=True,
            )
