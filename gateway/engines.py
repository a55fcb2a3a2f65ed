"""The engines behind the STT and TTS sockets, loaded once at start (each module that serves
one has a `load(settings)` returning an object with `router` and `description`)."""

from __future__ import annotations

import importlib
import logging
from typing import Any

from devstack.settings import Settings

logger = logging.getLogger("devstack.gateway")
# kind -> the module that serves it (gateway/stt.py, gateway/tts.py)
SERVERS = {"stt": "gateway.stt", "tts": "gateway.tts"}


class EngineError(RuntimeError):
    """An engine could not load or serve: its model is missing, its process died or is
    stuck. At start, `python -m gateway` exits with its one line (gateway/__main__.py)."""


def load_engines(settings: Settings) -> dict[str, Any]:
    engines: dict[str, Any] = {}
    for kind, module_name in SERVERS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            logger.warning("no %s engine in this build (%s is missing)", kind, module_name)
            continue
        engines[kind] = module.load(settings)
    return engines
