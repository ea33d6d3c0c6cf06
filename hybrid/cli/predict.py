"""Handler of ``hybrid predict``: NumPy only, so it answers without importing JAX or PennyLane."""

from __future__ import annotations

import argparse
from pathlib import Path


def predict(args: argparse.Namespace) -> int:
    import numpy as np

    from hybrid import data
    from hybrid.deploy.classifier import NumpyClassifier
    from hybrid.deploy.runs import SAFETENSORS, load_run

    spec, arrays = load_run(args.run_dir)
    if spec["kind"] == "weights":
        raise ValueError(
            f"{args.run_dir} holds generated weights only ({SAFETENSORS}): its network is not "
            "expressible in hybrid.deploy.architecture, so load them into your own model"
        )
    model = NumpyClassifier(spec, arrays)
    labels = None
    if args.data.endswith(".npy"):
        raw = np.load(args.data, allow_pickle=False)
    else:
        seed = args.seed
        if seed is None:  # the split the model was trained and tested on
            seed = int(model.spec.get("training", {}).get("seed", 0))
        dataset = data.load(args.data, args.split, source=args.source, seed=seed)
        raw = dataset.raw
        # Labels by name: the data's class k and the model's class k need not be the same class.
        labels = model.label_indices(np.asarray(dataset.class_names)[dataset.y])
    predicted = model.predict(raw)
    names = np.asarray(model.class_names)[predicted]
    if args.output:
        Path(args.output).write_text("\n".join(names) + "\n")
        print(f"wrote {len(names)} predictions to {args.output}")
    else:
        print("\n".join(names[:20]) + ("\n..." if len(names) > 20 else ""))
    if labels is not None:
        print(f"accuracy {np.mean(predicted == labels):.4f} on {len(labels)} examples")
    return 0
