"""The one line a user's worker file that failed to start is reported by: where in their
code, and what; for a LiveKit plugin that is not installed, every missing one named as a
package to add. Imported by agent/user_file.py, and so, like it, it imports only the
standard library (it runs in the project's own Python for AGENT_DIR)."""

from __future__ import annotations

import ast
import importlib.util
import traceback
from pathlib import Path

# What separates an error from its fix in the one line a failed start prints; the
# supervisor splits on it (devstack/crash.py).
FIX_SEPARATOR = "; fix: "
PLUGINS = "livekit.plugins"


def one_line(exc: BaseException, path: Path) -> str:
    """The user's own line for an exception: where in their code, and what."""
    where = ""
    if isinstance(exc, SyntaxError) and exc.filename:
        where = f"{shown(exc.filename)}:{exc.lineno}: "
    else:
        frames = traceback.extract_tb(exc.__traceback__)
        # The innermost frame in the user's file (an import error surfaces inside importlib).
        own = [f for f in frames if f.filename == str(path)]
        if own:
            where = f"{shown(own[-1].filename)}:{own[-1].lineno}: "
    message = " ".join(str(exc).split())
    return f"{where}{type(exc).__name__}: {message}" if message else f"{where}{type(exc).__name__}"


def shown(filename: str) -> str:
    """A path as the user reads it: relative to the working directory (the project's, for
    AGENT_DIR) when it is inside it."""
    path = Path(filename)
    return str(path.relative_to(Path.cwd())) if path.is_relative_to(Path.cwd()) else filename


def plugin_package(module: str) -> str:
    """`livekit.plugins.ai_coustics` -> `livekit-plugins-ai-coustics`, as LiveKit names them."""
    return "livekit-plugins-" + module.split(".")[2].replace("_", "-")


def imported_plugins(source: str) -> list[str]:
    """Every `livekit.plugins.<name>` a file imports, in order, once each."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == PLUGINS:
                names = [f"{PLUGINS}.{a.name}" for a in node.names]
            elif node.module.startswith(PLUGINS + "."):
                names = [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names if a.name.startswith(PLUGINS + ".")]
        for name in names:
            top = ".".join(name.split(".")[:3])
            if top not in found:
                found.append(top)
    return found


def missing_plugins(exc: BaseException, path: Path, add_packages: str) -> str:
    """For an import error of a LiveKit plugin: every plugin the file imports that is not
    installed, named as a package to add, at once (not one per restart). `add_packages`:
    how to add them, with `{packages}` (Launch.add_packages)."""
    if not isinstance(exc, ImportError) or PLUGINS not in str(exc):
        return ""
    try:
        wanted = imported_plugins(path.read_text())
    except (OSError, SyntaxError, ValueError):
        return ""
    missing = []
    for module in wanted:
        try:
            if importlib.util.find_spec(module) is None:
                missing.append(module)
        except (ImportError, ValueError):
            missing.append(module)
    if not missing:
        return ""
    packages = [plugin_package(m) for m in missing]
    how = (add_packages or "add {packages} to your environment").format(packages=" ".join(packages))
    return f"; not installed here: {', '.join(packages)}{FIX_SEPARATOR}{how}"
