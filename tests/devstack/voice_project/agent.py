"""A user's voice agent as LiveKit's templates write it: its models named as LiveKit
Inference strings, Silero for the person's turns, a greeting when someone joins. Offline,
only the devstack's gateway (livekit-devstack[voice]) gives it ears and a voice."""

from __future__ import annotations

from livekit.agents import Agent, AgentServer, AgentSession, JobContext, cli
from livekit.plugins import silero

server = AgentServer()


@server.rtc_session(agent_name="my-voice-agent")
async def entrypoint(ctx: JobContext) -> None:
    session = AgentSession(
        stt="deepgram/nova-3",
        llm="openai/gpt-5-mini",
        tts="cartesia/sonic-3",
        vad=silero.VAD.load(),
    )
    await session.start(agent=Agent(instructions="You are a friendly assistant."), room=ctx.room)
    session.generate_reply(instructions="Greet the user and offer your help.")


if __name__ == "__main__":
    cli.run_app(server)
