"""Data sets as NumPy arrays plus the preprocessing record a deployed model needs.

``load(name, split)`` returns a :class:`Dataset`: ``raw`` as read (what
``NumpyClassifier.predict`` takes), ``x = preprocessing.apply(ds.preprocessing, raw)`` (what a
network trains on) and integer labels ``y`` in ``0..C-1``. Storing the preprocessing record with
the model, rather than preprocessed arrays, is what lets the deployed classifier take raw inputs.

Names: ``"mnist"`` (TFDS, an IDX directory, or a bundled 1,250-digit real-MNIST sample),
``"fashion_mnist"`` (IDX files in ``HYBRID_DATA_DIR/fashion_mnist`` or the Debian package's
/usr/share/datasets/fashion-mnist, else TFDS), ``"iris"`` (bundled CSV), or a path to a user's
``.npz`` / ``.csv`` file. See ``docs/data.md``.
The image readers live in ``hybrid.data.images``; this module holds the splits, class selection,
label encoding, Iris and user files. NumPy only; tensorflow_datasets is imported when the TFDS
path is taken.
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
import os
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path

import numpy as np

from hybrid.data import images
from hybrid.data.images import (
    DATA_DIR_ENV,
    FASHION_MNIST_CLASS_NAMES,
    MNIST_CLASS_NAMES,
    MNIST_OFFLINE_TRAIN,
    MNIST_PREPROCESSING,
    MNIST_SOURCES,
    MNIST_SPLIT_SEED,
    SampleDataWarning,
    mnist_offline_split,
)
from hybrid.deploy import preprocessing

__all__ = [
    "DATA_DIR_ENV",
    "FASHION_MNIST_CLASS_NAMES",
    "IRIS_SPLIT_SEED",
    "IRIS_TEST_FRACTION",
    "KNOWN_NAMES",
    "MNIST_CLASS_NAMES",
    "MNIST_OFFLINE_TRAIN",
    "MNIST_SOURCES",
    "MNIST_SPLIT_SEED",
    "USER_TEST_FRACTION",
    "VAL_FRACTION",
    "Dataset",
    "SampleDataWarning",
    "default_val_fraction",
    "load",
    "mnist_offline_split",
    "split_validation",
]

KNOWN_NAMES = ("mnist", "fashion_mnist", "iris")

# Iris: 10 of each class's 50 flowers are "test" (30), the other 120 "train".
IRIS_SPLIT_SEED = 1936  # year of Fisher's paper
IRIS_TEST_FRACTION = 0.2
USER_TEST_FRACTION = 0.2
# The validation split cut from the training set where the test set is fixed (mnist,
# fashion_mnist); where the test split is itself cut by the seed it is off unless asked.
VAL_FRACTION = 0.1
FIXED_TEST_SETS = ("mnist", "fashion_mnist")


@dataclass(frozen=True, eq=False)
class Dataset:
    """One split of a data set. ``x`` is ``preprocessing.apply(preprocessing, raw)``."""

    name: str
    x: np.ndarray = field(repr=False)
    y: np.ndarray = field(repr=False)
    raw: np.ndarray = field(repr=False)
    class_names: tuple[str, ...]
    preprocessing: dict
    source: str

    def __len__(self) -> int:
        return len(self.y)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.preprocessing["input_shape"])


@dataclass(frozen=True, eq=False)
class _Split:
    """A split before class selection: labels index ``class_names`` of the whole data set."""

    raw: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    spec: dict
    source: str
    int_labels: bool  # True: ints in ``classes`` are stored label values, else class indices


# --------------------------------------------------------------------------- public entry point


def load(
    name: str | os.PathLike,
    split: str = "train",
    *,
    source: str = "auto",
    classes: Sequence[int | str] | None = None,
    limit: int | None = None,
    seed: int = 0,
    data_dir: str | os.PathLike | None = None,
) -> Dataset:
    """Load ``split`` ("train" or "test") of a named data set or a user's .npz/.csv file;
    ``split="all"`` gives every row of a user's file or of Iris (to predict a whole labelled CSV).

    ``classes`` keeps those classes, relabelled 0..k-1 in the order given (ints are label values
    as stored, e.g. MNIST digits; for string-labelled data they index the sorted class names).
    ``limit`` keeps the first ``limit`` examples after that. ``seed`` only drives the 80/20 split
    of user files without ``x_test``; the MNIST and Iris splits are fixed. ``data_dir`` (or the
    ``HYBRID_DATA_DIR`` variable) points at MNIST IDX files; passing it selects ``source="idx"``.
    Fashion-MNIST is read from IDX files in ``data_dir`` (or its ``fashion_mnist/``), then
    ``HYBRID_DATA_DIR/fashion_mnist``, then the Debian location, and from TFDS when none has them.
    """
    if split not in ("train", "test", "all"):
        raise ValueError(f"split must be 'train', 'test' or 'all', got {split!r}")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ValueError(f"limit must be a positive int or None, got {limit!r}")
    key = os.fspath(name)
    if split == "all" and key.lower() in ("mnist", "fashion_mnist", "fashion-mnist"):
        raise ValueError(f"split 'all' (every row) is for Iris and users' files, not {key}")
    if key.lower() == "mnist":
        part = _load_mnist(split, source, classes, limit, data_dir)
        key = "mnist"
    elif key.lower() in ("fashion_mnist", "fashion-mnist"):
        part, key = _load_fashion_mnist(split, source, classes, limit, data_dir), "fashion_mnist"
    else:
        if source != "auto":
            raise ValueError(
                f"source={source!r} applies to 'mnist' and 'fashion_mnist' only; use source='auto'"
            )
        if key.lower() == "iris":
            part, key = _load_iris(split), "iris"
        else:
            part = _load_file(key, split, seed)
    return _finish(key, part, classes, limit)


# --------------------------------------------------------------------------- shared steps


def _class_ids(
    classes: Sequence[int | str] | None, class_names: Sequence[str], int_labels: bool
) -> list[int]:
    """Indices into ``class_names`` of the requested classes, in the order requested."""
    if classes is None:
        return list(range(len(class_names)))
    if isinstance(classes, str | bytes) or not hasattr(classes, "__iter__"):
        raise ValueError(f"classes must be a sequence such as (8, 9), got {classes!r}")
    classes = list(classes)  # also accepts NumPy arrays
    ids = []
    for c in classes:
        if isinstance(c, str):
            found = c in class_names
            idx = class_names.index(c) if found else -1
        elif isinstance(c, int | np.integer) and not isinstance(c, bool):
            if int_labels:
                found = str(int(c)) in class_names
                idx = class_names.index(str(int(c))) if found else -1
            else:
                found = 0 <= int(c) < len(class_names)
                idx = int(c)
        else:
            raise ValueError(f"class {c!r} must be an int label or a class name (str)")
        if not found:
            raise ValueError(f"unknown class {c!r}; this data set has classes {list(class_names)}")
        ids.append(idx)
    if len(set(ids)) != len(ids):
        raise ValueError(f"classes {classes!r} name a class twice")
    if len(ids) < 2:
        raise ValueError(f"classification needs at least 2 classes; classes={classes!r}")
    return ids


def _finish(name: str, part: _Split, classes, limit: int | None) -> Dataset:
    """Select classes, relabel 0..k-1, apply ``limit``, preprocess."""
    ids = _class_ids(classes, part.class_names, part.int_labels)
    keep = np.isin(part.labels, ids)
    raw, labels = part.raw[keep], part.labels[keep]
    if labels.size == 0:
        raise ValueError(
            f"no examples of classes {[part.class_names[i] for i in ids]} in this split of "
            f"{name!r}; check `classes`"
        )
    relabel = np.full(len(part.class_names), -1, dtype=np.int64)
    relabel[ids] = np.arange(len(ids))
    y = relabel[labels]
    if limit is not None:
        raw, y = raw[:limit], y[:limit]
    x = preprocessing.apply(part.spec, raw)
    names = tuple(part.class_names[i] for i in ids)
    return Dataset(name, x, y, raw, names, part.spec, part.source)


def _stratified_split(
    labels: np.ndarray, test_fraction: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Per class, round(test_fraction * count) examples go to test; both parts are shuffled."""
    train, test = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        k = int(math.floor(test_fraction * idx.size + 0.5))
        test.append(idx[:k])
        train.append(idx[k:])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def default_val_fraction(name: str | os.PathLike) -> float:
    """``VAL_FRACTION`` for a data set with a fixed test set, 0 for Iris and users' files."""
    key = os.fspath(name).lower().replace("-", "_")
    return VAL_FRACTION if key in FIXED_TEST_SETS else 0.0


def validation_indices(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Sorted indices of a stratified ``fraction`` of ``labels``: per class, round(fraction *
    count) examples drawn by ``seed``, so the same seed always cuts the same split."""
    if not 0 <= fraction < 1:
        raise ValueError(f"the validation fraction must be in [0, 1), got {fraction!r}")
    rng = np.random.default_rng([seed, 0x5A1])
    picked = [
        rng.permutation(idx)[: int(math.floor(fraction * idx.size + 0.5))]
        for idx in (np.flatnonzero(labels == c) for c in np.unique(labels))
    ]
    return np.sort(np.concatenate(picked)) if picked else np.zeros(0, np.int64)


def split_validation(train: Dataset, fraction: float, seed: int) -> tuple[Dataset, Dataset | None]:
    """(train without the validation examples, the validation set), both in file order, or
    (train, None) when ``fraction`` is 0. The preprocessing stays the full training set's."""
    val = validation_indices(train.y, fraction, seed)
    if val.size == 0:
        return train, None
    if val.size == len(train.y):
        raise ValueError(f"a validation fraction of {fraction} leaves no training examples")
    keep = np.setdiff1d(np.arange(len(train.y)), val)

    def part(idx: np.ndarray) -> Dataset:
        return replace(train, x=train.x[idx], y=train.y[idx], raw=train.raw[idx])

    return part(keep), part(val)


def _rows(split: str, train_idx: np.ndarray, test_idx: np.ndarray) -> np.ndarray:
    """The rows of ``split``: train, test, or all of them in file order."""
    if split == "all":
        return np.sort(np.concatenate([train_idx, test_idx]))
    return train_idx if split == "train" else test_idx


def _check_finite(arr: np.ndarray, origin: str) -> None:
    if np.issubdtype(arr.dtype, np.floating) and not np.all(np.isfinite(arr)):
        bad = int(arr.size - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(f"{origin}: {bad} NaN or infinite feature value(s); clean the data first")


def _feature_spec(train: np.ndarray, origin: str) -> dict:
    """Standardise tabular data with train statistics; scale uint8 images by 1/255. A column
    too large to standardise in float64 is named, with its largest value, instead of NumPy's
    overflow."""
    if train.ndim == 2:
        with np.errstate(over="ignore", invalid="ignore"):
            std = train.std(axis=0, dtype=np.float64)
            mean = train.mean(axis=0, dtype=np.float64)
        bad = np.flatnonzero(~(np.isfinite(std) & np.isfinite(mean)))
        if bad.size:
            col = int(bad[0])
            big = float(np.max(np.abs(train[:, col].astype(np.float64))))
            raise ValueError(
                f"{origin}: feature column {col} (counting from 0) holds {big:.3g}, too large to "
                "standardise; rescale that column"
            )
        std[std == 0] = 1.0  # constant features stay constant instead of dividing by zero
        return preprocessing.make_spec([train.shape[1]], mean=mean, std=std)
    shape = list(train.shape[1:]) + ([1] if train.ndim == 3 else [])  # (N, H, W) -> NHWC
    return preprocessing.make_spec(shape, scale=1 / 255 if train.dtype == np.uint8 else 1.0)


def _encode_labels(values: np.ndarray, origin: str) -> tuple[np.ndarray, tuple[str, ...], bool]:
    """Labels (ints, integral floats or strings) -> codes 0..C-1, sorted class names, int flag."""
    if values.dtype.kind in "US":
        blank = np.flatnonzero(np.char.strip(values.astype(str)) == "")
        if blank.size:
            raise ValueError(f"{origin}: label {blank[0]} (counting from 0) is empty")
        names, codes = np.unique(values.astype(str), return_inverse=True)
        return codes.astype(np.int64), tuple(str(n) for n in names), False
    if values.dtype.kind == "f":
        if not np.all(np.isfinite(values)) or np.any(values != np.round(values)):
            raise ValueError(f"{origin}: labels must be integers or strings, not {values.dtype}")
        values = values.astype(np.int64)
    if values.dtype.kind not in "iub":
        raise ValueError(f"{origin}: labels must be integers or strings, not {values.dtype}")
    uniq, codes = np.unique(values.astype(np.int64), return_inverse=True)
    return codes.astype(np.int64), tuple(str(int(v)) for v in uniq), True


# ------------------------------------------------------------ MNIST and Fashion-MNIST


def _load_mnist(split: str, source: str, classes, limit, data_dir) -> _Split:
    """MNIST from the source ``images.resolve_mnist_source`` picks; TFDS keeps only the
    requested classes as it reads, so ``limit`` stops the read early."""
    source, reason = images.resolve_mnist_source(source, data_dir)
    if source == "tfds":
        wanted = set(_class_ids(classes, MNIST_CLASS_NAMES, True))
        raw, labels = images.read_tfds_images("mnist", split, wanted, limit)
    elif source == "idx":
        raw, labels = images.read_idx_mnist(split, images.mnist_dir(data_dir))
    else:
        raw, labels = images.read_sample_mnist(split, reason)
    spec = preprocessing.make_spec(**MNIST_PREPROCESSING)
    return _Split(raw, labels, MNIST_CLASS_NAMES, spec, source, True)


def _load_fashion_mnist(split: str, source: str, classes, limit, data_dir) -> _Split:
    """Local IDX files first (they are the full 60k/10k, so nothing is gained online), then TFDS."""
    directory = images.find_fashion_mnist(source, data_dir)
    if directory is not None:
        raw, labels = images.read_idx_pair(directory, "train" if split == "train" else "t10k")
        found = "idx"
    else:
        wanted = set(_class_ids(classes, FASHION_MNIST_CLASS_NAMES, False))
        raw, labels = images.read_tfds_images("fashion_mnist", split, wanted, limit)
        found = "tfds"
    spec = preprocessing.make_spec(**MNIST_PREPROCESSING)
    return _Split(raw, labels, FASHION_MNIST_CLASS_NAMES, spec, found, False)


# --------------------------------------------------------------------------- Iris and user files


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _parse_csv(text: str, origin: str) -> tuple[np.ndarray, np.ndarray]:
    """Numeric feature columns, label in the last column, and a header only by this rule:

    the first non-blank line is a header when none of its feature cells is a number and none of
    its cells is empty. Every other non-blank line is data and must have numeric features and a
    non-empty label, or the file is refused naming the line and column: no row is ever dropped.
    """
    rows = [
        (line, row)
        for line, row in enumerate(csv.reader(io.StringIO(text)), start=1)
        if any(field.strip() for field in row)
    ]
    if not rows:
        raise ValueError(f"{origin}: the file holds no rows")
    width = len(rows[0][1])
    if width < 2:
        raise ValueError(f"{origin}: need feature columns and a label column (comma-separated)")
    first = [cell.strip() for cell in rows[0][1]]
    if all(first) and not any(_is_number(cell) for cell in first[:-1]):
        rows = rows[1:]  # a header row, by the rule above
        if not rows:
            raise ValueError(f"{origin}: the file holds a header row but no data")

    def numbers(line: int, row: list[str]) -> list[float]:
        if len(row) != width:
            raise ValueError(f"{origin}, line {line}: {len(row)} fields, expected {width}")
        for column, cell in enumerate(row, start=1):
            if column < width and not _is_number(cell):
                raise ValueError(
                    f"{origin}, line {line}, column {column}: feature {cell.strip()!r} is not a "
                    "number (a header is recognised only when no feature cell of the first line "
                    "is a number or empty)"
                )
            if column == width and not cell.strip():
                raise ValueError(f"{origin}, line {line}, column {column}: the label is empty")
        return [float(f) for f in row[:-1]]

    features = np.array([numbers(line, row) for line, row in rows], dtype=np.float64)
    labels = np.array([row[-1].strip() for _, row in rows])
    with contextlib.suppress(ValueError):  # numeric labels; _encode_labels checks they are ints
        labels = labels.astype(np.float64)
    return features, labels


def _load_iris(split: str) -> _Split:
    text = (resources.files("hybrid.data") / "iris.csv").read_text()
    features, labels = _parse_csv(text, "iris.csv")
    codes, names, _ = _encode_labels(labels, "iris.csv")
    train_idx, test_idx = _stratified_split(
        codes, IRIS_TEST_FRACTION, np.random.default_rng(IRIS_SPLIT_SEED)
    )
    idx = _rows(split, train_idx, test_idx)
    spec = _feature_spec(features[train_idx], "iris.csv")
    return _Split(features[idx], codes[idx], names, spec, "package", False)


_Optional = np.ndarray | None


def _read_user_arrays(path: Path) -> tuple[np.ndarray, np.ndarray, _Optional, _Optional]:
    """(x, y, x_test, y_test) from a user's .npz or .csv; test arrays may be None."""
    blob = path.read_bytes()
    if not blob:
        raise ValueError(f"{path}: the file is empty")
    if path.suffix.lower() == ".csv":
        try:
            text = blob.decode("utf-8-sig")
        except UnicodeDecodeError as err:
            raise ValueError(
                f"{path}: not UTF-8 text (byte 0x{blob[err.start]:02x} at offset {err.start}); "
                "save it as UTF-8, e.g. iconv -f latin1 -t utf-8"
            ) from None
        x, y = _parse_csv(text, str(path))
        return x, y, None, None
    if not blob.startswith(b"PK"):
        raise ValueError(
            f"{path}: not an .npz archive (no zip header); save arrays with numpy.savez(path, "
            "x=..., y=...)"
        )
    try:
        with np.load(io.BytesIO(blob), allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile) as err:
        raise ValueError(
            f"{path}: cannot read the .npz ({type(err).__name__}: {err}); the file is truncated, "
            "damaged, or holds object arrays (save plain numeric or string arrays)"
        ) from None
    missing = {"x", "y"} - set(arrays)
    if missing or (("x_test" in arrays) != ("y_test" in arrays)):
        raise ValueError(
            f"{path}: an .npz needs arrays 'x' and 'y' (and optionally both 'x_test' and "
            f"'y_test'); found {sorted(arrays)}"
        )
    return arrays["x"], arrays["y"], arrays.get("x_test"), arrays.get("y_test")


def _check_xy(x: np.ndarray, y: np.ndarray, origin: str) -> np.ndarray:
    if x.ndim < 2 or not (np.issubdtype(x.dtype, np.number) or x.dtype == np.bool_):
        raise ValueError(
            f"{origin}: x must be numeric with shape (N, features) or (N, H, W[, C]), "
            f"got shape {x.shape} dtype {x.dtype}"
        )
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"{origin}: labels must have shape (N,), got {y.shape}")
    if len(x) != len(y):
        raise ValueError(f"{origin}: {len(x)} examples in x but {len(y)} labels in y")
    _check_finite(x, origin)
    return y


def _load_file(name: str, split: str, seed: int) -> _Split:
    path = Path(name).expanduser()
    if path.suffix.lower() not in (".npz", ".csv"):
        if path.exists():
            raise ValueError(f"{path}: unsupported file type; use .npz (x, y) or .csv")
        raise ValueError(
            f"unknown data set {name!r}: known names are {list(KNOWN_NAMES)}, or give a path to "
            "an .npz (arrays x, y[, x_test, y_test]) or .csv (last column = label) file"
        )
    if not path.is_file():
        raise FileNotFoundError(f"data file {path} does not exist")
    x, y, x_test, y_test = _read_user_arrays(path)
    y = _check_xy(x, y, str(path))
    if x_test is not None:
        y_test = _check_xy(x_test, y_test, f"{path} (x_test)")
        if x_test.shape[1:] != x.shape[1:]:
            raise ValueError(
                f"{path}: x_test examples have shape {x_test.shape[1:]}, x has {x.shape[1:]}"
            )
        codes, names, int_labels = _encode_labels(np.concatenate([y, y_test]), str(path))
        raw_all = np.concatenate([x, x_test])
        train_idx, test_idx = np.arange(len(x)), np.arange(len(x), len(raw_all))
    else:
        codes, names, int_labels = _encode_labels(y, str(path))
        raw_all = x
        train_idx, test_idx = _stratified_split(
            codes, USER_TEST_FRACTION, np.random.default_rng(seed)
        )
    if len(names) < 2:
        raise ValueError(f"{path}: labels hold {len(names)} class(es) {list(names)}; need >= 2")
    idx = _rows(split, train_idx, test_idx)
    spec = _feature_spec(raw_all[train_idx], str(path))
    return _Split(raw_all[idx], codes[idx], names, spec, "file", int_labels)
