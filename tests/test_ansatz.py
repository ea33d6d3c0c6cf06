"""The reference ansatz u3-cu3: its gates are the authors' U3/CU3, every gradient route runs it,
and its parameter counts are the reference's."""

import jax
import jax.numpy as jnp
import numpy as np
import pennylane as qml
import pytest

from hybrid import devices
from hybrid.deploy import architecture
from hybrid.devices import resources
from hybrid.quantum_train import QuantumTrain, RandomFeatureControl, ansatz, qnn

THETA, PHI, LAM = 0.83, -1.27, 2.41


def torchquantum_u3(theta, phi, lam):
    """TorchQuantum's ``u3_matrix``, written out from its definition."""
    c, s = np.cos(theta / 2), np.sin(theta / 2)
    return np.array(
        [[c, -s * np.exp(1j * lam)], [s * np.exp(1j * phi), c * np.exp(1j * (phi + lam))]]
    )


def test_u3_gates_are_the_u3_matrix():
    ops = qml.tape.make_qscript(ansatz._u3)([LAM, THETA, PHI], 0).operations
    got = qml.matrix(qml.prod(*reversed(ops)), wire_order=[0])
    np.testing.assert_allclose(got, torchquantum_u3(THETA, PHI, LAM), atol=1e-12)
    np.testing.assert_allclose(got, qml.matrix(qml.U3(THETA, PHI, LAM, wires=0)), atol=1e-12)


@pytest.mark.parametrize(("control", "target"), [(0, 1), (1, 0)])
def test_cu3_decomposition_is_the_controlled_u3_matrix(control, target):
    """The three gates equal diag(1, U3) on (control, target), phases included."""
    ops = qml.tape.make_qscript(ansatz._cu3)([LAM, THETA, PHI], control, target).operations
    got = qml.matrix(qml.prod(*reversed(ops)), wire_order=[control, target])
    expected = np.eye(4, dtype=complex)
    expected[2:, 2:] = torchquantum_u3(THETA, PHI, LAM)
    np.testing.assert_allclose(got, expected, atol=1e-12)
    controlled = qml.ctrl(qml.U3(THETA, PHI, LAM, wires=target), control=control)
    np.testing.assert_allclose(
        got, qml.matrix(controlled, wire_order=[control, target]), atol=1e-12
    )


def test_block_is_u3_everywhere_then_the_cu3_ring_in_order():
    """Control k, target k+1 mod n, k = 0..n-1 (TorchQuantum's Op2QAllLayer, circular)."""
    n = 4
    angles = np.arange(6 * n, dtype=float) + 1
    ops = qml.tape.make_qscript(ansatz.u3_cu3)(angles, list(range(n))).operations
    assert len(ops) == 6 * n
    assert [op.name for op in ops[:3]] == ["PhaseShift", "RY", "PhaseShift"]
    ring = [tuple(op.wires) for op in ops[3 * n :: 3]]
    assert ring == [(0, 1), (1, 2), (2, 3), (3, 0)]
    # one gate parameter per angle, in the angle array's order (the adjoint route relies on it)
    assert [float(op.data[0]) for op in ops] == angles.tolist()


def test_angle_and_trainable_counts_are_the_reference_ones():
    assert qnn.n_angles(13, 1, "u3-cu3") == 78
    counts = [
        QuantumTrain(tuple(architecture.QT_MNIST_CNN), (28, 28, 1), depth=L, ansatz="u3-cu3")
        for L in (1, 4, 7, 10, 13, 16)
    ]
    assert [m.n_trainable() for m in counts] == [327, 561, 795, 1029, 1263, 1497]
    assert architecture.param_count(counts[-1].mapping_layers, (14,)) == 249
    control = RandomFeatureControl(
        tuple(architecture.QT_MNIST_CNN), (28, 28, 1), depth=16, ansatz="u3-cu3"
    )
    assert control.n_trainable() == 1497


def test_gradient_routes_agree_on_u3_cu3():
    """backprop (default.qubit), the reversible JAX route, adjoint-VJP (lightning.qubit) and
    parameter-shift: equal to 1e-6."""
    n, depth = 4, 2
    angles = jnp.asarray(np.random.default_rng(0).uniform(0, 2 * np.pi, (depth, 6 * n)))
    weights = jnp.asarray(np.random.default_rng(1).normal(size=2**n))

    def loss_and_grad(profile):
        probs = qnn.probabilities(n, depth, profile, "u3-cu3")
        return jax.jit(jax.value_and_grad(lambda a: jnp.sum(weights * probs(a) ** 2)))(angles)

    value, reference = loss_and_grad("default.qubit")
    assert float(jnp.linalg.norm(reference)) > 1e-3
    for profile in ("jax", "lightning.qubit", "lightning.qubit-ps"):
        v, grad = loss_and_grad(profile)
        assert float(v) == pytest.approx(float(value), rel=1e-10)
        assert float(jnp.linalg.norm(grad - reference) / jnp.linalg.norm(reference)) < 1e-6


def test_probabilities_match_pennylane_u3_and_controlled_u3():
    """The whole circuit against one built from qml.U3 and qml.ctrl(qml.U3) directly."""
    n, depth = 3, 2
    angles = np.random.default_rng(2).uniform(0, 2 * np.pi, (depth, 6 * n))

    @qml.qnode(qml.device("default.qubit", wires=n))
    def direct():
        for layer in angles:
            for q in range(n):
                lam, theta, phi = layer[3 * q : 3 * q + 3]
                qml.U3(theta, phi, lam, wires=q)
            for k in range(n):
                lam, theta, phi = layer[3 * n + 3 * k : 3 * n + 3 * k + 3]
                qml.ctrl(qml.U3(theta, phi, lam, wires=(k + 1) % n), control=k)
        return qml.probs(wires=range(n))

    got = qnn.probabilities(n, depth, "lightning.qubit", "u3-cu3")(jnp.asarray(angles))
    np.testing.assert_allclose(got, direct(), atol=1e-12)


def test_resource_report_counts_the_u3_cu3_gates():
    n, depth = 5, 3
    report = resources.circuit_resources(
        devices.get("default.qubit"), qnn.tape(n, depth, "u3-cu3"), n
    )
    assert report["gate_types"] == {
        "PhaseShift": 2 * n * depth,
        "RY": n * depth,
        "ControlledPhaseShift": 2 * n * depth,
        "CRY": n * depth,
    }
    assert report["two_qubit_gates"] == 3 * n * depth


def test_cli_offers_every_registered_ansatz():
    from hybrid import cli

    assert set(cli.ANSATZE) == set(ansatz.ANSATZE)
    args = cli.parser().parse_args(
        ["train", "quantum-train", "--dataset", "fashion_mnist", "--ansatz", "u3-cu3", "--control"]
    )
    assert (args.dataset, args.ansatz, args.control) == ("fashion_mnist", "u3-cu3", [])


def test_parameter_shift_cost_counts_four_circuits_per_cry_angle():
    """Per u3-cu3 block on n wires: 3n one-frequency angles (U3 as PhaseShift, RY, PhaseShift),
    and per controlled-U3 two one-frequency phases plus a CRY with two frequencies (four shifted
    circuits): 6n + 8n = 14n shifted circuits, plus the unshifted one."""
    count = resources.executions_per_step
    assert count("parameter-shift", qnn.tape(3, 1, "u3-cu3")) == 1 + 14 * 3
    assert count("parameter-shift", qnn.tape(4, 2, "ry-cnot")) == 1 + 2 * 4 * 2
    assert count("adjoint", qnn.tape(3, 1, "u3-cu3")) == 1
