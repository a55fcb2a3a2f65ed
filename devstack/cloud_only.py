"""LiveKit Cloud features an agent uses offline, as its worker's log tells them: the noise
cancellers that need Cloud to authorize them (ai-coustics, BVC/NC) and pass the audio
through as it came without it, as on any self-hosted server.

The runner turns each plugin's offline ERROR into one WARNING line that names it
(agent/job_path/devstack_offline_plugins.py); here that line is read back as a note on the
job (for the doctor and the page: a warning, never a failure), and the native lines the
BVC library prints to stderr itself, which no logging filter sees, are recognized so the
supervisor leaves them out (that WARNING already says what they say)."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

# The words of the runner's warning (devstack_offline_plugins.NEEDS_CLOUD); the runner
# cannot import the stack, so a test holds the two together.
NEEDS_CLOUD = "needs LiveKit Cloud"
_NOTE = re.compile(r"^(?P<plugin>.+?) " + re.escape(NEEDS_CLOUD) + r": ")
# livekit-plugins-noise-cancellation 0.3.2's native library, through env_logger, on a
# server without Cloud's /settings endpoint (404): the refusal, then what follows from it.
NATIVE_REFUSED = re.compile(
    r'\bERROR livekit-nc\] code=203 msg="noise cancellation is not authorized for this '
    r'connection" status=404\b'
)
NATIVE_UNAVAILABLE = re.compile(
    r'\bERROR livekit-nc\] code=205 msg="noise cancellation unavailable"'
)
MAX_TEXT = 400


@dataclass
class CloudNote:
    """A job's plugin that needs LiveKit Cloud and runs without it: a warning."""

    room: str
    job_id: str
    agent_name: str
    at: float  # epoch seconds
    plugin: str  # as the warning names it
    text: str  # the warning itself

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def cloud_note(level: str, at: float, message: str, extra: dict[str, Any]) -> CloudNote | None:
    """The note a worker-log record makes, if it is the runner's warning about a job."""
    match = _NOTE.match(message)
    if level != "WARNING" or match is None or not extra.get("job_id"):
        return None
    return CloudNote(
        room=str(extra.get("room", "")),
        job_id=str(extra["job_id"]),
        agent_name=str(extra.get("agent_name", "")),
        at=at,
        plugin=match["plugin"],
        text=message[:MAX_TEXT],
    )


class NativeLines:
    """One worker's output: which of its lines are the BVC library's own offline refusal.
    "unavailable" is left out only after a refusal this worker printed, so that line keeps
    its meaning wherever it has another cause."""

    def __init__(self) -> None:
        self.refused = False

    def told_elsewhere(self, line: str) -> bool:
        if NATIVE_REFUSED.search(line):
            self.refused = True
            return True
        return self.refused and bool(NATIVE_UNAVAILABLE.search(line))
