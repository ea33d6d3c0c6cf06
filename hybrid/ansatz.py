"""QNN ansätze: one block of gates, repeated L times, queued as PennyLane operations.

Every gradient route of ``hybrid.qnn`` and every resource report runs the circuit an ansatz
queues, so a new ansatz is one block function and its angle count, registered in ``ANSATZE``.
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


ANSATZE = {"ry-cnot": Ansatz("ry-cnot", ry_cnot, lambda n: n)}


def get(ansatz: str | Ansatz) -> Ansatz:
    """An ansatz by name (``ANSATZE``), or the one given."""
    if isinstance(ansatz, Ansatz):
        return ansatz
    if ansatz not in ANSATZE:
        raise ValueError(f"unknown ansatz {ansatz!r}; known: {sorted(ANSATZE)}")
    return ANSATZE[ansatz]
