"""One run-directory format for every model: ``weights.npz`` plus ``model.json``.

Imports numpy only, because the deployed NumPy classifier reads runs through it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path

import numpy as np

FORMAT = "hybrid-run/1"
WEIGHTS = "weights.npz"
SPEC = "model.json"
_REQUIRED = ("kind", "preprocessing", "class_names")
_PACKAGES = ("hybrid", "numpy", "jax", "optax", "pennylane", "pennylane_lightning")


class RunFormatError(ValueError):
    """A run directory that is missing, truncated, tampered with or of an unknown format."""


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in _PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            found[name] = metadata.version(name)
    return found


def atomic_write(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename, so that a reader (or a
    resumed run) never sees a half-written file."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def save_run(run_dir: str | os.PathLike, arrays: Mapping[str, np.ndarray], spec: dict) -> Path:
    """Write ``arrays`` and ``spec`` so that ``load_run`` can verify and rebuild them."""
    missing = [key for key in _REQUIRED if key not in spec]
    if missing:
        raise ValueError(f"spec is missing {missing}; every run records {list(_REQUIRED)}")
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    arrays = {name: np.asarray(value) for name, value in arrays.items()}
    if any(a.dtype == object for a in arrays.values()):
        raise ValueError("object arrays cannot be exported; weights must be numeric")
    tmp = run_dir / (WEIGHTS + ".tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, run_dir / WEIGHTS)
    full = {
        **spec,
        "format": FORMAT,
        "weights": {name: list(a.shape) for name, a in arrays.items()},
        "weights_sha256": _sha256(run_dir / WEIGHTS),
        "versions": _versions(),
    }
    atomic_write(run_dir / SPEC, json.dumps(full, indent=2).encode())
    return run_dir


def load_run(run_dir: str | os.PathLike) -> tuple[dict, dict[str, np.ndarray]]:
    """Read a run, refusing anything whose weights do not match the recorded checksum."""
    run_dir = Path(run_dir)
    spec_path, weights_path = run_dir / SPEC, run_dir / WEIGHTS
    for path in (spec_path, weights_path):
        if not path.is_file():
            raise RunFormatError(f"{path} not found: is {run_dir} a run directory made by hybrid?")
    try:
        spec = json.loads(spec_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise RunFormatError(f"{spec_path} is not valid JSON ({err}); the file is damaged") from err
    if not isinstance(spec, dict) or spec.get("format") != FORMAT:
        raise RunFormatError(f"{spec_path} has format {spec.get('format')!r}, expected {FORMAT!r}")
    if _sha256(weights_path) != spec.get("weights_sha256"):
        raise RunFormatError(
            f"{weights_path} does not match the sha256 recorded in {spec_path}: "
            "the weights were changed or truncated after export"
        )
    try:
        with np.load(weights_path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except (ValueError, OSError) as err:
        raise RunFormatError(f"{weights_path} cannot be read: {err}") from err
    expected = spec.get("weights", {})
    shapes = {name: list(a.shape) for name, a in arrays.items()}
    if shapes != expected:
        raise RunFormatError(f"weights hold {shapes}, but {spec_path} records {expected}")
    return spec, arrays


def save_network(
    run_dir: str | os.PathLike,
    layers: list,
    input_shape,
    weights: np.ndarray,
    *,
    preprocessing: dict,
    class_names: list[str],
    **extra,
) -> Path:
    """Export a layer stack with its flat weight vector as a "network" run (one array a layer)."""
    from hybrid import architecture  # numpy-only, imported here to keep this module standalone

    params = architecture.unflatten(np.asarray(weights, dtype=np.float64), layers, input_shape)
    spec = {
        "kind": "network",
        "architecture": {"layers": list(layers), "input_shape": list(input_shape)},
        "preprocessing": preprocessing,
        "class_names": list(class_names),
        **extra,
    }
    return save_run(run_dir, {f"w{i}": p for i, p in enumerate(params)}, spec)
