"""The ``flexpipe`` command line (Typer + rich).

Command groups mirror FlexMeasures' CLI: ``flexpipe db …``, ``flexpipe add …``,
``flexpipe show …``, ``flexpipe delete …``, ``flexpipe schedule …``. Each domain keeps its
commands in its own module here and registers them in :mod:`flex_pipelines.cli.main`.
"""

from flex_pipelines.cli.main import app, main

__all__ = ["app", "main"]
