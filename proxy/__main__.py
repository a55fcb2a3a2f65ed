"""`python -m proxy`: serve the API and debug page on PROXY_HOST:PROXY_PORT (127.0.0.1:9000)."""

import logging
import signal
import sys
import threading
import time
from types import FrameType

import uvicorn

from devstack.settings import Settings, SettingsError, load_settings
from devstack.state import WORKERS, read_states
from proxy.app import create_app

# Ctrl-C stops every process of `make dev` at once; the stack's workers then upload their
# last sessions to the proxy as their jobs end. The proxy serves until they are gone, this
# long at most: under the supervisor's 4 s before it kills what is left. (Under `make dev`
# the supervisor itself asks only once the workers are gone: --after-workers.)
UPLOADERS_WAIT_SECONDS = 3.0


class LastToStop(uvicorn.Server):
    """uvicorn's server, stopping once no live worker uploads its sessions here (a second
    signal stops it at once)."""

    def __init__(self, config: uvicorn.Config, settings: Settings) -> None:
        super().__init__(config)
        self.settings = settings
        self.stopping = False

    def uploading(self) -> bool:
        """Whether a live worker uploads its sessions here."""
        ours = self.settings.observability_url
        return any(
            str(w.get("uploads_to") or "").rstrip("/") == ours
            for w in read_states(self.settings.state_dir, WORKERS)
        )

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.stopping:
            super().handle_exit(sig, frame)
            return
        self.stopping = True

        def after_uploaders() -> None:
            deadline = time.monotonic() + UPLOADERS_WAIT_SECONDS
            while self.uploading() and time.monotonic() < deadline:
                time.sleep(0.05)
            super(LastToStop, self).handle_exit(sig, frame)

        threading.Thread(target=after_uploaders, daemon=True).start()


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
    config = uvicorn.Config(
        create_app(settings), host=settings.proxy_host, port=settings.proxy_port, log_level="info"
    )
    LastToStop(config, settings).run()


if __name__ == "__main__":
    main()
