"""Where parameter-shift on qiskit.aer spends its time: one step's 145 circuits of the Iris QNN
(9 qubits, depth 8, 2048 shots) as one batch, then a cProfile of 20 of them."""

import cProfile
import pstats
import time
import warnings

import numpy as np
import pennylane as qml

from hybrid import devices, qnn

warnings.filterwarnings("ignore")
rng = np.random.default_rng(0)


def tape(angles):
    with qml.queuing.AnnotatedQueue() as queue:
        qnn.circuit(angles, range(9))
        qml.probs(wires=range(9))
    return qml.tape.QuantumScript.from_queue(queue, shots=2048)


tapes = [tape(rng.uniform(0, 2 * np.pi, (8, 9))) for _ in range(145)]
device = devices.make(devices.with_shots(devices.get("qiskit.aer"), 2048), 9)
start = time.perf_counter()
qml.execute(tapes, device)
seconds = time.perf_counter() - start
print(f"145 circuits: {seconds:.1f} s ({seconds / 145:.3f} s per circuit)")
cProfile.run("qml.execute(tapes[:20], device)", "/tmp/aer_overhead.prof")
pstats.Stats("/tmp/aer_overhead.prof").sort_stats("cumulative").print_stats("transpile|target", 8)
