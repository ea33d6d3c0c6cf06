import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hybrid.deploy import architecture as arch


def test_paper_cnn_has_6690_weights_and_needs_13_qubits():
    assert arch.param_count(arch.QT_MNIST_CNN, (28, 28, 1)) == 6690
    assert arch.output_shape(arch.QT_MNIST_CNN, (28, 28, 1)) == (10,)


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_conv_matches_xla_convolution(padding):
    rng = np.random.default_rng(0)
    x, w, b = rng.normal(size=(2, 9, 8, 3)), rng.normal(size=(3, 3, 3, 4)), rng.normal(size=4)
    ours = arch.apply([{"type": "conv", "filters": 4, "kernel": 3, "padding": padding}], [w, b], x)
    ref = (
        jax.lax.conv_general_dilated(
            x, w, (1, 1), padding.upper(), dimension_numbers=("NHWC", "HWIO", "NHWC")
        )
        + b
    )
    np.testing.assert_allclose(ours, ref, atol=1e-12)


def test_pooling_and_flatten():
    x = np.arange(2 * 4 * 4 * 1, dtype=float).reshape(2, 4, 4, 1)
    mx = arch.apply([{"type": "maxpool", "size": 2}], [], x)
    av = arch.apply([{"type": "avgpool", "size": 2}, {"type": "flatten"}], [], x)
    np.testing.assert_array_equal(mx[0, :, :, 0], [[5, 7], [13, 15]])
    np.testing.assert_array_equal(av[0], [2.5, 4.5, 10.5, 12.5])


def test_numpy_and_jax_run_the_same_network():
    layers = arch.parse(
        "conv:4:3:same,relu,avgpool:2,conv:3:3,tanh,maxpool:2,flatten,"
        "dense:5,sigmoid,dense:6,erf,dense:3"
    )
    params = arch.init_params(np.random.default_rng(1), layers, (12, 12, 2))
    x = np.random.default_rng(2).normal(size=(7, 12, 12, 2))
    np_out = arch.apply(layers, params, x)
    jax_out = jax.jit(lambda p, x: arch.apply(layers, p, x, xp=jnp))(params, x)
    np.testing.assert_allclose(np_out, jax_out, rtol=1e-10, atol=1e-12)


def test_unflatten_round_trips_a_flat_vector():
    layers = arch.mlp([5], 3)
    flat = np.arange(arch.param_count(layers, (4,)), dtype=float)
    params = arch.unflatten(flat, layers, (4,))
    assert [p.shape for p in params] == [(4, 5), (5,), (5, 3), (3,)]
    np.testing.assert_array_equal(np.concatenate([p.ravel() for p in params]), flat)
    with pytest.raises(ValueError, match="need 43 weights"):
        arch.unflatten(flat[:10], layers, (4,))


@pytest.mark.parametrize(
    "text, message",
    [
        ("dense", "cannot read layer"),
        ("conv:3", "cannot read layer"),
        ("bogus:1", "cannot read"),
        ("", "empty"),
        ("residual(dense:3", "unbalanced"),
        ("residual()", "cannot read layer"),
        ("dropout", "cannot read layer"),
    ],
)
def test_parse_rejects_bad_stacks(text, message):
    with pytest.raises(ValueError, match=message):
        arch.parse(text)


def test_shape_errors_are_clear():
    with pytest.raises(ValueError, match="does not fit"):
        arch.param_shapes([{"type": "conv", "filters": 2, "kernel": 5}], (3, 3, 1))
    with pytest.raises(ValueError, match="unknown layer"):
        arch.param_shapes([{"type": "lstm"}], (3,))
    with pytest.raises(ValueError, match="needs \\(H, W, C\\)"):
        arch.param_shapes([{"type": "conv", "filters": 2, "kernel": 1}], (3,))


def test_softmax_is_stable_for_large_logits():
    p = arch.softmax(np.array([[1000.0, 0.0], [-1000.0, -1000.0]]))
    np.testing.assert_allclose(p, [[1, 0], [0.5, 0.5]])
