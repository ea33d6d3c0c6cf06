"""The same Quantum-Train step on our routes and on peer stacks, interleaved, as ratios.

Peers (each optional, skipped with a note when not installed): a plain jit-compiled PennyLane
default.qubit QNode of the whole circuit (what a PennyLane user writes first), tensorcircuit-ng on
its JAX backend (contracted in gate order), and TorchQuantum, whose step is not written: its
current release pins qiskit<1.0, so it cannot be installed beside this project. The JAX peers
plug their probabilities into the very same QuantumTrain step (``probs_fn``), so only the QNN
differs. Before timing, every route's probabilities at n = 8 (ry-cnot, L = --depth) are checked
equal to default.qubit's to 1e-6.
``--memory-qubits`` adds the peak memory of one step per route, each in a fresh process.

    python benchmarks/bench_peers.py --qubits 10 13 16 --memory-qubits 16
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pennylane as qml
from bench_quantum_train import first_step_peak, interleaved, machine, make_step, state_bytes

from hybrid import devices
from hybrid.quantum_train import ansatz, qnn

OURS = ["auto", "jax", "default.qubit", "lightning.qubit"]
PEERS = ["pennylane-qnode", "tensorcircuit-ng", "torchquantum"]
MODULES = {"tensorcircuit-ng": "tensorcircuit", "torchquantum": "torchquantum"}


def plain_qnode(n: int, depth: int):
    """The whole ry-cnot circuit as one PennyLane QNode, JAX backprop (jit by the caller)."""
    wires = list(range(n))
    spec = ansatz.get("ry-cnot")

    @qml.qnode(qml.device("default.qubit", wires=n), interface="jax", diff_method="backprop")
    def probs(angles):
        spec.circuit(angles, wires)
        return qml.probs(wires=wires)

    return probs


def tensorcircuit(n: int, depth: int):
    """The ry-cnot circuit in tensorcircuit-ng (JAX backend); wire 0 is the most significant."""
    import tensorcircuit as tc

    tc.set_backend("jax")
    tc.set_dtype("complex128")
    # Contract in gate order, as a state vector: the default greedy path of this circuit makes
    # XLA plan temporaries beyond any machine's memory already at 13 qubits, where gate order
    # plans small ones (compile().memory_analysis() shows both plans).
    tc.set_contractor("plain")

    def probs(angles):
        c = tc.Circuit(n)
        for layer in range(depth):
            for q in range(n):
                c.ry(q, theta=angles[layer, q])
            for q in range(n if n > 2 else 1):
                c.cnot(q, (q + 1) % n)
        return jnp.abs(c.state()) ** 2

    return probs


BUILDERS = {"pennylane-qnode": plain_qnode, "tensorcircuit-ng": tensorcircuit}


def installed(name: str) -> bool:
    if name in MODULES:
        return importlib.util.find_spec(MODULES[name]) is not None
    return name == "auto" or name in BUILDERS or devices.is_available(devices.get(name).device)


def probs_of(name: str, n: int, depth: int):
    if name in BUILDERS:
        return BUILDERS[name](n, depth)
    return qnn.probabilities(n, depth, devices.resolve(name, n).profile)


def check_equal(names: list[str], depth: int, n: int = 8) -> float:
    """Largest |p - p_default.qubit| over the routes at n qubits; raises above 1e-6."""
    angles = jnp.asarray(np.random.default_rng(3).uniform(0, 2 * np.pi, (depth, n)))
    reference = np.asarray(qnn.probabilities(n, depth, "default.qubit")(angles))
    worst = 0.0
    for name in names:
        diff = float(np.max(np.abs(np.asarray(probs_of(name, n, depth)(angles)) - reference)))
        if diff > 1e-6:
            raise AssertionError(f"{name}: probabilities differ by {diff:.2e} at n = {n}")
        worst = max(worst, diff)
    return worst


def step_for(name: str, n: int, depth: int):
    if name in BUILDERS:
        return make_step("default.qubit", n, depth, probs_fn=probs_of(name, n, depth))
    return make_step(name, n, depth)


def peak_memory(name: str, n: int, depth: int) -> dict:
    step, state, _ = step_for(name, n, depth)
    step = step.lower(state).compile()  # compiled, not yet run: its buffers are not resident
    seconds, peak, where = first_step_peak(step, state)
    return {"route": name, "n_qubits": n, "step_s": seconds, "memory": where,
            "peak_mib": peak / 2**20, "peak_in_states": peak / state_bytes(n)}  # fmt: skip


def main(argv=None) -> int:
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("--qubits", type=int, nargs="+", default=[10, 13])
    cli.add_argument("--depth", type=int, default=10)
    cli.add_argument("--repeats", type=int, default=5)
    cli.add_argument("--memory-qubits", type=int, nargs="*", default=[])
    cli.add_argument("--json")
    args = cli.parse_args(argv)
    jax.config.update("jax_enable_x64", True)
    names = []
    for name in OURS + PEERS:
        if not installed(name):
            print(f"skip {name}: not installed here", file=sys.stderr)
        elif name == "torchquantum":
            why = "TorchQuantum 0.1.8 pins qiskit<1.0, which the hardware extra cannot share"
            print(f"skip torchquantum: its step is not written ({why})", file=sys.stderr)
        else:
            names.append(name)
    print(f"machine: {machine()}, depth L = {args.depth}")
    worst = check_equal(names, args.depth)
    print(f"equal circuits: probabilities at n = 8 agree to {worst:.1e} (<= 1e-6) on {names}")
    rows = []
    for n in args.qubits:
        steps = {name: step_for(name, n, args.depth)[:2] for name in names}
        first, times = interleaved(steps, args.repeats)
        best = min(statistics.median(t) for t in times.values())
        for name in names:
            median = statistics.median(times[name])
            rows.append({"route": name, "n_qubits": n, "step_s": median,
                         "first_call_s": first[name], "to_fastest": median / best})  # fmt: skip
            print(f"  n={n:<3} {name:<18} {median * 1e3:10.1f} ms  {median / best:6.2f}x fastest"
                  f"  (first call {first[name]:.1f} s)", flush=True)  # fmt: skip
    memory = []
    for n in args.memory_qubits:
        for name in names:
            code = (
                "import json, sys, jax; sys.path.insert(0, 'benchmarks');"
                "jax.config.update('jax_enable_x64', True);"
                "from bench_peers import peak_memory;"
                f"print(json.dumps(peak_memory({name!r}, {n}, {args.depth})))"
            )
            done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
            if done.returncode:
                print(f"  memory {name} n={n} failed: {done.stderr[-300:]}", file=sys.stderr)
                continue
            memory.append(json.loads(done.stdout.strip().splitlines()[-1]))
            m = memory[-1]
            print(f"  memory n={n:<3} {name:<18} {m['peak_mib']:9.1f} MiB beyond baseline"
                  f" = {m['peak_in_states']:.1f} states", flush=True)  # fmt: skip
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": machine(), "command": sys.argv, "depth": args.depth,
                       "equal_to": worst, "rows": rows, "memory": memory}, f, indent=2)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
