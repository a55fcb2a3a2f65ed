"""An agent written for livekit-agents 1.2: WorkerOptions and cli.run_app, as the
templates of that time wrote one."""

from livekit.agents import JobContext, WorkerOptions, cli
from livekit.agents import __version__ as livekit_agents_version


async def entrypoint(ctx: JobContext) -> None:
    await ctx.connect()
    await ctx.room.local_participant.set_attributes(
        {"lk.agent.state": "listening", "fixture.livekit_agents": livekit_agents_version}
    )


if __name__ == "__main__":
    cli.run_app(WorkerOptions(entrypoint_fnc=entrypoint, agent_name="my-old-agent"))
