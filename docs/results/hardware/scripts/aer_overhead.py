"""Where parameter-shift on qiskit.aer spends its time: one step's 145 circuits of the Iris QNN
(9 qubits, depth 8, 2048 shots) as one batch, on pennylane-qiskit's own AerSimulator and on the
profile's (``hardware.cached_target_aer``), then a cProfile of 20 circuits on the latter."""

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
plain = qml.device("qiskit.aer", wires=9, seed_simulator=0)
profile = devices.make(devices.with_shots(devices.get("qiskit.aer"), 2048, seed=0), 9)
for name, device in (("plugin's AerSimulator", plain), ("profile (cached target)", profile)):
    qml.execute(tapes[:2], device)  # warm up
    start = time.perf_counter()
    qml.execute(tapes, device)
    seconds = time.perf_counter() - start
    print(f"{name}: 145 circuits in {seconds:.1f} s ({seconds / 145:.3f} s per circuit)")
cProfile.run("qml.execute(tapes[:20], profile)", "/tmp/aer_overhead.prof")
pstats.Stats("/tmp/aer_overhead.prof").sort_stats("cumulative").print_stats(12)
