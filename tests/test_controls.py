"""The controls beside Quantum-Train and the validation split they are compared on."""

import json
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hybrid import cli, data, quantum_train, training
from hybrid.deploy import architecture, runs
from hybrid.quantum_train import QuantumTrain, controls, load, qnn, run
from hybrid.quantum_train.controls import (
    BitsOnlyControl,
    FrozenQNN,
    MPSControl,
    RandomFeatureControl,
    RandomInputControl,
)
from hybrid.quantum_train.run import MODELS, _build

CNN = (tuple(architecture.QT_MNIST_CNN), (28, 28, 1))
TOY = (tuple(architecture.mlp([6], 3)), (4,))  # M = 51 weights, 6 qubits
MPS_TOLERANCE = 0.02  # of QT's trainable count: whole bonds cannot hit every count


def trainable(m, params) -> int:
    """The numbers the optimiser moves, counted from the params pytree and the model's mask."""
    mask = getattr(m, "trainable_mask", None)
    if mask is None:
        return controls.leaf_count(params)
    moved = jax.tree.map(lambda on, sub: on * controls.leaf_count(sub), mask(params), params)
    return sum(jax.tree.leaves(moved))


def test_the_cli_spells_the_controls_as_the_library():
    assert cli.CONTROLS == controls.CONTROLS
    assert set(controls.CONTROLS) < set(MODELS)
    assert quantum_train.RandomFeatureControl is RandomFeatureControl  # importable from the package


@pytest.mark.parametrize(
    ("shape", "ansatz", "depth"),
    [(CNN, "ry-cnot", 40), (CNN, "ry-cnot", 96), (CNN, "u3-cu3", 16), (TOY, "ry-cnot", 4)],
)
@pytest.mark.parametrize("name", controls.CONTROLS)
def test_each_control_has_qts_trainable_count(name, shape, ansatz, depth):
    """Counted from the params pytrees: exact for every control but mps (within MPS_TOLERANCE)
    and frozen-qnn, whose pytree is QT's but whose angles do not train (QT's count less them)."""
    qt = QuantumTrain(*shape, depth=depth, ansatz=ansatz)
    qt_params = qt.init(jax.random.key(0))
    assert controls.leaf_count(qt_params) == qt.n_trainable()
    ctrl = controls.build(name, *shape, seed=5, depth=depth, ansatz=ansatz)
    params = ctrl.init(jax.random.key(0))
    assert trainable(ctrl, params) == ctrl.n_trainable()
    if name == "mps":
        assert abs(ctrl.n_trainable() - qt.n_trainable()) <= MPS_TOLERANCE * qt.n_trainable()
    elif name == "frozen-qnn":
        assert controls.leaf_count(params) == qt.n_trainable()
        assert ctrl.n_trainable() == qt.n_trainable() - params["angles"].size
    else:
        assert ctrl.n_trainable() == qt.n_trainable()


def test_the_mps_count_is_stated_for_the_headline_settings():
    """The counts docs/quantum_train.md states."""
    got = [controls.build("mps", *CNN, depth=d, ansatz="ry-cnot").n_trainable() for d in (40, 96)]
    assert got == [761, 1481]


@pytest.mark.parametrize("name", ["random-input", "bits-only"])
def test_random_input_and_bits_only_see_no_qnn(name, monkeypatch):
    calls = []

    def probs(angles):
        calls.append(angles)
        raise AssertionError("a control without a QNN called one")

    monkeypatch.setattr(qnn, "probabilities", lambda *a, **k: probs)
    ctrl = controls.build(name, *TOY, depth=3, probs_fn=probs)
    params = ctrl.init(jax.random.key(1))
    assert set(params) == {"mapping"}  # no angles, no sites
    grads = jax.grad(lambda p: jnp.sum(ctrl.apply(p, jnp.ones((2, 4))) ** 2))(params)
    assert float(jnp.linalg.norm(jax.tree.leaves(grads)[0])) > 0  # the last bias is centred away
    assert calls == []


def test_random_input_is_fixed_by_the_seed_and_shaped_like_a_circuits_output():
    a = controls.porter_thomas(13, 0)
    assert a.sum() == pytest.approx(1.0) and np.array_equal(a, controls.porter_thomas(13, 0))
    assert not np.array_equal(a, controls.porter_thomas(13, 1))
    # Porter-Thomas: 2^n p is Exp(1), mean 1 and variance 1
    assert np.var(2**13 * a) == pytest.approx(1.0, abs=0.1)
    w0 = controls.build("random-input", *TOY, seed=0).weights
    w1 = controls.build("random-input", *TOY, seed=1).weights
    params = controls.build("random-input", *TOY).init(jax.random.key(0))
    assert float(jnp.max(jnp.abs(w0(params) - w1(params)))) > 1e-6


def test_the_runs_seed_draws_the_controls_random_parts():
    settings = {"depth": 2, "ansatz": "ry-cnot", "mapping_hidden": (4, 20, 4)}
    got = {
        kind: _build(kind, list(TOY[0]), TOY[1], settings, "auto", 7)
        for kind in ("random-features", "random-input")
    }
    assert got["random-features"][1].feature_seed == got["random-features"][2]["feature_seed"] == 7
    assert got["random-input"][1].input_seed == got["random-input"][2]["input_seed"] == 7
    assert got["random-input"][2]["device"] == "classical"


def test_mps_born_probabilities_follow_the_bit_order_and_train():
    """A bond-1 MPS is a product state: p(i) is the product of its sites' probabilities, site 0
    the most significant bit."""
    sites = [jnp.asarray([[[1.0], [0.0]]]), jnp.asarray([[[1.0], [3.0]]])]  # |0> (|0> + 3|1>)
    np.testing.assert_allclose(MPSControl.born(sites), [0.1, 0.9, 0.0, 0.0], atol=1e-7)
    ctrl = controls.build("mps", *TOY, depth=4)
    params = ctrl.init(jax.random.key(2))
    p = ctrl.born(params["sites"])
    assert p.shape == (2**ctrl.n_qubits,) and float(jnp.sum(p)) == pytest.approx(1.0)
    grads = jax.grad(lambda q: jnp.sum(ctrl.apply(q, jnp.ones((2, 4))) ** 2))(params)
    assert float(sum(jnp.linalg.norm(g) for g in grads["sites"])) > 0


def test_mps_starts_with_a_random_circuits_spread():
    """p_i 2^n of the initial MPS has std 1 (Porter-Thomas's), as the QNN's initial state, and
    no peak a random circuit would not give; the same key gives the same start."""
    ctrl = controls.build("mps", *CNN, depth=40)  # 13 sites
    for seed in range(3):
        sites = ctrl.init(jax.random.key(seed))["sites"]
        p = np.asarray(ctrl.born(sites)) * 2**ctrl.n_qubits
        assert np.std(p) == pytest.approx(1.0, rel=1e-3)
        assert p.max() < 30  # Porter-Thomas over 2^13 outcomes: about ln(2^13) = 9
    again = ctrl.init(jax.random.key(2))["sites"]
    for a, b in zip(sites, again, strict=True):
        np.testing.assert_array_equal(a, b)
    # the bisection's target: half the spread needs less noise
    noise = [jax.random.normal(jax.random.key(7), s) for s in ctrl.site_shapes]
    assert ctrl.noise_scale(noise, spread=0.5) < ctrl.noise_scale(noise, spread=1.0)
    with pytest.raises(ValueError, match="no noise size"):  # all-equal noise keeps p uniform
        ctrl.noise_scale([jnp.ones(s) for s in ctrl.site_shapes])


def test_frozen_qnn_leaves_the_angles_bit_identical_after_a_fit():
    """Even under AdamW, whose weight decay moves a parameter whose gradient is zero."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 64)
    x = rng.normal(size=(64, 4)) + np.eye(3, 4)[y] * 2
    ctrl = FrozenQNN(*TOY, depth=2, profile="default.qubit", mapping_hidden=(4,))
    config = training.TrainConfig(epochs=2, batch_size=16, optimizer="adamw", learning_rate=0.05)
    initial = ctrl.init(jax.random.key(config.seed))
    params, _ = training.fit(ctrl, (x, y), (x[:8], y[:8]), config, progress=False)
    assert np.asarray(params["angles"]).tobytes() == np.asarray(initial["angles"]).tobytes()
    moved = [
        not np.array_equal(a, b) for a, b in zip(params["mapping"], initial["mapping"], strict=True)
    ]
    assert all(moved)


def test_widened_hits_the_count_and_keeps_the_shape():
    hidden = controls.widened((4, 20, 4), 14, 1497)
    assert controls.dense_count(hidden, 14) == 1497
    assert all(h >= o for h, o in zip(hidden, (4, 20, 4), strict=True))
    assert hidden[1] == max(hidden)
    with pytest.raises(ValueError, match="already has more"):
        controls.widened((4, 20, 4), 14, 100)


# --------------------------------------------------------------------- the validation split


def test_the_validation_split_is_disjoint_stratified_and_reproducible():
    y = np.repeat(np.arange(4), [50, 30, 20, 100])
    val = data.validation_indices(y, 0.1, seed=3)
    assert np.array_equal(val, data.validation_indices(y, 0.1, seed=3))
    assert not np.array_equal(val, data.validation_indices(y, 0.1, seed=4))
    assert np.bincount(y[val]).tolist() == [5, 3, 2, 10]
    iris = data.load("iris", "train")
    train, held = data.split_validation(iris, 0.25, seed=3)
    rows = {tuple(r) for r in train.raw}
    assert not rows & {tuple(r) for r in held.raw}
    assert len(train) + len(held) == len(iris) and np.bincount(held.y).tolist() == [10, 10, 10]
    assert data.split_validation(iris, 0.0, seed=3) == (iris, None)
    assert data.default_val_fraction("fashion_mnist") == data.default_val_fraction("mnist") == 0.1
    assert data.default_val_fraction("iris") == data.default_val_fraction("my.npz") == 0.0


def test_the_test_set_is_read_once_per_run_and_validation_every_epoch(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    path = tmp_path / "toy.npz"
    np.savez(
        path,
        x=rng.normal(size=(60, 4)),
        y=np.arange(60) % 3,
        x_test=rng.normal(size=(12, 4)),
        y_test=np.arange(12) % 3,
    )
    loads, evaluated = [], []
    load, evaluate = data.load, training.evaluate
    monkeypatch.setattr(data, "load", lambda *a, **k: loads.append(a[1]) or load(*a, **k))

    def counting(apply, params, x, y, batch=1000):
        evaluated.append(len(x))
        return evaluate(apply, params, x, y, batch)

    monkeypatch.setattr(training, "evaluate", counting)
    report = run(
        str(path),
        tmp_path / "run",
        models=("bits-only", "random-input", "classical"),
        layers=list(TOY[0]),
        depth=2,
        mapping_hidden=(4,),
        val_fraction=0.2,
        config=training.TrainConfig(epochs=3, batch_size=16),
        progress=False,
    )
    assert loads.count("test") == 1 and report["n_val"] == 12 and report["n_train"] == 48
    assert evaluated.count(12) == 3 * 3 + 3  # validation every epoch, test once, per model
    for kind, row in report["runs"].items():
        assert {"val_accuracy", "val_loss", "test_accuracy", "test_loss"} <= set(row), kind
    history = json.loads((tmp_path / "run" / runs.METRICS).read_text())["history"]
    assert all("val_accuracy" in r for r in history)
    assert ["test_accuracy" in r for r in history] == [False, False, True]
    spec = json.loads((tmp_path / "run" / runs.SPEC).read_text())
    assert {"val_accuracy", "test_accuracy"} <= set(spec["metrics"])
    assert spec["dataset"]["n_val"] == 12


def test_a_control_run_loads_back(tmp_path):
    rng = np.random.default_rng(1)
    path = tmp_path / "toy.npz"
    np.savez(path, x=rng.normal(size=(40, 4)), y=np.arange(40) % 3)
    run(
        str(path),
        tmp_path / "run",
        models=("mps",),
        layers=list(TOY[0]),
        depth=3,
        mapping_hidden=(4,),
        config=training.TrainConfig(epochs=1, batch_size=16, seed=2),
        progress=False,
    )
    loaded, params = load(tmp_path / "run", "default.qubit")
    assert isinstance(loaded, MPSControl) and set(params) == {"sites", "mapping"}
    with np.load(tmp_path / "run" / runs.WEIGHTS) as saved:
        exported = np.concatenate([saved[f"w{i}"].ravel() for i in range(len(saved.files))])
    np.testing.assert_allclose(exported, np.asarray(loaded.weights(params)), rtol=1e-5, atol=1e-6)


def test_control_classes_are_quantum_train_models():
    for cls in (RandomFeatureControl, RandomInputControl, BitsOnlyControl, MPSControl, FrozenQNN):
        assert issubclass(cls, QuantumTrain) and cls.__doc__.startswith("Asks")


def test_a_linear_mapping_model_moves_the_weights_in_bits_plus_two_directions_at_most():
    """benchmarks/generator_rank.py on the toy net (6 bits): without activations the mapping model
    is one affine map of (bits of i, x_i), so random-input and bits-only, widened to QT's count,
    still move the weights in at most 6 + 2 directions; QT adds at most its angles' count."""
    sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
    try:
        from generator_rank import rank
    finally:
        sys.path.pop(0)
    key = jax.random.key(0)
    qt = QuantumTrain(*TOY, depth=4, profile="jax")
    qt_rank, qt_count = rank(qt, key)
    angles = qt.init(key)["angles"].size
    for name in ("random-input", "bits-only"):
        got, count = rank(controls.build(name, *TOY, depth=4, profile="jax"), key)
        assert count == qt_count and got <= 6 + 2 < count
    assert 6 + 2 < qt_rank <= angles + 6 + 2
