"""`python -m supervisor NAME [--watch-agent] -- COMMAND...`: run COMMAND, restart it when
it exits.

Backoff: the first restart at once (a killed worker's agents are replaced as soon as it
registers again), then 1 s, doubling to 30 s, back to at once when a run lasted 30 s. Ctrl-C or SIGTERM
stops COMMAND's whole process group (and waits for it) before the supervisor exits, so
stopping never leaves a process behind. Its state (running, restarting, crash-looping,
with the reason of the last exit and its fix) is written to
DEVSTACK_STATE_DIR/processes/NAME.json for /api/health, the debug page and the doctor;
its output goes to the terminal and to DEVSTACK_STATE_DIR/logs/NAME.log.

With --watch-agent (the Procfile's agent), the user's agent project (AGENT_DIR, or
AGENT_FILE's folder) is watched: a changed file restarts the worker at once, and a worker
that fails the same way twice at start is not restarted again until a file changes."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from devstack.crash import Reason, reason_of
from devstack.settings import SettingsError, load_settings
from devstack.state import PROCESSES, WORKERS, process_name, read_states, remove_state, write_state
from supervisor.output import Output
from supervisor.watch import Watcher, watched_folder

FIRST_BACKOFF = 1.0  # the second restart in a row; the first is at once
MAX_BACKOFF = 30.0
STABLE_AFTER = 30.0  # a run this long resets the backoff
# honcho SIGKILLs what is still running 5 s after its SIGTERM; the group must be gone first.
STOP_GRACE = 4.0
# --after-workers (livekit-server, the proxy): on a stop, the workers end their jobs first,
# leaving their rooms and uploading their sessions; a server gone under them makes their
# SDK log ERRORs, a proxy gone loses their last spans. Waited for this long at most, under
# honcho's 5 s.
WORKERS_WAIT = 3.5
TICK = 0.1
# The same failure this many times in a row, each within STABLE_AFTER of its start, is a
# crash loop: restarting again cannot help until something changes.
SAME_FAILURES = 2


def say(name: str, message: str) -> None:
    print(f"[supervisor] {name}: {message}", file=sys.stderr, flush=True)


def describe_exit(code: int) -> str:
    if code < 0:
        return f"was killed by {signal.Signals(-code).name}"
    return f"exited with code {code}"


class Supervisor:
    def __init__(
        self,
        name: str,
        command: list[str],
        state_dir: Path,
        watch: Path | None = None,
        ignored: tuple[Path, ...] = (),
        after_workers: bool = False,
    ) -> None:
        self.name, self.command, self.state_dir = name, command, state_dir
        # Plain flags: a signal handler must not take a lock the main thread may hold.
        self.stopping = False
        self.changed: str | None = None  # a file of the watched project that changed
        self.child: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        self.output = Output(state_dir, name)
        self.watcher = Watcher(watch, self._on_change, ignored) if watch else None
        self.reason: Reason | None = None
        self.same_failures = 0
        self.asked_pid = 0  # the child last asked to stop
        self.killed_pid = 0  # the child whose group was last killed (never kill twice: reuse)
        self.after_workers = after_workers
        self.stop_came: float | None = None  # when the stop came (monotonic)

    def state(self, state: str, **extra: object) -> None:
        child = self.child.pid if self.child and self.child.poll() is None else None
        reason = {"last_error": self.reason.error, "fix": self.reason.fix} if self.reason else {}
        write_state(
            self.state_dir,
            PROCESSES,
            self.name,
            {
                "state": state,
                "owner_pid": os.getpid(),
                "pid": child,
                "restarts": self.restarts,
                "command": " ".join(self.command),
                "since": time.time(),
                "log": str(self.output.path),
                "watching": str(self.watcher.folder) if self.watcher else None,
                **reason,
                **extra,
            },
        )

    def _on_change(self, path: str) -> None:
        """A file of the user's agent changed (watcher thread): restart the worker now,
        stopped the way a stop stops it (_ask_to_stop)."""
        self.changed = path
        self._ask_to_stop()

    def stop(self, signum: int, _frame: object) -> None:
        """Ask the child itself to stop, as Ctrl-C in its own terminal would: a worker ends
        its jobs and closes its job processes (signalled directly, they would die mid-job
        and it would log each one as an ERROR), the server's launcher stops its container.
        Whatever of its group is left after STOP_GRACE is killed (_reap)."""
        self.stopping = True
        self.stop_came = self.stop_came or time.monotonic()
        if not self.after_workers:
            self._ask_to_stop()

    def _workers_gone(self) -> bool:
        """With --after-workers: whether the stack's workers have stopped, or waiting for
        them took WORKERS_WAIT already."""
        if self.stop_came is None or time.monotonic() - self.stop_came > WORKERS_WAIT:
            return True
        return not read_states(self.state_dir, WORKERS)

    def _ask_to_stop(self) -> None:
        """One SIGINT to the child itself; _wait kills its group STOP_GRACE later."""
        if self.child and self.child.poll() is None:
            self.asked_pid = self.child.pid
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(self.child.pid, signal.SIGINT)

    def run(self) -> int:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, self.stop)
        if self.watcher:
            self.watcher.start()
        backoff = 0.0
        while not self.stopping:
            started = time.monotonic()
            if self.changed:  # changed while it waited for its restart
                say(self.name, f"{self.changed} changed; restarting now")
                self.reason, self.same_failures, backoff = None, 0, 0.0
            self.changed = None
            self.child = subprocess.Popen(
                self.command,
                start_new_session=True,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                # Piped, a Python child would hold its lines in a buffer.
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
            assert self.child.stdout is not None
            self.output.follow(self.child.stdout)
            if self.stopping:  # the stop came while the child was being started
                self._ask_to_stop()
            self.state("running")
            code = self._wait()
            if not self.stopping:
                self._kill_group()  # first: what is left of it holds the output pipe open
            self.output.wait()
            if self.stopping:
                break
            if self.changed:
                say(self.name, f"{self.changed} changed; restarting")
                self.reason, self.same_failures, backoff = None, 0, 0.0
                self.changed = None
                continue
            ran = time.monotonic() - started
            if ran >= STABLE_AFTER:
                backoff = 0.0
            self._judge(reason_of(self.output.lines()), at_start=ran < STABLE_AFTER)
            self.restarts += 1
            if self.watcher and self.same_failures >= SAME_FAILURES:
                self._wait_for_change(code)
                backoff = 0.0
                continue
            say(self.name, f"{describe_exit(code)}; restart {self.restarts} in {backoff:.0f} s")
            self.state("restarting", last_exit=describe_exit(code), next_start_in=backoff)
            if self._sleep(backoff):
                break
            backoff = min(max(backoff * 2, FIRST_BACKOFF), MAX_BACKOFF)
        if self.watcher:
            self.watcher.stop()
        self._reap()
        remove_state(self.state_dir, PROCESSES, self.name)
        return 0

    def _judge(self, reason: Reason | None, *, at_start: bool) -> None:
        """Count the same failure at start, in a row: the sign of a crash loop."""
        same = reason is not None and self.reason is not None and reason.error == self.reason.error
        self.same_failures = self.same_failures + 1 if at_start and same else int(at_start)
        self.reason = reason

    def _wait_for_change(self, code: int) -> None:
        """A crash loop: no restart until a file of the project changes (or a stop)."""
        fix = f" Fix: {self.reason.fix}" if self.reason else ""
        say(
            self.name,
            f"crash-looping: it {describe_exit(code)} the same way {self.same_failures} times "
            f"at start (the line above says why); not restarting until a file in "
            f"{self.watcher.folder if self.watcher else '?'} changes, or make dev is "
            f"restarted.{fix}",
        )
        self.state("crash-looping", last_exit=describe_exit(code))
        while not self.stopping and not self.changed:
            time.sleep(TICK)
        if self.changed:
            say(self.name, f"{self.changed} changed; starting again")
            self.reason, self.same_failures, self.changed = None, 0, None

    def _sleep(self, seconds: float) -> bool:
        """Sleep up to `seconds`, or until a file of the project changed; True when a stop
        came meanwhile."""
        deadline = time.monotonic() + seconds
        while not (self.stopping or self.changed) and time.monotonic() < deadline:
            time.sleep(TICK)
        return self.stopping

    def _wait(self) -> int:
        """The child's exit code; once a stop came, at most STOP_GRACE more, then its group
        is killed (honcho kills this supervisor at 5 s, which would leave the group)."""
        assert self.child is not None
        stop_seen: float | None = None
        while True:
            try:
                return self.child.wait(timeout=TICK)
            except subprocess.TimeoutExpired:
                if not (self.stopping or self.changed):
                    continue
                if self.stopping and self.after_workers and not self._workers_gone():
                    continue  # the server outlives the workers' last words
                if self.asked_pid != self.child.pid:  # the ask came before this child
                    self._ask_to_stop()
                stop_seen = stop_seen or time.monotonic()
                if time.monotonic() - stop_seen > STOP_GRACE:
                    say(self.name, f"still running {STOP_GRACE:.0f} s after the stop; killing it")
                    self._kill_group()
            except InterruptedError:  # a signal arrived; wait again
                continue

    def _reap(self) -> None:
        """After a stop: SIGKILL whatever is left of the child's group (its job processes,
        should the child have left any) and collect the child."""
        if self.child is None:
            return
        self._kill_group()
        self.child.wait()

    def _kill_group(self) -> None:
        """SIGKILL what is left of the child's process group (job processes of a dead worker
        would otherwise linger as ghosts in their rooms)."""
        assert self.child is not None
        if self.killed_pid == self.child.pid:
            return  # already done: its process group id may belong to another by now
        self.killed_pid = self.child.pid
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.child.pid, signal.SIGKILL)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m supervisor", description=__doc__)
    parser.add_argument("name", help="the process's name (honcho's copy name wins: agent.2)")
    parser.add_argument(
        "--watch-agent",
        action="store_true",
        help="restart on a change to the user's agent (AGENT_DIR, or AGENT_FILE's folder)",
    )
    parser.add_argument(
        "--after-workers",
        action="store_true",
        help="on a stop, stop the child once the stack's workers have stopped (at most "
        f"{WORKERS_WAIT} s): livekit-server and the proxy, which the workers need to end "
        "their jobs",
    )
    parser.epilog = "-- COMMAND [ARGS...]: what to run"
    argv = sys.argv[1:] if argv is None else argv
    # Everything after the first `--` is the command, whatever its flags look like.
    split = argv.index("--") if "--" in argv else len(argv)
    args = parser.parse_args(argv[:split])
    command = argv[split + 1 :]
    if not command:
        parser.error("give the command to run after --")
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"supervisor: {exc}", file=sys.stderr)
        return 2
    watch = watched_folder(settings) if args.watch_agent else None
    ignored = (settings.state_dir, settings.cache_dir)
    return Supervisor(
        process_name(args.name),
        command,
        settings.state_dir,
        watch,
        ignored,
        after_workers=args.after_workers,
    ).run()


if __name__ == "__main__":
    sys.exit(main())
