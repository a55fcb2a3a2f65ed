"""`python -m supervisor NAME -- COMMAND...`: run COMMAND, restart it when it exits.

Backoff: 1 s, doubling to 30 s, back to 1 s once a run lasted 30 s. Ctrl-C or SIGTERM
stops COMMAND's whole process group (and waits for it) before the supervisor exits, so
stopping never leaves a process behind. Its state (running, restarting) is written to
DEVSTACK_STATE_DIR/processes/NAME.json for /api/health and the debug page."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from devstack.settings import SettingsError, load_settings
from devstack.state import PROCESSES, process_name, remove_state, write_state

FIRST_BACKOFF = 1.0
MAX_BACKOFF = 30.0
STABLE_AFTER = 30.0  # a run this long resets the backoff
# honcho SIGKILLs what is still running 5 s after its SIGTERM; the group must be gone first.
STOP_GRACE = 4.0
TICK = 0.1


def say(name: str, message: str) -> None:
    print(f"[supervisor] {name}: {message}", file=sys.stderr, flush=True)


def describe_exit(code: int) -> str:
    if code < 0:
        return f"was killed by {signal.Signals(-code).name}"
    return f"exited with code {code}"


class Supervisor:
    def __init__(self, name: str, command: list[str], state_dir: Path) -> None:
        self.name, self.command, self.state_dir = name, command, state_dir
        # A plain flag: a signal handler must not take a lock the main thread may hold.
        self.stopping = False
        self.child: subprocess.Popen[bytes] | None = None
        self.restarts = 0

    def state(self, state: str, **extra: object) -> None:
        child = self.child.pid if self.child and self.child.poll() is None else None
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
                **extra,
            },
        )

    def stop(self, signum: int, _frame: object) -> None:
        """Stop the child's whole group: the worker's job processes, the server's container."""
        self.stopping = True
        self._signal_child(signal.SIGINT if signum == signal.SIGINT else signal.SIGTERM)

    def _signal_child(self, sig: int) -> None:
        if self.child and self.child.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.child.pid, sig)

    def run(self) -> int:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, self.stop)
        backoff = FIRST_BACKOFF
        while not self.stopping:
            started = time.monotonic()
            self.child = subprocess.Popen(self.command, start_new_session=True)
            if self.stopping:  # the stop came while the child was being started
                self._signal_child(signal.SIGTERM)
            self.state("running")
            code = self._wait()
            if self.stopping:
                break
            self._kill_group()
            if time.monotonic() - started >= STABLE_AFTER:
                backoff = FIRST_BACKOFF
            self.restarts += 1
            say(self.name, f"{describe_exit(code)}; restart {self.restarts} in {backoff:.0f} s")
            self.state("restarting", last_exit=describe_exit(code), next_start_in=backoff)
            if self._sleep(backoff):
                break
            backoff = min(backoff * 2, MAX_BACKOFF)
        self._reap()
        remove_state(self.state_dir, PROCESSES, self.name)
        return 0

    def _sleep(self, seconds: float) -> bool:
        """Sleep up to `seconds`; True when a stop came meanwhile."""
        deadline = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < deadline:
            time.sleep(TICK)
        return self.stopping

    def _wait(self) -> int:
        assert self.child is not None
        while True:
            try:
                return self.child.wait()
            except InterruptedError:  # a signal arrived; wait again
                continue

    def _reap(self) -> None:
        """After a stop: wait for the group, then SIGKILL whatever is left of it."""
        if self.child is None:
            return
        try:
            self.child.wait(timeout=STOP_GRACE)
        except subprocess.TimeoutExpired:
            say(self.name, f"still running {STOP_GRACE:.0f} s after the stop; killing it")
        self._kill_group()
        self.child.wait()

    def _kill_group(self) -> None:
        """SIGKILL what is left of the child's process group (job processes of a dead worker
        would otherwise linger as ghosts in their rooms)."""
        assert self.child is not None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.child.pid, signal.SIGKILL)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m supervisor", description=__doc__)
    parser.add_argument("name", help="the process's name (honcho's copy name wins: agent.2)")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND [ARGS...]")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to run after --")
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"supervisor: {exc}", file=sys.stderr)
        return 2
    return Supervisor(process_name(args.name), command, settings.state_dir).run()


if __name__ == "__main__":
    sys.exit(main())
