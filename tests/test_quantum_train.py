import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hybrid import architecture, qnn
from hybrid.quantum_train import QuantumTrain, basis_bits


def test_qubits_and_trainable_parameters_follow_the_paper_cnn():
    model = QuantumTrain(tuple(architecture.QT_MNIST_CNN), (28, 28, 1), depth=20)
    assert (model.n_weights, model.n_qubits) == (6690, 13)
    mapping = (14 * 4 + 4) + (4 * 20 + 20) + (20 * 4 + 4) + (4 + 1)
    assert model.n_trainable() == 13 * 20 + mapping
    assert model.n_trainable() < model.n_weights / 4


def test_basis_bits_are_most_significant_first():
    np.testing.assert_array_equal(
        basis_bits(3, 6)[[0, 1, 5]], [[-1, -1, -1], [-1, -1, 1], [1, -1, 1]]
    )


def test_weights_are_generated_from_the_qnn_probabilities():
    """Changing an angle moves the generated weights; so the angles really drive the network."""
    model = QuantumTrain(tuple(architecture.mlp([6], 3)), (4,), depth=2, profile="default.qubit")
    params = model.init(jax.random.key(0))
    w = model.weights(params)
    assert w.shape == (model.n_weights,) and abs(float(jnp.mean(w))) < 1e-12
    moved = model.weights(params | {"angles": params["angles"].at[0, 0].add(0.3)})
    assert float(jnp.max(jnp.abs(moved - w))) > 1e-4
    grads = jax.grad(lambda p: jnp.sum(model.apply(p, jnp.ones((2, 4))) ** 2))(params)
    assert float(jnp.linalg.norm(grads["angles"])) > 0


def test_normalisation_is_the_reference_formula():
    model = QuantumTrain(tuple(architecture.mlp([6], 3)), (4,), depth=1)
    p = jnp.asarray([0.0, 1e-3, 0.5])
    x = (0.8 * np.tanh(0.1 * 2 ** (model.n_qubits - 1) * np.asarray(p))) ** 0.3
    np.testing.assert_allclose(model.normalise(p), x - x.mean(), atol=1e-7)
    assert np.all(np.isfinite(jax.grad(lambda q: jnp.sum(model.normalise(q)))(p)))


def test_a_custom_probability_function_can_be_plugged_in():
    calls = []

    def probs(angles):
        calls.append(angles.shape)
        return qnn.probabilities(6, 1, "default.qubit")(angles)

    model = QuantumTrain(tuple(architecture.mlp([6], 3)), (4,), depth=1, probs_fn=probs)
    model.weights(model.init(jax.random.key(1)))
    assert calls == [(1, 6)]


def test_mapping_activation_is_optional():
    model = QuantumTrain(tuple(architecture.mlp([6], 3)), (4,), depth=1, mapping_activation="relu")
    assert [layer["type"] for layer in model.mapping_layers] == [
        "dense",
        "relu",
        "dense",
        "relu",
        "dense",
        "relu",
        "dense",
    ]
    with pytest.raises(ValueError, match="mapping_activation"):
        QuantumTrain(tuple(architecture.mlp([6], 3)), (4,), mapping_activation="bogus")
    with pytest.raises(ValueError, match="depth"):
        QuantumTrain(tuple(architecture.mlp([6], 3)), (4,), depth=0)
