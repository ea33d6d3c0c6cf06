"""QSVT solve of a 4 x 4 SPD system sampled with 20,000 shots on three devices."""

import json
import time
import warnings

import numpy as np

from hybrid import devices, qsvt
from hybrid.devices import with_shots

warnings.filterwarnings("ignore")
rng = np.random.default_rng(0)
m = rng.normal(size=(4, 4))
a, b = m @ m.T + 4 * np.eye(4), rng.normal(size=4)
rows = {"lightning": {k: qsvt.solve(a, b)[k] for k in ("success_probability", "solution_error")}}
for name in ("default.qubit", "qiskit.aer", "braket.local.qubit"):
    start = time.perf_counter()
    result = qsvt.sample(a, b, with_shots(devices.get(name), 20000))
    rows[name] = result | {"wall_s": time.perf_counter() - start}
print(json.dumps(rows, indent=1))
