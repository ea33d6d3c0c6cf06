"""Handler of ``hybrid predict``: NumPy only, so it answers without importing JAX or PennyLane."""

from __future__ import annotations

import argparse
import zipfile
from pathlib import Path


def read_npy(path: str):
    """A ``.npy`` of raw inputs, or one line naming the file (empty, truncated, unreadable)."""
    import numpy as np

    try:
        return np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path} not found") from None
    except (OSError, EOFError, ValueError, zipfile.BadZipFile) as err:
        why = getattr(err, "strerror", None) or str(err) or type(err).__name__
        if isinstance(err, EOFError) or Path(path).is_file() and Path(path).stat().st_size == 0:
            why = "the file is empty or truncated"
        raise ValueError(f"--data {path} cannot be read as a .npy array: {why}") from None


def check_output(path: str, overwrite: bool) -> Path:
    """Refuse an ``--output`` that is a directory, sits in no directory, or is an existing file
    (without ``--overwrite``), before any prediction is made."""
    out = Path(path)
    if out.is_dir():
        raise ValueError(f"--output {out} is a directory; give a file name")
    if not out.parent.is_dir():
        raise ValueError(f"--output {out}: directory {out.parent} does not exist")
    if out.exists() and not overwrite:
        raise ValueError(f"--output {out} exists; pass --overwrite to replace it")
    return out


def predict(args: argparse.Namespace) -> int:
    import numpy as np

    from hybrid import data
    from hybrid.deploy.classifier import NumpyClassifier
    from hybrid.deploy.runs import SAFETENSORS, atomic_write, load_run

    output = check_output(args.output, args.overwrite) if args.output else None
    spec, arrays = load_run(args.run_dir)
    if spec["kind"] == "weights":
        raise ValueError(
            f"{args.run_dir} holds generated weights only ({SAFETENSORS}): its network is not "
            "expressible in hybrid.deploy.architecture, so load them into your own model"
        )
    model = NumpyClassifier(spec, arrays)
    labels = None
    if args.data.endswith(".npy"):
        if args.all_rows:
            raise ValueError("--all-rows is for a labelled .csv/.npz or iris; a .npy is all rows")
        raw = read_npy(args.data)
    else:
        seed = args.seed
        if seed is None:  # the split the model was trained and tested on
            seed = int(model.spec.get("training", {}).get("seed", 0))
        split = "all" if args.all_rows else args.split
        dataset = data.load(args.data, split, source=args.source, seed=seed)
        raw = dataset.raw
        # Labels by name: the data's class k and the model's class k need not be the same class.
        labels = model.label_indices(np.asarray(dataset.class_names)[dataset.y])
    try:
        predicted = model.predict(raw)
    except ValueError as err:
        raise ValueError(f"--data {args.data}: {err}") from None
    names = np.asarray(model.class_names)[predicted]
    if output is not None:
        try:
            atomic_write(output, ("\n".join(names) + "\n").encode())
        except OSError as err:
            raise ValueError(f"--output {output} cannot be written: {err.strerror}") from None
        print(f"wrote {len(names)} predictions to {output}")
    else:
        print("\n".join(names[:20]) + ("\n..." if len(names) > 20 else ""))
    if labels is not None:
        print(f"accuracy {np.mean(predicted == labels):.4f} on {len(labels)} examples")
    return 0
