"""The command line (``templater …``): a thin shell over every other layer.
``main`` is the console script's entry point."""

from templater.cli.main import main

__all__ = ["main"]
