"""The weak Iris Quantum-Train setup shared by hardware_iris_runs.py, hardware_iris_spsa.py and
hardware_noisy_eval.py:
mlp((16, 16), 3) (403 weights, 9 qubits), QNN depth 2, mapping model (8,), Adam 0.05 with cosine
decay, batch 16, seed 0. Run directories go to /tmp/hardware (``OUT``), result JSON files in
docs/results/hardware (``RESULTS``)."""

from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)  # before hybrid builds any array
from hybrid import data, devices, quantum_train, training  # noqa: E402
from hybrid.deploy import architecture  # noqa: E402
from hybrid.devices import Profile  # noqa: E402

OUT = Path("/tmp/hardware")
RESULTS = Path(__file__).resolve().parent.parent / "docs/results/hardware"
TRAIN, TEST = data.load("iris", "train"), data.load("iris", "test")


def config(epochs: int) -> training.TrainConfig:
    """The training setup; only the epoch count differs between the scripts."""
    return training.TrainConfig(
        epochs=epochs, batch_size=16, learning_rate=0.05, schedule="cosine", seed=0
    )


def model(profile: Profile | str) -> quantum_train.QuantumTrain:
    """The weak model with its QNN probabilities measured on ``profile``."""
    return quantum_train.QuantumTrain(
        tuple(architecture.mlp((16, 16), 3)),
        (4,),
        depth=2,
        profile=devices.get(profile),
        mapping_hidden=(8,),
    )


def fit(m: quantum_train.QuantumTrain, run_dir: Path, epochs: int):
    """Train (or resume; a finished run trains no further) and return (params, history)."""
    return training.fit(
        m,
        (TRAIN.x, TRAIN.y),
        (TEST.x, TEST.y),
        config(epochs),
        run_dir=run_dir,
        resume=True,
        progress=False,
    )


def test_accuracy(m: quantum_train.QuantumTrain, params) -> float:
    """Test accuracy with the weights generated from ``m``'s probabilities."""
    return training.accuracy(m.apply, params, TEST.x, TEST.y)
