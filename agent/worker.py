"""The named agent worker: logs every job request, joins, and talks.

Every log line carries the room, agent name and dispatch id, so one dispatch can be
followed from the proxy's log through the server's to this one."""

from __future__ import annotations

import json
import logging
import math
import threading

from livekit import rtc
from livekit.agents import AgentServer, JobContext, JobExecutorType, JobProcess, JobRequest
from livekit.agents.voice.agent_session import RecordingOptions
from livekit.plugins import silero

from agent.announce import connect_announced
from agent.job_loop import use_shared_loop
from agent.job_records import stamp_records_with_their_job
from agent.load import MAX_REPORTED_LOAD, never_saturated_load
from agent.loopback import Loopback
from agent.state import say_text, set_state
from devstack.settings import Settings, load_settings

logger = logging.getLogger("devstack.agent")
# Each job process imports this module again: the same env, so the same settings.
settings: Settings = load_settings()
MODE, MODE_REASON = settings.mode_and_reason()
if MODE in ("openai", "inference"):
    # Imported only in these modes: the OpenAI plugin adds 0.5 s and 15 MB to every process
    # that imports it. It registers here, at import, on the main thread as livekit-agents
    # requires, and the job processes' forkserver preloads it.
    from agent.voice import start_inference_pipeline, start_voice_pipeline

# The health server (GET / and GET /worker) is on a fixed port so the proxy and
# `devstack doctor` can find it (livekit-agents' dev default is a random port), and
# on loopback only unless AGENT_HTTP_HOST says otherwise.
# The load threshold is infinite unless AGENT_LOAD_THRESHOLD sets one, in `--prod` too:
# with livekit-agents' production default (0.7 of the CPU, which a laptop's browser and
# server share) a burst of rooms finds the worker "full" and the server drops those
# dispatches for good. A finite threshold also caps how many requests the worker reserves
# while none has started (threshold / idle processes each), so it refuses inside a burst.
# Unless a threshold is set, the load reported never reaches 1.0 either: the server gives
# a worker at 1.0 no job, and drops it for good (agent/load.py).
# `loop` is livekit-agents' thread executor with every job's async part on one shared
# event loop (agent/job_loop.py).
if settings.job_executor == "loop":
    use_shared_loop()
if settings.job_executor != "process":
    # Jobs share this process: each session must be told its own log records.
    stamp_records_with_their_job()
server = AgentServer(
    ws_url=settings.livekit_url,
    api_key=settings.livekit_api_key,
    api_secret=settings.livekit_api_secret,
    job_executor_type=(
        JobExecutorType.PROCESS if settings.job_executor == "process" else JobExecutorType.THREAD
    ),
    host=settings.agent_http_host,
    port=settings.agent_http_port,
    num_idle_processes=settings.idle_processes,
    load_threshold=(
        math.inf if settings.agent_load_threshold is None else settings.agent_load_threshold
    ),
    load_fnc=never_saturated_load if settings.agent_load_threshold is None else None,
)
AGENT_NAME = settings.livekit_agent_name
# The loopback agent has no transcript to keep and its audio is the person's own, echoed.
LOOPBACK_RECORDING = RecordingOptions(audio=False, traces=True, logs=True, transcript=False)


_vad: silero.VAD | None = None
_vad_lock = threading.Lock()


def prewarm(proc: JobProcess) -> None:
    """Load Silero before a job arrives (it ships in the wheel, so offline), once per
    process: with the thread executor every job thread shares it, since an ONNX Runtime
    session may run on several threads and each stream keeps its own state. A thread then
    warms up in microseconds instead of a model load each."""
    global _vad
    with _vad_lock:
        if _vad is None:
            _vad = silero.VAD.load()
    proc.userdata["vad"] = _vad


server.setup_fnc = prewarm


@server.on("worker_registered")
def _on_registered(worker_id: str, _server_info: object) -> None:
    dispatch_kind = "explicit dispatch only" if AGENT_NAME else "automatic (every new room)"
    logger.info(
        "worker %s registered as agent_name=%r (%s), health on %s",
        worker_id,
        AGENT_NAME,
        dispatch_kind,
        settings.worker_health_url,
    )
    logger.info("media mode %s: %s", MODE, MODE_REASON)
    where = {
        "process": "in a process each",
        "thread": "in a thread and an event loop each",
        "loop": "in a thread each, on one shared event loop",
    }[settings.job_executor]
    logger.info(
        "jobs run %s (AGENT_JOB_EXECUTOR=%s), %d kept warm; load threshold %s",
        where,
        settings.agent_job_executor,
        settings.idle_processes,
        settings.agent_load_threshold
        or f"none (never full: the load reported stays at most {MAX_REPORTED_LOAD})",
    )


def _metadata_text(raw: str) -> str:
    """Metadata as it would be shown to a user: compact JSON when it is JSON."""
    try:
        return json.dumps(json.loads(raw), separators=(",", ":"))
    except ValueError:
        return raw


async def on_request(req: JobRequest) -> None:
    """Log the job request and accept it under a readable identity."""
    job = req.job
    logger.info(
        "job request: room=%s dispatch_id=%s agent_name=%r job_id=%s metadata=%s",
        req.room.name,
        job.dispatch_id or "-",
        req.agent_name,
        req.id,
        _metadata_text(job.metadata) or "-",
    )
    await req.accept(
        name=req.agent_name or "devstack agent",
        identity=f"agent-{req.agent_name or 'auto'}-{req.id[-6:]}",
        attributes={
            "devstack.agent_name": req.agent_name,
            "devstack.dispatch_id": job.dispatch_id,
            "devstack.mode": MODE,
            "devstack.metadata": job.metadata,
        },
    )


@server.rtc_session(agent_name=AGENT_NAME, on_request=on_request)
async def entrypoint(ctx: JobContext) -> None:
    """Join, say hello in text, then run the media mode."""
    job = ctx.job

    async def _ended(reason: str) -> None:
        # One line per job end, whichever executor runs it (a job thread logs no "process
        # exiting"): what the proxy's and the doctor's users read to know it is over.
        logger.info("job ended room=%s job_id=%s: %s", ctx.room.name, job.id, reason or "-")

    ctx.add_shutdown_callback(_ended)
    # livekit-server tells other participants about one that publishes nothing only in its
    # periodic batch (every 3 s), but sends attribute changes at once: the agent sets its
    # state (and its dispatch timeline) as soon as the server has it, see agent/announce.py.
    await connect_announced(ctx, settings.livekit_url)
    logger.info(
        "joined room=%s room_sid=%s job_id=%s dispatch_id=%s metadata=%s as %s",
        ctx.room.name,
        await ctx.room.sid,
        job.id,
        job.dispatch_id or "-",
        _metadata_text(job.metadata) or "-",
        ctx.room.local_participant.identity,
    )
    vad_model = ctx.proc.userdata["vad"]
    if MODE == "loopback" and ctx.job.enable_recording:
        # Agent Insights offline for the loopback agent, which has no AgentSession to do
        # this: its spans and logs go where LIVEKIT_OBSERVABILITY_URL points (the proxy).
        ctx.init_recording(LOOPBACK_RECORDING)
    try:
        if MODE == "openai":
            await start_voice_pipeline(ctx, settings, vad_model)
            return
        if MODE == "inference":
            await start_inference_pipeline(ctx, vad_model)
            return
        await Loopback(ctx, vad_model).start()
        await set_state(ctx.room, "listening")
        await say_text(
            ctx.room,
            f"Hi, I am {AGENT_NAME or 'the automatic agent'} in loopback mode: "
            "speak and I will play your words back.",
        )
    except Exception as exc:
        # A greeting that cannot be sent means the room went away under it (the SDK may
        # still call the room connected for a moment): the same as a closed room.
        if ctx.room.isconnected() and not isinstance(exc, rtc.StreamError):
            raise
        # The room closed while the agent was still starting (a probe room deleted, the
        # last human gone): the job simply ends, nothing failed.
        logger.info("room=%s closed while the agent was starting; job ends", ctx.room.name)
