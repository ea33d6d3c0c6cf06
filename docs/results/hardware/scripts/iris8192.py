"""Iris Quantum-Train, weak model (QNN depth 2): EPOCHS of analytic training, then SPSA training
with SHOTS on DEVICE (default qiskit.aer; qiskit.aer-noisy trains on FakeKolkataV2's noise).

    python iris8192.py 40 8192
    python iris8192.py 40 8192 qiskit.aer-noisy
"""

import dataclasses
import json
import sys
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)
from hybrid import architecture, data, devices, quantum_train, training  # noqa: E402
from hybrid.devices import with_shots  # noqa: E402

OUT = Path("/tmp/hardware")
EPOCHS = int(sys.argv[1])
SHOTS = int(sys.argv[2])
DEVICE = sys.argv[3] if len(sys.argv) > 3 else "qiskit.aer"
TAG = "aer" if DEVICE == "qiskit.aer" else DEVICE
tr, te = data.load("iris", "train"), data.load("iris", "test")
cfg = training.TrainConfig(
    epochs=EPOCHS, batch_size=16, learning_rate=0.05, schedule="cosine", seed=0
)


def model(p):
    return quantum_train.QuantumTrain(
        tuple(architecture.mlp((16, 16), 3)), (4,), depth=2, profile=p, mapping_hidden=(8,)
    )


res = {}
m0 = model(devices.get("default.qubit"))
p0, h0 = training.fit(
    m0,
    (tr.x, tr.y),
    (te.x, te.y),
    cfg,
    run_dir=OUT / f"analytic-{EPOCHS}",
    resume=True,
    progress=False,
)
res["analytic"] = {"epochs": EPOCHS, "test_accuracy": h0[-1]["test_accuracy"]}
print(res, flush=True)
m1 = model(with_shots(devices.get(DEVICE), SHOTS, "spsa", seed=0 if TAG != "aer" else None))
p1, h1 = training.fit(
    m1,
    (tr.x, tr.y),
    (te.x, te.y),
    cfg,
    run_dir=OUT / f"{TAG}-spsa-{SHOTS}-{EPOCHS}",
    resume=True,
    progress=False,
)
res[f"{TAG}-spsa-{SHOTS}"] = {
    "epochs": EPOCHS,
    "test_accuracy_with_shots": h1[-1]["test_accuracy"],
    "wall_s": h1[-1]["wall_time_s"],
    "test_accuracy_analytic_probs": training.accuracy(
        dataclasses.replace(m1, profile=devices.get("default.qubit"), probs_fn=None).apply,
        p1,
        te.x,
        te.y,
    ),
}
print(res, flush=True)
name = f"iris-{SHOTS}-{EPOCHS}" if TAG == "aer" else f"iris-{TAG}-{SHOTS}-{EPOCHS}"
(OUT / f"{name}.json").write_text(json.dumps(res, indent=2))
