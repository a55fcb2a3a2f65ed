"""`python -m gateway`: LiveKit Inference offline on GATEWAY_HOST:GATEWAY_PORT
(127.0.0.1:9100), its engines loaded before it answers, so a worker's first turn never
waits for a model load. The start line says which engine serves which model names."""

from __future__ import annotations

import logging
import signal
import sys
import time
import warnings

import uvicorn

from devstack.settings import SettingsError, load_settings
from gateway.app import create_app, describe
from gateway.engines import EngineError, load_engines

logger = logging.getLogger("devstack.gateway")


# uvicorn 0.54 deprecates the implementation chosen below (gateway/__main__.py main), and
# says so on every start; it is the one that refuses a handshake without an ERROR line.
warnings.filterwarnings("ignore", message=r"The `websockets` implementation is deprecated")


def main() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        settings = load_settings()
    except SettingsError as exc:
        sys.exit(f"gateway: {exc}")
    # A stop on purpose exits 0 (uvicorn raises the signal again for the handler before it).
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: sys.exit(0))
    if settings.inference != "local":
        # Stays up doing nothing: honcho stops every process when one exits.
        where = {"cloud": "LiveKit Cloud (the project's key)", "off": "nowhere"}
        logger.info(
            "DEVSTACK_INFERENCE=%s: no engines loaded; workers' LiveKit Inference goes %s",
            settings.devstack_inference,
            where[settings.inference],
        )
        while True:
            signal.pause()
    started = time.monotonic()
    try:
        engines = load_engines(settings)
    except EngineError as exc:  # one line naming the setting to change
        sys.exit(f"gateway: {exc}")
    served = describe(settings, engines)
    logger.info(
        "LiveKit Inference offline at %s (loaded in %.1f s): every STT model name -> %s; "
        "every TTS model name -> %s; every LLM model name -> %s; turn detection -> %s",
        settings.gateway_url,
        time.monotonic() - started,
        served["stt"],
        served["tts"],
        served["llm"],
        served["eot"],
    )
    config = uvicorn.Config(
        create_app(settings, engines),
        host=settings.gateway_host,
        port=settings.gateway_port,
        log_level="warning",
        ws_max_size=2 * 1024 * 1024,
        # uvicorn's newer WebSocket implementation logs an ERROR for every handshake refused
        # with a response (the 401 of the door, the 501 of /eot): this one does not.
        ws="websockets",
    )
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
