"""A user's voice agent that never answers: its STT carries a key pasted from a LiveKit
Cloud project, which no other server accepts (the devstack's gateway refuses it, as Cloud
refuses the devstack's), so the agent greets and then hears nothing."""

from __future__ import annotations

from livekit.agents import Agent, AgentServer, AgentSession, JobContext, cli, inference
from livekit.plugins import silero

server = AgentServer()


@server.rtc_session(agent_name="my-voice-agent")
async def entrypoint(ctx: JobContext) -> None:
    session = AgentSession(
        stt=inference.STT("deepgram/nova-3", api_key="APIpastedFromCloud", api_secret="x" * 43),
        llm="openai/gpt-5-mini",
        tts="cartesia/sonic-3",
        vad=silero.VAD.load(),
    )
    await session.start(agent=Agent(instructions="You are a friendly assistant."), room=ctx.room)
    session.generate_reply(instructions="Greet the user and offer your help.")


if __name__ == "__main__":
    cli.run_app(server)
