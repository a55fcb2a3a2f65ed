"""`python -m agent`: the stack's worker, through livekit-agents' current interface
(`python -m livekit.agents start <file> --dev`), after its settings are checked and
livekit-server answers. `--prod` runs it with production defaults instead of dev ones
(livekit-agents then marks the worker full at load 0.7)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from devstack.livekit import wait_for_server
from devstack.settings import SettingsError, load_settings

WORKER_FILE = Path(__file__).resolve().parent / "worker.py"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m agent", description=__doc__)
    parser.add_argument("--prod", action="store_true", help="production defaults, not dev ones")
    parser.add_argument("--log-level", default="info", help="debug, info, warning, error")
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
        settings.require_openai()
    except SettingsError as exc:
        sys.exit(f"agent: {exc}")
    wait_for_server(settings.livekit_url)

    from livekit.agents.__main__ import main as livekit_agents_main

    command = ["start", str(WORKER_FILE), "--log-level", args.log_level.upper()]
    command += ["--log-format", "colored"] if args.prod else ["--dev"]
    sys.exit(livekit_agents_main(command))


if __name__ == "__main__":
    main()
