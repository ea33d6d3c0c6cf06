"""Iris Quantum-Train with the analytic example's setup (depth 8, mapping (8,), Adam 0.01 cosine,
batch 16, 100 epochs, seed 0) on a chosen device, gradient and shot count.

    python iris_example_config.py qiskit.aer spsa 2048
    python iris_example_config.py default.qubit spsa 0          # 0 shots: analytic
    python iris_example_config.py default.qubit parameter-shift 32768
"""

import dataclasses
import json
import sys

import jax

jax.config.update("jax_enable_x64", True)
from hybrid import architecture, devices, quantum_train  # noqa: E402
from hybrid.training import TrainConfig  # noqa: E402

name, gradient, shots = sys.argv[1], sys.argv[2], int(sys.argv[3])
profile = dataclasses.replace(
    devices.get(name), name=f"{name}-{gradient}-{shots}", gradient=gradient, shots=shots or None
)
report = quantum_train.run(
    "iris",
    f"/tmp/hardware/iris-{profile.name}",
    depth=8,
    device=profile,
    layers=architecture.mlp((16, 16), 3),
    mapping_hidden=(8,),
    progress=False,
    config=TrainConfig(epochs=100, batch_size=16, learning_rate=0.01, schedule="cosine", seed=0),
)
print(json.dumps(report["runs"], indent=1))
