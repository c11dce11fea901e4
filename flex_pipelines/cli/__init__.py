"""The ``flexpipe`` command line (Typer + rich).

Command groups mirror FlexMeasures' CLI: ``flexpipe db …``, ``flexpipe add …``,
``flexpipe show …``, ``flexpipe delete …``, ``flexpipe schedule …``. Each domain keeps its
commands in its own module here and registers them in :mod:`flex_pipelines.cli.main`, which
imports only the modules a command line needs.
"""

from __future__ import annotations

from typing import Any

from flex_pipelines.cli.main import main


def __getattr__(name: str) -> Any:
    """``app``: the whole Typer app (every command module registered)."""
    if name == "app":
        import importlib

        return importlib.import_module("flex_pipelines.cli.main").app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["app", "main"]  # noqa: F822 - app comes from __getattr__
