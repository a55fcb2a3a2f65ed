"""The fixture project's agent, written as agent-starter-python writes one: it reads its
own .env.local, and imports a package the stack's venv does not have."""

import os
import sys

import humanize
from dotenv import load_dotenv
from livekit.agents import AgentServer, JobContext, JobProcess, cli

load_dotenv(".env.local")
server = AgentServer()


def prewarm(proc: JobProcess) -> None:
    proc.userdata["greeting"] = os.environ.get("FIXTURE_GREETING", "")


server.setup_fnc = prewarm


@server.rtc_session(agent_name="my-project-agent")
async def entrypoint(ctx: JobContext) -> None:
    await ctx.connect()
    # What the test reads from the room: where this job runs, and what it was given.
    await ctx.room.local_participant.set_attributes(
        {
            "lk.agent.state": "listening",
            "fixture.python": sys.executable,
            "fixture.humanize": humanize.__version__,
            "fixture.greeting": ctx.proc.userdata["greeting"],
            "fixture.livekit_url": os.environ.get("LIVEKIT_URL", ""),
            "fixture.inference_key": os.environ.get("LIVEKIT_INFERENCE_API_KEY", ""),
        }
    )


if __name__ == "__main__":
    cli.run_app(server)
