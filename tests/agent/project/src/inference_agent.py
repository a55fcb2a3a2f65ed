"""The voice pipeline LiveKit's templates write: LiveKit Inference models by
"provider/model" strings. It joins; every model call then fails offline."""

from livekit.agents import Agent, AgentServer, AgentSession, JobContext, cli, inference
from livekit.plugins import silero

server = AgentServer()


@server.rtc_session(agent_name="my-inference-agent")
async def entrypoint(ctx: JobContext) -> None:
    session = AgentSession(
        stt=inference.STT("deepgram/nova-3"),
        llm=inference.LLM("openai/gpt-4.1-mini"),
        tts=inference.TTS("cartesia/sonic-2"),
        vad=silero.VAD.load(),
    )
    await session.start(agent=Agent(instructions="You are a helpful assistant."), room=ctx.room)
    await ctx.connect()
    session.generate_reply(instructions="Greet the user.")


if __name__ == "__main__":
    cli.run_app(server)
