"""Where the stack's own files are: the repository in a checkout, or `devstack/_stack/` in
the wheel a user's project installs (pyproject.toml's force-include).

The wheel adds only the `devstack` package to a user's environment: a top-level `agent` or
`doctor` in site-packages would shadow the user's own modules (agent-starter-python's tests
`from agent import Assistant`). The files below are used from there by path, and the
doctor runs from there in a process of its own (devstack/stack_cli.py)."""

from __future__ import annotations

from pathlib import Path

_CHECKOUT = Path(__file__).resolve().parents[1]
_WHEEL = Path(__file__).resolve().parent / "_stack"
# A checkout has the runner at agent/user_file.py; an installed wheel has `_stack`.
ROOT = _CHECKOUT if (_CHECKOUT / "agent" / "user_file.py").is_file() else _WHEEL

LIVEKIT_YAML = ROOT / "livekit.yaml"
SCRIPTS = ROOT / "scripts"
# The runner of a user's agent file (it imports nothing of the stack: any Python with
# livekit-agents runs it as a script).
AGENT_RUNNER = ROOT / "agent" / "user_file.py"
# The LiveKit Inference gateway (`python -m gateway` with ROOT on the path), which the pytest
# plugin runs with livekit-devstack[voice] (devstack/conversation_gateway.py).
GATEWAY = ROOT / "gateway"
