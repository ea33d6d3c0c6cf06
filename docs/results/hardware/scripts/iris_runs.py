"""Iris Quantum-Train: analytic vs finite shots on qiskit.aer; shots table; noisy evaluation."""

import dataclasses
import json
import sys
import time
from pathlib import Path

import jax
import numpy as np

jax.config.update("jax_enable_x64", True)
from hybrid import architecture, data, devices, quantum_train, training  # noqa: E402
from hybrid.devices import with_shots  # noqa: E402

OUT = Path("/tmp/hardware")
EPOCHS = int(sys.argv[1]) if len(sys.argv) > 1 else 60
tr, te = data.load("iris", "train"), data.load("iris", "test")
cfg = training.TrainConfig(
    epochs=EPOCHS, batch_size=16, learning_rate=0.05, schedule="cosine", seed=0
)


def model(profile):
    return quantum_train.QuantumTrain(
        tuple(architecture.mlp((16, 16), 3)), (4,), depth=2, profile=profile, mapping_hidden=(8,)
    )


def acc(m, params):
    return training.accuracy(m.apply, params, te.x, te.y)


res = json.loads((OUT / "iris.json").read_text()) if (OUT / "iris.json").exists() else {}


def save():
    (OUT / "iris.json").write_text(json.dumps(res, indent=2))


t = time.time()
m0 = model(devices.get("default.qubit"))
p0, h0 = training.fit(
    m0, (tr.x, tr.y), (te.x, te.y), cfg, run_dir=OUT / "analytic", resume=True, progress=False
)
res["analytic"] = {"test_accuracy": h0[-1]["test_accuracy"], "wall_s": h0[-1]["wall_time_s"]}
np.savez(OUT / "analytic_params.npz", angles=np.asarray(p0["angles"]))
save()
print("analytic", res["analytic"], flush=True)
# inference-time shots: the analytic params, weights generated from sampled probabilities
aer = devices.get("qiskit.aer")
table = []
for k in (1, 4, 16, 64):
    shots = k * 2**m0.n_qubits
    accs = [
        acc(
            dataclasses.replace(m0, profile=with_shots(aer, shots, seed=r)),
            p0,
        )
        for r in range(5)
    ]
    table.append(
        {
            "shots": shots,
            "multiple_of_2^n": k,
            "mean": float(np.mean(accs)),
            "min": min(accs),
            "max": max(accs),
        }
    )
    print(table[-1], flush=True)
res["inference_shots"] = table
save()
noisy = devices.get("qiskit.aer-noisy")
accs = [
    acc(
        dataclasses.replace(
            m0, profile=dataclasses.replace(noisy, shots=8192, options={**noisy.options, "seed": r})
        ),
        p0,
    )
    for r in range(3)
]
ideal = [r for r in table if r["shots"] == 8192][0]
res["noisy_inference"] = {
    "backend": noisy.options["fake_backend"],
    "shots": 8192,
    "accuracies": accs,
    "mean": float(np.mean(accs)),
    "ideal_aer_8192_mean": ideal["mean"],
    "analytic": res["analytic"]["test_accuracy"],
}
save()
print("noisy", res["noisy_inference"], flush=True)
for shots in (2048,):
    name = f"aer-spsa-{shots}"
    m1 = model(with_shots(aer, shots, "spsa"))
    p1, h1 = training.fit(
        m1, (tr.x, tr.y), (te.x, te.y), cfg, run_dir=OUT / name, resume=True, progress=False
    )
    res[name] = {
        "test_accuracy_with_shots": h1[-1]["test_accuracy"],
        "wall_s": h1[-1]["wall_time_s"],
        "test_accuracy_analytic_probs": acc(
            dataclasses.replace(m1, profile=devices.get("default.qubit")), p1
        ),
    }
    save()
    print(name, res[name], flush=True)
print("total", time.time() - t)
