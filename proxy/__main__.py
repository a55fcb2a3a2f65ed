"""`python -m proxy`: serve the API and debug page on PROXY_HOST:PROXY_PORT (127.0.0.1:9000)."""

import logging
import signal
import sys

import uvicorn

from devstack.settings import SettingsError, load_settings
from proxy.app import create_app


def main() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        settings = load_settings()
    except SettingsError as exc:
        sys.exit(f"proxy: {exc}")
    # The proxy starts without waiting for livekit-server: until it answers, the API
    # says so with a 503 and a hint, and the debug page shows it.
    # uvicorn stops gracefully on Ctrl-C or SIGTERM, then raises the signal again for the
    # handler that was there before it: this one, so a stop on purpose exits 0 instead of
    # dying by the signal (which honcho would report as a crash).
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: sys.exit(0))
    uvicorn.run(
        create_app(settings), host=settings.proxy_host, port=settings.proxy_port, log_level="info"
    )


if __name__ == "__main__":
    main()
