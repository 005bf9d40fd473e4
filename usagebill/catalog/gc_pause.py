"""Pausing Python's cyclic garbage collector around bulk catalog work (docs/pricing.md, "Bulk import")."""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


def without_cyclic_gc(function: Callable[P, R]) -> Callable[P, R]:
    """Run `function` with Python's cyclic garbage collector paused. Validating and writing 100,000
    bulk rows keeps ~1M objects alive and creates no reference cycles; the collector's full passes
    over them took about a third of the time (the overlap check over 100,000 subscriptions: 3.0 s
    with it, 0.2 s without, on the shared machine). Reference counting still frees everything."""

    @functools.wraps(function)
    def paused(*args: P.args, **kwargs: P.kwargs) -> R:
        if not gc.isenabled():
            return function(*args, **kwargs)
        gc.disable()
        try:
            return function(*args, **kwargs)
        finally:
            gc.enable()

    return paused
