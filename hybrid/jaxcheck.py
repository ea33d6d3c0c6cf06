"""The JAX that the pinned PennyLane runs with, checked where the library first imports JAX.

pennylane 0.45 calls ``jax.core.is_concrete``, which JAX 0.11 removed: with a newer JAX every
JAX-interface QNode fails deep inside PennyLane, far from the cause. Importing this module turns
that into one line at import time. An environment that restores the name (the GPU image's
``sitecustomize.py``, ../shared/tools/gpu/README.md) passes. ``hybrid.classifier`` never imports
this module: it stays NumPy-only.
"""

from __future__ import annotations

import re
import warnings
from types import ModuleType

import jax

SUPPORTED = ">=0.10,<0.11"  # keep in step with pyproject.toml (tests/test_jaxcheck.py reads both)


def _version(text: str) -> tuple[int, int]:
    found = re.match(r"(\d+)\.(\d+)", text)
    return (int(found[1]), int(found[2])) if found else (0, 0)


def problem(jax_module: ModuleType) -> str | None:
    """Why this JAX cannot run the library (one line), or None when it can."""
    version = jax_module.__version__
    with warnings.catch_warnings():  # jax 0.10 warns that the name is deprecated
        warnings.simplefilter("ignore", DeprecationWarning)
        has_is_concrete = hasattr(jax_module.core, "is_concrete")
    if _version(version) < (0, 10):
        why = "older than the APIs hybrid uses"
    elif not has_is_concrete:
        why = "pennylane 0.45 calls jax.core.is_concrete, which JAX 0.11 removed"
    else:
        return None
    return f"hybrid: jax {version} is unsupported ({why}); pip install 'jax{SUPPORTED}'"


def require(jax_module: ModuleType = jax) -> None:
    """Raise ImportError with one line when ``jax_module`` cannot run the library."""
    if message := problem(jax_module):
        raise ImportError(message)


require()
