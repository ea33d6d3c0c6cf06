"""From a simulator-trained Quantum-Train run to an evaluation on a plugin device, step by step.

    python examples/run_on_hardware.py                        # Qiskit Aer, 8 * 2^n shots
    python examples/run_on_hardware.py --device qiskit.aer-noisy
    QISKIT_IBM_TOKEN=... python examples/run_on_hardware.py --device qiskit.remote
    BRAKET_DEVICE_ARN=arn:aws:braket:... python examples/run_on_hardware.py --device braket.aws.qpu

1. train on a simulator (analytic probabilities) unless RUN already holds a run;
2. print the resource report of the model on the device (qubits, native gates, depth, shots,
   executions and estimated QPU time/cost per epoch) before spending anything;
3. regenerate the classical weights from probabilities measured on the device with shots and
   report test accuracy beside the analytic one.
Credentials come from the environment or the plugin's own config and are never written.
"""

import argparse
import json
from pathlib import Path

from hybrid import data, devices, quantum_train, reports, training
from hybrid.deploy import architecture, runs

cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
cli.add_argument("--device", default="qiskit.aer", help="plugin device profile")
cli.add_argument("--shots-multiple", type=int, default=8, help="shots = this * 2^n_qubits")
cli.add_argument("--simulator", default="default.qubit", help="profile to train on")
cli.add_argument("--depth", type=int, default=2)
cli.add_argument("--epochs", type=int, default=60)
cli.add_argument("--out", default="runs/qt-iris-hardware")
args = cli.parse_args()

if not (Path(args.out) / runs.SPEC).is_file():  # step 1
    quantum_train.run(
        "iris",
        args.out,
        depth=args.depth,
        device=args.simulator,
        layers=architecture.mlp((16, 16), 3),
        mapping_hidden=(8,),
        config=training.TrainConfig(
            epochs=args.epochs, batch_size=16, learning_rate=0.05, schedule="cosine"
        ),
    )
model, params = quantum_train.load(args.out, args.simulator)  # mapping from model.json

profile = devices.get(args.device)  # step 2
shots = args.shots_multiple * 2**model.n_qubits
profile = devices.with_shots(profile, shots, profile.gradient)
print(json.dumps(reports.report(args.out, profile), indent=2))

test = data.load("iris", "test")  # step 3
analytic = training.accuracy(model.apply, params, test.x, test.y)
device_model = quantum_train.on_device(model, profile)
measured = training.accuracy(device_model.apply, params, test.x, test.y)
print(f"test accuracy: analytic {analytic:.4f}, {args.device} with {shots} shots {measured:.4f}")
