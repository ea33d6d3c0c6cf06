import importlib
from dataclasses import replace

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hybrid import training
from hybrid.deploy import architecture
from hybrid.quantum_train import (
    Classical,
    QuantumTrain,
    RandomFeatureControl,
    basis_bits,
    load,
    qnn,
    run,
)


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


@pytest.mark.parametrize(
    ("activation", "rows", "chunks"), [(None, 7, 64), ("tanh", 7, 64), (None, 1, 4)]
)
def test_mapping_model_in_chunks_is_the_mapping_model_on_all_rows(
    monkeypatch, activation, rows, chunks
):
    """``mapped`` in chunks (of 7 rows, or 4 chunks; the last one padded) against the mapping
    model applied to the whole (bits, x) matrix at once, the bits from ``basis_bits``: values and
    gradients."""
    model = QuantumTrain(
        tuple(architecture.mlp([6], 3)), (4,), depth=1, mapping_activation=activation
    )
    params = model.init(jax.random.key(1))
    x = jax.random.normal(jax.random.key(2), (model.n_weights,))

    def whole(mapping, x):
        bits = jnp.asarray(basis_bits(model.n_qubits, model.n_weights), x.dtype)
        rows = jnp.concatenate([bits, x[:, None]], 1)
        return architecture.apply(model.mapping_layers, mapping, rows, xp=jnp)[:, 0]

    def loss(f):
        return lambda mapping, x: jnp.sum(jnp.sin(f(mapping, x)))

    expected, expected_grads = whole(params["mapping"], x), jax.grad(loss(whole), (0, 1))
    where = importlib.import_module("hybrid.quantum_train.generator")  # the module
    monkeypatch.setattr(where, "MAPPING_ROWS", rows)
    monkeypatch.setattr(where, "MAPPING_CHUNKS", chunks)
    chunk = max(rows, -(-model.n_weights // chunks))
    assert model.n_weights % chunk and model.n_weights > 2 * chunk  # the last chunk is short
    np.testing.assert_allclose(model.mapped(params["mapping"], x), expected, rtol=1e-12)
    got = jax.grad(loss(model.mapped), (0, 1))(params["mapping"], x)
    want = jax.tree.leaves(expected_grads(params["mapping"], x))
    for g, e in zip(jax.tree.leaves(got), want, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-12)


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


def test_control_has_qts_count_and_a_classical_distribution():
    """The control differs from QT only in where p comes from: same count, p a distribution."""
    layers = tuple(architecture.mlp([6], 3))
    qt = QuantumTrain(layers, (4,), depth=2, ansatz="u3-cu3", profile="default.qubit")
    control = RandomFeatureControl(layers, (4,), depth=2, ansatz="u3-cu3")
    mapping = architecture.param_count(qt.mapping_layers, (qt.n_qubits + 1,))
    assert control.n_trainable() == qt.n_trainable() == 2 * 6 * qt.n_qubits + mapping
    params = control.init(jax.random.key(0))
    assert params["angles"].shape == qt.init(jax.random.key(0))["angles"].shape
    p = control.probabilities(params["angles"])
    assert p.shape == (2**qt.n_qubits,) and float(jnp.sum(p)) == pytest.approx(1.0)
    other = replace(control, feature_seed=1).probabilities(params["angles"])
    assert float(jnp.max(jnp.abs(other - p))) > 1e-4  # the features are fixed by the seed
    grads = jax.grad(lambda q: jnp.sum(control.apply(q, jnp.ones((2, 4))) ** 2))(params)
    assert float(jnp.linalg.norm(grads["angles"])) > 0


def test_evaluate_is_the_mean_cross_entropy_and_accuracy():
    model = Classical(tuple(architecture.mlp([5], 3)), (4,))
    params = model.init(jax.random.key(0))
    x = np.random.default_rng(0).normal(size=(7, 4))
    y = np.array([0, 1, 2, 0, 1, 2, 0])
    logits = model.apply(params, jnp.asarray(x))
    got = training.evaluate(model.apply, params, x, y, batch=3)  # a ragged last batch
    assert got["loss"] == pytest.approx(float(training.cross_entropy(logits, jnp.asarray(y))))
    assert got["accuracy"] == pytest.approx(float(np.mean(np.argmax(logits, -1) == y)))


@pytest.mark.parametrize("control", [False, True])
def test_run_records_ansatz_control_and_losses(tmp_path, control):
    rng = np.random.default_rng(0)
    path = tmp_path / "toy.npz"
    np.savez(path, x=rng.normal(size=(40, 4)), y=np.arange(40) % 3)
    report = run(
        str(path),
        tmp_path / "run",
        depth=1,
        device="lightning.qubit",  # no XLA compilation of the circuit: the fast route to test
        layers=architecture.mlp([4], 3),
        ansatz="u3-cu3",
        mapping_hidden=(4,),
        models=("random-features" if control else "quantum-train",),
        config=training.TrainConfig(epochs=1, batch_size=16),
        progress=False,
    )
    ((kind, result),) = report["runs"].items()
    assert kind == ("random-features" if control else "quantum-train")
    assert result["ansatz"] == "u3-cu3" and result["epochs_run"] == 1
    assert {"train_loss", "test_loss", "train_accuracy", "test_accuracy"} <= set(result)
    model, params = load(tmp_path / "run", "default.qubit")
    assert isinstance(model, RandomFeatureControl) == control and model.ansatz == "u3-cu3"
    assert model.n_trainable() == result["n_trainable"]
