"""MNIST and Fashion-MNIST as uint8 image arrays: IDX files, TFDS, the bundled sample.

Readers return (raw images (N, 28, 28, 1) uint8, stored labels int64); ``hybrid.data.load``
selects classes, relabels and preprocesses. Where the images come from: ``resolve_mnist_source``
picks the MNIST source ("auto": TFDS when usable, then ``HYBRID_DATA_DIR``, then the bundled
1,250-digit sample) and ``find_fashion_mnist`` the Fashion-MNIST directory (None: read TFDS).
``mnist_offline_split`` fixes the 8,000/2,000 split of the official 10k test set that stands in
for full MNIST offline. NumPy only; tensorflow_datasets is imported when TFDS is read or probed.
"""

from __future__ import annotations

import gzip
import logging
import math
import os
import socket
import sys
import threading
import warnings
from importlib import resources
from pathlib import Path

import numpy as np

MNIST_SOURCES = ("auto", "tfds", "idx", "sample")
DATA_DIR_ENV = "HYBRID_DATA_DIR"

# Offline MNIST split of the official 10k test set: a permutation of 0..9999 from
# np.random.default_rng(MNIST_SPLIT_SEED); its first MNIST_OFFLINE_TRAIN indices are "train",
# the remaining 2,000 are "test". Changing either constant changes every offline result.
MNIST_SPLIT_SEED = 20261123
MNIST_OFFLINE_TRAIN = 8000
MNIST_CLASS_NAMES = tuple(str(d) for d in range(10))
MNIST_PREPROCESSING = {"scale": 1 / 255, "mean": None, "std": None, "input_shape": [28, 28, 1]}

# Fashion-MNIST (Xiao, Rasul, Vollgraf, arXiv:1708.07747): 60,000 train / 10,000 test 28x28
# images, labels 0-9 naming these classes (the data set's README). The Debian package
# dataset-fashion-mnist installs the IDX files in the first system directory.
FASHION_MNIST_CLASS_NAMES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
FASHION_MNIST_SOURCES = ("auto", "tfds", "idx")
FASHION_MNIST_SYSTEM_DIRS = (Path("/usr/share/datasets/fashion-mnist"),)

_IDX_MAGIC = {"images": 2051, "labels": 2049}
_TFDS_HOST = ("storage.googleapis.com", 443)


class SampleDataWarning(UserWarning):
    """Results come from the small bundled MNIST sample, not the full data set."""


def mnist_offline_split() -> tuple[np.ndarray, np.ndarray]:
    """Indices into the official 10k MNIST test set: (8,000 offline-train, 2,000 offline-test)."""
    perm = np.random.default_rng(MNIST_SPLIT_SEED).permutation(10_000)
    return perm[:MNIST_OFFLINE_TRAIN], perm[MNIST_OFFLINE_TRAIN:]


# --------------------------------------------------------------------------- MNIST


def resolve_mnist_source(source: str, data_dir: str | os.PathLike | None) -> tuple[str, str]:
    """The MNIST source to read ("tfds", "idx" or "sample") and, for the sample, why it was
    chosen: "auto" takes ``data_dir`` when given, else TFDS when usable, else the IDX files of
    ``HYBRID_DATA_DIR``, else the bundled sample."""
    if source not in MNIST_SOURCES:
        raise ValueError(f"unknown MNIST source {source!r}; choose one of {MNIST_SOURCES}")
    reason = ""
    if source == "auto":
        if data_dir is not None:
            source = "idx"
        elif tfds_usable():
            source = "tfds"
        elif os.environ.get(DATA_DIR_ENV):
            source = "idx"
        else:
            source = "sample"
            reason = f"No full MNIST here ({DATA_DIR_ENV} is not set and TFDS cannot provide it). "
    return source, reason


def reachable(host: str, port: int, timeout: float) -> bool:
    """True if a TCP connection opens within ``timeout`` s (DNS included, via a thread)."""
    ok: list[bool] = []

    def probe() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                ok.append(True)
        except OSError:
            pass

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(ok)


def tfds_usable(name: str = "mnist") -> bool:
    """tensorflow_datasets is installed and data set ``name`` is prepared or downloadable."""
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        return False
    absl = logging.getLogger("absl")
    level, _ = absl.level, absl.setLevel(logging.ERROR)  # the probe's "no dataset_info" is noise
    try:
        if tfds.builder(name).is_prepared():
            return True
    except Exception:  # any TFDS failure here just means "not prepared"
        pass
    finally:
        absl.setLevel(level)
    return reachable(*_TFDS_HOST, timeout=2.0)


def read_tfds_images(
    name: str, split: str, wanted: set[int], limit: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """Read records of ``tfds.data_source(name)`` (28x28 images), stopping at ``limit`` kept."""
    try:
        import tensorflow_datasets as tfds
    except ImportError as err:
        raise ImportError(
            "source='tfds' needs tensorflow-datasets: pip install 'hybrid[data]' "
            f"(or use source='idx' with {DATA_DIR_ENV}, or source='sample')"
        ) from err
    try:
        records = tfds.data_source(name, split=split)
    except Exception as err:
        raise RuntimeError(
            f"TFDS could not provide {name} ({type(err).__name__}: {err}). Offline, use "
            f"source='idx' with {DATA_DIR_ENV} pointing at the IDX files"
            + (", or source='sample'" if name == "mnist" else "")
        ) from err
    images, labels = [], []
    for i in range(len(records)):
        record = records[i]
        label = int(record["label"])
        if label not in wanted:
            continue
        image = np.asarray(record["image"], dtype=np.uint8)
        if image.shape != (28, 28, 1):
            raise ValueError(f"TFDS {name} record {i}: image shape {image.shape}, not (28, 28, 1)")
        images.append(image)
        labels.append(label)
        if limit is not None and len(labels) >= limit:
            break
    raw = np.stack(images) if images else np.zeros((0, 28, 28, 1), np.uint8)
    return raw, np.asarray(labels, dtype=np.int64)


def idx_file(directory: Path, prefix: str, kind: str) -> Path | None:
    """The IDX file ``prefix``-``kind`` in ``directory`` under any of the names mirrors use
    (``-idx`` or ``.idx``, gzipped or not), or None."""
    for sep in ("-", "."):
        for suffix in ("", ".gz"):
            path = directory / f"{prefix}-{kind}{sep}idx{3 if kind == 'images' else 1}-ubyte"
            path = path.with_name(path.name + suffix)
            if path.is_file():
                return path
    return None


def mnist_dir(data_dir: str | os.PathLike | None) -> Path:
    """The directory holding t10k-*-ubyte(.gz): ``data_dir``/env var itself or its mnist/."""
    given = data_dir if data_dir is not None else os.environ.get(DATA_DIR_ENV)
    if not given:
        raise FileNotFoundError(
            f"source='idx' needs the MNIST IDX files: pass data_dir= or set {DATA_DIR_ENV} to a "
            "directory holding t10k-images-idx3-ubyte(.gz) and t10k-labels-idx1-ubyte(.gz)"
        )
    base = Path(given).expanduser()
    for candidate in (base, base / "mnist"):
        if idx_file(candidate, "t10k", "images") and idx_file(candidate, "t10k", "labels"):
            return candidate
    raise FileNotFoundError(
        f"no MNIST IDX files in {base} or {base / 'mnist'}: expected t10k-images-idx3-ubyte(.gz) "
        "and t10k-labels-idx1-ubyte(.gz) (the official files from yann.lecun.com mirrors)"
    )


def read_idx(path: Path, kind: str) -> np.ndarray:
    """Parse one IDX file, checking its magic number and that its size matches its header."""
    try:
        data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError) as err:
        raise ValueError(f"{path}: cannot read ({err}); the file is corrupt or truncated") from err
    ndim = 3 if kind == "images" else 1
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{path}: {len(data)} bytes is too short for an IDX {kind} file")
    magic, *dims = (int.from_bytes(data[i : i + 4], "big") for i in range(0, header, 4))
    if magic != _IDX_MAGIC[kind]:
        raise ValueError(
            f"{path}: magic number {magic} is not {_IDX_MAGIC[kind]} (IDX {kind}); wrong file?"
        )
    if kind == "images" and dims[1:] != [28, 28]:
        raise ValueError(f"{path}: images are {dims[1]}x{dims[2]}, MNIST needs 28x28")
    if len(data) != header + math.prod(dims):
        raise ValueError(
            f"{path}: {len(data) - header} data bytes but the header promises {math.prod(dims)}; "
            "the file is truncated or corrupt"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def read_idx_pair(directory: Path, prefix: str) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 28, 28, 1) and digit labels of one IDX pair, checked against each other."""
    paths = [idx_file(directory, prefix, kind) for kind in ("images", "labels")]
    if None in paths:
        raise FileNotFoundError(
            f"{directory}: {prefix}-images-idx3-ubyte(.gz) and {prefix}-labels-idx1-ubyte(.gz) "
            "must both be present"
        )
    images, labels = read_idx(paths[0], "images"), read_idx(paths[1], "labels")
    if len(images) != len(labels):
        raise ValueError(f"{directory}: {len(images)} {prefix} images but {len(labels)} labels")
    if labels.size and labels.max() > 9:
        raise ValueError(f"{paths[1]}: labels must be digits 0-9, found {labels.max()}")
    return images[..., None], labels.astype(np.int64)


def read_idx_mnist(split: str, directory: Path) -> tuple[np.ndarray, np.ndarray]:
    """Full MNIST when train-* files are there, else the fixed 8,000/2,000 split of t10k."""
    has_train = idx_file(directory, "train", "images") or idx_file(directory, "train", "labels")
    if has_train:
        return read_idx_pair(directory, "train" if split == "train" else "t10k")
    images, labels = read_idx_pair(directory, "t10k")
    if len(labels) != 10_000:
        raise ValueError(
            f"{directory}: the offline split needs the official 10,000-digit t10k set, "
            f"found {len(labels)} digits"
        )
    train_idx, test_idx = mnist_offline_split()
    idx = train_idx if split == "train" else test_idx
    return images[idx], labels[idx]


def _tfds_advice() -> str:
    """Why TFDS was not used, and what fits that case (the README installs the [data] extra)."""
    try:
        import tensorflow_datasets  # noqa: F401
    except ImportError:
        return (
            "tensorflow-datasets is not installed (pip install -e '.[data]', as in the README, "
            "installs it; on a connected machine it then downloads the 60k/10k digits once)"
        )
    return (
        "tensorflow-datasets is installed but MNIST is not prepared and storage.googleapis.com "
        "is unreachable (run once on a connected machine and TFDS keeps the 60k/10k digits)"
    )


def _outside_caller_level() -> int:
    """The ``stacklevel`` of the first caller outside the hybrid package: the warning points at
    the user's line, so the train and test loads of one call share one location and it shows
    once (Python's default filter shows a warning once per text and location)."""
    package = os.path.dirname(os.path.abspath(__file__))
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package):
        frame, level = frame.f_back, level + 1
    return level


# --------------------------------------------------------------------------- Fashion-MNIST


def fashion_mnist_dirs(data_dir: str | os.PathLike | None) -> list[Path]:
    """Where Fashion-MNIST IDX files may be, in the order searched."""
    bases = [Path(data_dir).expanduser()] if data_dir is not None else []
    if data_dir is None and os.environ.get(DATA_DIR_ENV):
        bases.append(Path(os.environ[DATA_DIR_ENV]).expanduser())
    found = [d for b in bases for d in (b, b / "fashion_mnist", b / "fashion-mnist")]
    return found + ([] if data_dir is not None else list(FASHION_MNIST_SYSTEM_DIRS))


def fashion_mnist_dir(data_dir: str | os.PathLike | None) -> Path | None:
    """The first candidate directory holding both train-* and t10k-* IDX files, or None."""
    for candidate in fashion_mnist_dirs(data_dir):
        if all(
            idx_file(candidate, prefix, kind)
            for prefix in ("train", "t10k")
            for kind in ("images", "labels")
        ):
            return candidate
    return None


def find_fashion_mnist(source: str, data_dir: str | os.PathLike | None) -> Path | None:
    """The directory to read Fashion-MNIST from, or None to read it from TFDS.

    Local IDX files come first (they are the full 60k/10k, so nothing is gained online); what
    cannot be found is refused naming every place searched.
    """
    if source not in FASHION_MNIST_SOURCES:
        raise ValueError(
            f"unknown Fashion-MNIST source {source!r}; choose one of {FASHION_MNIST_SOURCES}"
        )
    directory = fashion_mnist_dir(data_dir) if source in ("auto", "idx") else None
    if directory is None and (source == "idx" or (source == "auto" and data_dir is not None)):
        searched = ", ".join(str(d) for d in fashion_mnist_dirs(data_dir))
        raise FileNotFoundError(
            f"no Fashion-MNIST IDX files (train-* and t10k-*-idx?-ubyte[.gz]) in {searched}; set "
            f"{DATA_DIR_ENV} to a directory with a fashion_mnist/ folder, or install the Debian "
            "package dataset-fashion-mnist"
        )
    if directory is None and source == "auto" and not tfds_usable("fashion_mnist"):
        searched = ", ".join(str(d) for d in fashion_mnist_dirs(None))
        raise FileNotFoundError(
            f"Fashion-MNIST not found: no IDX files in {searched or '(none)'} and TFDS cannot "
            f"fetch it here. Set {DATA_DIR_ENV} to a directory with a fashion_mnist/ folder of "
            "the IDX files, install dataset-fashion-mnist, or pip install 'hybrid[data]' online"
        )
    return directory


def read_sample_mnist(split: str, reason: str = "") -> tuple[np.ndarray, np.ndarray]:
    """The bundled real-MNIST sample; warns (``SampleDataWarning``, at the caller's line) that
    it is too small for results, with ``reason`` and how to get the full set."""
    path = resources.files("hybrid.data") / "mnist_sample.npz"
    with path.open("rb") as fh, np.load(fh, allow_pickle=False) as npz:
        raw, labels = npz[f"x_{split}"][..., None], npz[f"y_{split}"].astype(np.int64)
    warnings.warn(
        f"{reason}Using the bundled MNIST sample (1,000 train and 250 test real digits): fine "
        "for smoke tests, too small for real results. Full MNIST: "
        f"{_tfds_advice()}; or set {DATA_DIR_ENV} to a directory with the IDX files (t10k-* "
        "alone gives the fixed 8,000/2,000 offline split).",
        SampleDataWarning,
        stacklevel=_outside_caller_level(),
    )
    return raw, labels
