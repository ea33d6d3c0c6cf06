"""One run-directory format for every model: ``weights.npz`` plus ``model.json``, and the same
weights as ``weights.safetensors`` for PyTorch, Flax or NumPy users without this library.

Imports numpy only at module level, because the deployed NumPy classifier reads runs through it.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import platform
import secrets
import zipfile
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path

import numpy as np

FORMAT = "hybrid-run/2"
OLD_FORMATS = ("hybrid-run/1",)  # weights checksum only: read when that checksum verifies
WEIGHTS = "weights.npz"
SAFETENSORS = "weights.safetensors"
SPEC = "model.json"
_REQUIRED = ("kind", "preprocessing", "class_names")
RECORD_KEY = "record_sha256"
CHECKPOINT = "checkpoint.npz"
METRICS = "metrics.json"
CURVE = "learning_curve.png"
LOCK = ".lock"
_PACKAGES = (
    "hybrid",
    "numpy",
    "jax",
    "optax",
    "pennylane",
    "pennylane_lightning",
    "safetensors",
    "flax",
    "equinox",
)


class RunFormatError(ValueError):
    """A run directory that is missing, truncated, tampered with or of an unknown format."""


def _versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in _PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            found[name] = metadata.version(name)
    return found


def atomic_write(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` through a uniquely named temporary file and a rename, so that a
    reader (or a resumed run) never sees a half-written file and two writers never share one."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "xb") as fh:  # exclusive: never another writer's file
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def npz_bytes(arrays: Mapping[str, np.ndarray]) -> bytes:
    """``arrays`` as the bytes of an uncompressed ``.npz`` (for ``atomic_write``)."""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def record_sha256(spec: Mapping, weights: bytes) -> str:
    """One checksum over the whole run record: canonical model.json content and weights bytes.

    Canonical means sorted keys and no whitespace, without the checksum itself; so any edit to a
    value (a preprocessing mean, an activation, the order of class names) changes it.
    """
    body = {key: value for key, value in spec.items() if key != RECORD_KEY}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode() + b"\0" + weights).hexdigest()


def safetensors_bytes(tensors: Mapping[str, np.ndarray]) -> bytes:
    """``tensors`` as the bytes of a ``.safetensors`` file (contiguous, keys as given)."""
    from safetensors.numpy import save  # only writers need it; the classifier reads weights.npz

    return save({name: np.ascontiguousarray(a) for name, a in tensors.items()})


def save_run(
    run_dir: str | os.PathLike,
    arrays: Mapping[str, np.ndarray],
    spec: dict,
    *,
    tensors: Mapping[str, np.ndarray] | None = None,
) -> Path:
    """Write ``arrays`` and ``spec`` so that ``load_run`` can verify and rebuild them, and
    ``tensors`` (default ``arrays``: the same weights, keyed as the user's model names them) as
    weights.safetensors, its sha256 in model.json."""
    missing = [key for key in _REQUIRED if key not in spec]
    if missing:
        raise ValueError(f"spec is missing {missing}; every run records {list(_REQUIRED)}")
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    arrays = {name: np.asarray(value) for name, value in arrays.items()}
    if any(a.dtype == object for a in arrays.values()):
        raise ValueError("object arrays cannot be exported; weights must be numeric")
    if bad := non_finite(arrays):
        raise ValueError(f"refusing to export {run_dir}: weights {bad} hold NaN or inf")
    blob = npz_bytes(arrays)
    exported = safetensors_bytes(arrays if tensors is None else tensors)
    full = {
        **spec,
        "format": FORMAT,
        "weights": {name: list(a.shape) for name, a in arrays.items()},
        "weights_sha256": hashlib.sha256(blob).hexdigest(),
        "safetensors_sha256": hashlib.sha256(exported).hexdigest(),
        "versions": _versions(),
    }
    full = json.loads(json.dumps(full))  # the form load_run will see (tuples become lists)
    full[RECORD_KEY] = record_sha256(full, blob)
    atomic_write(run_dir / WEIGHTS, blob)
    atomic_write(run_dir / SAFETENSORS, exported)
    atomic_write(run_dir / SPEC, json.dumps(full, indent=2).encode())
    return run_dir


def non_finite(arrays: Mapping[str, np.ndarray]) -> list[str]:
    """Names of the numeric arrays holding NaN or inf: a diverged run must never be deployed."""
    return [
        name
        for name, a in arrays.items()
        if np.asarray(a).dtype.kind in "fc" and not np.all(np.isfinite(a))
    ]


def read_bytes(path: Path) -> bytes:
    """A file's bytes, or one line naming it (unreadable, a directory, gone)."""
    try:
        return path.read_bytes()
    except OSError as err:
        raise RunFormatError(f"{path} cannot be read: {err.strerror or err}") from None


def load_run(run_dir: str | os.PathLike) -> tuple[dict, dict[str, np.ndarray]]:
    """Read a run exactly as written, or refuse it: the record checksum covers model.json and
    the weights, so an edited mean, activation or class order cannot change predictions."""
    run_dir = Path(run_dir)
    spec_path, weights_path = run_dir / SPEC, run_dir / WEIGHTS
    for path in (spec_path, weights_path):
        try:
            found = path.is_file()
        except OSError as err:  # a parent directory that cannot be searched
            raise RunFormatError(f"{path} cannot be read: {err.strerror or err}") from None
        if not found:
            raise RunFormatError(f"{path} not found: is {run_dir} a run directory made by hybrid?")
    try:
        spec = json.loads(read_bytes(spec_path).decode())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise RunFormatError(f"{spec_path} is not valid JSON ({err}); the file is damaged") from err
    if not isinstance(spec, dict):
        raise RunFormatError(f"{spec_path} holds {type(spec).__name__}, not a run record")
    if spec.get("format") not in (FORMAT, *OLD_FORMATS):
        raise RunFormatError(f"{spec_path} has format {spec.get('format')!r}, expected {FORMAT!r}")
    blob = read_bytes(weights_path)
    if hashlib.sha256(blob).hexdigest() != spec.get("weights_sha256"):
        raise RunFormatError(
            f"{weights_path} does not match the sha256 recorded in {spec_path}: "
            "the weights were changed or truncated after export"
        )
    if spec["format"] == FORMAT and spec.get(RECORD_KEY) != record_sha256(spec, blob):
        raise RunFormatError(
            f"{spec_path} was edited after export (its {RECORD_KEY} no longer matches its "
            "content and weights); retrain or restore the original file"
        )
    _check_required(spec, spec_path)
    try:
        with np.load(io.BytesIO(blob), allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
        raise RunFormatError(f"{weights_path} cannot be read: {err}") from err
    if bad := non_finite(arrays):
        raise RunFormatError(f"{weights_path}: weights {bad} hold NaN or inf; retrain the run")
    expected = spec.get("weights", {})
    shapes = {name: list(a.shape) for name, a in arrays.items()}
    if shapes != expected:
        raise RunFormatError(f"weights hold {shapes}, but {spec_path} records {expected}")
    return spec, arrays


# What a run directory may hold: hybrid's own files (a baseline run inside, resource reports, an
# NTK study's record and figure, temporary files of atomic_write); anything else belongs to
# someone else and is never removed.
STUDY = "study.json"
_RUN_NAMES = {SPEC, WEIGHTS, SAFETENSORS, CHECKPOINT, METRICS, CURVE, LOCK, STUDY}


def _ours(path: Path) -> bool:
    name = path.name
    if path.is_dir():
        return name == "baseline" and all(_ours(p) for p in path.iterdir())
    return (
        name in _RUN_NAMES
        or (name.startswith("resources-") and name.endswith(".json"))
        or (name.startswith("ntk_") and name.endswith(".png"))
        or (name.startswith(".") and name.endswith(".tmp"))
    )


def _entries(run_dir: Path) -> list[Path]:
    """What ``run_dir`` holds besides the lock, or one line when it cannot be listed."""
    try:
        if run_dir.exists() and not run_dir.is_dir():
            raise ValueError(f"--out {run_dir} is a file; a run needs a directory")
        return [p for p in run_dir.iterdir() if p.name != LOCK] if run_dir.is_dir() else []
    except OSError as err:
        raise ValueError(f"--out {run_dir} cannot be read: {err.strerror or err}") from None


def check_out(
    run_dir: str | os.PathLike,
    *,
    resume: bool = False,
    overwrite: bool = False,
    record: str = CHECKPOINT,
) -> None:
    """Refuse a run directory this run may not write to, before anything is written.

    Empty or absent: fine. Holding a run: only with ``resume`` (it must hold ``record``, the
    file a resumable run of this command leaves, and the trainer then checks that it is the same
    run) or ``overwrite`` (its files are cleared first, ``clear_run``). Never a file, and never a
    directory holding files hybrid did not write, with ``resume`` or without.
    """
    run_dir = Path(run_dir)
    if resume and overwrite:
        raise ValueError("--resume continues a run and --overwrite replaces it: choose one")
    entries = _entries(run_dir)
    if not entries:
        return
    try:
        foreign = sorted(p.name for p in entries if not _ours(p))
    except OSError as err:
        raise ValueError(f"--out {run_dir} cannot be read: {err.strerror or err}") from None
    if foreign:
        raise ValueError(
            f"--out {run_dir} holds files hybrid did not write ({', '.join(foreign[:3])}"
            f"{', ...' if len(foreign) > 3 else ''}); choose an empty or new directory"
        )
    if resume and not (run_dir / record).is_file():
        raise ValueError(
            f"--resume: {run_dir} holds no {record}, so no run of this command to continue "
            f"({', '.join(sorted(p.name for p in entries)[:3])}); choose another --out"
        )
    if not (resume or overwrite):
        raise ValueError(
            f"--out {run_dir} already holds a run; pass --resume to continue it, --overwrite to "
            "replace it, or choose another --out"
        )


def clear_run(run_dir: str | os.PathLike) -> None:
    """Remove a previous run's files (its baseline/ included), keeping the lock; only hybrid's
    own files are there, as ``check_out`` made sure."""
    run_dir = Path(run_dir)
    for path in run_dir.iterdir():
        if path.name == LOCK or not _ours(path):
            continue
        if path.is_dir():
            clear_run(path)
            path.rmdir()
        else:
            path.unlink()


class RunLock:
    """An exclusive lock on a run directory, held from creation until ``release`` (or until the
    process ends): a second process writing to the same directory is refused at once."""

    def __init__(self, run_dir: str | os.PathLike):
        import fcntl  # POSIX; imported here so the deployed classifier needs nothing but numpy

        self.run_dir = Path(run_dir)
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.run_dir / LOCK, "a+")  # noqa: SIM115 (held open on purpose)
        except OSError as err:
            raise ValueError(f"--out {run_dir} cannot be written: {err.strerror or err}") from None
        try:
            fcntl.flock(self._fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._fh.seek(0)
            holder = self._fh.read().strip() or "unknown"
            self._fh.close()
            raise ValueError(
                f"another hybrid process (pid {holder}) is writing to {self.run_dir}; wait for "
                "it to finish or choose another --out"
            ) from None
        self._fh.seek(0)
        self._fh.truncate()
        self._fh.write(str(os.getpid()))
        self._fh.flush()

    def release(self) -> None:
        self._fh.close()  # closing the file drops the lock

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def __del__(self):
        with contextlib.suppress(Exception):
            self._fh.close()


def lock(run_dir: str | os.PathLike) -> RunLock:
    """Take the run directory's lock (creating the directory); see ``RunLock``."""
    return RunLock(run_dir)


def claim(
    run_dir: str | os.PathLike,
    *,
    resume: bool = False,
    overwrite: bool = False,
    record: str = CHECKPOINT,
) -> RunLock:
    """Lock ``run_dir`` for one run: ``check_out`` again under the lock (another process may have
    written meanwhile), then clear the old run's files if ``overwrite``. Every command that
    writes a run directory goes through here, so none can mix two runs or overwrite one silently.
    Use it as ``with claim(out) as lock:``; the lock is released when the block ends.
    """
    held = lock(run_dir)
    try:
        check_out(run_dir, resume=resume, overwrite=overwrite, record=record)
    except ValueError:
        held.release()
        raise
    if overwrite:
        clear_run(run_dir)
    return held


def _check_required(spec: dict, spec_path: Path) -> None:
    """Refuse a record without the keys every run needs, with one line naming what is wrong."""
    missing = [key for key in _REQUIRED if key not in spec]
    if missing:
        raise RunFormatError(f"{spec_path} records no {', '.join(missing)}; not a usable run")
    names = spec["class_names"]
    if (
        not isinstance(names, list)
        or len(names) < 2
        or not all(isinstance(n, str) for n in names)
        or len(set(names)) != len(names)
    ):
        raise RunFormatError(
            f"{spec_path}: class_names must be a list of at least 2 distinct strings, got {names!r}"
        )


def save_network(
    run_dir: str | os.PathLike,
    layers: list,
    input_shape,
    weights: np.ndarray,
    *,
    preprocessing: dict,
    class_names: list[str],
    tensors: Mapping[str, np.ndarray] | None = None,
    **extra,
) -> Path:
    """Export a layer stack with its flat weight vector as a "network" run (one array a layer);
    ``tensors`` names the same weights as the user's model does, for weights.safetensors."""
    from hybrid.deploy import (
        architecture,  # numpy-only, imported here to keep this module standalone
    )

    params = architecture.unflatten(np.asarray(weights, dtype=np.float64), layers, input_shape)
    spec = {
        "kind": "network",
        "architecture": {"layers": list(layers), "input_shape": list(input_shape)},
        "preprocessing": preprocessing,
        "class_names": list(class_names),
        **extra,
    }
    return save_run(run_dir, {f"w{i}": p for i, p in enumerate(params)}, spec, tensors=tensors)
