"""An entrypoint that raises before `ctx.connect()`, as one does when a setting it needs is
missing: the job crashes, the agent never joins."""

import os

from livekit.agents import AgentServer, JobContext, cli

server = AgentServer()


@server.rtc_session(agent_name="my-crashing-agent")
async def entrypoint(ctx: JobContext) -> None:
    database = os.environ.get("FIXTURE_DATABASE_URL")
    if not database:
        raise RuntimeError("FIXTURE_DATABASE_URL is not set: cannot load the caller's profile")
    await ctx.connect()


if __name__ == "__main__":
    cli.run_app(server)
