"""The built-in agent's talking modes, each an AgentSession with Silero VAD: the OpenAI
STT -> LLM -> TTS pipeline (any OpenAI-compatible server through OPENAI_BASE_URL), or
LiveKit Inference by model names (offline: the stack's gateway)."""

from __future__ import annotations

from livekit.agents import Agent, AgentSession, JobContext, vad
from livekit.plugins import openai

from devstack.settings import Settings

INSTRUCTIONS = (
    "You are the livekit-devstack test agent. Answer briefly and plainly; "
    "you exist to prove that an agent joined the room and can talk."
)


# What LiveKit's templates name; the stack's gateway serves any name with its own engines.
INFERENCE_MODELS = {
    "stt": "deepgram/nova-3:en",
    "llm": "openai/gpt-4.1-mini",
    "tts": "cartesia/sonic-3:9626c31c-bec5-4cca-baa8-f8ba9e84c8bc",
}


async def start_inference_pipeline(ctx: JobContext, vad_model: vad.VAD) -> None:
    """AGENT_MODE=inference: a conversation through LiveKit Inference, as an agent from
    LiveKit's templates holds one (offline, the stack's gateway answers)."""
    # The end of a turn is the gateway's STT final (it endpoints on 0.5 s of silence, as
    # Inference's STT does), with no second wait on top of it. Left unset, livekit-agents
    # would ask Inference's /eot socket, which the gateway refuses, and fall back to its
    # local mini model: it scored the bench's whole sentences 0.11-0.16 against its 0.36
    # threshold, so every turn waited the 2.5 s maximum delay (docs/inference.md).
    session: AgentSession = AgentSession(
        vad=vad_model,
        turn_handling={"turn_detection": "stt", "endpointing": {"min_delay": 0.0}},
        **INFERENCE_MODELS,  # type: ignore[arg-type]
    )
    await session.start(agent=Agent(instructions=INSTRUCTIONS), room=ctx.room)
    session.generate_reply(instructions="Greet the user in one short sentence.")


async def start_voice_pipeline(ctx: JobContext, settings: Settings, vad_model: vad.VAD) -> None:
    """Start an AgentSession; it sets `lk.agent.state` and sends transcripts itself."""
    # Without OPENAI_BASE_URL the plugins use OpenAI's own endpoint. A local compatible
    # server needs no key, but the client library insists on one: give it a placeholder.
    url: dict[str, str] = {"api_key": settings.openai_api_key or "not-needed"}
    if settings.openai_base_url:
        url["base_url"] = settings.openai_base_url
    session: AgentSession = AgentSession(
        vad=vad_model,
        stt=openai.STT(model=settings.openai_stt_model, **url),
        llm=openai.LLM(model=settings.openai_llm_model, **url),
        tts=openai.TTS(model=settings.openai_tts_model, voice=settings.openai_tts_voice, **url),
    )
    # Recording follows the job (livekit.yaml enable_user_data_recording); the stack points
    # LIVEKIT_OBSERVABILITY_URL at the proxy, so the session shows at /sessions.
    await session.start(agent=Agent(instructions=INSTRUCTIONS), room=ctx.room)
    session.generate_reply(instructions="Greet the user in one short sentence.")
