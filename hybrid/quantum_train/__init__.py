"""Quantum-Train (Liu et al., arXiv:2402.16465): a QNN with polylog(M) angles generates the M
weights of a classical network; only the angles and a small mapping model are trained.

``ansatz`` holds the circuit blocks, ``qnn`` the probabilities and their gradient routes,
``model`` the trainable models, ``controls`` the models that ask whether the quantum part does
the work, ``run`` the command-line run (data, training, export, report).
"""

import hybrid.quantum_train.model as _model
from hybrid.quantum_train.controls import (
    CONTROLS,
    BitsOnlyControl,
    FrozenQNN,
    MPSControl,
    RandomFeatureControl,
    RandomInputControl,
)
from hybrid.quantum_train.model import (
    MAPPING_CHUNKS,
    MAPPING_ROWS,
    Classical,
    QuantumTrain,
    basis_bits,
    bits_of,
)
from hybrid.quantum_train.run import (
    default_layers,
    load,
    on_device,
    resources_report,
    run,
    run_resources_report,
)

# RandomFeatureControl lived in ``model``; it stays importable from there. The package runs
# before any of its modules, so the name is there before anyone imports it.
_model.RandomFeatureControl = RandomFeatureControl

__all__ = [
    "CONTROLS",
    "BitsOnlyControl",
    "FrozenQNN",
    "MPSControl",
    "RandomInputControl",
    "MAPPING_CHUNKS",
    "MAPPING_ROWS",
    "Classical",
    "QuantumTrain",
    "RandomFeatureControl",
    "basis_bits",
    "bits_of",
    "default_layers",
    "load",
    "on_device",
    "resources_report",
    "run",
    "run_resources_report",
]
