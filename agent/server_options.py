"""The stack's settings on a user's AgentServer or WorkerOptions, across the livekit-agents
versions in use (1.2 to 1.8): the health port, the idle processes and the load threshold
where the file left livekit-agents' defaults, dev behaviour on an older `start`, and the
thin `start` path where there is one. Imported by agent/user_worker.py, and so, like it,
it imports only the standard library and livekit-agents."""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agent.user_launch import Launch

# The load reported stays below 1.0 unless a threshold is asked for: livekit-server gives a
# worker at 1.0 no job and drops it for good (agent/load.py says why, for the built-in one).
MAX_REPORTED_LOAD = 0.99


def env_option_types() -> tuple[type, ...]:
    """livekit-agents' "dev default / prod default" marker, by its name in each version."""
    from livekit.agents import worker

    names = ("ServerEnvOption", "_WorkerEnvOption")
    return tuple(t for n in names if isinstance(t := getattr(worker, n, None), type))


def livekit_default_load() -> Callable[..., float] | None:
    with contextlib.suppress(ImportError, AttributeError):
        from livekit.agents.worker import _DefaultLoadCalc

        return _DefaultLoadCalc.get_load  # type: ignore[no-any-return]
    return None


def field(options: Any, name: str) -> str:
    """An option's attribute: private on an AgentServer (no public setter), public on a
    WorkerOptions."""
    return f"_{name}" if hasattr(options, "_agent_name") else name


def apply_stack_settings(options: Any, launch: Launch) -> None:
    """What the stack needs to supervise and find the worker, on an AgentServer or a
    WorkerOptions; the agent itself (name, entrypoint, prewarm, request handler) stays the
    user's."""

    def get(name: str) -> Any:
        return getattr(options, field(options, name), None)

    def put(name: str, value: Any) -> None:
        setattr(options, field(options, name), value)

    # The health server on AGENT_HTTP_HOST:AGENT_HTTP_PORT, where the proxy and the doctor
    # look (livekit-agents' dev default is a random port).
    put("host", launch.http_host)
    put("port", launch.http_port)
    # Where the file left livekit-agents' default (a dev/prod pair), the stack's knobs
    # apply, so AGENT_IDLE_PROCESSES and AGENT_LOAD_THRESHOLD mean what they mean for the
    # built-in worker; a value the user set is kept.
    defaults = env_option_types()
    if launch.idle_processes is not None and isinstance(get("num_idle_processes"), defaults):
        put("num_idle_processes", launch.idle_processes)
    threshold_default = isinstance(get("load_threshold"), defaults)
    if launch.load_threshold is not None and threshold_default:
        put("load_threshold", launch.load_threshold)
    # As for the built-in worker: with no threshold asked for, by the stack or by the file,
    # a saturated machine does not make the server drop the file's jobs. A load_fnc of the
    # file's own stays, and so does what it means.
    default_load = livekit_default_load()
    if (
        launch.load_threshold is None
        and threshold_default
        and default_load is not None
        and get("load_fnc") in (None, default_load)
    ):
        put("load_fnc", lambda *worker: min(default_load(*worker), MAX_REPORTED_LOAD))


def dev_on_production_start(options: Any, launch: Launch) -> None:
    """An older livekit-agents' `start` is production mode: a file's default threshold
    becomes 0.7 of the CPU (full on a busy laptop) and a stop drains for 30 minutes. For
    `make dev`, where the file left them: never full (1.0, the most `start` accepts; the
    load reported stays below it) and no drain, as its `dev` would."""
    if not launch.dev:
        return
    if launch.load_threshold is None and isinstance(
        getattr(options, "load_threshold", None), env_option_types()
    ):
        options.load_threshold = 1.0
    if hasattr(options, "drain_timeout"):
        options.drain_timeout = 0


def jobs_share_process(server: Any) -> bool:
    """Whether the worker runs its jobs as threads of its own process (an AgentServer's or
    WorkerOptions' job_executor_type), where each session must be told its own records."""
    executor = getattr(server, "_job_executor_type", None) or getattr(
        server, "job_executor_type", None
    )
    return str(getattr(executor, "value", executor)) == "thread"


def thin_start() -> Callable[[Any, Any], None] | None:
    """livekit-agents' thin `start` path (what `python -m livekit.agents start` calls), when
    this version has it in the form this runner knows."""
    try:
        from livekit.agents.cli import cli as lk_cli_impl
        from livekit.agents.cli import proto
    except ImportError:
        return None
    run_worker = getattr(lk_cli_impl, "_run_worker", None)
    fields = getattr(getattr(proto, "CliArgs", None), "__dataclass_fields__", {})
    if run_worker is None or "dev" not in fields or "url" not in fields:
        return None
    if list(inspect.signature(run_worker).parameters) != ["server", "args"]:
        return None
    return run_worker  # type: ignore[no-any-return]
