"""The preprocessing record: how raw inputs become network inputs, stored with every model.

A spec is a plain JSON-able dict, so it travels inside ``model.json`` and the deployed NumPy
classifier applies exactly what training applied:

    {"scale": float, "mean": list | None, "std": list | None, "input_shape": list[int]}

    x = reshape(raw, (-1, *input_shape)) * scale;  x = (x - mean) / std  where given.

``raw`` is a batch ``(N, *input_shape)`` or one example ``input_shape``; a trailing axis of
length 1 may be left out (MNIST ``(N, 28, 28)`` for ``[28, 28, 1]``). Anything else is refused,
never reshaped: 26 columns for a 13-feature model are not two examples.

``mean`` and ``std`` broadcast against ``input_shape`` (one value per feature or channel, or one
per input element). This module imports numpy only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

_KEYS = ("scale", "mean", "std", "input_shape")


def make_spec(
    input_shape: Sequence[int],
    scale: float = 1.0,
    mean: Sequence[float] | np.ndarray | None = None,
    std: Sequence[float] | np.ndarray | None = None,
) -> dict:
    """A validated spec with plain Python numbers, ready for ``json.dumps``."""

    def as_list(v):
        return None if v is None else np.asarray(v, dtype=np.float64).ravel().tolist()

    spec = {
        "scale": float(scale),
        "mean": as_list(mean),
        "std": as_list(std),
        "input_shape": [int(n) for n in input_shape],
    }
    validate(spec)
    return spec


def validate(spec: dict) -> None:
    """Raise ValueError naming the problem if ``spec`` is not a usable preprocessing record."""
    if not isinstance(spec, dict) or set(spec) != set(_KEYS):
        got = sorted(spec) if isinstance(spec, dict) else type(spec).__name__
        raise ValueError(f"preprocessing spec needs exactly the keys {list(_KEYS)}; got {got}")
    shape = spec["input_shape"]
    if (
        not isinstance(shape, list | tuple)
        or not shape
        or not all(isinstance(n, int | np.integer) and n > 0 for n in shape)
    ):
        raise ValueError(f"input_shape must be a non-empty list of positive ints, got {shape!r}")
    scale = spec["scale"]
    if not isinstance(scale, int | float) or not math.isfinite(scale) or scale == 0:
        raise ValueError(f"scale must be a finite non-zero number, got {scale!r}")
    for key in ("mean", "std"):
        value = spec[key]
        if value is None:
            continue
        arr = np.asarray(value, dtype=np.float64)
        if arr.size not in (1, shape[-1], math.prod(shape)) or not np.all(np.isfinite(arr)):
            raise ValueError(
                f"{key} must be finite with 1, {shape[-1]} (last axis) or {math.prod(shape)} "
                f"(whole input) values; got {arr.size} value(s)"
            )
        if key == "std" and np.any(arr <= 0):
            raise ValueError("std values must be positive (use 1.0 for constant features)")


def _core(shape: Sequence[int]) -> tuple[int, ...]:
    """``shape`` without trailing axes of length 1 (a channel axis that may be left out)."""
    shape = tuple(int(n) for n in shape)
    while shape and shape[-1] == 1:
        shape = shape[:-1]
    return shape


def check_shape(input_shape: Sequence[int], raw_shape: Sequence[int]) -> None:
    """Raise ValueError unless ``raw_shape`` is a batch or one example of ``input_shape``."""
    want = _core(input_shape)
    if len(raw_shape) >= 1 and _core(raw_shape[1:]) == want:
        return
    if _core(raw_shape) == want:
        return
    raise ValueError(
        f"inputs of shape {tuple(raw_shape)} do not fit this model: it takes (N, "
        f"{', '.join(map(str, input_shape))}) or one example of shape {tuple(input_shape)}"
    )


def _stat(value, shape: list[int], dtype) -> np.ndarray:
    arr = np.asarray(value, dtype=dtype)
    return arr.reshape(shape) if arr.size == math.prod(shape) else arr.reshape(-1)


def then_standardize(spec: dict, mean, std) -> dict:
    """One spec that applies ``spec`` and then ``(x - mean) / std`` (scalars or arrays).

    A model that standardises its inputs once more after the data set's own preprocessing
    exports the composition, so a deployed classifier applies both from raw inputs:
    ((x - m0) / s0 - mean) / std = (x - (m0 + mean s0)) / (s0 std), per feature.
    """
    validate(spec)
    shape = [int(n) for n in spec["input_shape"]]

    def stat(value, default: float) -> np.ndarray:
        return _stat(default if value is None else value, shape, np.float64)

    m0, s0 = stat(spec["mean"], 0.0), stat(spec["std"], 1.0)
    m, s = stat(mean, 0.0), stat(std, 1.0)
    return make_spec(shape, spec["scale"], mean=m0 + m * s0, std=s0 * s)


def apply(spec: dict, raw) -> np.ndarray:
    """Raw inputs (one example or a batch, any layout that reshapes) -> (N, *input_shape) floats.

    uint8 and float32 inputs give float32 (what JAX uses anyway); anything else gives float64.
    """
    validate(spec)
    shape = [int(n) for n in spec["input_shape"]]
    raw = np.asarray(raw)
    if not (np.issubdtype(raw.dtype, np.number) or raw.dtype == np.bool_):
        raise ValueError(f"raw inputs must be numeric, got dtype {raw.dtype}")
    if np.iscomplexobj(raw):
        raise ValueError("raw inputs must be real, got complex values")
    if raw.size == 0:
        raise ValueError(f"raw inputs hold no examples (shape {raw.shape}); nothing to predict")
    check_shape(shape, raw.shape)
    if np.issubdtype(raw.dtype, np.floating) and not np.all(np.isfinite(raw)):
        bad = int(np.size(raw) - np.count_nonzero(np.isfinite(raw)))
        raise ValueError(f"raw inputs contain {bad} NaN or infinite value(s); clean them first")
    dtype = np.float32 if raw.dtype in (np.uint8, np.float32) else np.float64
    x = raw.reshape(-1, *shape).astype(dtype) * dtype(spec["scale"])
    if spec["mean"] is not None:
        x = x - _stat(spec["mean"], shape, dtype)
    if spec["std"] is not None:
        x = x / _stat(spec["std"], shape, dtype)
    return x
