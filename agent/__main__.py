"""`python -m agent dev|start`: run the worker with livekit-agents' CLI."""

from livekit.agents import cli

from agent.wait import wait_for_livekit
from agent.worker import server

if __name__ == "__main__":
    wait_for_livekit()
    cli.run_app(server)
