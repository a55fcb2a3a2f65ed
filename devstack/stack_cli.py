"""The `devstack` command (`devstack doctor ...`), from a checkout or from the wheel.

The doctor lives next to `devstack`, not in it (it imports devstack; devstack never imports
it), and the wheel keeps it under devstack/_stack so it adds no top-level `doctor` to a
user's environment. So the command runs it in a Python of its own, with that folder on
the path (devstack/stack_files.py)."""

from __future__ import annotations

import os
import sys

from devstack.stack_files import ROOT

DOCTOR = "from doctor.cli import cli; cli()"


def doctor_command(*args: str) -> tuple[list[str], dict[str, str]]:
    """The command line and environment that run `devstack <args>`."""
    path = os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH"))))
    return [sys.executable, "-c", DOCTOR, *args], {**os.environ, "PYTHONPATH": path}


def main() -> None:
    command, env = doctor_command(*sys.argv[1:])
    os.execve(command[0], command, env)
