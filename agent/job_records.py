"""Each log record stamped, when it is made, with the job that made it, in a worker process
that runs several jobs at once (livekit-agents' thread executor, the stack's shared loop).

livekit-agents records sessions per process (telemetry/traces.py, `_CloudTelemetry`): one
root-logger handler uploads every record of the process, and stamps it with the job of the
context that *uploads* it. Under threads that is wrong twice over:
- a record made outside any job (the worker's own "received job request ... room=R") is
  stamped with the job that configured recording last, so it lands in another room's session;
- a job buffers *every* record of the process from its start until it configures recording,
  then replays them all as its own (`JobContext._flush_early_log_buffer`).

Stamped here at creation, in the emitting context, a record keeps its true job through any
buffer and replay: the proxy keeps it only in that job's session (insights/otlp.py), and a
record made outside any job in such a process in none. A process that runs one job (the
process executor) is not stamped: there livekit-agents' own attribution is right.

It runs in the stack's venv and, for an AGENT_DIR project, in the project's own Python
beside agent/user_file.py, so it imports only the standard library and livekit-agents."""

from __future__ import annotations

import logging
import os
from typing import Any

# The attribute the proxy reads (insights/otlp.py OWN_JOB); "" means "made outside any job".
# The leading underscore keeps it off the console: livekit-agents' formatters skip such keys
# (cli/log.py), OpenTelemetry's logging handler uploads them.
ATTRIBUTE = "_devstack_job_id"
_installed_in: int | None = None  # the pid that installed it: a forked child is not stamped


def _current_job_id() -> str:
    from livekit.agents import get_job_context  # imported already: a dict lookup

    ctx = get_job_context(required=False)
    return ctx.job.id if ctx is not None else ""


def stamp_records_with_their_job() -> bool:
    """Install the stamp for this process (once); returns whether it was installed now."""
    global _installed_in
    if _installed_in == os.getpid():
        return False
    make = logging.getLogRecordFactory()

    def record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        made = make(*args, **kwargs)
        if os.getpid() == _installed_in:
            setattr(made, ATTRIBUTE, _current_job_id())
        return made

    logging.setLogRecordFactory(record)
    _installed_in = os.getpid()
    return True
