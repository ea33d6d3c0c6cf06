"""QNN ansätze: one block of gates, repeated L times, queued as PennyLane operations.

Every gradient route of ``hybrid.quantum_train.qnn`` and every resource report runs the circuit
an ansatz queues, so a new ansatz is one block function and its angle count, registered in
``ANSATZE``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pennylane as qml

Block = Callable[[Any, Sequence[int]], None]


@dataclass(frozen=True)
class Ansatz:
    """A block of gates on n wires that takes ``angles_per_block(n)`` angles."""

    name: str
    block: Block
    angles_per_block: Callable[[int], int]

    def shape(self, n_qubits: int, depth: int) -> tuple[int, int]:
        """The shape of the angle array of ``depth`` blocks: (L, angles per block)."""
        return depth, self.angles_per_block(n_qubits)

    def circuit(self, angles, wires: Sequence[int]) -> None:
        """All L blocks; ``angles`` has shape ``shape(n, L)``."""
        for layer in angles:
            self.block(layer, wires)


def ry_cnot(angles, wires: Sequence[int]) -> None:
    """RY on every wire, then CNOTs in a ring (i -> i+1 mod n): n angles per block."""
    n = len(wires)
    for q, wire in enumerate(wires):
        qml.RY(angles[q], wires=wire)
    if n > 1:
        for q in range(n if n > 2 else 1):
            qml.CNOT(wires=[wires[q], wires[(q + 1) % n]])


def _u3(angles, wire: int) -> None:
    """U3(theta, phi, lam) = PhaseShift(phi) RY(theta) PhaseShift(lam), exactly (no global phase);
    ``angles`` = (lam, theta, phi), the order the three gates are applied in."""
    lam, theta, phi = angles[0], angles[1], angles[2]
    qml.PhaseShift(lam, wires=wire)
    qml.RY(theta, wires=wire)
    qml.PhaseShift(phi, wires=wire)


def _cu3(angles, control: int, target: int) -> None:
    """Controlled-U3 as ControlledPhaseShift(phi) CRY(theta) ControlledPhaseShift(lam).

    Controlling the exact factorisation of ``_u3`` keeps U3's phases: C-PhaseShift is
    diag(1, 1, 1, e^(i a)), so no phase on the control is left over. Every factor has a generator,
    so lightning's adjoint method and parameter-shift differentiate it, one gate per angle.
    """
    lam, theta, phi = angles[0], angles[1], angles[2]
    qml.ControlledPhaseShift(lam, wires=[control, target])
    qml.CRY(theta, wires=[control, target])
    qml.ControlledPhaseShift(phi, wires=[control, target])


def u3_cu3(angles, wires: Sequence[int]) -> None:
    """The reference's block: U3 on every wire, then a ring of controlled-U3: 6n angles.

    The authors' code (TorchQuantum, ``Op1QAllLayer(op=tq.U3)`` then ``Op2QAllLayer(op=tq.CU3,
    circular=True)``) applies CU3 with control k and target k+1 mod n for k = 0..n-1, in that
    order; TorchQuantum's U3 matrix is PennyLane's ``qml.U3(theta, phi, lam)``. ``angles`` holds
    3n angles for the U3 layer (wire q: ``angles[3q:3q+3]`` = lam, theta, phi) and 3n for the
    ring (gate k: ``angles[3n+3k:3n+3k+3]``): one angle per gate parameter, in the order the gates
    are queued, which is the order ``hybrid.quantum_train.qnn``'s adjoint route reads the tape's
    parameters in.
    """
    n = len(wires)
    for q, wire in enumerate(wires):
        _u3(angles[3 * q : 3 * q + 3], wire)
    if n > 1:
        for k in range(n if n > 2 else 1):
            start = 3 * n + 3 * k
            _cu3(angles[start : start + 3], wires[k], wires[(k + 1) % n])


def _u3_cu3_angles(n: int) -> int:
    return 3 * n + 3 * (n if n > 2 else n - 1)


ANSATZE = {
    "ry-cnot": Ansatz("ry-cnot", ry_cnot, lambda n: n),
    "u3-cu3": Ansatz("u3-cu3", u3_cu3, _u3_cu3_angles),
}


def get(ansatz: str | Ansatz) -> Ansatz:
    """An ansatz by name (``ANSATZE``), or the one given."""
    if isinstance(ansatz, Ansatz):
        return ansatz
    if ansatz not in ANSATZE:
        raise ValueError(f"unknown ansatz {ansatz!r}; known: {sorted(ANSATZE)}")
    return ANSATZE[ansatz]
