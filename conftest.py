"""npconform's pytest plugin is registered through its entry point (see pyproject.toml);
when the package is not installed (a plain checkout), load it from src/."""

import sys
from pathlib import Path

_SRC = Path(__file__).parent / "src"
if str(_SRC) not in sys.path:
    sys.path.insert(0, str(_SRC))

try:
    import importlib.metadata as _md

    _registered = any(ep.name == "npconform" for ep in _md.entry_points(group="pytest11"))
except Exception:  # pragma: no cover
    _registered = False

if not _registered:
    pytest_plugins = ["npconform.pytest_plugin"]
