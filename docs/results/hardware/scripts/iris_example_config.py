"""Iris Quantum-Train with the analytic example's setup (depth 8, mapping (8,), Adam 0.01 cosine,
batch 16, seed 0) on a chosen device, gradient and shot count; EPOCHS defaults to 100. The
run directory is /tmp/hardware/iris-DEVICE-GRADIENT-SHOTS-EPOCHS; the same command resumes it.

    python iris_example_config.py qiskit.aer spsa 2048
    python iris_example_config.py default.qubit spsa 0          # 0 shots: analytic
    python iris_example_config.py default.qubit parameter-shift 32768
    python iris_example_config.py qiskit.aer parameter-shift 4096 40
    python iris_example_config.py lightning.qubit adjoint 0 40
"""

import dataclasses
import json
import sys

import jax

jax.config.update("jax_enable_x64", True)
from hybrid import architecture, devices, quantum_train  # noqa: E402
from hybrid.training import TrainConfig  # noqa: E402

name, gradient, shots = sys.argv[1], sys.argv[2], int(sys.argv[3])
epochs = int(sys.argv[4]) if len(sys.argv) > 4 else 100
profile = devices.get(name)
if shots:  # shot noise seeded (seed_simulator on Aer) so that a run can be repeated
    profile = devices.with_shots(profile, shots, gradient, seed=0)
else:
    profile = dataclasses.replace(profile, gradient=gradient, shots=None)
profile = dataclasses.replace(profile, name=f"{name}-{gradient}-{shots}-{epochs}")
report = quantum_train.run(
    "iris",
    f"/tmp/hardware/iris-{profile.name}",
    depth=8,
    device=profile,
    layers=architecture.mlp((16, 16), 3),
    mapping_hidden=(8,),
    progress=False,
    resume=True,  # run the same command again to continue an interrupted run
    config=TrainConfig(epochs=epochs, batch_size=16, learning_rate=0.01, schedule="cosine", seed=0),
)
print(json.dumps(report["runs"], indent=1))
