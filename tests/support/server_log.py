"""Waiting on what livekit-server itself logs: some failures (a job it gave up) have no
webhook and no API, only a log line."""

from __future__ import annotations

from devstack.local_server import LiveKitServer
from devstack.waiting import wait_until_async


async def wait_for_server_log(server: LiveKitServer, message: str, room: str) -> str:
    """The server's log line `message` about `room`."""

    async def logged() -> str:
        lines = server.log_tail(10**7).splitlines()
        return next((x for x in lines if message in x and room in x), "")

    return await wait_until_async(
        logged, timeout=15, what=f"{message!r} about {room} in the server log"
    )
