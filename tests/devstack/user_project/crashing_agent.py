"""A user's agent whose entrypoint raises before it joins, as one does when a setting it
needs is missing."""

from __future__ import annotations

import os

from livekit.agents import JobContext, WorkerOptions, cli


async def entrypoint(ctx: JobContext) -> None:
    if not os.environ.get("INTERVIEW_DATABASE_URL"):
        raise RuntimeError("INTERVIEW_DATABASE_URL is not set: cannot load the questions")
    await ctx.connect()


if __name__ == "__main__":
    cli.run_app(WorkerOptions(entrypoint_fnc=entrypoint, agent_name="my-interviewer"))
