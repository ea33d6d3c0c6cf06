"""Quantum-Train (Liu et al., arXiv:2402.16465): a QNN with polylog(M) angles generates the M
weights of a classical network; only the angles and a small mapping model are trained.

``ansatz`` holds the circuit blocks, ``qnn`` the probabilities and their gradient routes,
``generator`` the weights of any pytree from a QNN, ``model`` the trainable models over a layer
stack, ``fitting`` the training and export of a user's own model, ``run`` the command-line run
(data, training, export, report).
"""

from hybrid.quantum_train.fitting import GeneratedModel, fit_generator, load_weights
from hybrid.quantum_train.generator import (
    MAPPING_CHUNKS,
    MAPPING_ROWS,
    Generator,
    basis_bits,
    bits_of,
    generator,
)
from hybrid.quantum_train.model import Classical, QuantumTrain, RandomFeatureControl
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
    "GeneratedModel",
    "Generator",
    "QuantumTrain",
    "RandomFeatureControl",
    "basis_bits",
    "bits_of",
    "default_layers",
    "fit_generator",
    "generator",
    "load",
    "load_weights",
    "on_device",
    "resources_report",
    "run",
    "run_resources_report",
]
