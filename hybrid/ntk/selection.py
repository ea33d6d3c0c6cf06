"""Balanced draws and the reference's preprocessing, shared by the study, the CNN oracle, the
exported classifier and the QSVT demo.

NumPy only, on arrays already loaded: the study's configuration and data loading stay in
``hybrid.ntk.study``, so every module that draws training sets can import this one without
importing the study (which imports some of them).
"""

from __future__ import annotations

import numpy as np

from hybrid.deploy.ntk_numpy import unit_rows


def balanced_indices(y: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """n indices, n/2 of each class (0 and 1), drawn without replacement; class 1 first."""
    per = n // 2
    out = []
    for c in (1, 0):
        pool = np.flatnonzero(y == c)
        if len(pool) < per:
            raise ValueError(f"class {c} has {len(pool)} examples, {per} needed for n = {n}")
        out.append(rng.choice(pool, per, replace=False))
    return np.concatenate(out)


def standardize(x_train: np.ndarray, *others: np.ndarray) -> tuple[list[np.ndarray], float, float]:
    """The reference's preprocessing: (x - mean) / std with one scalar mean and std (from the
    training inputs here, so that a deployed model can apply it), then unit-normalise."""
    mean, std = float(np.mean(x_train)), float(np.std(x_train))
    unit = [unit_rows((x - mean) / std) for x in (x_train, *others)]
    return unit, mean, std
