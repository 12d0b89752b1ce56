"""Pausing the cyclic garbage collector while many acyclic objects are made at once."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused_gc() -> Iterator[None]:
    """Building a syntax tree (parsing, or loading one from the cache) makes hundreds of
    thousands of objects and no reference cycles; collections triggered on the way find nothing
    and, on a large template, cost more than the work itself."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
