"""Where parameter-shift on qiskit.aer spends its time: one step's 145 circuits of the Iris QNN
(9 qubits, depth 8, 2048 shots) as one batch, on pennylane-qiskit's own AerSimulator and on the
profile's (``devices.cached_target_aer``); 10 circuits at 32,768 shots on the profile; then a
cProfile of 20 circuits (2048 shots) on the profile.

    python benchmarks/hardware_aer_overhead.py | tee docs/results/hardware/aer_overhead.txt
"""

import cProfile
import pstats
import time
import warnings

import numpy as np
import pennylane as qml

from hybrid import devices
from hybrid.quantum_train import ansatz

warnings.filterwarnings("ignore")
rng = np.random.default_rng(0)


def tape(angles, shots: int = 2048):
    with qml.queuing.AnnotatedQueue() as queue:
        ansatz.get("ry-cnot").circuit(angles, range(9))
        qml.probs(wires=range(9))
    return qml.tape.QuantumScript.from_queue(queue, shots=shots)


def timed(label: str, tapes: list, device) -> None:
    start = time.perf_counter()
    qml.execute(tapes, device)
    seconds = time.perf_counter() - start
    n = len(tapes)
    print(f"{label}: {n} circuits in {seconds:.1f} s ({seconds / n:.3f} s per circuit)", flush=True)


angles = [rng.uniform(0, 2 * np.pi, (8, 9)) for _ in range(145)]
tapes = [tape(a) for a in angles]
plain = qml.device("qiskit.aer", wires=9, seed_simulator=0)
profile = devices.make(devices.with_shots(devices.get("qiskit.aer"), 2048, seed=0), 9)
for name, device in (("plugin's AerSimulator", plain), ("profile (cached target)", profile)):
    qml.execute(tapes[:2], device)  # warm up
    timed(f"{name}, 2048 shots", tapes, device)
timed("profile (cached target), 32768 shots", [tape(a, 32768) for a in angles[:10]], profile)
cProfile.run("qml.execute(tapes[:20], profile)", "/tmp/aer_overhead.prof")
pstats.Stats("/tmp/aer_overhead.prof").sort_stats("cumulative").print_stats(12)
