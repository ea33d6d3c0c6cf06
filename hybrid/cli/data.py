"""``hybrid data NAME``: load a data set as the library would and summarise it."""

from __future__ import annotations

import argparse

import numpy as np

from hybrid.data import load


def describe(args: argparse.Namespace) -> int:
    """Load one split as ``hybrid data NAME`` asks and print its size, classes and preprocessing.

    ``--classes`` arrives as strings: digits become int labels, anything else a class name."""
    classes = None
    if args.classes:
        classes = [int(c) if c.lstrip("-").isdigit() else c for c in args.classes]
    ds = load(
        args.name,
        args.split,
        source=args.source,
        classes=classes,
        limit=args.limit,
        seed=args.seed,
        data_dir=args.data_dir,
    )
    counts = np.bincount(ds.y, minlength=ds.num_classes)
    print(
        f"{ds.name} [{args.split}] from {ds.source}: {len(ds)} examples, raw {ds.raw.dtype} "
        f"{ds.raw.shape[1:]}, x {ds.x.dtype} {ds.x.shape[1:]}"
    )
    print("classes: " + ", ".join(f"{n}={c}" for n, c in zip(ds.class_names, counts, strict=True)))
    print(
        f"preprocessing: scale={ds.preprocessing['scale']:.6g}, "
        f"standardised={'yes' if ds.preprocessing['std'] is not None else 'no'}, "
        f"input_shape={ds.preprocessing['input_shape']}"
    )
    return 0
