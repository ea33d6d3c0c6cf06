"""Resource reports (``hybrid.reports.report``) of MNIST Quantum-Train and one d = 784 inner
product on five profiles, and the QSVT solve's; BRAKET_DEVICE_ARN is set to IonQ Forte-1 for the
price. Results in docs/results/hardware/resources.json.

    python benchmarks/hardware_resources.py
"""

import json
import os
import time
from pathlib import Path

os.environ.setdefault("BRAKET_DEVICE_ARN", "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1")
from hybrid import reports  # noqa: E402  (after the ARN is set)

out = {}
for target in ("mnist-qt", "ripe-784"):
    for dev in (
        "qiskit.aer",
        "qiskit.aer-noisy",
        "qiskit.remote",
        "braket.local.qubit",
        "braket.aws.qpu",
    ):
        t = time.time()
        try:
            out[f"{target}@{dev}"] = reports.report(target, dev)
        except Exception as err:
            out[f"{target}@{dev}"] = {"error": f"{type(err).__name__}: {err}"}
        print(
            target,
            dev,
            round(time.time() - t, 1),
            json.dumps(out[f"{target}@{dev}"])[:400],
            flush=True,
        )
try:
    out["qsvt"] = reports.report("qsvt", "qiskit.aer")
except Exception as err:
    out["qsvt"] = {"error": f"{type(err).__name__}: {err}"}
print(out["qsvt"])
RESULTS = Path(__file__).resolve().parent.parent / "docs/results/hardware"
(RESULTS / "resources.json").write_text(json.dumps(out, indent=2))
