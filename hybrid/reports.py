"""Trained runs and named models on hardware: the resource reports of ``hybrid resources``.

This is a top-layer module: it gathers the algorithms' own reports (``quantum_train``,
``inner_product``, ``qsvt``), which cost their circuits through ``hybrid.devices.resources``; device
construction, plugins included, lives in ``hybrid.devices``. Nothing below imports it.
"""

from __future__ import annotations

from pathlib import Path

from hybrid import devices, quantum_train
from hybrid.devices import Profile
from hybrid.ntk import qsvt
from hybrid.ripe import inner_product

MODELS = {
    "mnist-qt": lambda p: quantum_train.resources_report(
        p, 13, 40, n_train=60000, batch_size=64, n_test=10000
    ),
    "iris-qt": lambda p: quantum_train.resources_report(
        p, 9, 2, n_train=120, batch_size=16, n_test=30
    ),
    "ripe-784": lambda p: inner_product.resources_report(p, 784),
    "qsvt": lambda p: qsvt.resources_report(),
}


def report(target: str, profile: Profile | str) -> dict:
    """Resource report for a run directory or a named model (``MODELS``) on a profile."""
    profile = devices.get(profile)
    if Path(target).is_dir():
        return quantum_train.run_resources_report(target, profile)
    if target not in MODELS:
        raise ValueError(f"{target!r} is neither a run directory nor one of {sorted(MODELS)}")
    return MODELS[target](profile)
