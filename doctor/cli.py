"""`devstack`: command-line tools. `devstack doctor` explains why an agent did not join,
for the local stack or any LiveKit deployment (flags default to the same settings, from
the environment and .env, as every other process of the stack)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from devstack.settings import Settings, SettingsError, load_settings
from devstack.worker_health import default_agent_name
from doctor.diagnose import Diagnosis, diagnose
from doctor.gather import Target, gather

MARKS = {"pass": "✓", "fail": "✗", "unknown": "?", "warn": "!"}


def doctor_parser(sub: argparse._SubParsersAction, settings: Settings) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "doctor",
        help="explain why an agent did not join a room",
        description="Check the server, keys, worker, agent names, token and room, then name the most "
        "likely reason an agent did not join. Flags default to .env / the environment. Exit code 1 "
        "when a blocking problem is found.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "--url",
        default=settings.livekit_url,
        help="LiveKit server URL (ws://, wss://; LIVEKIT_URL)",
    )
    p.add_argument("--api-key", default=settings.livekit_api_key, help="API key (LIVEKIT_API_KEY)")
    p.add_argument(
        "--api-secret",
        default=None,  # not shown by --help: it must never print the secret from .env
        help="API secret (default: LIVEKIT_API_SECRET, else the dev secret); never printed",
        metavar="SECRET",
    )
    p.add_argument("--room", help="the room the agent should have joined")
    p.add_argument(
        "--agent-name",
        default=None,
        help="the agent name you dispatch ('' for an unnamed worker; default LIVEKIT_AGENT_NAME, "
        "or with AGENT_FILE the name your worker registered)",
    )
    p.add_argument(
        "--token",
        help="the participant token your client used: decoded, verified with the secret, its room config checked",
    )
    p.add_argument(
        "--worker-url",
        default=settings.worker_health_url,
        help="the worker's health server (AGENT_HEALTH_URL, else AGENT_HTTP_HOST:AGENT_HTTP_PORT)",
    )
    p.add_argument(
        "--probe",
        action="store_true",
        help="dispatch the agent into a throw-away room, time its join, clean up",
    )
    p.add_argument(
        "--probe-timeout", type=float, default=10.0, help="seconds to wait for the probe agent"
    )
    p.add_argument(
        "--load-threshold",
        type=float,
        default=settings.agent_load_threshold,
        help="load at which the worker counts as full (AGENT_LOAD_THRESHOLD; unset: not checked, as a dev-mode worker is never full)",
    )
    p.add_argument(
        "--server-log",
        type=Path,
        default=None,
        help="livekit-server's log, to see which workers are registered (default: the stack's "
        "own, DEVSTACK_STATE_DIR/livekit-server.log, when --url is LIVEKIT_URL)",
    )
    p.add_argument("--json", action="store_true", help="print the diagnosis as JSON")


def render(d: Diagnosis, header: str) -> str:
    """One line per check (✓ ✗ ?) with its evidence, the fix under failures, then the verdict."""
    lines = [header, ""]
    width = max((len(c.title) for c in d.checks), default=8)
    for c in d.checks:
        lines.append(f"{MARKS[c.status]} {c.title:<{width}}  {c.evidence}")
        if c.status != "pass" and c.fix:
            lines.append(f"  {'':<{width}}  fix: {c.fix}")
    lines += ["", f"verdict: {d.verdict}"]
    return "\n".join(lines)


def run_doctor(args: argparse.Namespace, settings: Settings) -> int:
    if args.agent_name is None:
        args.agent_name = asyncio.run(default_agent_name(settings))
    asked = {
        "url": args.url,
        "api_key": args.api_key,
        "api_secret": args.api_secret or settings.livekit_api_secret,
        "worker_url": args.worker_url,
        "agent_name": args.agent_name,
        "room": args.room,
        "token": args.token,
        "probe": args.probe,
        "probe_timeout": args.probe_timeout,
    }
    if args.server_log:
        asked["server_logs"] = {"": args.server_log}
    # The stack's own state (its servers' logs, its pool) describes its own servers only.
    if args.url in {settings.livekit_url, *dict(settings.nodes).values()}:
        target = Target.of_stack(settings, **asked)
    else:
        target = Target(**asked)
    result = diagnose(asyncio.run(gather(target)), args.load_threshold)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        about = f", room `{args.room}`" if args.room else ""
        print(render(result, f"devstack doctor: {args.url}, agent `{args.agent_name}`{about}"))
    return 1 if result.blocking else 0


def main(argv: list[str] | None = None) -> int:
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"devstack: {exc}", file=sys.stderr)
        return 2
    parser = argparse.ArgumentParser(prog="devstack", description="livekit-devstack tools")
    sub = parser.add_subparsers(dest="command", required=True)
    doctor_parser(sub, settings)
    args = parser.parse_args(argv)
    return run_doctor(args, settings)


def cli() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    cli()
