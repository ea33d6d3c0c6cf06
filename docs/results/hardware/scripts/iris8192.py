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
m1 = model(with_shots(devices.get("qiskit.aer"), SHOTS, "spsa"))
p1, h1 = training.fit(
    m1,
    (tr.x, tr.y),
    (te.x, te.y),
    cfg,
    run_dir=OUT / f"aer-spsa-{SHOTS}-{EPOCHS}",
    resume=True,
    progress=False,
)
res[f"aer-spsa-{SHOTS}"] = {
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
(OUT / f"iris-{SHOTS}-{EPOCHS}.json").write_text(json.dumps(res, indent=2))
