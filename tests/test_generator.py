"""The Quantum-Train generator over any pytree: Flax NNX, Flax Linen, Equinox, a plain dict; the
built-in QuantumTrain as the same generator; chunks, scale, training and export."""

import importlib.util
import math
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hybrid import data, quantum_train, training
from hybrid.cli import main as cli_main
from hybrid.deploy import architecture, runs
from hybrid.deploy.classifier import NumpyClassifier
from hybrid.quantum_train import QuantumTrain, generator
from hybrid.quantum_train.generator import fan_in_gains, he_standardised

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
PROFILE = "default.qubit"


@pytest.fixture
def fashion_mnist(monkeypatch):
    if not (SHARED_DATA / "fashion_mnist" / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"Fashion-MNIST is not at {SHARED_DATA}")
    monkeypatch.setenv(data.DATA_DIR_ENV, str(SHARED_DATA))


def _plain_dict():
    rng = np.random.default_rng(0)
    template = {
        "dense": {"w": rng.normal(size=(5, 7)).astype(np.float32), "b": np.zeros(7, np.float32)},
        "out": {"w": rng.normal(size=(7, 3)), "b": np.zeros(3)},
    }

    def apply(w, x):
        h = jnp.tanh(x @ w["dense"]["w"] + w["dense"]["b"])
        return h @ w["out"]["w"] + w["out"]["b"]

    return template, apply, "last"


def _flax_nnx():
    nnx = pytest.importorskip("flax.nnx")

    class Net(nnx.Module):
        def __init__(self, rngs):
            self.conv = nnx.Conv(1, 3, (3, 3), padding="VALID", rngs=rngs)
            self.head = nnx.Linear(12, 3, rngs=rngs)

        def __call__(self, x):
            x = self.conv(x.reshape(-1, 4, 4, 1))
            return self.head(x.reshape(x.shape[0], -1))

    graphdef, params, rest = nnx.split(Net(nnx.Rngs(0)), nnx.Param, ...)
    return params, lambda w, x: nnx.merge(graphdef, w, rest)(x), "last"


def _flax_linen():
    nn = pytest.importorskip("flax.linen")
    model = nn.Sequential([nn.Dense(6), nn.relu, nn.Dense(3)])
    params = model.init(jax.random.key(0), jnp.ones((1, 5)))
    return params, model.apply, "last"


def _equinox():
    eqx = pytest.importorskip("equinox")
    mlp = eqx.nn.MLP(5, 3, 6, 1, key=jax.random.key(0))
    arrays, static = eqx.partition(mlp, eqx.is_inexact_array)
    return arrays, lambda w, x: jax.vmap(eqx.combine(w, static))(x), "first"


MODELS = {"dict": _plain_dict, "flax.nnx": _flax_nnx, "flax.linen": _flax_linen, "eqx": _equinox}


@pytest.mark.parametrize("kind", MODELS)
def test_generator_gives_the_templates_pytree_and_trains_its_angles(kind):
    template, apply, layout = MODELS[kind]()
    gen = generator(template, depth=1, profile=PROFILE, layout=layout)
    params = gen.init(jax.random.key(0))
    weights = gen.weights(params)
    assert jax.tree_util.tree_structure(weights) == jax.tree_util.tree_structure(template)
    for got, want in zip(
        jax.tree_util.tree_leaves(weights), jax.tree_util.tree_leaves(template), strict=True
    ):
        assert got.shape == want.shape and got.dtype == want.dtype
    m = sum(np.size(leaf) for leaf in jax.tree_util.tree_leaves(template))
    assert gen.n_weights == m and gen.n_qubits == math.ceil(math.log2(m))
    assert gen.n_trainable == sum(np.size(p) for p in jax.tree_util.tree_leaves(params))
    x = jnp.ones((2, 16 if kind == "flax.nnx" else 5))
    grads = jax.grad(lambda p: jnp.sum(apply(gen.weights(p), x) ** 2))(params)
    norm = float(jnp.linalg.norm(grads["angles"]))
    assert np.isfinite(norm) and norm > 0


def test_the_two_doors_agree_on_the_reference_cnn():
    """QuantumTrain on the stack and the generator on its parameter list: one code path, the same
    weights and logits for the same key."""
    layers, shape = architecture.QT_MNIST_CNN, (28, 28, 1)
    built_in = QuantumTrain(tuple(layers), shape, depth=2, profile="jax")
    template = [np.zeros(s) for s in architecture.param_shapes(layers, shape)]
    gen = generator(template, depth=2, profile="jax")
    key = jax.random.key(3)
    assert (gen.n_weights, gen.n_qubits, gen.n_trainable) == (6690, 13, built_in.n_trainable())
    flat = built_in.weights(built_in.init(key))
    leaves = gen.weights(gen.init(key))
    np.testing.assert_allclose(np.concatenate([np.ravel(w) for w in leaves]), flat, atol=1e-6)
    x = jax.random.uniform(jax.random.key(4), (3, 28, 28, 1))
    np.testing.assert_allclose(
        architecture.apply(layers, leaves, x, xp=jnp),
        built_in.apply(built_in.init(key), x),
        atol=1e-6,
    )


def test_chunks_share_one_qnn_and_tell_chunks_apart_by_bits():
    template = {"w": np.zeros((30, 10))}  # M = 300
    with pytest.raises(ValueError, match="3 chunks need a mapping_activation"):
        generator(template, depth=1, profile=PROFILE, chunks=4)
    gen = generator(template, depth=1, profile=PROFILE, chunks=4, mapping_activation="relu")
    assert gen.n_qubits == math.ceil(math.log2(300 / 4)) == 7
    assert gen.n_chunks == 3 and gen.n_bits == 9  # 7 qubits + 2 bits for 3 chunks
    params = gen.init(jax.random.key(0))
    assert params["angles"].shape == (1, 7) and params["mapping"][0].shape == (10, 4)
    w = np.ravel(gen.weights(params)["w"])
    # the chunk bits make the chunks differ, and by more than a constant
    assert np.std(w[:128] - w[128:256]) > 1e-3 * np.std(w)
    assert gen.n_trainable < generator(template, depth=1).n_trainable


def test_fan_in_scale_is_fixed_he_ratios_off_by_default():
    shapes = [(3, 3, 1, 8), (8,), (200, 10), (10,)]
    gains = fan_in_gains(shapes)
    assert gains[1] == gains[3] == 1.0  # vectors keep the generator's scale
    assert gains[0] / gains[2] == pytest.approx(math.sqrt(200 / 9))
    sizes = np.asarray([72, 200 * 10])
    assert np.sum(sizes * gains[[0, 2]] ** 2) / sizes.sum() == pytest.approx(1.0)
    template = [np.zeros(s) for s in shapes]
    off = generator(template, depth=1, profile=PROFILE)
    on = generator(template, depth=1, profile=PROFILE, scale="fan_in")
    params = off.init(jax.random.key(0))
    assert off.gains is None
    for a, b, g in zip(off.weights(params), on.weights(params), gains, strict=True):
        np.testing.assert_allclose(b, a * g, rtol=1e-12)
    with pytest.raises(ValueError, match="scale"):
        generator(template, depth=1, scale="lecun")


def test_he_scale_by_hand():
    # inputs (rows) [1, 2], [3, 5], [0, 4] of 2 units: minus each row's mean, [-.5, .5], [-1, 1],
    # [-2, 2]; minus each column's (-7/6, 7/6): [2/3, -2/3], [1/6, -1/6], [-5/6, 5/6], whose std
    # is sqrt(7/18); He's is sqrt(2 / fan_in) = sqrt(2/3)
    w = he_standardised(jnp.asarray([1.0, 2.0, 3.0, 5.0, 0.0, 4.0]), (3, 2))
    centred = np.asarray([2 / 3, -2 / 3, 1 / 6, -1 / 6, -5 / 6, 5 / 6])
    np.testing.assert_allclose(w, centred / math.sqrt(7 / 18) * math.sqrt(2 / 3), rtol=1e-6)
    # Equinox's (out, in): the same matrix transposed gives the same weights transposed
    w_first = he_standardised(jnp.asarray([1.0, 3.0, 0.0, 2.0, 5.0, 4.0]), (2, 3), "first")
    np.testing.assert_allclose(w_first, np.asarray(w).reshape(3, 2).T.ravel(), rtol=1e-6)
    np.testing.assert_array_equal(he_standardised(jnp.arange(3.0), (3,)), jnp.arange(3.0))


@pytest.mark.parametrize("activation", [None, "relu"])
def test_he_scale_keeps_a_deep_relu_stack_on_uncentred_inputs_in_bounds(activation):
    """Eight generated 64 x 64 ReLU layers on inputs in [0, 1] (std 0.29): with the part shared
    by a unit's inputs left in (each input's mean over units removed alone), each layer could
    multiply the scale by up to sqrt(64), and the output's std left these bounds by far."""
    template = [np.zeros((64, 64)) for _ in range(8)]
    gen = generator(template, depth=2, profile=PROFILE, scale="he", mapping_activation=activation)
    x = jax.random.uniform(jax.random.key(1), (256, 64))
    for seed in range(3):
        h = x
        for w in gen.weights(gen.init(jax.random.key(seed))):
            h = jax.nn.relu(h @ w)
        assert 1e-3 < float(jnp.std(h)) < 100, seed


def test_he_scale_fixes_every_matrix_and_keeps_vectors():
    shapes = [(3, 3, 1, 8), (8,), (200, 10), (10,)]
    template = [np.zeros(s) for s in shapes]
    off = generator(template, depth=2, profile=PROFILE)
    on = generator(template, depth=2, profile=PROFILE, scale="he")
    for seed in range(3):
        params = off.init(jax.random.key(seed))
        for shape, a, b in zip(shapes, off.weights(params), on.weights(params), strict=True):
            if len(shape) == 1:
                np.testing.assert_array_equal(a, b)
                continue
            q = np.asarray(b).reshape(-1, shape[-1])
            np.testing.assert_allclose(q.sum(axis=1), 0, atol=1e-5)  # no part shared by units
            np.testing.assert_allclose(q.sum(axis=0), 0, atol=1e-5)  # nor by a unit's inputs
            fan = math.prod(shape[:-1])
            assert np.std(q) == pytest.approx(math.sqrt(2 / fan), rel=1e-5)
    # the scale is fixed: doubling the mapping model's output layer changes no matrix
    doubled = {
        **params,
        "mapping": [*params["mapping"][:-2], *(2 * a for a in params["mapping"][-2:])],
    }
    for shape, a, b in zip(shapes, on.weights(params), on.weights(doubled), strict=True):
        if len(shape) > 1:
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_order_fills_leaves_in_the_order_given():
    template = {"b": np.zeros(3), "k": np.zeros((2, 3))}
    gen = generator(template, depth=1, profile=PROFILE, order=["k", "b"])
    stack = generator([np.zeros((2, 3)), np.zeros(3)], depth=1, profile=PROFILE)
    key = jax.random.key(0)
    ours, theirs = gen.weights(gen.init(key)), stack.weights(stack.init(key))
    np.testing.assert_allclose(ours["k"], theirs[0])
    np.testing.assert_allclose(ours["b"], theirs[1])
    assert list(gen.named(ours)) == ["k", "b"]


def _toy_data(tmp_path, n=48):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 5))
    np.savez(tmp_path / "toy.npz", x=x, y=(x[:, 0] > 0).astype(int) + (x[:, 1] > 1))
    path = tmp_path / "toy.npz"
    return data.load(path, "train"), data.load(path, "test")


def test_fit_generator_writes_a_weights_only_run_that_predict_refuses(tmp_path, capsys):
    safetensors = pytest.importorskip("safetensors.numpy")
    train, test = _toy_data(tmp_path)
    template, apply, _ = _plain_dict()
    gen = generator(template, depth=1, profile=PROFILE, mapping_hidden=(4,))
    out = tmp_path / "run"
    config = training.TrainConfig(epochs=1, batch_size=16)
    params, weights, history = quantum_train.fit_generator(
        gen, apply, train, test, config, out=out, progress=False
    )
    spec, arrays = runs.load_run(out)
    assert spec["kind"] == "weights" and spec["model"]["n_trainable"] == gen.n_trainable
    tensors = safetensors.load_file(out / runs.SAFETENSORS)
    assert set(tensors) == {"dense.w", "dense.b", "out.w", "out.b"}
    np.testing.assert_array_equal(tensors["dense.w"], np.asarray(weights["dense"]["w"]))
    assert tensors["dense.w"].dtype == np.float32
    back = quantum_train.load_weights(out, template)
    np.testing.assert_array_equal(back["out"]["b"], np.asarray(weights["out"]["b"]))
    capsys.readouterr()
    assert cli_main(["predict", str(out), "--data", str(tmp_path / "toy.npz")]) == 2
    err = capsys.readouterr().err.strip()
    assert "weights only" in err and len(err.splitlines()) == 1
    again = quantum_train.fit_generator(
        gen, apply, train, test, config, out=out, resume=True, progress=False
    )
    np.testing.assert_array_equal(again[0]["angles"], params["angles"])  # resumed, not retrained
    assert len(again[2]) == len(history)


def _example(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_equinox_example_exports_a_network_numpy_runs(tmp_path):
    pytest.importorskip("equinox")
    example = _example("quantum_train_equinox")
    out = tmp_path / "eqx"
    row = example.main(["--epochs", "1", "--depth", "1", "--device", PROFILE, "--out", str(out)])
    model = NumpyClassifier.load(out)
    test = data.load(example.IRIS, "test")
    assert model.score(test.raw, test.y) == pytest.approx(row["test_accuracy"])
    assert row["n_qubits"] == 9 and row["n_trainable"] == 9 + (10 * 8 + 8) + (8 + 1)


def test_flax_example_reference_cnn_matches_the_built_in_path():
    pytest.importorskip("flax")
    example = _example("quantum_train_flax")
    params, apply, layers, order = example.build("cnn")
    gen = generator(params, depth=2, profile="jax", order=order)
    built_in = QuantumTrain(tuple(layers), (28, 28, 1), depth=2, profile="jax")
    key = jax.random.key(5)
    named = gen.named(gen.weights(gen.init(key)))
    flat = np.concatenate([np.ravel(a) for a in named.values()])
    np.testing.assert_allclose(flat, built_in.weights(built_in.init(key)), atol=1e-6)
    x = jax.random.uniform(jax.random.key(6), (4, 28, 28, 1))
    np.testing.assert_allclose(
        apply(gen.weights(gen.init(key)), x), built_in.apply(built_in.init(key), x), atol=1e-5
    )


@pytest.mark.parametrize("model", ["cnn", "resnet"])
def test_flax_example_trains_and_exports(tmp_path, fashion_mnist, model):
    pytest.importorskip("flax")
    example = _example("quantum_train_flax")
    out = tmp_path / model
    argv = ["--model", model, "--width", "2", "--depth", "1", "--chunks", "2", "--limit", "256"]
    argv += ["--mapping-activation", "relu"]
    argv += ["--test-limit", "64", "--validation", "64", "--out", str(out), "--device", "jax"]
    row = example.main(argv)
    spec, _ = runs.load_run(out)
    assert spec["kind"] == ("network" if model == "cnn" else "weights")
    assert row["chunks"] == 2 and 0 <= row["test_accuracy"] <= 1
    if model == "cnn":
        test = data.load("fashion_mnist", "test", limit=64)
        held = NumpyClassifier.load(out)
        assert held.score(test.raw, test.y) == pytest.approx(row["test_accuracy"])
