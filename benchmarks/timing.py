"""The timing loop every benchmark shares: one call to compile and warm up, then repeats."""

from __future__ import annotations

import time
from collections.abc import Callable

import jax


def time_calls(fn: Callable[[], object], repeats: int) -> tuple[float, list[float]]:
    """Seconds of the first call (compilation included) and of each of ``repeats`` more calls,
    each waited on with ``jax.block_until_ready``."""
    times = []
    for _ in range(repeats + 1):
        t0 = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - t0)
    return times[0], times[1:]
