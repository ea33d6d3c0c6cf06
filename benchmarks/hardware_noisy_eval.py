"""The 60-epoch analytic parameters of the weak Iris model (``hardware_iris_runs.py``) evaluated on
the noisy fake backend (qiskit.aer-noisy, SABRE-routed) and on the same routed circuits without
noise, 8192 shots, seeds 0-2; results in docs/results/hardware/noisy_eval.json."""

import dataclasses
import json

import hardware_weak_iris as w
import numpy as np

from hybrid import devices
from hybrid.quantum_train import on_device

m0 = w.model("default.qubit")
p0, _ = w.fit(m0, w.OUT / "analytic", 60)  # the finished run: loads its checkpoint
out: dict = {"analytic": w.test_accuracy(m0, p0)}
noisy = devices.get("qiskit.aer-noisy")
for label, extra in (("noisy", {}), ("routed_no_noise", {"noise": False})):
    variant = dataclasses.replace(noisy, options={**noisy.options, **extra})
    accs = []
    for r in range(3):
        profile = devices.with_shots(variant, 8192, noisy.gradient, seed=r)
        p = on_device(m0, profile).probabilities(p0["angles"])  # one execution per seed
        accs.append(w.test_accuracy(dataclasses.replace(m0, probs_fn=lambda _, p=p: p), p0))
        if label == "noisy" and r == 0:
            noisy_seed0 = np.asarray(p)  # reused for the distance below, not run again
    out[label] = {"shots": 8192, "accuracies": accs, "mean": float(np.mean(accs))}
    print(label, out[label], flush=True)
exact = np.asarray(m0.probabilities(p0["angles"]))
out["tv_distance_noisy_vs_exact"] = float(0.5 * np.abs(exact - noisy_seed0).sum())
print(out)
(w.RESULTS / "noisy_eval.json").write_text(json.dumps(out, indent=2))
