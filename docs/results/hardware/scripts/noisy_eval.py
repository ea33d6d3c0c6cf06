"""Re-evaluate the analytic Iris QT params on the noisy fake backend (SABRE-routed)."""

import dataclasses
import json
from pathlib import Path

import jax
import numpy as np

jax.config.update("jax_enable_x64", True)
from hybrid import architecture, data, devices, quantum_train, training  # noqa: E402

te = data.load("iris", "test")
m0 = quantum_train.QuantumTrain(
    tuple(architecture.mlp((16, 16), 3)),
    (4,),
    depth=2,
    profile=devices.get("default.qubit"),
    mapping_hidden=(8,),
)
cfg = training.TrainConfig(epochs=60, batch_size=16, learning_rate=0.05, schedule="cosine", seed=0)
like = m0.init(jax.random.key(0))
state = (like, cfg.make_optimizer(1).init(like))
(p0, _), _ = training.load_checkpoint(Path("/tmp/hardware/analytic/checkpoint.npz"), state)
out = {"analytic": training.accuracy(m0.apply, p0, te.x, te.y)}
noisy = devices.get("qiskit.aer-noisy")
for label, extra in (("noisy", {}), ("routed_no_noise", {"noise": False})):
    accs = []
    for r in range(3):
        prof = dataclasses.replace(noisy, shots=8192, options={**noisy.options, **extra, "seed": r})
        accs.append(training.accuracy(dataclasses.replace(m0, profile=prof).apply, p0, te.x, te.y))
    out[label] = {"shots": 8192, "accuracies": accs, "mean": float(np.mean(accs))}
    print(label, out[label], flush=True)
p = np.asarray(m0.probabilities(p0["angles"]))
pn = np.asarray(
    quantum_train.qnn.probabilities(
        9, 2, dataclasses.replace(noisy, shots=8192, options={**noisy.options, "seed": 0})
    )(p0["angles"])
)
out["tv_distance_noisy_vs_exact"] = float(0.5 * np.abs(p - pn).sum())
print(out)
Path("/tmp/hardware/noisy_eval.json").write_text(json.dumps(out, indent=2))
