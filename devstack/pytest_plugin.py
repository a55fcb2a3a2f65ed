"""The pytest plugin (entry point `pytest11`): a `devstack` fixture that proves your agent
registers under the name your app dispatches and joins a room, in your project's own CI.

    def test_my_agent_joins(devstack):
        result = devstack.join(timeout=10)
        assert result.agent_joined, result.diagnosis

With livekit-devstack[voice], `devstack.converse()` holds a spoken conversation with it
through the stack's offline Inference gateway (devstack/conversation.py).

`--devstack-agent PATH` (or the ini option `devstack_agent`) names the agent file; it runs
in the test's own Python. The server is a container where Docker answers, else the binary
(LIVEKIT_SERVER_BIN, or the stack's build of it); LIVEKIT_RUNTIME=docker|binary chooses."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.testing import Devstack

OPTION = "--devstack-agent"
INI = "devstack_agent"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("devstack", "livekit-devstack: does my agent join?")
    group.addoption(
        OPTION,
        dest="devstack_agent",
        metavar="PATH",
        default=None,
        help="your agent file (run as `python PATH start` would run it), for the `devstack` fixture",
    )
    parser.addini(INI, "your agent file, relative to the rootdir (as --devstack-agent)")


def pytest_configure(config: pytest.Config) -> None:
    # The fixture's server has livekit-server --dev's own short secret; PyJWT would warn about
    # it at every token the fixture signs (the stack's own pyproject.toml ignores it too).
    config.addinivalue_line("filterwarnings", "ignore::jwt.warnings.InsecureKeyLengthWarning")


def agent_file(config: pytest.Config) -> Path:
    given = config.getoption("devstack_agent")
    if given:
        return Path(given).resolve()
    ini = config.getini(INI)
    if ini:
        return (config.rootpath / str(ini)).resolve()
    raise pytest.UsageError(
        f"the devstack fixture needs your agent file: pass {OPTION} PATH, or set "
        f"`{INI} = src/agent.py` under [tool.pytest.ini_options]"
    )


@pytest.fixture(scope="session")
def devstack(request: pytest.FixtureRequest) -> Iterator[Devstack]:
    """livekit-server and your agent's worker, registered, for the whole session."""
    stack = Devstack(agent_file(request.config))
    try:
        stack.start()
    except BaseException:
        stack.close()
        raise
    try:
        yield stack
    finally:
        stack.close()
