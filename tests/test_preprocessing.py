"""The preprocessing record: the same arithmetic at training time and in the deployed classifier."""

import json
import subprocess
import sys

import numpy as np
import pytest

from hybrid.deploy import preprocessing


def test_scale_mean_std_per_feature():
    rng = np.random.default_rng(0)
    raw = rng.normal(3.0, 2.0, size=(50, 4))
    mean, std = raw.mean(0), raw.std(0)
    spec = preprocessing.make_spec([4], scale=1.0, mean=mean, std=std)
    x = preprocessing.apply(spec, raw)
    np.testing.assert_allclose(x, (raw - mean) / std, rtol=1e-12)
    np.testing.assert_allclose(x.mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(x.std(0), 1, atol=1e-12)


def test_scale_only_images_and_reshapes():
    raw = np.arange(2 * 28 * 28, dtype=np.int64).reshape(2, 28, 28) % 256
    spec = {"scale": 1 / 255, "mean": None, "std": None, "input_shape": [28, 28, 1]}
    x = preprocessing.apply(spec, raw)
    assert x.shape == (2, 28, 28, 1)
    np.testing.assert_allclose(x[..., 0], raw / 255)
    # With or without the channel axis, and one example alone, give the same inputs.
    np.testing.assert_array_equal(preprocessing.apply(spec, raw[..., None]), x)
    assert preprocessing.apply(spec, raw[0]).shape == (1, 28, 28, 1)
    np.testing.assert_array_equal(preprocessing.apply(spec, raw[1])[0], x[1])


@pytest.mark.parametrize(
    ("input_shape", "raw_shape"),
    [
        ([13], (36, 26)),  # 26 columns are not two 13-feature examples
        ([13], (72, 13, 2)),
        ([13], (26,)),
        ([28, 28, 1], (2, 784)),  # flattened images: refused rather than guessed
        ([28, 28, 1], (2, 28, 28, 3)),
        ([2, 2], (8,)),
    ],
)
def test_inputs_of_another_shape_are_refused_not_reshaped(input_shape, raw_shape):
    spec = preprocessing.make_spec(input_shape)
    with pytest.raises(ValueError, match="do not fit this model"):
        preprocessing.apply(spec, np.zeros(raw_shape))


def test_whole_input_and_scalar_statistics_broadcast():
    raw = np.arange(12.0).reshape(3, 2, 2)
    full = preprocessing.make_spec([2, 2], mean=np.arange(4.0), std=[2.0] * 4)
    expected = (raw - np.arange(4.0).reshape(2, 2)) / 2
    np.testing.assert_allclose(preprocessing.apply(full, raw), expected)
    scalar = preprocessing.make_spec([2, 2], scale=0.5, mean=[1.0])
    np.testing.assert_allclose(preprocessing.apply(scalar, raw), raw * 0.5 - 1)


def test_then_standardize_composes_with_the_data_set_spec():
    """One spec for "the data set's preprocessing, then (x - mean) / std" (per-feature base
    statistics, scalar or per-feature extra ones, and a base without statistics)."""
    rng = np.random.default_rng(1)
    raw = rng.normal(5.0, 3.0, size=(20, 4))
    base = preprocessing.make_spec([4], scale=0.5, mean=[1.0, 2.0, 3.0, 4.0], std=[1, 2, 3, 4])
    first = preprocessing.apply(base, raw)
    for mean, std in ((0.3, 1.7), (np.arange(4.0), np.arange(1.0, 5.0))):
        both = preprocessing.then_standardize(base, mean, std)
        np.testing.assert_allclose(preprocessing.apply(both, raw), (first - mean) / std, rtol=1e-12)
    images = preprocessing.make_spec([2, 2, 1], scale=1 / 255)
    both = preprocessing.then_standardize(images, 0.1, 0.3)
    assert both["mean"] == [0.1] and both["std"] == [0.3]
    pixels = np.arange(8).reshape(2, 2, 2, 1)
    expected = (preprocessing.apply(images, pixels) - 0.1) / 0.3
    np.testing.assert_allclose(preprocessing.apply(both, pixels), expected, rtol=1e-6)


def test_dtypes():
    spec = preprocessing.make_spec([3])
    assert preprocessing.apply(spec, np.zeros((1, 3), np.uint8)).dtype == np.float32
    assert preprocessing.apply(spec, np.zeros((1, 3), np.float32)).dtype == np.float32
    assert preprocessing.apply(spec, np.zeros((1, 3), np.int64)).dtype == np.float64
    assert preprocessing.apply(spec, np.zeros((1, 3))).dtype == np.float64


def test_spec_survives_json():
    spec = preprocessing.make_spec([2], mean=np.array([1.5, -2.0]), std=np.array([0.5, 3.0]))
    again = json.loads(json.dumps(spec))
    assert again == spec
    raw = np.array([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(preprocessing.apply(again, raw), preprocessing.apply(spec, raw))


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        (np.zeros((2, 5)), "do not fit"),
        (np.array([[1.0, np.nan, 0.0, 0.0]]), "NaN or infinite"),
        (np.array([[1.0, np.inf, 0.0, 0.0]]), "NaN or infinite"),
        (np.array([["a", "b", "c", "d"]]), "numeric"),
        (np.ones((1, 4), complex), "real"),
    ],
)
def test_bad_raw_inputs(raw, match):
    with pytest.raises(ValueError, match=match):
        preprocessing.apply(preprocessing.make_spec([4]), raw)


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ({"scale": 1.0, "mean": None, "input_shape": [2]}, "exactly the keys"),
        ({"scale": 1.0, "mean": None, "std": None, "input_shape": []}, "input_shape"),
        ({"scale": 1.0, "mean": None, "std": None, "input_shape": [0]}, "input_shape"),
        ({"scale": 1.0, "mean": None, "std": None, "input_shape": [2.0]}, "input_shape"),
        ({"scale": 0.0, "mean": None, "std": None, "input_shape": [2]}, "scale"),
        ({"scale": float("nan"), "mean": None, "std": None, "input_shape": [2]}, "scale"),
        ({"scale": 1.0, "mean": [1, 2, 3], "std": None, "input_shape": [2]}, "mean"),
        ({"scale": 1.0, "mean": [float("nan")], "std": None, "input_shape": [2]}, "mean"),
        ({"scale": 1.0, "mean": None, "std": [1.0, 0.0], "input_shape": [2]}, "positive"),
    ],
)
def test_bad_specs(spec, match):
    with pytest.raises(ValueError, match=match):
        preprocessing.apply(spec, np.zeros((1, 2)))


def test_imports_numpy_only():
    code = (
        "import sys; import hybrid.deploy.preprocessing; "
        "bad = [m for m in ('jax', 'pennylane', 'tensorflow_datasets') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
