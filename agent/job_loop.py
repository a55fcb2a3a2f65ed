"""Job threads that share one event loop.

livekit-agents' thread executor gives each job a thread with its own asyncio loop. The
Python SDK puts every event of every room of a process on the queue of every room of that
process, each through its loop's `call_soon_threadsafe`: with a loop per job, each event
wakes every job's thread, and the threads then queue for the GIL. Measured with livekit.rtc
alone: 20 rooms connecting in one process, each on its own thread and loop, ended the
process with the SDK's panic (`timed out waiting for ReadyForRoomEventRequest after
ConnectCallback`); on one loop, 50 rooms connected every time. In the worker, a 50-room
burst cost 8-17 CPU-seconds on one loop against 19 with a loop per job.

So with `AGENT_JOB_EXECUTOR=loop` (what `auto` picks for the built-in loopback agent) each
job still has its executor thread, which does the blocking set-up livekit-agents expects
(its IPC handshake and the prewarm), and then hands the job's async part to one loop that
every job of the process shares, and sleeps until the job ends. Everything else is
livekit-agents' own: the job's IPC with the worker, its JobContext, its shutdown.

The cost is isolation: a job that blocks the loop holds up the others. The built-in agent
is ours and never blocks; user agents (`AGENT_FILE`) and the OpenAI pipeline keep a process
per job."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Coroutine
from typing import Any

from livekit.agents.ipc import job_proc_lazy_main
from livekit.agents.ipc.proc_client import _ProcClient
from livekit.agents.job import JobExecutorType
from livekit.agents.telemetry import loop_monitor

# The tasks each job created, so that a job's end cancels what it left behind (a thread's
# loop is closed with its job; the shared loop is not) and nothing of another job.
_job_tasks: contextvars.ContextVar[set[asyncio.Task[Any]] | None] = contextvars.ContextVar(
    "devstack_job_tasks", default=None
)
_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()


def _task_factory(
    loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any], **kwargs: Any
) -> asyncio.Task[Any]:
    task: asyncio.Task[Any] = asyncio.Task(coro, loop=loop, **kwargs)
    # Read in the creator's context, which the new task copies: a job's tasks inherit its set.
    if (owned := _job_tasks.get()) is not None:
        owned.add(task)
        task.add_done_callback(owned.discard)
    return task


def jobs_loop() -> asyncio.AbstractEventLoop:
    """The process's one job loop, started on first use in a daemon thread."""
    global _loop
    with _loop_lock:
        if _loop is None:
            loop = asyncio.new_event_loop()
            loop.set_task_factory(_task_factory)
            # As livekit-agents sets each job loop: slow callbacks logged past 100 ms, and
            # its monitor reports a blocked loop (now one monitor, not one per job).
            loop.slow_callback_duration = 0.1
            running = threading.Event()

            def run() -> None:
                asyncio.set_event_loop(loop)
                loop_monitor.start_monitoring(loop, name="job")
                loop.call_soon(running.set)
                loop.run_forever()

            threading.Thread(target=run, name="devstack_job_loop", daemon=True).start()
            running.wait()
            _loop = loop
        return _loop


async def _run_job(client: _ProcClient) -> None:
    owned: set[asyncio.Task[Any]] = set()
    _job_tasks.set(owned)  # this task's own context: what it creates from here is the job's
    try:
        await client._monitor_task()
    finally:
        # What the job left running, cancelled as closing its own loop would have.
        leftover = [t for t in owned if not t.done()]
        for task in leftover:
            task.cancel()
        await asyncio.gather(*leftover, return_exceptions=True)


def thread_main(args: job_proc_lazy_main.ThreadStartArgs) -> None:
    """livekit-agents' `thread_main` with the job's loop replaced by the shared one."""
    try:
        job_proc = job_proc_lazy_main._JobProc(
            args.initialize_process_fnc,
            args.job_entrypoint_fnc,
            args.session_end_fnc,
            session_end_timeout=args.session_end_timeout,
            executor_type=JobExecutorType.THREAD,
            user_arguments=args.user_arguments,
            simulation_end_fnc=args.simulation_end_fnc,
        )
        client = _ProcClient(args.mp_cch, None, job_proc.initialize, job_proc.entrypoint)
        client.initialize()  # blocking: the IPC handshake and the prewarm, in this thread
        asyncio.run_coroutine_threadsafe(_run_job(client), jobs_loop()).result()
    finally:
        args.join_fnc()


def use_shared_loop() -> None:
    """Make livekit-agents' thread executor run its jobs on the shared loop. Its
    `ThreadJobExecutor` looks `thread_main` up on the module each time it starts a thread."""
    job_proc_lazy_main.thread_main = thread_main  # type: ignore[assignment]
