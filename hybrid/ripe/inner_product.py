"""Inner products of amplitude-encoded vectors, measured by a Hadamard test (PennyLane QNodes).

The state is the concatenation v = [x; y] of two length-d vectors, each zero-padded to d' = 2^k,
normalised, on 1 + k qubits. A Hadamard on the first qubit and a Z measurement give

    <Z> = 1 - 2a = 2 <x,y> / (|x|^2 + |y|^2),   so   <x,y> = (|x|^2 + |y|^2) <Z> / 2,

the inner-product-estimation (IPE) state of the supplement of Allcock et al., arXiv:1812.03089.
Analytic devices return <x,y> to float precision; a profile with shots returns its shot noise.
Many pairs go through one QNode call (parameter broadcasting). Norms are read classically, as
the paper's qRAM data structure stores them.

``qml.StatePrep`` is given the padded, normalised vector directly: the vector is normalised here
already, and ``AmplitudeEmbedding`` with ``normalize=True`` adds per-circuit work that costs far
more than the state preparation itself.
"""

from __future__ import annotations

import math

import numpy as np
import pennylane as qml

from hybrid import devices
from hybrid.devices import Profile, resources


def n_qubits(d: int) -> int:
    """Qubits for vectors of length d: one ancilla plus ceil(log2 d) (at least one)."""
    if d < 1:
        raise ValueError(f"vectors must have length >= 1, got {d}")
    return 1 + max(1, math.ceil(math.log2(d)))


def validate(x, y, *, zero: str = "error") -> tuple[np.ndarray, np.ndarray]:
    """Check a batch of pairs and return them as float arrays of shape (B, d).

    ``zero="error"`` refuses zero vectors (a zero vector has no amplitude encoding);
    ``zero="allow"`` lets them through (their inner product is 0, no circuit is run for them).
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.ndim == 0 or y.ndim == 0:
        raise ValueError("inner products need vectors, got a scalar")
    x, y = np.atleast_2d(x), np.atleast_2d(y)
    if x.ndim != 2 or y.ndim != 2:
        raise ValueError(f"expected vectors or (batch, d) arrays, got shapes {x.shape}, {y.shape}")
    if x.shape[-1] != y.shape[-1]:
        raise ValueError(f"vectors of different lengths: {x.shape[-1]} and {y.shape[-1]}")
    x, y = np.broadcast_arrays(x, y)
    for name, v in (("x", x), ("y", y)):
        if not np.all(np.isfinite(v)):
            raise ValueError(f"{name} contains NaN or infinite entries")
        if zero == "error" and np.any(~v.any(axis=-1)):
            rows = np.flatnonzero(~v.any(axis=-1))[:5].tolist()
            raise ValueError(
                f"{name} has zero vectors (rows {rows}): they have no amplitude encoding"
            )
    return x, y


def encode(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Normalised, padded states [x; y] / sqrt(|x|^2 + |y|^2), shape (B, 2 d'), and the norms."""
    d_pad = 2 ** (n_qubits(x.shape[-1]) - 1)
    pad = ((0, 0), (0, d_pad - x.shape[-1]))
    v = np.concatenate([np.pad(x, pad), np.pad(y, pad)], axis=-1)
    total = np.sum(v * v, axis=-1)
    safe = np.where(total > 0, total, 1.0)
    v = v / np.sqrt(safe)[:, None]
    v[total == 0, 0] = 1.0  # placeholder state for skipped zero pairs
    return v, total


def hadamard_test(wires: int, profile: Profile):
    """The QNode: StatePrep of a batch of states, Hadamard on wire 0, <Z_0>."""
    dev = devices.make(profile, wires)

    def circuit(states):
        qml.StatePrep(states, wires=range(wires))
        qml.Hadamard(wires=0)
        return qml.expval(qml.PauliZ(0))

    node = qml.QNode(circuit, dev, diff_method=None)
    return qml.set_shots(node, shots=profile.shots) if profile.shots else node


class CircuitInnerProducts:
    """Evaluates batches of inner products on a device profile; QNodes are built once per width.

    ``seed`` makes shot noise reproducible where the device takes a seed (default.qubit,
    lightning.*). ``calls`` counts circuit executions (one per pair, skipped zero pairs excluded).
    """

    def __init__(
        self,
        profile: str | Profile = "default.qubit",
        shots: int | None = None,
        seed: int | None = None,
    ):
        profile = devices.get(profile)
        if shots is not None:
            profile = devices.with_shots(profile, shots, seed=seed)
        elif profile.shots and seed is not None:
            profile = devices.with_shots(profile, profile.shots, profile.gradient, seed)
        self.profile = profile
        self.calls = 0
        self._nodes: dict[int, object] = {}

    def node(self, wires: int):
        if wires not in self._nodes:
            self._nodes[wires] = hadamard_test(wires, self.profile)
        return self._nodes[wires]

    def __call__(self, x, y, *, zero: str = "error") -> np.ndarray:
        """<x_b, y_b> for every row b (x, y of shape (B, d) or (d,)); returns shape (B,)."""
        x, y = validate(x, y, zero=zero)
        states, total = encode(x, y)
        out = np.zeros(len(states))
        live = total > 0
        if np.any(live):
            z = np.asarray(self.node(n_qubits(x.shape[-1]))(states[live]), dtype=float)
            out[live] = total[live] * np.reshape(z, -1) / 2
            self.calls += int(np.sum(live))
        return out


def inner_products(
    x,
    y,
    profile: str | Profile = "default.qubit",
    shots: int | None = None,
    seed: int | None = None,
) -> np.ndarray:
    """One-off convenience: <x_b, y_b> for each pair of rows, measured on ``profile``."""
    return CircuitInnerProducts(profile, shots=shots, seed=seed)(x, y)


def tape(d: int, seed: int = 0) -> qml.tape.QuantumScript:
    """The Hadamard-test circuit for one random pair of length-d vectors (resource reports)."""
    rng = np.random.default_rng(seed)
    x, y = validate(rng.random(d), rng.random(d))
    states, _ = encode(x, y)
    ops = [qml.StatePrep(states[0], wires=range(n_qubits(d))), qml.Hadamard(0)]
    return qml.tape.QuantumScript(ops, [qml.expval(qml.PauliZ(0))])


def resources_report(profile: Profile, d: int, eps: float = 0.01) -> dict:
    """Resources of one inner product of length-d vectors (Hadamard test, StatePrep included)."""
    circuit = resources.circuit_resources(profile, tape(d), n_qubits(d))
    shots = resources.shots_for_error(eps)
    return {
        "model": "inner-product",
        "device": profile.name,
        "d": d,
        "circuit": circuit,
        "shots_for_eps": {"eps_relative_to_norms": eps, "shots": shots},
        "per_inner_product": resources.price(profile, 1, shots, circuit.get("duration_s")),
    }
