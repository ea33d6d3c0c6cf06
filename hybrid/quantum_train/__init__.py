"""Quantum-Train (Liu et al., arXiv:2402.16465): a QNN with polylog(M) angles generates the M
weights of a classical network; only the angles and a small mapping model are trained.

``ansatz`` holds the circuit blocks, ``qnn`` the probabilities and their gradient routes,
``generator`` the weights of any pytree from a QNN, ``model`` the trainable models over a layer
stack, ``controls`` the models that ask whether the quantum part does the work, ``fitting`` the
training and export of a user's own model, ``run`` the command-line run (data, training, export,
report).
"""

from hybrid.quantum_train.controls import (
    CONTROLS,
    BitsOnlyControl,
    FrozenQNN,
    MPSControl,
    RandomFeatureControl,
    RandomInputControl,
)
from hybrid.quantum_train.fitting import GeneratedModel, fit_generator, load_weights
from hybrid.quantum_train.generator import (
    MAPPING_CHUNKS,
    MAPPING_ROWS,
    Generator,
    basis_bits,
    bits_of,
    generator,
)
from hybrid.quantum_train.model import Classical, QuantumTrain
from hybrid.quantum_train.run import (
    default_layers,
    load,
    on_device,
    resources_report,
    run,
    run_resources_report,
)

__all__ = [
    "CONTROLS",
    "MAPPING_CHUNKS",
    "MAPPING_ROWS",
    "BitsOnlyControl",
    "Classical",
    "FrozenQNN",
    "GeneratedModel",
    "Generator",
    "MPSControl",
    "QuantumTrain",
    "RandomFeatureControl",
    "RandomInputControl",
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
