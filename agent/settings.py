"""The agent worker's settings, read once from the environment (and `.env`)."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from typing import Literal

from dotenv import load_dotenv
from jwt.warnings import InsecureKeyLengthWarning

DEFAULT_AGENT_NAME = "devstack-agent"
# Every process of the stack (worker, proxy, doctor) imports this module. The dev secret
# ("secret") is livekit-server --dev's own and short on purpose: do not warn per token.
warnings.filterwarnings("ignore", category=InsecureKeyLengthWarning)
Mode = Literal["loopback", "openai"]


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the variable and an example."""


def _choice(name: str, allowed: tuple[str, ...], default: str) -> str:
    value = os.environ.get(name, "").strip().lower() or default
    if value not in allowed:
        raise SettingsError(
            f"{name}={value!r} must be one of {', '.join(allowed)} (example: {name}={default})"
        )
    return value


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(
            f"{name}={raw!r} is not an integer (example: {name}={default})"
        ) from None


@dataclass(frozen=True)
class AgentSettings:
    """What the worker needs beyond LIVEKIT_URL/KEY/SECRET, which livekit-agents reads itself."""

    agent_name: str
    http_host: str
    http_port: int
    idle_processes: int
    load_threshold: float | None
    job_executor: str
    mode: Mode
    openai_base_url: str | None
    openai_llm_model: str
    openai_stt_model: str
    openai_tts_model: str
    openai_tts_voice: str

    @property
    def dispatch_kind(self) -> str:
        """How the server hands this worker jobs: the core of 'why did my agent not join'."""
        return "explicit dispatch only" if self.agent_name else "automatic (every new room)"


def load_env() -> None:
    """Read `.env` (or the file DEVSTACK_ENV_FILE names; empty for none) without overriding
    the real environment. The tests set it empty so a developer's .env never leaks in."""
    path = os.environ.get("DEVSTACK_ENV_FILE", ".env")
    if path:
        load_dotenv(path, override=False)


def load_threshold() -> float | None:
    """AGENT_LOAD_THRESHOLD: at this load (0-1, CPU by default) the worker marks itself full
    and the server sends it no job. Unset keeps livekit-agents' default: never full in dev
    mode, 0.7 in start mode. `devstack doctor` reads the same variable."""
    raw = os.environ.get("AGENT_LOAD_THRESHOLD", "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(
            f"AGENT_LOAD_THRESHOLD={raw!r} is not a number (example: AGENT_LOAD_THRESHOLD=0.7)"
        ) from None
    if not 0 < value <= 1:
        raise SettingsError(
            f"AGENT_LOAD_THRESHOLD={raw!r} must be in (0, 1] (example: AGENT_LOAD_THRESHOLD=0.7)"
        )
    return value


def load_settings() -> AgentSettings:
    """Read `.env` (without overriding the real environment), validate, and fail early."""
    load_env()
    # Unset means the project default; set-but-empty means an unnamed worker on purpose.
    name = os.environ.get("LIVEKIT_AGENT_NAME")
    agent_name = DEFAULT_AGENT_NAME if name is None else name.strip()
    os.environ["LIVEKIT_AGENT_NAME"] = agent_name

    wanted = os.environ.get("AGENT_MODE", "auto").strip().lower() or "auto"
    if wanted not in ("auto", "loopback", "openai"):
        raise SettingsError(f"AGENT_MODE={wanted!r} must be auto, loopback or openai")
    has_key = bool(os.environ.get("OPENAI_API_KEY", "").strip())
    if wanted == "openai" and not has_key:
        raise SettingsError(
            "AGENT_MODE=openai needs OPENAI_API_KEY (example: OPENAI_API_KEY=sk-...)"
        )
    mode: Mode = "openai" if wanted == "openai" or (wanted == "auto" and has_key) else "loopback"

    return AgentSettings(
        agent_name=agent_name,
        http_host=os.environ.get("AGENT_HTTP_HOST", "127.0.0.1"),
        http_port=_int("AGENT_HTTP_PORT", 8081),
        idle_processes=_int("AGENT_IDLE_PROCESSES", 1),
        load_threshold=load_threshold(),
        job_executor=_choice("AGENT_JOB_EXECUTOR", ("process", "thread"), "process"),
        mode=mode,
        openai_base_url=os.environ.get("OPENAI_BASE_URL") or None,
        openai_llm_model=os.environ.get("OPENAI_LLM_MODEL", "gpt-4o-mini"),
        openai_stt_model=os.environ.get("OPENAI_STT_MODEL", "gpt-4o-mini-transcribe"),
        openai_tts_model=os.environ.get("OPENAI_TTS_MODEL", "gpt-4o-mini-tts"),
        openai_tts_voice=os.environ.get("OPENAI_TTS_VOICE", "ash"),
    )
