"""Waiting on what livekit-server itself logs: a job it gave up has no webhook and no API,
only a log line."""

from __future__ import annotations

from devstack.local_server import LiveKitServer
from devstack.log_lines import NewLines
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
    new_lines = NewLines(server.log_path, since)

    async def logged() -> str:
        return next(
            (line for line in new_lines() if room in line and any(m in line for m in messages)),
            "",
        )

    return await wait_until_async(
        logged, timeout=15, what=f"the server to log {' or '.join(messages)} for {room}"
    )
