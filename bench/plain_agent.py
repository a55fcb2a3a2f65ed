"""The benchmark's baseline: an agent written the way LiveKit's examples and most seeds
write one, run the way they run it (`python bench/plain_agent.py dev`), with every one
of livekit-agents' defaults: one new process per job, no warm process, no attributes.

It joins and does nothing else, so it publishes no track. livekit-server then tells the
other participants about it only in its 3 s batch. With PLAIN_AGENT_ANNOUNCE=1 it sets
one attribute right after connecting, which is the fix the README gives for that."""

from __future__ import annotations

import os

from livekit.agents import JobContext, WorkerOptions, cli

AGENT_NAME = os.environ.get("PLAIN_AGENT_NAME", "plain-agent")
ANNOUNCE = os.environ.get("PLAIN_AGENT_ANNOUNCE") == "1"
# Its health server's port, for the tests' doctor to ask; 0 is livekit-agents' dev default.
PORT = int(os.environ.get("PLAIN_AGENT_PORT", "0"))


async def entrypoint(ctx: JobContext) -> None:
    await ctx.connect()
    if ANNOUNCE:
        await ctx.room.local_participant.set_attributes({"lk.agent.state": "listening"})


if __name__ == "__main__":
    cli.run_app(WorkerOptions(entrypoint_fnc=entrypoint, agent_name=AGENT_NAME, port=PORT))
