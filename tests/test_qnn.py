import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pennylane as qml
import pytest

from hybrid import devices
from hybrid.quantum_train import qnn
from hybrid.quantum_train.ansatz import Ansatz

N, L = 7, 3


def _mixed(angles, wires):
    """A test ansatz of gates with several angles and controls: U3 on every wire, a ring of CRot
    (one angle shared, one constant), a PhaseShift and a controlled U3."""
    n = len(wires)
    for q, wire in enumerate(wires):
        qml.U3(angles[3 * q], angles[3 * q + 1], angles[3 * q + 2], wires=wire)
    for q in range(n):
        a = angles[3 * n + q]
        qml.CRot(a, 0.5 * a, 0.3, wires=[wires[q], wires[(q + 1) % n]])
    qml.PhaseShift(angles[4 * n], wires=wires[-1])
    qml.ctrl(qml.U3(angles[0], angles[4 * n], 0.1, wires=wires[0]), control=wires[2])


MIXED = Ansatz("test-mixed", _mixed, lambda n: 4 * n + 1)
EXACT_ROUTES = ["jax", "lightning.qubit", "lightning.kokkos", "lightning.gpu"]


@pytest.fixture(scope="module")
def angles():
    return jnp.asarray(np.random.default_rng(0).uniform(0, 2 * np.pi, (L, N)))


def _loss_and_grad(profile, angles, ansatz="ry-cnot", n=N):
    probs = qnn.probabilities(n, len(angles), profile, ansatz)
    weights = jnp.asarray(np.random.default_rng(1).normal(size=2**n))
    return jax.jit(jax.value_and_grad(lambda a: jnp.sum(weights * probs(a) ** 2)))(angles)


def _available(profile):
    if not devices.is_available(devices.get(profile).device):
        pytest.skip(f"{profile} is not installed here")


@pytest.mark.parametrize("profile", [*EXACT_ROUTES, "lightning.qubit-ps"])
def test_every_route_gives_the_backprop_gradient(angles, profile):
    """The issue's check: every gradient route agrees with backprop to 1e-6 relative (7 qubits)."""
    _available(profile)
    value, reference = _loss_and_grad("default.qubit", angles)
    v, grad = _loss_and_grad(profile, angles)
    assert v == pytest.approx(float(value), rel=1e-10)
    assert jnp.linalg.norm(grad - reference) / jnp.linalg.norm(reference) < 1e-6


@pytest.mark.parametrize("profile", EXACT_ROUTES)
def test_every_route_runs_gates_of_several_angles_and_controls(profile):
    """U3, CRot, PhaseShift, ctrl(U3): the reversible route takes their matrices from PennyLane,
    the lightning adjoint their one-angle decompositions; both must match backprop (4 qubits, 2
    blocks: the gate kinds matter here, not the size)."""
    _available(profile)
    angles = jnp.asarray(np.random.default_rng(2).uniform(0, 2 * np.pi, MIXED.shape(4, 2)))
    value, reference = _loss_and_grad("default.qubit", angles, MIXED, n=4)
    v, grad = _loss_and_grad(profile, angles, MIXED, n=4)
    assert v == pytest.approx(float(value), rel=1e-10)
    assert jnp.linalg.norm(grad - reference) / jnp.linalg.norm(reference) < 1e-6


def _temp_bytes(profile, depth, n=8):
    probs = qnn.probabilities(n, depth, profile)
    grad = jax.jit(jax.grad(lambda a: jnp.sum(probs(a) * jnp.arange(2**n))))
    return grad.lower(jnp.zeros((depth, n))).compile().memory_analysis().temp_size_in_bytes


def test_reversible_gradient_memory_does_not_grow_with_depth():
    """XLA's own buffer plan at 8 qubits, 2 blocks against 12: backprop keeps every block's
    state, the reversible route a few whatever the depth. The reversible route may grow by less
    than one state, not by nothing: a plan may hold the per-block gradients (depth x n numbers) as
    temporaries. (The earlier form, equal plans at 3 qubits where a state is 128 bytes, failed on
    an H200; which of its two lines was not recorded.)"""
    state = 16 * 2**8  # one complex128 state
    assert _temp_bytes("jax", 12) - _temp_bytes("jax", 2) < state
    assert _temp_bytes("default.qubit", 12) - _temp_bytes("default.qubit", 2) > 10 * state


@pytest.mark.parametrize("ansatz, n, depth", [("ry-cnot", N, L), (MIXED, 4, 2)])
def test_the_in_place_backward_pass_gives_the_backprop_gradient(monkeypatch, ansatz, n, depth):
    """The reversible route with its backward pass in place, chunk by chunk (here from 1 qubit
    on, chunks of 2^2 amplitudes: 32 chunks at 7 qubits, 4 at 4), against backprop to 1e-6."""
    monkeypatch.setattr(qnn, "IN_PLACE_QUBITS", 1)
    monkeypatch.setattr(qnn, "CHUNK_QUBITS", 2)
    shape = qnn.ansatze.get(ansatz).shape(n, depth)
    angles = jnp.asarray(np.random.default_rng(3).uniform(0, 2 * np.pi, shape))
    value, reference = _loss_and_grad("default.qubit", angles, ansatz, n=n)
    v, grad = _loss_and_grad("jax", angles, ansatz, n=n)
    assert v == pytest.approx(float(value), rel=1e-10)
    assert jnp.linalg.norm(grad - reference) / jnp.linalg.norm(reference) < 1e-6


def test_the_in_place_backward_pass_holds_two_states_not_four(monkeypatch):
    """XLA's buffer plan of the reversible gradient at 12 qubits: whole-state passes hold psi and
    lambda twice (each gate writes beside its input), in place once plus chunks (2^8 here)."""
    state = 16 * 2**12
    whole = _temp_bytes("jax", 3, n=12) / state
    monkeypatch.setattr(qnn, "IN_PLACE_QUBITS", 12)
    monkeypatch.setattr(qnn, "CHUNK_QUBITS", 8)
    in_place = _temp_bytes("jax", 3, n=12) / state
    assert whole > 3.5 and in_place < 2.5, (whole, in_place)


def test_the_in_place_route_keeps_no_state_between_its_passes():
    """What the forward pass leaves for the backward pass (the leaves of ``jax.vjp``'s pullback):
    the angles and the final state whole-state; the angles alone in place, where the backward
    pass runs the forward pass again. Whatever runs between the passes (a QT step's mapping model
    and target network) then runs without a state beside it."""
    ry_cnot = qnn.ansatze.get("ry-cnot")
    angles = jnp.ones((L, N))
    for chunk_qubits, kept in [(None, [(L, N), (2**N,)]), (2, [(L, N)])]:  # the state flat
        pullback = jax.vjp(qnn._reversible(N, ry_cnot, chunk_qubits), angles)[1]
        assert [leaf.shape for leaf in jax.tree.leaves(pullback)] == kept


@pytest.mark.parametrize(
    "dtype, complex_dtype", [("float32", "complex64"), ("float64", "complex128")]
)
def test_precision_follows_the_angles_without_warnings(dtype, complex_dtype):
    """float32 angles run a complex64 state, float64 a complex128 one; nothing is truncated."""
    angles = jnp.asarray(np.random.default_rng(0).uniform(0, 2 * np.pi, (2, 3)))
    probs = qnn.probabilities(3, 2, "jax")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p, grad = probs(angles.astype(dtype)), jax.grad(lambda a: probs(a)[3])(angles.astype(dtype))
    assert p.dtype == grad.dtype == np.dtype(dtype)
    jaxpr = str(jax.make_jaxpr(probs)(angles.astype(dtype)))
    assert complex_dtype.replace("complex", "c") in jaxpr  # c64[2,2,2] / c128[2,2,2] states
    assert ("c128" if dtype == "float32" else "c64") not in jaxpr
    tolerance = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(p, qnn.probabilities(3, 2, "default.qubit")(angles), atol=tolerance)


def test_probabilities_form_a_distribution_and_match_across_devices(angles):
    p_dq = qnn.probabilities(N, L, "default.qubit")(angles)
    p_lq = qnn.probabilities(N, L, "lightning.qubit")(angles)
    assert p_dq.shape == (2**N,) and float(jnp.sum(p_dq)) == pytest.approx(1.0)
    np.testing.assert_allclose(p_dq, p_lq, atol=1e-12)


@pytest.mark.parametrize("profile", ["default.qubit", "jax"])
def test_zero_angles_leave_the_register_in_zero(profile):
    """RY(0) is the identity and CNOTs fix |0...0>: a check on wiring, not only on agreement."""
    p = qnn.probabilities(4, 2, profile)(jnp.zeros((2, 4)))
    np.testing.assert_allclose(p, np.eye(16)[0], atol=1e-12)


@pytest.mark.parametrize("profile", ["lightning.qubit", "jax"])
def test_a_single_ry_gives_the_textbook_distribution(profile):
    theta = 0.7
    angles = jnp.zeros((1, 3)).at[0, 2].set(theta)  # RY on the last (least significant) wire
    p = qnn.probabilities(3, 1, profile)(angles)
    # The CNOT ring maps |001> to |001> (wire 2 controls wire 0 last: |101>): follow it through.
    expected = np.zeros(8)
    expected[0], expected[0b101] = np.cos(theta / 2) ** 2, np.sin(theta / 2) ** 2
    np.testing.assert_allclose(p, expected, atol=1e-12)


def test_shots_estimate_the_probabilities_within_shot_noise(angles, tmp_path):
    path = tmp_path / "sampled.toml"
    path.write_text(
        'device = "default.qubit"\ngradient = "parameter-shift"\nshots = 20000\n'
        "[options]\nseed = 7\n"  # fixed seed: the 5-sigma band on 128 outcomes is checked once
    )
    exact = np.asarray(qnn.probabilities(N, L, "default.qubit")(angles))
    sampled = np.asarray(qnn.probabilities(N, L, devices.get(str(path)))(angles))
    # binomial standard error, floored at one count: tiny p_i are Poisson, not Gaussian
    stderr = np.maximum(np.sqrt(exact * (1 - exact) / 20000), 1 / 20000)
    assert np.all(np.abs(sampled - exact) <= 5 * stderr)
    assert not np.allclose(sampled, exact)  # it really sampled


def test_bad_sizes_are_refused():
    with pytest.raises(ValueError, match="n_qubits >= 1"):
        qnn.probabilities(0, 1, "default.qubit")
