"""Resource reports: what a circuit costs on a device, whatever algorithm it comes from.

Each algorithm describes its own circuits (``qnn.tape``, ``inner_product.tape``) and asks this
module to cost them: gates and depth after the device's compilation (``circuit_resources``), the
executions a training step or an epoch needs (``training_cost``), and QPU time and price where
they are documented (``price``). Nothing here imports an algorithm (docs/architecture.md).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import pennylane as qml

from hybrid import devices
from hybrid.devices import Profile

# Documented prices (USD), copied from the providers' pages; prices change, so check the pages
# before relying on a figure. Amazon Braket: https://aws.amazon.com/braket/pricing/ (as published
# 2026-11): a per-task fee plus a per-shot fee by QPU family; SV1 per minute (3 s minimum per task).
# IBM Quantum pay-as-you-go: https://www.ibm.com/quantum/pricing, USD 96 per minute of QPU time.
BRAKET_TASK_FEE = 0.30
BRAKET_SHOT_FEE = {
    "ionq/forte": 0.08,
    "ionq/aria": 0.03,
    "iqm/garnet": 0.00145,
    "rigetti/ankaa": 0.0009,
    "quera/aquila": 0.01,
}
BRAKET_SV1_PER_MINUTE, BRAKET_SV1_MIN_S = 0.075, 3.0
IBM_PER_SECOND = 96.0 / 60.0


def _qiskit_compiled(profile: Profile, tape: qml.tape.QuantumScript, wires: int):
    """The circuit exactly as the Qiskit device would submit it (native gates, routed); the
    transpiler is seeded (the profile's seed, else 0) so that a report can be reproduced."""
    from pennylane_qiskit.converter import circuit_to_qiskit

    seeded = replace(profile, options={"seed": 0, **profile.options})
    device = devices.make(seeded, wires, offline=True)
    (tapes, _) = device.preprocess_transforms()((tape,))
    (tape,) = tapes
    inner = devices.unwrapped(device)
    if profile.device == "qiskit.remote":
        return inner.compile_circuits([circuit_to_qiskit(tape, wires, True, True)])[0], inner
    return inner.compile_circuits([tape])[0], inner


def circuit_resources(profile: Profile, tape: qml.tape.QuantumScript, wires: int) -> dict:
    """Qubits, gate counts by type, two-qubit gates and depth after the device's decomposition.

    Qiskit profiles: the transpiled circuit (native gates of the backend, routed). Other plugins:
    the PennyLane decomposition to the operations the device accepts; a Braket QPU compiles that
    further on AWS, which no offline tool reproduces.
    """
    if profile.device.startswith("qiskit."):
        qc, device = _qiskit_compiled(profile, tape, wires)
        ops = {k: int(v) for k, v in qc.count_ops().items() if k not in ("barrier", "measure")}
        two = sum(1 for inst in qc.data if inst.operation.num_qubits == 2)
        out = {
            "qubits": wires,
            "physical_qubits": len({qc.find_bit(q).index for i in qc.data for q in i.qubits}),
            "gates": sum(ops.values()),
            "two_qubit_gates": two,
            "depth": int(qc.depth(lambda i: i.operation.name not in ("barrier", "measure"))),
            "gate_types": dict(sorted(ops.items())),
            "compiled_for": getattr(device, "backend_name", None) or device.backend.name,
        }
        target = getattr(getattr(device, "compile_backend", None), "target", None)
        target = target or getattr(device.backend, "target", None)
        if target is not None and getattr(target, "dt", None):
            try:
                out["duration_s"] = float(qc.estimate_duration(target, unit="s"))
            except Exception as err:  # durations missing for some gate of an ideal target
                out["duration_note"] = f"no duration: {type(err).__name__}"
        return out
    if profile.device == "braket.aws.qubit":  # the same operations, no AWS account needed
        accepts = qml.device("braket.local.qubit", wires=wires)
    else:
        accepts = devices.make(profile, wires, offline=True)
    (tapes, _) = accepts.preprocess_transforms()((tape,))
    specs = tapes[0].specs["resources"]
    types = {str(k): int(v) for k, v in dict(specs.gate_types).items()}
    return {
        "qubits": wires,
        "gates": int(specs.num_gates),
        "two_qubit_gates": int(dict(specs.gate_sizes).get(2, 0)),
        "depth": int(specs.depth),
        "gate_types": dict(sorted(types.items())),
        "compiled_for": f"{accepts.name} operations (PennyLane decomposition)",
    }


def price(profile: Profile, executions: int, shots: int, duration_s: float | None) -> dict:
    """Estimated QPU time and USD for ``executions`` circuits of ``shots`` each, where documented.

    IBM: QPU time ~ executions * shots * (circuit duration + repetition delay 250 us, the fake
    backends' default_rep_delay), billed at the pay-as-you-go rate. Braket: task fee + shot fee.
    """
    out: dict[str, Any] = {"executions": executions, "shots_total": executions * shots}
    if profile.device.startswith("qiskit.") and duration_s is not None:
        rep_delay = 250e-6
        seconds = executions * shots * (duration_s + rep_delay)
        out |= {"qpu_seconds": seconds, "source": "IBM pay-as-you-go USD 96/min"}
        if profile.device == "qiskit.remote":
            out["usd"] = seconds * IBM_PER_SECOND
    elif profile.device == "braket.aws.qubit":
        arn = devices.braket_arn(profile)
        if "quantum-simulator/amazon/sv1" in arn:
            out["note"] = "SV1 bills simulation minutes (USD 0.075/min, 3 s minimum per task)"
            out["usd_minimum"] = executions * BRAKET_SV1_MIN_S / 60 * BRAKET_SV1_PER_MINUTE
        else:
            family = next((k for k in BRAKET_SHOT_FEE if k.lower() in arn.lower()), None)
            if family:
                fee = BRAKET_SHOT_FEE[family]
                out |= {"usd": executions * (BRAKET_TASK_FEE + shots * fee), "family": family}
            else:
                out["note"] = "set the ARN environment variable to price a Braket QPU"
    return out


def executions_per_step(gradient: str, tape: qml.tape.QuantumScript) -> int:
    """Circuit runs for one value-and-gradient of ``tape``.

    Parameter-shift counts the circuits PennyLane's ``param_shift`` actually builds: two per
    angle of a gate with one frequency (RY, PhaseShift), four for two frequencies (CRY, CRX).
    """
    if gradient == "parameter-shift":
        shifted, _ = qml.gradients.param_shift(tape)
        return 1 + len(shifted)
    if gradient == "spsa":
        return 1 + 2  # one random direction, two evaluations (PennyLane's default)
    return 1  # backprop / adjoint on simulators: one forward, derivative without re-execution


def shots_for_error(eps: float, z: float = 0.0, scale: float = 1.0) -> int:
    """Shots for standard error eps of <x,y> = scale * <Z> / 2 (binomial, worst case z = 0)."""
    return math.ceil((scale / 2) ** 2 * (1 - z**2) / eps**2)


def training_cost(
    profile: Profile,
    tape: qml.tape.QuantumScript,
    *,
    n_train: int,
    batch_size: int,
    n_test: int | None = None,
    eval_batch_size: int = 1000,
    shots: int | None = None,
) -> dict:
    """Resources of training a circuit with ``tape.num_params`` angles: circuit, step, epoch.

    Each epoch ends with ``training.accuracy`` on the train and the test set, one circuit
    execution per evaluation batch of ``eval_batch_size`` (``TrainConfig.eval_batch_size``).
    ``n_test`` None (callers that do not know it) counts one test batch.
    """
    shots = shots or profile.shots or 1024
    circuit = circuit_resources(profile, tape, len(tape.wires))
    steps = max(1, n_train // batch_size)
    per_step = executions_per_step(profile.gradient, tape)
    evaluation = math.ceil(n_train / eval_batch_size) + math.ceil((n_test or 1) / eval_batch_size)
    executions = steps * per_step + evaluation
    return {
        "device": profile.name,
        "circuit": circuit,
        "gradient": profile.gradient,
        "shots": shots,
        "executions_per_step": per_step,
        "shots_per_step": per_step * shots,
        "steps_per_epoch": steps,
        "evaluation_executions_per_epoch": evaluation,
        "executions_per_epoch": executions,
        "per_epoch": price(profile, executions, shots, circuit.get("duration_s")),
    }
