"""The layers real small nets use (GELU, dropout, global average pooling, layer and batch norm,
residual blocks): NumPy equals JAX, shapes and counts agree, text round-trips, exports predict."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hybrid.deploy import architecture as arch
from hybrid.deploy import preprocessing, runs
from hybrid.deploy.classifier import NumpyClassifier

# (text form, input shape): one small net per new layer, each ending in 3 logits.
NETS = {
    "gelu": ("dense:6,gelu,dense:3", (4,)),
    "gelu-tanh": ("dense:6,gelu:tanh,dense:3", (4,)),
    "dropout": ("dense:6,dropout:0.5,relu,dense:3", (4,)),
    "globalavgpool": ("conv:4:3,relu,globalavgpool,dense:3", (6, 6, 2)),
    "layernorm-dense": ("dense:6,layernorm,relu,dense:3", (4,)),
    "layernorm-conv": ("conv:4:3:same,layernorm:1e-05,relu,flatten,dense:3", (5, 5, 2)),
    "batchnorm-conv": ("conv:4:3:same,batchnorm,relu,flatten,dense:3", (5, 5, 2)),
    "batchnorm-dense": ("dense:6,batchnorm:0.001,tanh,dense:3", (4,)),
    "residual-conv": (
        "conv:4:3:same,residual(conv:4:3:same,relu,conv:4:3:same),globalavgpool,dense:3",
        (6, 6, 2),
    ),
    "residual-nested": ("dense:5,residual(dense:5,residual(layernorm,dense:5,gelu)),dense:3", (4,)),
}


def _random_weights(layers, input_shape, seed=0) -> np.ndarray:
    """Random weights everywhere, running statistics included, so every array matters."""
    return np.random.default_rng(seed).normal(size=arch.param_count(layers, input_shape))


def _both(layers, input_shape, weights, x):
    np_out = arch.apply(layers, arch.unflatten(weights, layers, input_shape), x)
    jax_params = arch.unflatten(jnp.asarray(weights), layers, input_shape)
    jax_out = jax.jit(lambda p, x: arch.apply(layers, p, x, xp=jnp))(jax_params, jnp.asarray(x))
    assert jax_out.dtype == jnp.float64
    return np_out, np.asarray(jax_out)


@pytest.mark.parametrize("name", NETS)
def test_numpy_and_jax_agree(name):
    text, shape = NETS[name]
    layers = arch.parse(text)
    x = np.random.default_rng(1).normal(size=(7, *shape))
    np_out, jax_out = _both(layers, shape, _random_weights(layers, shape), x)
    assert np_out.shape == (7, *arch.output_shape(layers, shape)) == (7, 3)
    np.testing.assert_allclose(np_out, jax_out, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", NETS)
def test_shapes_counts_names_and_init_agree(name):
    text, shape = NETS[name]
    layers = arch.parse(text)
    shapes = arch.param_shapes(layers, shape)
    params = arch.init_params(np.random.default_rng(0), layers, shape)
    assert [p.shape for p in params] == shapes
    assert len(arch.param_names(layers, shape)) == len(shapes)
    assert arch.param_count(layers, shape) == sum(p.size for p in params)
    flat = np.concatenate([p.ravel() for p in params])
    back = arch.unflatten(flat, layers, shape)
    assert all(np.array_equal(a, b) for a, b in zip(back, params, strict=True))
    consumed = iter(params)
    arch._run(layers, consumed, np.zeros((1, *shape)), np)
    assert next(consumed, None) is None  # apply uses every array, no more


@pytest.mark.parametrize("name", NETS)
def test_text_form_round_trips(name):
    text, _ = NETS[name]
    layers = arch.parse(text)
    assert arch.to_text(layers) == text
    assert arch.parse(arch.to_text(layers)) == layers


def _exported(path, layers, shape, weights, class_names) -> NumpyClassifier:
    """The network saved as a run directory and loaded back by the NumPy classifier."""
    preprocessing_spec = preprocessing.make_spec(shape)
    runs.save_network(
        path, layers, shape, weights, preprocessing=preprocessing_spec, class_names=class_names
    )
    return NumpyClassifier.load(path)


@pytest.mark.parametrize("name", NETS)
def test_exported_run_predicts_what_jax_computes(name, tmp_path):
    text, shape = NETS[name]
    layers = arch.parse(text)
    weights = _random_weights(layers, shape, seed=2)
    x = np.random.default_rng(3).normal(size=(40, *shape))
    y = np.random.default_rng(4).integers(0, 3, size=40)
    _, logits = _both(layers, shape, weights, x)
    trained_accuracy = float(np.mean(logits.argmax(1) == y))
    clf = _exported(tmp_path, layers, shape, weights, ["a", "b", "c"])
    np.testing.assert_array_equal(clf.predict(x), logits.argmax(1))
    assert clf.score(x, y) == trained_accuracy


def test_small_resnet_has_100k_to_300k_weights_and_runs_alike(tmp_path):
    layers, shape = arch.resnet(width=16, outputs=10), (28, 28, 1)
    assert arch.param_count(layers, shape) == 122_282
    assert arch.output_shape(layers, shape) == (10,)
    kinds = {layer["type"] for layer in layers}
    assert {"conv", "batchnorm", "relu", "residual", "globalavgpool", "dense"} <= kinds
    assert arch.parse(arch.to_text(layers)) == layers
    weights = np.concatenate(
        [p.ravel() for p in arch.init_params(np.random.default_rng(0), layers, shape)]
    )
    x = np.random.default_rng(1).uniform(size=(6, *shape))
    np_out, jax_out = _both(layers, shape, weights, x)
    np.testing.assert_allclose(np_out, jax_out, rtol=1e-6, atol=1e-6)
    clf = _exported(tmp_path, layers, shape, weights, [str(i) for i in range(10)])
    np.testing.assert_array_equal(clf.predict(x), jax_out.argmax(1))


def test_gelu_is_jax_gelu():
    x = np.linspace(-6, 6, 101)
    exact = arch.apply([{"type": "gelu"}], [], x)
    tanh = arch.apply(arch.parse("gelu:tanh"), [], x)
    np.testing.assert_allclose(exact, jax.nn.gelu(x, approximate=False), atol=1e-12)
    np.testing.assert_allclose(tanh, jax.nn.gelu(x, approximate=True), atol=1e-12)


def test_dropout_and_globalavgpool():
    x = np.random.default_rng(0).normal(size=(2, 3, 4, 5))
    np.testing.assert_array_equal(arch.apply(arch.parse("dropout:0.9"), [], x), x)
    np.testing.assert_allclose(arch.apply(arch.parse("globalavgpool"), [], x), x.mean((1, 2)))


def test_residual_adds_the_block_to_its_input():
    layers = arch.parse("residual(dense:3,tanh)")
    w, b = np.eye(3) * 2, np.ones(3)
    x = np.random.default_rng(0).normal(size=(4, 3))
    np.testing.assert_allclose(arch.apply(layers, [w, b], x), x + np.tanh(x @ w + b))


def test_norms_match_flax():
    nnx = pytest.importorskip("flax.nnx")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 4, 4, 5))
    scale, bias, mean, var = (
        rng.normal(size=5),
        rng.normal(size=5),
        rng.normal(size=5),
        rng.uniform(0.1, 2, 5),
    )
    ln = nnx.LayerNorm(5, rngs=nnx.Rngs(0), param_dtype=jnp.float64)
    bn = nnx.BatchNorm(5, use_running_average=True, rngs=nnx.Rngs(0), param_dtype=jnp.float64)
    ln.scale[...], ln.bias[...] = jnp.asarray(scale), jnp.asarray(bias)
    bn.scale[...], bn.bias[...] = jnp.asarray(scale), jnp.asarray(bias)
    bn.mean.set_value(jnp.asarray(mean))  # batch statistics are float32 in Flax
    bn.var.set_value(jnp.asarray(var))
    ours_ln = arch.apply(arch.parse("layernorm"), [scale, bias], x)
    ours_bn = arch.apply(arch.parse("batchnorm"), [scale, bias, mean, var], x)
    np.testing.assert_allclose(ours_ln, ln(jnp.asarray(x)), atol=1e-6)
    np.testing.assert_allclose(ours_bn, bn(jnp.asarray(x)), atol=1e-6)


def test_batchnorm_statistics_are_trainable_weights_that_stay_finite():
    layers, shape = arch.parse("dense:4,batchnorm,dense:2"), (3,)
    names = arch.param_names(layers, shape)
    assert names[2:6] == [f"1.batchnorm.{r}" for r in ("scale", "bias", "mean", "var")]
    weights = jnp.asarray(_random_weights(layers, shape))
    var = sum(int(np.prod(s)) for s in arch.param_shapes(layers, shape)[:5])
    weights = weights.at[var : var + 4].set(jnp.asarray([-1.0, 0.0, 0.5, 2.0]))
    x = jnp.ones((2, 3))

    def loss(w):
        return jnp.sum(arch.apply(layers, arch.unflatten(w, layers, shape), x, xp=jnp) ** 2)

    grad = jax.grad(loss)(weights)
    assert np.all(np.isfinite(grad)) and np.any(grad[var : var + 4] != 0)
    init = arch.init_params(np.random.default_rng(0), layers, shape)
    np.testing.assert_array_equal(init[3:6], [np.zeros(4), np.zeros(4), np.ones(4)])


@pytest.mark.parametrize(
    "layers, shape, message",
    [
        (arch.parse("residual(dense:4)"), (3,), "must keep the shape"),
        (arch.parse("globalavgpool"), (3,), "needs \\(H, W, C\\)"),
        ([{"type": "dropout", "rate": 1.0}], (3,), "dropout rate"),
        ([{"type": "layernorm", "eps": 0}], (3,), "eps must be positive"),
        ([{"type": "residual", "layers": []}], (3,), "non-empty 'layers'"),
        ([{"type": "residual", "layers": [{"type": "lstm"}]}], (3,), "unknown layer"),
    ],
)
def test_bad_new_layers_are_refused(layers, shape, message):
    with pytest.raises(ValueError, match=message):
        arch.param_shapes(layers, shape)


@pytest.mark.parametrize(
    "text", ["residual(dense:3", "dense:3)", "residual()", "gelu:erf", "dropout", "layernorm:1:2"]
)
def test_parse_rejects_bad_new_layers(text):
    with pytest.raises(ValueError, match="unbalanced|cannot read|empty"):
        arch.parse(text)
