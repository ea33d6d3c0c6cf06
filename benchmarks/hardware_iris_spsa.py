"""Iris Quantum-Train, weak model (hardware_weak_iris.py): EPOCHS of analytic training, then SPSA
training with SHOTS on DEVICE (default qiskit.aer; qiskit.aer-noisy trains on FakeKolkataV2's
noise), shot noise seeded (seed 0); results in
docs/results/hardware/iris-[DEVICE-]SHOTS-EPOCHS.json.

    python benchmarks/hardware_iris_spsa.py 40 8192
    python benchmarks/hardware_iris_spsa.py 40 8192 qiskit.aer-noisy
"""

import json
import sys

import hardware_weak_iris as w

from hybrid import devices
from hybrid.quantum_train import on_device

EPOCHS, SHOTS = int(sys.argv[1]), int(sys.argv[2])
DEVICE = sys.argv[3] if len(sys.argv) > 3 else "qiskit.aer"
TAG = "aer" if DEVICE == "qiskit.aer" else DEVICE

_, h0 = w.fit(w.model("default.qubit"), w.OUT / f"analytic-{EPOCHS}", EPOCHS)
res = {"analytic": {"epochs": EPOCHS, "test_accuracy": h0[-1]["test_accuracy"]}}
print(res, flush=True)
m1 = w.model(devices.with_shots(devices.get(DEVICE), SHOTS, "spsa", seed=0))
p1, h1 = w.fit(m1, w.OUT / f"{TAG}-spsa-{SHOTS}-{EPOCHS}", EPOCHS)
res[f"{TAG}-spsa-{SHOTS}"] = {
    "epochs": EPOCHS,
    "test_accuracy_with_shots": h1[-1]["test_accuracy"],
    "wall_s": h1[-1]["train_loop_s"],
    "test_accuracy_analytic_probs": w.test_accuracy(on_device(m1, "default.qubit"), p1),
}
print(res, flush=True)
name = f"iris-{SHOTS}-{EPOCHS}" if TAG == "aer" else f"iris-{TAG}-{SHOTS}-{EPOCHS}"
(w.RESULTS / f"{name}.json").write_text(json.dumps(res, indent=2))
