"""Run the user's own worker file (AGENT_FILE) in place of agent/worker.py, through
livekit-agents' current `start` interface, with the stack's server, keys and health port.

Two styles of file are in use, and `python -m livekit.agents start <file>` runs only one:
- `cli.run_app(WorkerOptions(...))` (or `cli.run_app(server)`) under
  `if __name__ == "__main__":`: nothing at module level is an AgentServer, so livekit-agents'
  discovery finds nothing, and calling run_app itself starts the deprecated rich CLI;
- a module-level `AgentServer` with `@server.rtc_session(...)`, which discovery finds.

So the file runs as `__main__`, as `python agent.py` would run it, with `cli.run_app`
replaced by a function that takes the AgentServer (or WorkerOptions, converted the way
run_app converts them) and runs it through the thin `start` path instead. A file whose
`__main__` block calls no run_app is searched for an AgentServer the way discovery does."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import traceback
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from livekit.agents import AgentServer, WorkerOptions
from livekit.agents import cli as lk_cli
from livekit.agents.cli import cli as lk_cli_impl
from livekit.agents.cli import proto
from livekit.agents.worker import ServerEnvOption

from agent.load import never_saturated_load, uses_default_load
from devstack.settings import Settings

logger = logging.getLogger("devstack.agent")

# livekit-agents' discovery prefers these names, then any module-level AgentServer.
PREFERRED_NAMES = ("app", "server", "agent")
NO_WORKER_HINT = (
    'call cli.run_app(WorkerOptions(...)) or cli.run_app(server) under `if __name__ == "__main__":`,'
    " or define a module-level AgentServer with @server.rtc_session(...)"
)


class AgentFileError(Exception):
    """AGENT_FILE cannot be run; the message is one line naming AGENT_FILE."""


@dataclass
class Launch:
    """How the agent file runs: the stack's settings and livekit-agents' start arguments."""

    shown_path: str
    settings: Settings
    dev: bool
    log_level: str
    started: bool = False


def check_agent_file(path_text: str) -> Path:
    """The file AGENT_FILE names (relative to the working directory, like a script path)."""
    path = Path(path_text).expanduser()
    if not path.is_file():
        where = "" if path.is_absolute() else f" (relative to {Path.cwd()})"
        raise AgentFileError(f"AGENT_FILE={path_text!r}: no such file{where}")
    return path.resolve()


def run_agent_file(path_text: str, settings: Settings, *, dev: bool, log_level: str) -> None:
    """Execute the file as `__main__` and run the worker it defines; returns when it stops."""
    path = check_agent_file(path_text)
    launch = Launch(path_text, settings, dev, log_level)
    _export_stack_environment(settings)
    try:
        code = compile(path.read_bytes(), str(path), "exec", dont_inherit=True)
    except SyntaxError as exc:
        raise AgentFileError(
            f"AGENT_FILE={path_text!r} failed to load: {_one_line(exc, path)}"
        ) from None
    module = _main_module(path)
    # A job process gets the entrypoint, prewarm and request handler as `__main__.<name>`,
    # and multiprocessing resolves that by running this file again as `__mp_main__` in the
    # job process, which it does only while the parent's `__main__` is this file. So the
    # module stays `__main__` for the worker's whole life, also after the file has run
    # (runpy.run_path would put the old `__main__` back then, breaking a file whose
    # AgentServer is found after it ran, below).
    sys.modules["__main__"] = module
    # As `python path/to/agent.py` does: the file's own folder comes first on sys.path, so
    # its sibling modules import, here and (through multiprocessing's sys.path) in jobs.
    sys.path.insert(0, str(path.parent))
    sys.argv = [str(path)]

    def run_app(server: AgentServer | WorkerOptions) -> None:
        if launch.started:
            return  # one worker per process: a call after it stopped starts no other
        if isinstance(server, WorkerOptions):
            _run(AgentServer.from_server_options(server), "WorkerOptions style", launch)
        else:
            _run(server, "AgentServer style, run by cli.run_app", launch)

    with _replaced_run_app(run_app):
        try:
            exec(code, module.__dict__)
        except (SystemExit, KeyboardInterrupt):
            raise
        except Exception as exc:
            if launch.started:
                raise  # the worker ran: not a load error, keep the whole traceback
            raise AgentFileError(
                f"AGENT_FILE={path_text!r} failed to load: {_one_line(exc, path)}"
            ) from None
    if launch.started:
        return
    found = _discover(module)
    if found is None:
        raise AgentFileError(f"AGENT_FILE={path_text!r} defines no worker: {NO_WORKER_HINT}")
    name, server = found
    _run(server, f"AgentServer style, module-level `{name}`", launch)


def _main_module(path: Path) -> types.ModuleType:
    """A fresh `__main__` for the file, with the attributes Python gives a script."""
    module = types.ModuleType("__main__")
    # No __spec__: multiprocessing then re-creates `__main__` in a job process from __file__.
    module.__dict__.update(
        __file__=str(path), __cached__=None, __loader__=None, __package__=None, __spec__=None
    )
    return module


@contextlib.contextmanager
def _replaced_run_app(run_app: Callable[[AgentServer | WorkerOptions], None]) -> Iterator[None]:
    """`cli.run_app` (both names a user imports it by) runs the thin interface meanwhile."""
    saved = lk_cli.run_app, lk_cli_impl.run_app
    lk_cli.run_app = lk_cli_impl.run_app = run_app
    try:
        yield
    finally:
        lk_cli.run_app, lk_cli_impl.run_app = saved


def _discover(module: types.ModuleType) -> tuple[str, AgentServer] | None:
    """The module's AgentServer, chosen as livekit-agents' discovery chooses."""
    found = {k: v for k, v in vars(module).items() if isinstance(v, AgentServer)}
    for name in (*PREFERRED_NAMES, *found):
        if name in found:
            return name, found[name]
    return None


def _export_stack_environment(settings: Settings) -> None:
    """The stack's resolved values (environment, then .env, then defaults) as variables, so
    what livekit-agents and the user's code read from the environment matches the stack:
    an empty agent_name falls back to LIVEKIT_AGENT_NAME, and `api.LiveKitAPI()` in a job
    finds the server and keys. Job processes inherit them."""
    os.environ.update(
        LIVEKIT_URL=settings.livekit_url,
        LIVEKIT_API_KEY=settings.livekit_api_key,
        LIVEKIT_API_SECRET=settings.livekit_api_secret,
        LIVEKIT_AGENT_NAME=settings.livekit_agent_name,
    )


def _apply_stack_settings(server: AgentServer, settings: Settings) -> None:
    """What the stack needs to supervise and find the worker; the agent itself (name,
    entrypoint, prewarm, request handler) stays the user's."""
    # The health server on AGENT_HTTP_HOST:AGENT_HTTP_PORT, where the proxy and the doctor
    # look (livekit-agents' dev default is a random port). AgentServer has no public setter
    # for these; update_options does not take them.
    server._host = settings.agent_http_host
    server._port = settings.agent_http_port
    # Where the user's file left livekit-agents' default (a dev/prod pair), the stack's
    # knobs apply, so AGENT_IDLE_PROCESSES and AGENT_LOAD_THRESHOLD mean what they mean for
    # the built-in worker; a value the user set is kept.
    changes: dict[str, Any] = {}
    if isinstance(server._num_idle_processes, ServerEnvOption):
        changes["num_idle_processes"] = settings.idle_processes
    if settings.agent_load_threshold is not None and isinstance(
        server._load_threshold, ServerEnvOption
    ):
        changes["load_threshold"] = settings.agent_load_threshold
    server.update_options(**changes)
    # As for the built-in worker: with no threshold asked for, by the stack or by the file,
    # a saturated machine does not make the server drop the file's jobs (agent/load.py). A
    # load_fnc of the file's own stays, and so does what it means.
    if (
        settings.agent_load_threshold is None
        and isinstance(server._load_threshold, ServerEnvOption)
        and uses_default_load(server)
    ):
        server.load_fnc = never_saturated_load


def _run(server: AgentServer, style: str, launch: Launch) -> None:
    """Run `server` through livekit-agents' thin `start` path (what
    `python -m livekit.agents start <file> [--dev]` calls), not the deprecated rich CLI."""
    launch.started = True
    settings = launch.settings
    _apply_stack_settings(server, settings)
    agent_name: str = server._agent_name  # no public accessor; set by rtc_session

    @server.once("worker_started")
    def _say_what_runs() -> None:
        # Logged once logging is set up (inside _run_worker), in the worker's own format.
        logger.info(
            "running your agent file %s (%s) as agent_name=%r, health on %s",
            launch.shown_path,
            style,
            agent_name,
            settings.worker_health_url,
        )
        if agent_name != settings.livekit_agent_name:
            logger.warning(
                "your agent file registers agent_name=%r but LIVEKIT_AGENT_NAME=%r: the proxy "
                "and the doctor dispatch your file's name when none is given, but a client that "
                "names LIVEKIT_AGENT_NAME finds no worker; set LIVEKIT_AGENT_NAME=%s",
                agent_name,
                settings.livekit_agent_name,
                agent_name,
            )

    args = proto.CliArgs(
        log_level=launch.log_level.upper(),
        url=settings.livekit_url,
        api_key=settings.livekit_api_key,
        api_secret=settings.livekit_api_secret,
        log_format="colored",  # as the built-in worker: readable lines in honcho
        dev=launch.dev,
    )
    lk_cli_impl._run_worker(server, args)


def _one_line(exc: BaseException, path: Path) -> str:
    """The user's own line for an exception: where in their code, and what."""
    where = ""
    if isinstance(exc, SyntaxError) and exc.filename:
        where = f"{exc.filename}:{exc.lineno}: "
    else:
        frames = traceback.extract_tb(exc.__traceback__)
        # The innermost frame in the user's file (an import error surfaces inside importlib).
        own = [f for f in frames if f.filename == str(path)]
        if own:
            where = f"{own[-1].filename}:{own[-1].lineno}: "
    message = " ".join(str(exc).split())
    return f"{where}{type(exc).__name__}: {message}" if message else f"{where}{type(exc).__name__}"
