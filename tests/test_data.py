"""Data loading: every source, the fixed splits, the preprocessing record, and every error path."""

import gzip
import json
import os
import subprocess
import sys
import warnings
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from hybrid import data
from hybrid.data import images as data_images
from hybrid.deploy import preprocessing

MNIST_DIR = Path(__file__).parents[2] / "shared" / "data" / "mnist"
needs_mnist = pytest.mark.skipif(
    not (MNIST_DIR / "t10k-images-idx3-ubyte.gz").is_file(),
    reason=f"real MNIST IDX files not found at {MNIST_DIR} (clone shared/ beside the repo)",
)

# Per-class counts of the fixed offline split, as docs/data.md lists them: a change here means
# the split changed.
OFFLINE_TRAIN_COUNTS = [762, 929, 833, 807, 787, 707, 738, 818, 787, 832]
OFFLINE_TEST_COUNTS = [218, 206, 199, 203, 195, 185, 220, 210, 187, 177]


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    """Tests decide the MNIST source themselves: no env var and no network probe by default."""
    monkeypatch.delenv(data.DATA_DIR_ENV, raising=False)
    monkeypatch.setattr(data_images, "reachable", lambda *a, **k: False)


def write_idx(path: Path, array: np.ndarray, magic: int | None = None) -> Path:
    """Write an IDX file (gzipped if the name ends in .gz), as the official MNIST files are."""
    array = np.asarray(array, np.uint8)
    magic = magic if magic is not None else (2051 if array.ndim == 3 else 2049)
    blob = b"".join(int(v).to_bytes(4, "big") for v in (magic, *array.shape)) + array.tobytes()
    path.write_bytes(gzip.compress(blob) if path.suffix == ".gz" else blob)
    return path


def read_t10k() -> tuple[np.ndarray, np.ndarray]:
    """The official test set parsed independently of hybrid.data (fixed 16/8-byte headers)."""
    images = gzip.decompress((MNIST_DIR / "t10k-images-idx3-ubyte.gz").read_bytes())
    labels = gzip.decompress((MNIST_DIR / "t10k-labels-idx1-ubyte.gz").read_bytes())
    return (
        np.frombuffer(images, np.uint8, offset=16).reshape(10_000, 28, 28, 1),
        np.frombuffer(labels, np.uint8, offset=8),
    )


def quiet_load(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", data.SampleDataWarning)
        return data.load(*args, **kwargs)


# --------------------------------------------------------------------------- MNIST, IDX


@pytest.fixture(scope="module")
def offline():
    if not (MNIST_DIR / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"real MNIST IDX files not found at {MNIST_DIR}")
    return {s: data.load("mnist", s, data_dir=MNIST_DIR) for s in ("train", "test")}


@needs_mnist
def test_offline_split_sizes_and_counts(offline):
    train, test = offline["train"], offline["test"]
    assert (len(train), len(test)) == (8000, 2000)
    assert train.source == test.source == "idx"
    assert train.raw.dtype == np.uint8 and train.raw.shape == (8000, 28, 28, 1)
    assert train.x.shape == (8000, 28, 28, 1) and train.x.dtype == np.float32
    assert train.class_names == tuple("0123456789")
    assert np.bincount(train.y, minlength=10).tolist() == OFFLINE_TRAIN_COUNTS
    assert np.bincount(test.y, minlength=10).tolist() == OFFLINE_TEST_COUNTS


@needs_mnist
def test_offline_split_is_the_documented_permutation_and_disjoint(offline):
    train_idx, test_idx = data.mnist_offline_split()
    # Pinned so that a NumPy change to the Generator stream cannot silently move the split.
    assert train_idx[:5].tolist() == [5170, 4618, 920, 1891, 7098]
    assert test_idx[:5].tolist() == [1323, 580, 327, 3704, 8823]
    assert np.intersect1d(train_idx, test_idx).size == 0
    assert np.union1d(train_idx, test_idx).tolist() == list(range(10_000))
    images, labels = read_t10k()
    np.testing.assert_array_equal(offline["train"].raw, images[train_idx])
    np.testing.assert_array_equal(offline["test"].y, labels[test_idx])


@needs_mnist
def test_offline_split_is_deterministic(offline):
    again = data.load("mnist", "test", source="idx", data_dir=MNIST_DIR.parent)  # parent dir too
    np.testing.assert_array_equal(again.raw, offline["test"].raw)
    np.testing.assert_array_equal(again.y, offline["test"].y)


@needs_mnist
def test_offline_split_has_real_mnist_statistics(offline):
    x = offline["train"].x
    np.testing.assert_allclose(x, offline["train"].raw / np.float32(255), rtol=1e-6)
    # Real MNIST: mean intensity 0.13, about 81 % of pixels exactly zero, full-range strokes.
    assert 0.12 < x.mean() < 0.145
    assert 0.78 < np.mean(x == 0) < 0.84
    assert x.max() == 1.0 and x.min() == 0.0
    # The test part follows the same distribution: mean digits of each class agree closely.
    for d in (0, 1, 8):
        a = offline["train"].x[offline["train"].y == d].mean(0)
        b = offline["test"].x[offline["test"].y == d].mean(0)
        assert np.abs(a - b).mean() < 0.02
    # Class proportions of the two parts are compatible (chi-square, 9 dof, p > 0.001).
    counts = np.array([OFFLINE_TRAIN_COUNTS, OFFLINE_TEST_COUNTS], float)
    expected = counts.sum(1, keepdims=True) * counts.sum(0) / counts.sum()
    assert ((counts - expected) ** 2 / expected).sum() < 27.88


@needs_mnist
def test_env_var_and_auto_select_idx(monkeypatch):
    monkeypatch.setenv(data.DATA_DIR_ENV, str(MNIST_DIR))
    ds = data.load("mnist", "test", limit=5)
    assert ds.source == "idx" and len(ds) == 5


@needs_mnist
def test_classes_relabel_in_given_order(offline):
    ds = data.load("mnist", "train", data_dir=MNIST_DIR, classes=(9, 8))
    assert ds.class_names == ("9", "8")
    assert np.bincount(ds.y).tolist() == [OFFLINE_TRAIN_COUNTS[9], OFFLINE_TRAIN_COUNTS[8]]
    digits = offline["train"].y[np.isin(offline["train"].y, (8, 9))]
    np.testing.assert_array_equal(ds.y, np.where(digits == 9, 0, 1))
    names = data.load("mnist", "train", data_dir=MNIST_DIR, classes=("8", "9"), limit=10)
    assert len(names) == 10 and names.class_names == ("8", "9")
    np.testing.assert_array_equal(names.y, 1 - ds.y[:10])


def test_full_idx_directory_uses_train_files(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(12, 28, 28))
    labels = np.arange(12) % 10
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", images)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", labels)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", images[:4])  # uncompressed works too
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", labels[:4])
    train = data.load("mnist", "train", source="idx", data_dir=tmp_path)
    test = data.load("mnist", "test", source="idx", data_dir=tmp_path)
    assert (len(train), len(test)) == (12, 4)
    np.testing.assert_array_equal(train.raw[..., 0], images)
    np.testing.assert_array_equal(test.y, labels[:4])


def _t10k(directory: Path, n: int = 10, *, images=None, labels=None, magic=None):
    directory.mkdir(exist_ok=True)
    images = np.zeros((n, 28, 28)) if images is None else images
    write_idx(directory / "t10k-images-idx3-ubyte.gz", images, magic)
    labels = np.arange(n) % 10 if labels is None else labels
    write_idx(directory / "t10k-labels-idx1-ubyte.gz", labels)
    return directory


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda d: d, FileNotFoundError, "t10k-images-idx3-ubyte"),
        (lambda d: _t10k(d, magic=2049), ValueError, "magic number"),
        (lambda d: _t10k(d, images=np.zeros((10, 27, 28))), ValueError, "28x28"),
        (lambda d: _t10k(d, labels=np.arange(9)), ValueError, "10 t10k images but 9 labels"),
        (lambda d: _t10k(d, labels=np.full(10, 11)), ValueError, "digits 0-9"),
        (lambda d: _t10k(d, n=10), ValueError, "10,000-digit"),
        (
            lambda d: (_t10k(d), write_idx(d / "train-images-idx3-ubyte", np.zeros((2, 28, 28)))),
            FileNotFoundError,
            "must both be present",
        ),
    ],
)
def test_idx_errors(tmp_path, make, error, match):
    make(tmp_path)
    with pytest.raises(error, match=match):
        data.load("mnist", source="idx", data_dir=tmp_path)


def test_idx_truncated_file(tmp_path):
    _t10k(tmp_path)
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    blob = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(blob[:-100]))
    with pytest.raises(ValueError, match="truncated"):
        data.load("mnist", source="idx", data_dir=tmp_path)
    path.write_bytes(path.read_bytes()[:50])  # a cut-off gzip stream
    with pytest.raises(ValueError, match="corrupt or truncated"):
        data.load("mnist", source="idx", data_dir=tmp_path)


def test_idx_without_directory_says_what_to_set():
    with pytest.raises(FileNotFoundError, match=data.DATA_DIR_ENV):
        data.load("mnist", source="idx")


# --------------------------------------------------------------------------- MNIST, TFDS


def test_tfds_path_under_mock_data():
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=32):
        ds = data.load("mnist", "test", source="tfds")
        records = tfds.data_source("mnist", split="test")
        expected = np.stack([records[i]["image"] for i in range(32)])
        labels = [int(records[i]["label"]) for i in range(32)]
    assert ds.source == "tfds" and len(ds) == 32
    assert ds.raw.dtype == np.uint8 and ds.raw.shape == (32, 28, 28, 1)
    np.testing.assert_array_equal(ds.raw, expected)
    np.testing.assert_array_equal(ds.y, labels)
    np.testing.assert_allclose(ds.x, expected / np.float32(255), rtol=1e-6)


def test_tfds_classes_and_limit_stop_early(monkeypatch):
    tfds = pytest.importorskip("tensorflow_datasets")
    seen = []

    class Counting:  # records which examples hybrid.data reads
        def __init__(self, inner):
            self.inner = inner

        def __len__(self):
            return len(self.inner)

        def __getitem__(self, i):
            seen.append(i)
            return self.inner[i]

    real = tfds.data_source
    with tfds.testing.mock_data(num_examples=32):
        full = data.load("mnist", "train", source="tfds")
        two = sorted(np.unique(full.y)[:2].tolist())
        monkeypatch.setattr(tfds, "data_source", lambda *a, **k: Counting(real(*a, **k)))
        ds = data.load("mnist", "train", source="tfds", classes=two, limit=3)
    keep = np.isin(full.y, two)
    assert seen == list(range(np.flatnonzero(keep)[2] + 1))  # stopped at the third kept one
    assert ds.class_names == tuple(map(str, two)) and len(ds) == 3
    np.testing.assert_array_equal(ds.raw, full.raw[keep][:3])
    np.testing.assert_array_equal(ds.y, (full.y[keep][:3] == two[1]).astype(int))


def test_auto_prefers_tfds_when_reachable(monkeypatch):
    tfds = pytest.importorskip("tensorflow_datasets")
    monkeypatch.setattr(data_images, "reachable", lambda *a, **k: True)
    with tfds.testing.mock_data(num_examples=32), warnings.catch_warnings():
        warnings.simplefilter("error", data.SampleDataWarning)
        assert data.load("mnist", limit=4).source == "tfds"


def test_without_tfds(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", None)  # import now fails
    with pytest.raises(ImportError, match="pip install"):
        data.load("mnist", source="tfds")
    monkeypatch.setattr(data_images, "reachable", lambda *a, **k: True)
    with pytest.warns(data.SampleDataWarning, match="not installed"):
        assert data.load("mnist").source == "sample"


# --------------------------------------------------------------------------- Fashion-MNIST

FASHION_DIR = MNIST_DIR.parent / "fashion_mnist"
needs_fashion = pytest.mark.skipif(
    not (FASHION_DIR / "train-images-idx3-ubyte.gz").is_file(),
    reason=f"Fashion-MNIST IDX files not found at {FASHION_DIR} (clone shared/ beside the repo)",
)


def _fashion_files(directory: Path, n_train: int = 20, n_test: int = 10) -> tuple:
    """Tiny IDX train/t10k files with random images and labels 0..9 in turn."""
    directory.mkdir(parents=True, exist_ok=True)
    images = np.random.default_rng(3).integers(0, 256, size=(n_train + n_test, 28, 28))
    labels = np.arange(n_train + n_test) % 10
    write_idx(directory / "train-images-idx3-ubyte.gz", images[:n_train])
    write_idx(directory / "train-labels-idx1-ubyte.gz", labels[:n_train])
    write_idx(directory / "t10k-images-idx3-ubyte.gz", images[n_train:])
    write_idx(directory / "t10k-labels-idx1-ubyte.gz", labels[n_train:])
    return images, labels


@needs_fashion
def test_fashion_mnist_is_the_full_data_set():
    train = data.load("fashion_mnist", "train", data_dir=FASHION_DIR)
    test = data.load("fashion_mnist", "test", data_dir=FASHION_DIR)
    assert (len(train), len(test)) == (60_000, 10_000)
    assert np.bincount(train.y, minlength=10).tolist() == [6000] * 10
    assert np.bincount(test.y, minlength=10).tolist() == [1000] * 10
    assert train.source == "idx" and train.raw.shape == (60_000, 28, 28, 1)
    assert train.class_names[0] == "T-shirt/top" and train.class_names[9] == "Ankle boot"
    assert train.x.dtype == np.float32 and float(train.x.max()) == 1.0


@needs_fashion
def test_fashion_mnist_found_under_the_data_dir_variable(monkeypatch):
    monkeypatch.setenv(data.DATA_DIR_ENV, str(MNIST_DIR.parent))
    monkeypatch.setattr(data_images, "FASHION_MNIST_SYSTEM_DIRS", ())
    ds = data.load("fashion_mnist", "test", limit=5)
    assert ds.source == "idx" and len(ds) == 5


def test_fashion_mnist_found_in_the_debian_location(tmp_path, monkeypatch):
    images, labels = _fashion_files(tmp_path / "usr-share")
    monkeypatch.setattr(data_images, "FASHION_MNIST_SYSTEM_DIRS", (tmp_path / "usr-share",))
    train, test = data.load("fashion_mnist", "train"), data.load("fashion-mnist", "test")
    assert train.source == test.source == "idx" and (len(train), len(test)) == (20, 10)
    np.testing.assert_array_equal(train.raw[..., 0], images[:20])
    np.testing.assert_array_equal(test.y, labels[20:])
    assert train.class_names == data.FASHION_MNIST_CLASS_NAMES


def test_fashion_mnist_classes_by_name_and_index(tmp_path):
    _fashion_files(tmp_path / "fashion_mnist")
    named = data.load("fashion_mnist", data_dir=tmp_path, classes=("Bag", "Trouser"))
    indexed = data.load("fashion_mnist", data_dir=tmp_path, classes=(8, 1))
    assert named.class_names == indexed.class_names == ("Bag", "Trouser")
    np.testing.assert_array_equal(named.y, indexed.y)
    assert np.bincount(named.y).tolist() == [2, 2]


def test_fashion_mnist_missing_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setattr(data_images, "FASHION_MNIST_SYSTEM_DIRS", (tmp_path / "nowhere",))
    with pytest.raises(FileNotFoundError, match="nowhere"):
        data.load("fashion_mnist")
    with pytest.raises(FileNotFoundError, match="fashion_mnist"):
        data.load("fashion_mnist", source="idx", data_dir=tmp_path)
    with pytest.raises(ValueError, match="unknown Fashion-MNIST source"):
        data.load("fashion_mnist", source="sample")


def test_fashion_mnist_through_tfds_mock_data(monkeypatch):
    tfds = pytest.importorskip("tensorflow_datasets")
    monkeypatch.setattr(data_images, "FASHION_MNIST_SYSTEM_DIRS", ())
    with tfds.testing.mock_data(num_examples=32):
        ds = data.load("fashion_mnist", "train", source="tfds")
        records = tfds.data_source("fashion_mnist", split="train")
        expected = np.stack([records[i]["image"] for i in range(32)])
        labels = [int(records[i]["label"]) for i in range(32)]
        monkeypatch.setattr(data_images, "reachable", lambda *a, **k: True)
        assert data.load("fashion_mnist", "test", limit=4).source == "tfds"  # auto, no files
    assert ds.source == "tfds" and len(ds) == 32
    np.testing.assert_array_equal(ds.raw, expected)
    np.testing.assert_array_equal(ds.y, labels)
    assert ds.class_names == data.FASHION_MNIST_CLASS_NAMES


# --------------------------------------------------------------------------- MNIST, sample


def test_sample_warns_and_is_balanced():
    with pytest.warns(data.SampleDataWarning, match="tensorflow-datasets") as record:
        train = data.load("mnist", "train", source="sample")
    assert data.DATA_DIR_ENV in str(record[0].message)
    assert record[0].filename == __file__  # points at the caller, not into hybrid.data
    test = quiet_load("mnist", "test", source="sample")
    assert (len(train), len(test)) == (1000, 250)
    assert np.bincount(train.y).tolist() == [100] * 10
    assert np.bincount(test.y).tolist() == [25] * 10
    assert train.raw.dtype == np.uint8 and train.x.shape == (1000, 28, 28, 1)
    assert 0.12 < train.x.mean() < 0.145


def test_auto_falls_back_to_sample_offline():
    with pytest.warns(data.SampleDataWarning, match="is not set"):
        ds = data.load("mnist", "test", classes=(8, 9))
    assert ds.source == "sample" and len(ds) == 50 and ds.class_names == ("8", "9")


@needs_mnist
def test_sample_is_real_mnist_from_the_offline_split():
    with (resources.files("hybrid.data") / "mnist_sample.npz").open("rb") as fh:
        npz = dict(np.load(fh, allow_pickle=False))
    train_idx, test_idx = data.mnist_offline_split()
    assert np.isin(npz["index_train"], train_idx).all()
    assert np.isin(npz["index_test"], test_idx).all()
    images, labels = read_t10k()
    np.testing.assert_array_equal(npz["x_train"], images[npz["index_train"], ..., 0])
    np.testing.assert_array_equal(npz["y_test"], labels[npz["index_test"]])
    ds = quiet_load("mnist", "train", source="sample")
    np.testing.assert_array_equal(ds.raw[..., 0], npz["x_train"])


# --------------------------------------------------------------------------- Iris


def test_iris_split_is_stratified_and_complete():
    train, test = data.load("iris", "train"), data.load("iris", "test")
    assert (len(train), len(test)) == (120, 30)
    assert train.class_names == ("setosa", "versicolor", "virginica")
    assert np.bincount(train.y).tolist() == [40] * 3
    assert np.bincount(test.y).tolist() == [10] * 3
    assert train.source == "package" and train.input_shape == (4,)
    rows = np.loadtxt(
        resources.files("hybrid.data") / "iris.csv",
        delimiter=",",
        skiprows=1,
        usecols=range(4),
    )
    both = np.concatenate([train.raw, test.raw])
    np.testing.assert_array_equal(np.sort(both, axis=0), np.sort(rows, axis=0))
    again = data.load("iris", "test")
    np.testing.assert_array_equal(again.raw, test.raw)


def test_iris_uses_train_statistics():
    train, test = data.load("iris", "train"), data.load("iris", "test")
    np.testing.assert_allclose(train.x.mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(train.x.std(0), 1, atol=1e-12)
    assert test.preprocessing == train.preprocessing
    expected = (test.raw - train.raw.mean(0)) / train.raw.std(0)
    np.testing.assert_allclose(test.x, expected, rtol=1e-12)
    assert not np.allclose(test.x.mean(0), 0, atol=1e-6)  # not its own statistics


def test_iris_classes_by_name_and_index():
    by_name = data.load("iris", classes=("virginica", "setosa"))
    by_index = data.load("iris", classes=np.array([2, 0]))
    assert by_name.class_names == by_index.class_names == ("virginica", "setosa")
    np.testing.assert_array_equal(by_name.y, by_index.y)
    assert np.bincount(by_name.y).tolist() == [40, 40]


# --------------------------------------------------------------------------- user files


def _npz(tmp_path, name="d.npz", **arrays):
    path = tmp_path / name
    np.savez(path, **arrays)
    return path


def test_npz_tabular_split_and_standardisation(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.normal(5, 3, size=(100, 3))
    y = np.repeat([3, 5, 7], [40, 40, 20])
    path = _npz(tmp_path, x=x, y=y)
    train, test = data.load(path, "train"), data.load(path, "test")
    assert (len(train), len(test)) == (80, 20)
    assert np.bincount(test.y).tolist() == [8, 8, 4]  # 20 % of each class
    assert train.class_names == ("3", "5", "7") and train.source == "file"
    np.testing.assert_allclose(train.x.mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(test.x, (test.raw - train.raw.mean(0)) / train.raw.std(0))
    both = np.concatenate([train.raw, test.raw])
    np.testing.assert_array_equal(np.sort(both, 0), np.sort(x, 0))  # disjoint and complete
    same = data.load(path, "test", seed=0)
    np.testing.assert_array_equal(same.raw, test.raw)
    other = data.load(path, "test", seed=1)
    assert not np.array_equal(np.sort(other.raw, 0), np.sort(test.raw, 0))
    picked = data.load(path, classes=(7, 3))  # label values as stored
    assert picked.class_names == ("7", "3") and np.bincount(picked.y).tolist() == [16, 32]


def test_npz_with_test_arrays_and_images(tmp_path):
    rng = np.random.default_rng(2)
    x = rng.integers(0, 256, size=(10, 8, 8), dtype=np.uint8)
    xt = rng.integers(0, 256, size=(4, 8, 8), dtype=np.uint8)
    path = _npz(tmp_path, x=x, y=np.arange(10) % 2, x_test=xt, y_test=np.array([1, 0, 1, 1]))
    train, test = data.load(path, "train"), data.load(path, "test")
    np.testing.assert_array_equal(train.raw, x)  # order kept when the file gives the split
    np.testing.assert_array_equal(test.y, [1, 0, 1, 1])
    assert train.input_shape == (8, 8, 1) and train.preprocessing["scale"] == 1 / 255
    np.testing.assert_allclose(test.x[..., 0], xt / np.float32(255), rtol=1e-6)
    floats = _npz(tmp_path, "f.npz", x=x.astype(np.float64)[..., None], y=np.arange(10) % 2)
    ds = data.load(floats)
    assert ds.preprocessing["scale"] == 1.0 and ds.preprocessing["mean"] is None
    np.testing.assert_array_equal(ds.x, ds.raw)


def test_csv_with_header_and_string_labels(tmp_path):
    lines = ["a,b,kind"] + [f"{i},{i % 3 * 0.5},{'dog' if i % 2 else 'cat'}" for i in range(20)]
    path = tmp_path / "pets.csv"
    path.write_text("\n".join(lines) + "\n\n")
    train, test = data.load(path), data.load(path, "test")
    assert train.class_names == ("cat", "dog")
    assert (len(train), len(test)) == (16, 4)
    for ds in (train, test):
        np.testing.assert_array_equal(ds.y, ds.raw[:, 0] % 2)  # odd rows are dogs
    dogs = data.load(path, classes=("dog", "cat"))
    np.testing.assert_array_equal(dogs.y, 1 - dogs.raw[:, 0] % 2)
    assert data.load(path, classes=(1, 0)).class_names == ("dog", "cat")  # indices of names


def test_csv_without_header_numeric_labels(tmp_path):
    path = tmp_path / "n.csv"
    path.write_text("".join(f"{i}.5,{-i},{i % 2 + 1}.0\n" for i in range(10)))
    ds = data.load(path, limit=3)
    assert ds.class_names == ("1", "2") and len(ds) == 3 and ds.input_shape == (2,)
    np.testing.assert_array_equal(ds.y, (ds.raw[:, 0] - 0.5) % 2)


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("arrays", "match"),
    [
        ({"x": np.zeros((4, 2))}, "'x' and 'y'"),
        ({"x": np.zeros((4, 2)), "y": [0, 1, 0, 1], "x_test": np.zeros((2, 2))}, "'y_test'"),
        ({"x": np.zeros((4, 2)), "y": [0, 1, 0]}, "4 examples in x but 3 labels"),
        ({"x": np.zeros(4), "y": [0, 1, 0, 1]}, "shape"),
        ({"x": np.zeros((4, 2)), "y": np.zeros((4, 2))}, "labels must have shape"),
        ({"x": np.array([[np.nan, 1]] * 4), "y": [0, 1, 0, 1]}, "NaN or infinite"),
        ({"x": np.zeros((4, 2)), "y": [1, 1, 1, 1]}, "need >= 2"),
        ({"x": np.zeros((4, 2)), "y": [0.5, 1, 0, 1]}, "integers or strings"),
        (
            {
                "x": np.zeros((4, 2)),
                "y": [0, 1, 0, 1],
                "x_test": np.zeros((2, 3)),
                "y_test": [0, 1],
            },
            "x_test examples have shape",
        ),
    ],
)
def test_npz_errors(tmp_path, arrays, match):
    path = _npz(tmp_path, **arrays)
    with pytest.raises(ValueError, match=match):
        data.load(path)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "the file is empty"),
        ("\n,,\n", "no rows"),
        ("a,b,label\n", "header row but no data"),
        ("1,2,0\n3,x,1\n", "line 2, column 2: feature 'x' is not a number"),
        ("1,2,0\n3,4,\n5,6,1\n", "line 2, column 3: the label is empty"),
        ("1,2,a\n3,4,\n5,6,b\n", "line 2, column 3: the label is empty"),
        ("1,2,0\n3,4\n", "line 2: 2 fields, expected 3"),
        ("1,inf,0\n3,4,1\n", "NaN or infinite"),
        ("5\n6\n", "feature columns and a label column"),
    ],
)
def test_csv_errors(tmp_path, text, match):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=match):
        data.load(path)


@pytest.mark.parametrize(
    ("first", "match"),
    [
        ("x,2.5,0", "line 1, column 1: feature 'x'"),  # text among numbers: data, refused
        (",2.5,0", "line 1, column 1: feature ''"),  # an empty cell: data, refused
        ("1.5,2.5,", "line 1, column 3: the label is empty"),
        ("a,,label", "line 1, column 1: feature 'a'"),  # a header has no empty cell
    ],
)
def test_a_first_line_that_is_not_a_clean_header_is_never_dropped(tmp_path, first, match):
    path = tmp_path / "h.csv"
    path.write_text(first + "\n" + "".join(f"{i}.5,{i},{i % 2}\n" for i in range(10)))
    with pytest.raises(ValueError, match=match):
        data.load(path)


def test_header_rule_keeps_every_data_row(tmp_path):
    rows = "".join(f"{i}.5,{i},{i % 2}\n" for i in range(10))
    for header, expected in (("f1,f2,label\n", 10), ("", 10), ("f1,f2,1\n", 10)):
        path = tmp_path / "ok.csv"
        path.write_text(header + rows)
        train, test = data.load(path), data.load(path, "test")
        assert len(train) + len(test) == expected


def test_unreadable_files_get_one_line_naming_them(tmp_path):
    good = _npz(tmp_path, "good.npz", x=np.zeros((4, 2)), y=[0, 1, 0, 1])
    cases = {
        "empty.npz": b"",
        "cut.npz": good.read_bytes()[:200],
        "text.npz": b"1,2,3\n4,5,6\n",
        "latin1.csv": "caf\u00e9,1\n2,3\n".encode("latin-1"),
    }
    expected = {
        "empty.npz": "the file is empty",
        "cut.npz": "cannot read the .npz",
        "text.npz": "not an .npz archive",
        "latin1.csv": "not UTF-8 text .byte 0xe9 at offset 3",
    }
    for name, blob in cases.items():
        path = tmp_path / name
        path.write_bytes(blob)
        with pytest.raises(ValueError, match=expected[name]) as err:
            data.load(path)
        assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_blank_string_label_in_npz_is_refused(tmp_path):
    path = _npz(tmp_path, x=np.zeros((4, 2)), y=np.array(["a", "b", " ", "a"]))
    with pytest.raises(ValueError, match="label 2 .counting from 0. is empty"):
        data.load(path)


def test_name_and_argument_errors(tmp_path):
    with pytest.raises(ValueError, match=r"known names are \['mnist', 'fashion_mnist', 'iris'\]"):
        data.load("cifar10")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        data.load(tmp_path / "missing.npz")
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(ValueError, match="unsupported file type"):
        data.load(tmp_path / "x.json")
    with pytest.raises(ValueError, match="split must be"):
        data.load("iris", "validation")
    for bad in (0, -1, True, 2.5):
        with pytest.raises(ValueError, match="limit"):
            data.load("iris", limit=bad)
    with pytest.raises(ValueError, match="unknown MNIST source"):
        data.load("mnist", source="web")
    with pytest.raises(ValueError, match="applies to 'mnist' and 'fashion_mnist' only"):
        data.load("iris", source="tfds")


@pytest.mark.parametrize(
    ("classes", "match"),
    [
        ((0,), "at least 2 classes"),
        ((0, 0), "twice"),
        ((0, 5), "unknown class 5"),
        (("setosa", "rose"), "unknown class 'rose'"),
        ("setosa", "sequence"),
        (7, "sequence"),
        ((0, 1.0), "int label or a class name"),
    ],
)
def test_class_selection_errors(classes, match):
    with pytest.raises(ValueError, match=match):
        data.load("iris", classes=classes)


def test_empty_selection(tmp_path):
    path = _npz(
        tmp_path, x=np.zeros((6, 2)), y=[0, 1, 2, 0, 1, 2], x_test=np.zeros((2, 2)), y_test=[0, 0]
    )
    with pytest.raises(ValueError, match="no examples of classes"):
        data.load(path, "test", classes=(1, 2))


# --------------------------------------------------------------------------- contracts


def test_dataset_is_frozen_and_consistent():
    ds = data.load("iris", limit=5)
    with pytest.raises(AttributeError):
        ds.x = None
    np.testing.assert_array_equal(ds.x, preprocessing.apply(ds.preprocessing, ds.raw))
    assert ds.y.dtype.kind == "i" and ds.num_classes == 3 and "Dataset(name='iris'" in repr(ds)


def test_imports_no_jax_pennylane_or_tfds():
    code = """
import sys, warnings
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('jax', 'pennylane', 'tensorflow_datasets'):
            raise ImportError('blocked: ' + name)
sys.meta_path.insert(0, Block())
from hybrid import data
warnings.simplefilter('ignore')
assert len(data.load('iris')) == 120
assert data.load('mnist').source == 'sample'
"""
    env = {k: v for k, v in os.environ.items() if k != data.DATA_DIR_ENV}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=Path(__file__).parents[1])


def test_cli_summary(capsys):
    from hybrid import cli

    args = cli.parser().parse_args(
        ["data", "iris", "--split", "test", "--classes", "virginica", "0"]
    )
    assert cli.handler(args)(args) == 0
    out = capsys.readouterr().out
    assert "iris [test] from package: 20 examples" in out
    assert "virginica=10, setosa=10" in out and "standardised=yes" in out


@pytest.mark.e2e
def test_fashion_mnist_example_trains_and_writes_its_table_row(tmp_path):
    """The example end to end on tiny IDX files: one row (the classical control at L = 1, the
    cheapest model; every model's row is written by the same code), with what the docs table
    reads from it, and a second call that finds the row and trains nothing."""
    _fashion_files(tmp_path / "data" / "fashion_mnist")
    env = os.environ | {data.DATA_DIR_ENV: str(tmp_path / "data"), "JAX_PLATFORMS": "cpu"}
    table = tmp_path / "table.json"
    argv = [sys.executable, "examples/quantum_train_fashion_mnist.py", "--model", "control"]
    argv += ["--depths", "1", "--table", str(table), "--runs", str(tmp_path / "runs")]
    repo = Path(__file__).parents[1]
    subprocess.run(argv, check=True, env=env, cwd=repo, capture_output=True)
    (row,) = json.loads(table.read_text())["rows"]
    assert (row["model"], row["ansatz"], row["depth"], row["n_trainable"]) == (
        "control",
        "u3-cu3",
        1,
        327,
    )
    assert 0 <= row["test_accuracy"] <= 1 and row["train_time_s"] > 0
    assert row["gap"] == pytest.approx(row["test_loss"] - row["train_loss"])
    again = subprocess.run(argv, check=True, env=env, cwd=repo, capture_output=True, text=True)
    assert "skip" in again.stdout and len(json.loads(table.read_text())["rows"]) == 1


@pytest.mark.e2e
def test_fashion_mnist_example_writes_mnist_ablation_rows(tmp_path):
    """``--ablations --dataset mnist``: a row that names its data set and source and carries the
    validation split's accuracy; without ``--ablations`` the data set is refused in one line."""
    _fashion_files(tmp_path / "data" / "mnist", n_train=100, n_test=20)
    env = os.environ | {data.DATA_DIR_ENV: str(tmp_path / "data"), "JAX_PLATFORMS": "cpu"}
    table = tmp_path / "ablations.json"
    argv = [sys.executable, "examples/quantum_train_fashion_mnist.py", "--dataset", "mnist"]
    argv += ["--model", "bits-only", "--depths", "1", "--table", str(table)]
    argv += ["--runs", str(tmp_path / "runs")]
    repo = Path(__file__).parents[1]
    refused = subprocess.run(argv, env=env, cwd=repo, capture_output=True, text=True)
    assert refused.returncode == 2 and "add --ablations" in refused.stderr
    assert not table.exists()
    subprocess.run([*argv, "--ablations"], check=True, env=env, cwd=repo, capture_output=True)
    (row,) = json.loads(table.read_text())["rows"]
    assert (row["dataset"], row["source"], row["model"]) == ("mnist", "idx", "bits-only")
    assert (row["n_train"], row["n_val"], row["n_test"]) == (90, 10, 20)
    assert 0 <= row["val_accuracy"] <= 1 and row["scale"] == "reduced: all images, 1 epoch"


def test_tables_saved_side_by_side_keep_each_others_rows(tmp_path):
    """Two reproduction commands that opened the same table before either saved: both rows stay."""
    sys.path.insert(0, str(Path(__file__).parents[1] / "examples"))
    try:
        from _table import has_row, open_table, save_table
    finally:
        sys.path.pop(0)
    path = tmp_path / "table.json"
    first, second = open_table(path, data="x"), open_table(path, data="x")
    first["rows"].append({"seed": 0, "sizes": (4, 3)})  # a tuple, as the scripts' settings hold
    second["rows"].append({"seed": 1, "sizes": (4, 3)})
    save_table(path, first)
    save_table(path, second)
    first["rows"].append({"seed": 2, "sizes": (4, 3)})  # a script saves after every row
    save_table(path, first)
    saved = json.loads(path.read_text())
    assert [row["seed"] for row in saved["rows"]] == [0, 1, 2]  # each row once
    assert has_row(saved, seed=0) and has_row(saved, seed=1) and saved["data"] == "x"
