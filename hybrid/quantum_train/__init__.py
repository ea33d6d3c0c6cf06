"""Quantum-Train (Liu et al., arXiv:2402.16465): a QNN with polylog(M) angles generates the M
weights of a classical network; only the angles and a small mapping model are trained.

``ansatz`` holds the circuit blocks, ``qnn`` the probabilities and their gradient routes,
``model`` the trainable models, ``run`` the command-line run (data, training, export, report).
"""

from hybrid.quantum_train.model import (
    MAPPING_CHUNKS,
    MAPPING_ROWS,
    Classical,
    QuantumTrain,
    RandomFeatureControl,
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

__all__ = [
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
