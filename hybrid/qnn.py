"""The Quantum-Train QNN: L blocks of an ansatz (``hybrid.ansatz``), read out as 2^n probabilities.

``probabilities(n_qubits, depth, profile, ansatz)`` returns a JAX function ``angles -> p (2^n,)``
(angles of shape ``ansatz.shape(n, L)``) that ``jax.grad`` and ``jax.jit`` go through, with the
gradient method the profile names:

- ``backprop`` (default.qubit): a one-block QNode (state in, state out) scanned over the blocks,
  so XLA compiles one block instead of L unrolled ones (46 s -> 3 s to compile the gradient at
  10 qubits x 8 blocks on our 2-core CPU; run time unchanged, 5 ms).
- ``adjoint`` (lightning.*): lightning's adjoint method refuses ``qml.probs``, so the VJP of
  p(theta) against a cotangent g is taken as the gradient of <psi(theta)|diag(g)|psi(theta)>, one
  expectation value that the adjoint method differentiates in a single backward pass (DESIGN.md).
- ``parameter-shift`` / ``spsa`` (any device, shots allowed): a PennyLane QNode with that
  ``diff_method``; the route for hardware plugins.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import pennylane as qml
import scipy.sparse as sp

from hybrid import ansatz as ansatze
from hybrid import devices, jaxcheck  # noqa: F401  (one clear line if JAX is too new)
from hybrid.ansatz import Ansatz
from hybrid.devices import Profile

ProbsFn = Callable[[jax.Array], jax.Array]


def n_angles(n_qubits: int, depth: int, ansatz: str | Ansatz = "ry-cnot") -> int:
    rows, cols = ansatze.get(ansatz).shape(n_qubits, depth)
    return rows * cols


def tape(
    n_qubits: int, depth: int, ansatz: str | Ansatz = "ry-cnot", seed: int = 0
) -> qml.tape.QuantumScript:
    """The QNN circuit with random angles, measuring all probabilities (resource reports)."""
    spec = ansatze.get(ansatz)
    angles = np.random.default_rng(seed).uniform(0, 2 * np.pi, spec.shape(n_qubits, depth))
    ops = qml.tape.make_qscript(spec.circuit)(angles, list(range(n_qubits))).operations
    return qml.tape.QuantumScript(ops, [qml.probs(wires=range(n_qubits))])


def _float():
    return jnp.result_type(float)


def _backprop(n_qubits: int, profile: Profile, ansatz: Ansatz) -> ProbsFn:
    wires = list(range(n_qubits))
    qnode_block = qml.QNode(
        lambda state, angles: (
            qml.StatePrep(state, wires=wires, validate_norm=False),
            ansatz.block(angles, wires),
            qml.state(),
        )[-1],
        devices.make(profile, n_qubits),
        interface="jax",
        diff_method="backprop",
    )

    def probs(angles):
        start = jnp.zeros(2**n_qubits, dtype=jnp.result_type(complex)).at[0].set(1)
        state, _ = jax.lax.scan(lambda s, a: (qnode_block(s, a), None), start, angles)
        return jnp.abs(state) ** 2

    return probs


def _adjoint(n_qubits: int, profile: Profile, ansatz: Ansatz) -> ProbsFn:
    device = devices.make(profile, n_qubits)
    wires = list(range(n_qubits))
    config = device.setup_execution_config(qml.devices.ExecutionConfig(gradient_method="adjoint"))

    def script(angles, measurement):
        ops = qml.tape.make_qscript(ansatz.circuit)(np.asarray(angles, float), wires).operations
        return qml.tape.QuantumScript(ops, [measurement], trainable_params=list(range(angles.size)))

    def host_probs(angles):
        p = device.execute(script(angles, qml.probs(wires=wires)))
        return np.asarray(p, dtype=angles.dtype)

    def host_vjp(angles, cotangent):
        diag = sp.csr_matrix(sp.diags(np.asarray(cotangent, dtype=float)))
        observable = qml.SparseHamiltonian(diag, wires=wires)
        grad = device.compute_derivatives(script(angles, qml.expval(observable)), config)
        return np.asarray(grad, dtype=angles.dtype).reshape(angles.shape)

    @jax.custom_vjp
    def probs(angles):
        out = jax.ShapeDtypeStruct((2**n_qubits,), angles.dtype)
        return jax.pure_callback(host_probs, out, angles, vmap_method="sequential")

    def forward(angles):
        return probs(angles), angles

    def backward(angles, cotangent):
        out = jax.ShapeDtypeStruct(angles.shape, angles.dtype)
        return (jax.pure_callback(host_vjp, out, angles, cotangent, vmap_method="sequential"),)

    probs.defvjp(forward, backward)
    return probs


def _qnode(n_qubits: int, profile: Profile, ansatz: Ansatz) -> ProbsFn:
    wires = list(range(n_qubits))
    qnode = qml.QNode(
        lambda angles: (ansatz.circuit(angles, wires), qml.probs(wires=wires))[-1],
        devices.make(profile, n_qubits),
        interface="jax",
        diff_method=profile.gradient,
    )
    if profile.shots:
        qnode = qml.set_shots(qnode, shots=profile.shots)
    return lambda angles: jnp.asarray(qnode(angles), dtype=angles.dtype)


def probabilities(
    n_qubits: int,
    depth: int,
    profile: Profile | str = "auto",
    ansatz: str | Ansatz = "ry-cnot",
) -> ProbsFn:
    """``angles (ansatz.shape(n, L)) -> probabilities (2^n_qubits,)``, differentiable by JAX."""
    if n_qubits < 1 or depth < 1:
        raise ValueError(f"need n_qubits >= 1 and depth >= 1, got {n_qubits}, {depth}")
    profile, spec = devices.get(profile), ansatze.get(ansatz)
    if profile.gradient == "backprop":
        return _backprop(n_qubits, profile, spec)
    if profile.gradient == "adjoint":
        return _adjoint(n_qubits, profile, spec)
    return _qnode(n_qubits, profile, spec)
