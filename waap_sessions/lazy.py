"""Names a package exports, imported from their modules on first use (PEP 562).

Loading the code location imports the package to build its definitions; the API
clients, the HTTP stack and the Arrow and DuckDB engines load when a run first uses
them, not then. A package keeps its names visible to type checkers with the same
imports under `TYPE_CHECKING`:

    if TYPE_CHECKING:
        from waap_sessions.appgate.client import AppgateSdpClient
    else:
        __getattr__ = lazy_exports(__name__, {"waap_sessions.appgate.client": ["AppgateSdpClient"]})
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Mapping
from importlib import import_module


def lazy_exports(package: str, names: Mapping[str, Iterable[str]]) -> Callable[[str], object]:
    """A module `__getattr__` for `package` that imports each name from its module (a key of
    `names`) when first asked for, and keeps it in the package so it is asked once."""
    origins = {name: module for module, exported in names.items() for name in exported}

    def __getattr__(name: str) -> object:
        if name not in origins:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(origins[name]), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
