"""The templates' turn detector, whose model files `download-files` fetches: without them
the job crashes before the agent joins."""

from livekit.agents import AgentServer, JobContext, cli
from livekit.plugins.turn_detector.multilingual import MultilingualModel

server = AgentServer()


@server.rtc_session(agent_name="my-turn-agent")
async def entrypoint(ctx: JobContext) -> None:
    turn_detection = MultilingualModel()  # loads its model files from the local cache
    ctx.proc.userdata["turn_detection"] = turn_detection
    await ctx.connect()


if __name__ == "__main__":
    cli.run_app(server)
