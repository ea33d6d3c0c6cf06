"""The JAX that the pinned PennyLane runs with, checked where the library first imports JAX.

pennylane 0.45 calls ``jax.core.is_concrete``, which JAX 0.11 removed: with a newer JAX every
JAX-interface QNode fails deep inside PennyLane, far from the cause. Importing this module turns
that into one line at import time. An environment that restores the name (a ``sitecustomize.py``
that adds it back, as some GPU images ship) passes. ``hybrid.deploy.classifier`` never imports
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


def _has(jax_module: ModuleType, name: str) -> bool:
    with warnings.catch_warnings():  # jax 0.10 warns that the names are deprecated
        warnings.simplefilter("ignore", DeprecationWarning)
        return hasattr(jax_module.core, name)


def problem(jax_module: ModuleType) -> str | None:
    """Why this JAX cannot run the library (one line), or None when it can."""
    version = jax_module.__version__
    if _version(version) < (0, 10):
        why = "older than the APIs hybrid uses"
    elif not _has(jax_module, "is_concrete"):
        why = "pennylane 0.45 calls jax.core.is_concrete, which JAX 0.11 removed"
    else:
        return None
    return f"hybrid: jax {version} is unsupported ({why}); pip install 'jax{SUPPORTED}'"


def qnode_problem(jax_module: ModuleType = jax) -> str | None:
    """Why PennyLane's JAX interface cannot run a QNode on host parameters (parameter-shift,
    shots) with this JAX, or None. pennylane 0.45 also imports ``jax.core.concrete_or_error``
    there, which JAX 0.11 removed too and a workaround that restores only ``is_concrete`` leaves
    missing: every other route runs, and these fail with an ImportError deep in PennyLane."""
    if _has(jax_module, "concrete_or_error"):
        return None
    return (
        f"hybrid: jax {jax_module.__version__} lacks jax.core.concrete_or_error, which pennylane "
        f"0.45 calls for parameter-shift and shot routes; pip install 'jax{SUPPORTED}'"
    )


def require(jax_module: ModuleType = jax) -> None:
    """Raise ImportError with one line when ``jax_module`` cannot run the library."""
    if message := problem(jax_module):
        raise ImportError(message)


require()
