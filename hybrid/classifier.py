"""The deployable classifier: a trained run evaluated with NumPy alone.

This module (and everything it imports) must never import jax or pennylane: it is what users ship.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np

from hybrid import architecture, preprocessing
from hybrid.export import RunFormatError, load_run
from hybrid.ntk_numpy import kernel_scores


def _network_outputs(spec: dict, arrays: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    arch = spec["architecture"]
    params = [arrays[f"w{i}"] for i in range(len(arrays))]
    return architecture.apply(arch["layers"], params, x, xp=np)


# kind -> function(spec, arrays, preprocessed x) -> scores, one column per class.
EVALUATORS: dict[str, Callable[[dict, dict, np.ndarray], np.ndarray]] = {
    "network": _network_outputs,
    "kernel": kernel_scores,  # NTK classifiers of hybrid.ntk: one score per input
}


class NumpyClassifier:
    """Predicts with the classical weights of any run directory written by ``hybrid``."""

    def __init__(self, spec: dict, arrays: dict[str, np.ndarray]):
        if spec.get("kind") not in EVALUATORS:
            raise RunFormatError(
                f"model kind {spec.get('kind')!r} is unknown; known kinds: {sorted(EVALUATORS)}"
            )
        self.spec, self.arrays = spec, arrays
        self.class_names: list[str] = list(spec["class_names"])

    @classmethod
    def load(cls, run_dir: str | os.PathLike) -> NumpyClassifier:
        return cls(*load_run(run_dir))

    def decision_function(self, raw) -> np.ndarray:
        """Raw scores (logits) for inputs in the same form the training data was read in."""
        x = preprocessing.apply(self.spec["preprocessing"], np.asarray(raw))
        return EVALUATORS[self.spec["kind"]](self.spec, self.arrays, x)

    def predict_proba(self, raw) -> np.ndarray:
        scores = self.decision_function(raw)
        if scores.ndim == 1:  # one score per example: a binary classifier with labels -1/+1
            p = 1 / (1 + np.exp(-2 * scores))
            return np.stack([1 - p, p], axis=1)
        return architecture.softmax(scores)

    def predict(self, raw) -> np.ndarray:
        """Class indices; ``class_names[i]`` names them."""
        return np.argmax(self.predict_proba(raw), axis=1)

    def score(self, raw, y) -> float:
        """Accuracy on labelled data (labels as class indices)."""
        return float(np.mean(self.predict(raw) == np.asarray(y)))
