"""Run the user's own worker file in place of agent/worker.py, through livekit-agents'
`start` interface, with the stack's server, keys and health port.

It runs in two Pythons, so it imports nothing of the stack, only the standard library and
livekit-agents:
- AGENT_FILE alone: in the stack's own venv, imported by `python -m agent`;
- AGENT_DIR: in the project's own environment, as a script
  (`<project python> agent/user_file.py FILE`, settings in DEVSTACK_RUN_* variables), so
  the project's livekit-agents version and plugins are the ones that run.

Two styles of file are in use, and `python -m livekit.agents start <file>` runs only one:
- `cli.run_app(WorkerOptions(...))` (or `cli.run_app(server)`) under
  `if __name__ == "__main__":`: nothing at module level is an AgentServer, so livekit-agents'
  discovery finds nothing, and calling run_app itself starts the deprecated rich CLI;
- a module-level `AgentServer` with `@server.rtc_session(...)`, which discovery finds.

So the file runs as `__main__`, as `python agent.py` would run it, with `cli.run_app`
replaced by a function that takes the AgentServer (or WorkerOptions, converted the way
run_app converts them) and runs it through the thin `start` path instead. A file whose
`__main__` block calls no run_app is searched for an AgentServer the way discovery does.
A livekit-agents without that thin path (1.2 to 1.5) runs its own run_app with `start`,
which it did not deprecate; `start` is its production mode, so where the file left the
defaults, the stack's dev behaviour is set by hand (never full, no 30 min drain)."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__:  # imported as agent.user_file, in the stack's venv
    from agent import job_records
    from agent.crash_lines import missing_plugins, one_line
    from agent.server_options import (
        apply_stack_settings,
        dev_on_production_start,
        jobs_share_process,
        thin_start,
    )
else:  # run as a script, with its siblings beside it (AGENT_DIR, the wheel's _stack/agent)
    import job_records  # type: ignore[no-redef]
    from crash_lines import (  # type: ignore[no-redef]
        missing_plugins,
        one_line,
    )
    from server_options import (  # type: ignore[no-redef]
        apply_stack_settings,
        dev_on_production_start,
        jobs_share_process,
        thin_start,
    )

logger = logging.getLogger("devstack.agent")
# Holds only devstack_offline_plugins, which job processes import by that name.
JOB_PATH = str(Path(__file__).resolve().parent / "job_path")

# livekit-agents' discovery prefers these names, then any module-level AgentServer.
PREFERRED_NAMES = ("app", "server", "agent")
NO_WORKER_HINT = (
    'call cli.run_app(WorkerOptions(...)) or cli.run_app(server) under `if __name__ == "__main__":`,'
    " or define a module-level AgentServer with @server.rtc_session(...)"
)


class AgentFileError(Exception):
    """The agent file cannot be run; the message is one line naming the file."""


@dataclass
class Launch:
    """How the agent file runs: what the stack resolved, and livekit-agents' start args."""

    shown_path: str
    url: str
    api_key: str
    api_secret: str
    agent_name: str  # LIVEKIT_AGENT_NAME, for the warning when the file registers another
    http_host: str
    http_port: int
    idle_processes: int | None  # applied only where the file left livekit-agents' default
    load_threshold: float | None
    dev: bool
    log_level: str
    label: str = "AGENT_FILE"  # the variable named in error lines (AGENT_DIR for a project)
    add_packages: str = ""  # how to add a package to this project: "uv add {packages}"
    started: bool = False

    @property
    def health_url(self) -> str:
        host = "127.0.0.1" if self.http_host in ("", "0.0.0.0") else self.http_host
        return f"http://{host}:{self.http_port}"


def check_agent_file(path_text: str, label: str = "AGENT_FILE") -> Path:
    """The file AGENT_FILE names (relative to the working directory, like a script path)."""
    path = Path(path_text).expanduser()
    if not path.is_file():
        where = "" if path.is_absolute() else f" (relative to {Path.cwd()})"
        raise AgentFileError(f"{label}={path_text!r}: no such file{where}")
    return path.resolve()


def livekit_agents_version() -> str:
    from livekit.agents import __version__

    return str(__version__)


def run_agent_file(path_text: str, launch: Launch) -> None:
    """Execute the file as `__main__` and run the worker it defines; returns when it stops."""
    path = check_agent_file(path_text, launch.label)
    try:
        from livekit.agents import cli as lk_cli
    except ImportError as exc:  # a release that misses a dependency (1.2.18: httpx)
        raise AgentFileError(
            f"livekit-agents does not import in {sys.executable}: {type(exc).__name__}: {exc}"
        ) from None

    _export_stack_environment(launch)
    try:
        code = compile(path.read_bytes(), str(path), "exec", dont_inherit=True)
    except SyntaxError as exc:
        raise AgentFileError(f"{_named(launch)} failed to load: {one_line(exc, path)}") from None
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
    original_run_app = lk_cli.run_app

    def run_app(server: Any, **_: Any) -> None:
        if launch.started:
            return  # one worker per process: a call after it stopped starts no other
        _run(server, original_run_app, launch)

    with _replaced_run_app(run_app):
        try:
            exec(code, module.__dict__)
        except (SystemExit, KeyboardInterrupt):
            raise
        except Exception as exc:
            if launch.started:
                raise  # the worker ran: not a load error, keep the whole traceback
            raise AgentFileError(
                f"{_named(launch)} failed to load: {one_line(exc, path)}"
                + missing_plugins(exc, path, launch.add_packages)
            ) from None
    if launch.started:
        return
    found = _discover(module)
    if found is None:
        raise AgentFileError(f"{_named(launch)} defines no worker: {NO_WORKER_HINT}")
    name, server = found
    _run(server, original_run_app, launch, f"AgentServer style, module-level `{name}`")


def _named(launch: Launch) -> str:
    if launch.label == "AGENT_FILE":
        return f"AGENT_FILE={launch.shown_path!r}"
    return f"your agent {launch.shown_path} ({launch.label})"


def _main_module(path: Path) -> types.ModuleType:
    """A fresh `__main__` for the file, with the attributes Python gives a script."""
    module = types.ModuleType("__main__")
    # No __spec__: multiprocessing then re-creates `__main__` in a job process from __file__.
    module.__dict__.update(
        __file__=str(path), __cached__=None, __loader__=None, __package__=None, __spec__=None
    )
    return module


@contextlib.contextmanager
def _replaced_run_app(run_app: Callable[..., None]) -> Iterator[None]:
    """`cli.run_app` (every name a user imports it by) runs ours meanwhile."""
    from livekit.agents import cli as lk_cli

    modules = [lk_cli]
    with contextlib.suppress(ImportError):
        from livekit.agents.cli import cli as lk_cli_impl

        modules.append(lk_cli_impl)
    saved = [m.run_app for m in modules]
    for m in modules:
        m.run_app = run_app
    try:
        yield
    finally:
        for m, original in zip(modules, saved):  # noqa: B905 - the project may run Python 3.9
            m.run_app = original


def _discover(module: types.ModuleType) -> tuple[str, Any] | None:
    """The module's AgentServer, chosen as livekit-agents' discovery chooses."""
    try:
        from livekit.agents import AgentServer
    except ImportError:  # before AgentServer existed, only run_app starts a worker
        return None
    found = {k: v for k, v in vars(module).items() if isinstance(v, AgentServer)}
    for name in (*PREFERRED_NAMES, *found):
        if name in found:
            return name, found[name]
    return None


def _export_stack_environment(launch: Launch) -> None:
    """The stack's resolved values as variables, so what livekit-agents and the user's
    code read from the environment matches the stack: an empty agent_name falls back to
    LIVEKIT_AGENT_NAME, and `api.LiveKitAPI()` in a job finds the server and keys. Job
    processes inherit them."""
    os.environ.update(
        LIVEKIT_URL=launch.url,
        LIVEKIT_API_KEY=launch.api_key,
        LIVEKIT_API_SECRET=launch.api_secret,
        LIVEKIT_AGENT_NAME=launch.agent_name,
    )


def _run(
    server: Any, original_run_app: Callable[..., None], launch: Launch, style: str = ""
) -> None:
    """Run `server` (an AgentServer or WorkerOptions) through livekit-agents' thin `start`
    path where it has one, else through its own run_app with `start`."""
    launch.started = True
    if jobs_share_process(server):
        job_records.stamp_records_with_their_job()
    _note_cloud_only_plugins(server)
    run_worker = thin_start()
    try:
        from livekit.agents import AgentServer
    except ImportError:
        AgentServer = None  # noqa: N806 - a class, as livekit-agents names it
    is_server = AgentServer is not None and isinstance(server, AgentServer)
    style = style or (
        "AgentServer style, run by cli.run_app" if is_server else "WorkerOptions style"
    )
    if run_worker is not None and AgentServer is not None:
        if not is_server:
            server = AgentServer.from_server_options(server)
        apply_stack_settings(server, launch)
        agent_name = str(server._agent_name)  # no public accessor; set by rtc_session
        server.once("worker_started", lambda: _say_what_runs(launch, style, agent_name))
        from livekit.agents.cli import proto

        args = proto.CliArgs(
            log_level=launch.log_level.upper(),
            url=launch.url,
            api_key=launch.api_key,
            api_secret=launch.api_secret,
            log_format="colored",  # as the built-in worker: readable lines in honcho
            dev=launch.dev,
        )
        run_worker(server, args)
        return
    # An older livekit-agents: its own CLI, `start` (it has no `--dev` flag there; `dev`
    # would add its own file watcher on top of the supervisor's).
    apply_stack_settings(server, launch)
    dev_on_production_start(server, launch)
    agent_name = str(getattr(server, "agent_name", "") or getattr(server, "_agent_name", ""))
    _say_what_runs(launch, style, agent_name, to_stderr=True)
    sys.argv = [sys.argv[0], "start", "--log-level", launch.log_level.upper()]
    original_run_app(server)


def _note_cloud_only_plugins(server: Any) -> None:
    """LiveKit Cloud's noise cancellation offline is one WARNING per plugin, not an ERROR
    (job_path/devstack_offline_plugins.py): in this process, and, with the worker's setup
    function, in each job process. The folder goes last on sys.path (job processes inherit
    it): it holds that one module, so it shadows nothing of the project."""
    if JOB_PATH not in sys.path:
        sys.path.append(JOB_PATH)
    import devstack_offline_plugins as notes

    notes.install()
    # An AgentServer's setup_fnc has no public getter in every version; a WorkerOptions'
    # prewarm_fnc is public.
    for name in ("_setup_fnc", "prewarm_fnc"):
        if hasattr(server, name):
            setattr(server, name, notes.with_cloud_notes(getattr(server, name)))
            return


def _say_what_runs(launch: Launch, style: str, agent_name: str, *, to_stderr: bool = False) -> None:
    """Which file, as which agent, in which Python with which livekit-agents."""
    lines = [
        f"running your agent file {launch.shown_path} ({style}) as agent_name={agent_name!r}, "
        f"health on {launch.health_url}; python {sys.executable}, "
        f"livekit-agents {livekit_agents_version()}"
    ]
    if agent_name != launch.agent_name:
        lines.append(
            f"your agent file registers agent_name={agent_name!r} but "
            f"LIVEKIT_AGENT_NAME={launch.agent_name!r}: the proxy and the doctor dispatch your "
            "file's name when none is given, but a client that names LIVEKIT_AGENT_NAME finds "
            f"no worker; set LIVEKIT_AGENT_NAME={agent_name}"
        )
    for i, line in enumerate(lines):
        if to_stderr:  # logging is not set up yet on this path
            print(f"[agent] {line}", file=sys.stderr, flush=True)
        else:
            (logger.info if i == 0 else logger.warning)(line)


def launch_from_environment(shown_path: str) -> Launch:
    """Script mode: what `python -m agent` resolved, passed in DEVSTACK_RUN_* variables."""
    env = os.environ

    def number(name: str) -> str | None:
        return env.get(name) or None

    idle, threshold = number("DEVSTACK_RUN_IDLE_PROCESSES"), number("DEVSTACK_RUN_LOAD_THRESHOLD")
    return Launch(
        shown_path=env.get("DEVSTACK_RUN_SHOWN") or shown_path,
        url=env["LIVEKIT_URL"],
        api_key=env["LIVEKIT_API_KEY"],
        api_secret=env["LIVEKIT_API_SECRET"],
        agent_name=env.get("LIVEKIT_AGENT_NAME", ""),
        http_host=env.get("DEVSTACK_RUN_HTTP_HOST", "127.0.0.1"),
        http_port=int(env.get("DEVSTACK_RUN_HTTP_PORT", "8081")),
        idle_processes=int(idle) if idle else None,
        load_threshold=float(threshold) if threshold else None,
        dev=env.get("DEVSTACK_RUN_DEV", "1") == "1",
        log_level=env.get("DEVSTACK_RUN_LOG_LEVEL", "info"),
        label=env.get("DEVSTACK_RUN_LABEL", "AGENT_DIR"),
        add_packages=env.get("DEVSTACK_RUN_ADD_PACKAGES", ""),
    )


def main(argv: list[str]) -> None:
    """`<python> user_file.py FILE`: run FILE's worker; `--version`: print livekit-agents'."""
    if argv[:1] == ["--version"]:
        print(livekit_agents_version())
        return
    (shown,) = argv
    launch = launch_from_environment(shown)
    try:
        run_agent_file(shown, launch)
    except AgentFileError as exc:
        sys.exit(f"agent: {exc}")


if __name__ == "__main__":
    # Run as a script, this file's folder (the stack's agent/) is first on sys.path: drop
    # it, so none of the stack's modules can shadow the project's own.
    here = str(Path(__file__).resolve().parent)
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(here)]
    main(sys.argv[1:])
