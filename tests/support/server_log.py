"""Waiting on what livekit-server itself logs: a job it gave up has no webhook and no API,
only a log line."""

from __future__ import annotations

from devstack.local_server import LiveKitServer
from devstack.server_log import NOT_ASSIGNED
from devstack.waiting import wait_until_async


async def wait_for_job_given_up(
    server: LiveKitServer, room: str, message: str = NOT_ASSIGNED
) -> str:
    """The server's line giving up a job in `room`: by default because no worker answered
    in time; NO_WORKER when none had room for it."""
    return await wait_for_server_line(server, room, (message,))


async def wait_for_server_line(
    server: LiveKitServer, room: str, messages: tuple[str, ...], since: int = 0
) -> str:
    """The first line about `room` with one of `messages`, at or after byte `since` of the
    log. The log is read once from there, then only what the server appends; a line still
    being written waits for its end."""
    assert server.log_path is not None
    with server.log_path.open(errors="replace") as log:
        log.seek(since)
        pending = ""

        async def logged() -> str:
            nonlocal pending
            while chunk := log.readline():
                pending += chunk
                if not pending.endswith("\n"):
                    break  # the rest of this line is not written yet
                line, pending = pending, ""
                if room in line and any(m in line for m in messages):
                    return line
            return ""

        return await wait_until_async(
            logged, timeout=15, what=f"the server to log {' or '.join(messages)} for {room}"
        )
