"""`python -m proxy`: serve the API and debug page on PROXY_HOST:PROXY_PORT (127.0.0.1:9000)."""

import logging
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
    uvicorn.run(
        create_app(settings), host=settings.proxy_host, port=settings.proxy_port, log_level="info"
    )


if __name__ == "__main__":
    main()
