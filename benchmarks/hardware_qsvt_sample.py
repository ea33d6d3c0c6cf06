"""QSVT solve of a 4 x 4 SPD system (seed 0, eps 1e-2) sampled with 20,000 shots on default.qubit,
qiskit.aer and braket.local.qubit, beside lightning's state vector; results in
docs/results/hardware/qsvt_sample.json. Shot noise is seeded (seed 0) on default.qubit and Aer;
Braket's local simulator takes no seed, so its row changes from run to run within shot noise."""

import json
import time
import warnings
from pathlib import Path

import numpy as np

from hybrid import devices
from hybrid.ntk import qsvt

warnings.filterwarnings("ignore")
rng = np.random.default_rng(0)
m = rng.normal(size=(4, 4))
a, b = m @ m.T + 4 * np.eye(4), rng.normal(size=4)
rows = {"lightning": {k: qsvt.solve(a, b)[k] for k in ("success_probability", "solution_error")}}
for name in ("default.qubit", "qiskit.aer", "braket.local.qubit"):
    start = time.perf_counter()
    result = qsvt.sample(a, b, devices.with_shots(devices.get(name), 20000, seed=0))
    rows[name] = result | {"wall_s": time.perf_counter() - start}
text = json.dumps(rows, indent=1)
print(text)
RESULTS = Path(__file__).resolve().parent.parent / "docs/results/hardware"
(RESULTS / "qsvt_sample.json").write_text(text + "\n")
