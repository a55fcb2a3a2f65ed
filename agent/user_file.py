"""Run the user's own worker file in place of agent/worker.py, through livekit-agents'
`start` interface, with the stack's server, keys and health port (agent/user_launch.py).
This module loads the file and finds its worker; agent/user_worker.py starts it.

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
import os
import sys
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

if __package__:  # imported as agent.user_file, in the stack's venv
    from agent.crash_lines import missing_plugins, one_line
    from agent.user_launch import Launch, launch_from_environment
    from agent.user_worker import livekit_agents_version, start_worker
else:  # run as a script, with its siblings beside it (AGENT_DIR, the wheel's _stack/agent)
    # They stay in sys.modules under these top-level names while the project runs, so a
    # sibling's name must be one no project would use for a module of its own.
    from crash_lines import (  # type: ignore[no-redef]
        missing_plugins,
        one_line,
    )
    from user_launch import (  # type: ignore[no-redef]
        Launch,
        launch_from_environment,
    )
    from user_worker import (  # type: ignore[no-redef]
        livekit_agents_version,
        start_worker,
    )

# livekit-agents' discovery prefers these names, then any module-level AgentServer.
PREFERRED_NAMES = ("app", "server", "agent")
NO_WORKER_HINT = (
    'call cli.run_app(WorkerOptions(...)) or cli.run_app(server) under `if __name__ == "__main__":`,'
    " or define a module-level AgentServer with @server.rtc_session(...)"
)


class AgentFileError(Exception):
    """The agent file cannot be run; the message is one line naming the file."""


def check_agent_file(path_text: str, label: str = "AGENT_FILE") -> Path:
    """The file AGENT_FILE names (relative to the working directory, like a script path)."""
    path = Path(path_text).expanduser()
    if not path.is_file():
        where = "" if path.is_absolute() else f" (relative to {Path.cwd()})"
        raise AgentFileError(f"{label}={path_text!r}: no such file{where}")
    return path.resolve()


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
        start_worker(server, original_run_app, launch)

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
    start_worker(server, original_run_app, launch, f"AgentServer style, module-level `{name}`")


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
