"""LiveKit Cloud's noise cancellation, offline: one warning per plugin, not an ERROR.

Both noise cancellers LiveKit's templates use ask LiveKit Cloud to authorize them, at the
URL the agent's room is connected to (`GET /settings`), and a server that is not Cloud
(this stack's livekit-server, or any self-hosted one) answers 404. Measured with
livekit-agents 1.8.9 on livekit-server v1.13.5:
- ai-coustics (livekit-plugins-ai-coustics 0.3.5, `ai_coustics.audio_enhancement()`):
  enhances while it asks (about 10 s), then every frame is passed through as it came and
  the plugin logs, once per stream, `ERROR livekit.plugins.ai_coustics - Processing failed:
  Unable to authorize model use: Model use unauthorized: GET /settings returned HTTP 404`;
- BVC/NC (livekit-plugins-noise-cancellation 0.3.2, `noise_cancellation.BVC()`): the filter
  is never enabled, the audio passes unfiltered from the start, and livekit's FFI logs,
  once per stream, `ERROR livekit - livekit_ffi::server::audio_stream:...: failed to
  initialize the audio filter. it will not be enabled for this session.` (its native
  library also prints `ERROR livekit-nc` lines to stderr: supervisor/output.py).

That is what a self-hosted server without Cloud does too, and the agent still hears the
person; so the stack keeps the behaviour and only says it right: the first such record of
each plugin in a process becomes one WARNING that explains it, later ones of that plugin
in the same process are dropped, and every other record passes untouched. The records are
changed where they are made (a logger filter), so the console, the worker log the doctor
reads and the session Agent Insights records (uploaded from the job process) agree.

Job processes are separate processes (forkserver or spawn), so the filter travels with the
worker's setup function (`with_cloud_notes`), which livekit-agents runs in each of them
before any job. It is pickled by reference to this module, so a job process must import it
by the same name: its folder holds nothing else and goes on the worker's sys.path (a
project's own modules are never shadowed), and its name is the stack's own. Like
agent/user_file.py, this imports only the standard library."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# What the doctor and the page look for in the worker log (devstack/cloud_only.py).
NEEDS_CLOUD = "needs LiveKit Cloud"
# A refusal of the authorization because the server has no such endpoint: not Cloud.
_AIC_REFUSED = re.compile(r"authoriz.*\b404\b", re.IGNORECASE | re.DOTALL)
_FILTER_FAILED = "failed to initialize the audio filter"


@dataclass(frozen=True)
class CloudOnlyPlugin:
    """A plugin that needs LiveKit Cloud, and how its offline failure is told."""

    name: str  # as the warning names it
    logger: str  # the logger its failure record is made on
    shown_as: str  # the logger name the warning carries
    matches: Callable[[logging.LogRecord], bool]
    after: str  # what happens to the audio from then on


def _ffi_message(record: logging.LogRecord) -> str | None:
    """livekit-rtc forwards the FFI's records as "%s:%s:%s - %s" (target, line, module path,
    message): the message, for such a record."""
    args = record.args if isinstance(record.args, tuple) else ()
    return str(args[3]) if len(args) == 4 and "audio_stream" in str(args[0]) else None


def _ai_coustics_refused(record: logging.LogRecord) -> bool:
    return record.levelno >= logging.ERROR and bool(_AIC_REFUSED.search(record.getMessage()))


def _audio_filter_failed(record: logging.LogRecord) -> bool:
    # Of the FFI's records, only its audio stream's filter failing is this plugin's.
    said = _ffi_message(record)
    return record.levelno >= logging.ERROR and said is not None and said.startswith(_FILTER_FAILED)


PLUGINS = (
    CloudOnlyPlugin(
        name="ai-coustics noise cancellation (livekit-plugins-ai-coustics)",
        logger="livekit.plugins.ai_coustics",
        shown_as="livekit.plugins.ai_coustics",
        matches=_ai_coustics_refused,
        after="from here on it passes the audio through unenhanced",
    ),
    CloudOnlyPlugin(
        name="LiveKit noise cancellation BVC/NC (livekit-plugins-noise-cancellation)",
        logger="livekit",
        # The record is livekit-rtc's, about this plugin's filter: named after the plugin.
        shown_as="livekit.plugins.noise_cancellation",
        matches=_audio_filter_failed,
        after="the audio passes through unfiltered",
    ),
)


def warning_text(plugin: CloudOnlyPlugin, said: str) -> str:
    """The one line that replaces the plugin's offline ERROR."""
    return (
        f"{plugin.name} {NEEDS_CLOUD}: this server is not LiveKit Cloud and refused to "
        f"authorize it ({said}), as a self-hosted server without Cloud does; {plugin.after}. "
        "Your agent still hears the person."
    )


class CloudOnlyFilter(logging.Filter):
    """On the plugin's logger: its offline failure becomes one WARNING per process."""

    def __init__(self, plugin: CloudOnlyPlugin) -> None:
        super().__init__()
        self.plugin = plugin
        self.said_in: int | None = None  # the pid that warned (a forked child warns anew)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.plugin.matches(record):
            return True
        if self.said_in == os.getpid():
            return False  # told once in this process: the rest is the same news
        self.said_in = os.getpid()
        # An FFI record's own message, without the Rust source location before it.
        said = _ffi_message(record) or record.getMessage()
        record.msg = warning_text(self.plugin, " ".join(said.split()).rstrip("."))
        record.args = ()
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        record.name = self.plugin.shown_as
        return True


def install() -> bool:
    """The filters on this process's plugin loggers (once); returns whether added now."""
    added = False
    for plugin in PLUGINS:
        logger = logging.getLogger(plugin.logger)
        if not any(isinstance(f, CloudOnlyFilter) and f.plugin == plugin for f in logger.filters):
            logger.addFilter(CloudOnlyFilter(plugin))
            added = True
    return added


class WithCloudNotes:
    """The worker's setup function (prewarm), run in each job process after the filters
    are installed there. Pickled by reference to this module, which the runner makes
    importable in job processes (agent/user_worker.py)."""

    def __init__(self, setup: Callable[[Any], Any] | None) -> None:
        self.setup = setup

    def __call__(self, proc: Any) -> Any:
        install()
        return self.setup(proc) if self.setup is not None else None


def with_cloud_notes(setup: Callable[[Any], Any] | None) -> WithCloudNotes:
    """`setup` wrapped once (a worker restarted in the same process is not wrapped twice)."""
    return setup if isinstance(setup, WithCloudNotes) else WithCloudNotes(setup)
