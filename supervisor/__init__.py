"""Keeps the stack's processes up: `python -m supervisor NAME -- COMMAND...` restarts
COMMAND with backoff when it exits, so a crashed worker or server does not take the
proxy and the debug page down with it (honcho stops everything when any process exits)."""
