"""The deployable classifier: a trained run evaluated with NumPy alone.

This module (and everything it imports) must never import jax or pennylane: it is what users ship.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np

from hybrid.deploy import architecture, preprocessing
from hybrid.deploy.ntk_numpy import kernel_scores
from hybrid.deploy.runs import RunFormatError, load_run, non_finite


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
        names = spec.get("class_names")
        if not isinstance(names, list) or len(names) < 2:
            raise RunFormatError(f"the run records no usable class_names (got {names!r})")
        try:
            preprocessing.validate(spec.get("preprocessing"))
        except ValueError as err:
            raise RunFormatError(f"the run's preprocessing record is unusable: {err}") from None
        if spec["kind"] == "network" and not {"layers", "input_shape"} <= set(
            spec.get("architecture") or {}
        ):
            raise RunFormatError("a network run must record architecture.layers and input_shape")
        if bad := non_finite(arrays):
            raise RunFormatError(f"weights {bad} hold NaN or inf: a diverged run is never used")
        self.spec, self.arrays = spec, arrays
        self.class_names: list[str] = list(names)

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
        """Accuracy on labelled data: labels as class indices, or as class names (strings),
        which are compared by name; a name the model does not know is refused."""
        y = np.asarray(y)
        if y.dtype.kind in "US":
            return float(np.mean(self.predict(raw) == self.label_indices(y)))
        return float(np.mean(self.predict(raw) == y))

    def label_indices(self, names) -> np.ndarray:
        """Class names -> this model's class indices, refusing names it was not trained on."""
        names = np.asarray(names).astype(str)
        unknown = sorted(set(names.tolist()) - set(self.class_names))
        if unknown:
            raise ValueError(
                f"labels {unknown[:5]} are not classes of this model {self.class_names}; "
                "the data and the model do not name their classes alike"
            )
        lookup = {name: i for i, name in enumerate(self.class_names)}
        return np.asarray([lookup[n] for n in names.tolist()], dtype=np.int64)
