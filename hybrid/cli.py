"""The ``hybrid`` command line: train, predict, list devices.

Heavy modules (jax, pennylane) are imported inside the commands that need them, so that
``hybrid predict`` runs with the NumPy classifier alone.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path

# Modules that add their own subcommands: (module, where) with where "train" or "top".
EXTENSIONS = (
    ("hybrid.data", "top"),
    ("hybrid.feedforward", "train"),
    ("hybrid.ntk", "top"),
    ("hybrid.hardware", "top"),
)


def _train_config(args):
    from hybrid.training import TrainConfig

    return TrainConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        optimizer=args.optimizer,
        schedule=args.schedule,
        seed=args.seed,
    )


def _quantum_train(args) -> int:
    from hybrid import architecture, quantum_train

    layers = architecture.parse(args.layers) if args.layers else None
    report = quantum_train.run(
        args.dataset,
        args.out,
        depth=args.qnn_depth,
        device=args.device,
        layers=layers,
        mapping_hidden=tuple(args.mapping_hidden),
        config=_train_config(args),
        baseline=args.baseline,
        classical_only=args.classical,
        resume=args.resume,
        source=args.source,
        limit=args.limit,
    )
    print(json.dumps(report, indent=2))
    return 0


def _predict(args) -> int:
    import numpy as np

    from hybrid import data
    from hybrid.classifier import NumpyClassifier

    model = NumpyClassifier.load(args.run_dir)
    labels = None
    if args.data.endswith(".npy"):
        raw = np.load(args.data, allow_pickle=False)
    else:
        dataset = data.load(args.data, args.split, source=args.source)
        raw, labels = dataset.raw, dataset.y
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


def _devices(args) -> int:
    from hybrid import devices

    for name, profile in devices.profiles().items():
        mark = "yes" if devices.is_available(profile.device) else "no "
        shots = profile.shots or "analytic"
        print(f"{mark}  {name:<22} {profile.gradient:<16} {shots!s:<9} {profile.description}")
    print(f"\nauto -> {devices.get('auto', quiet=True).name}")
    return 0


def _add_training_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-2, help="learning rate")
    parser.add_argument("--optimizer", default="adam", help="any optax optimizer name")
    parser.add_argument("--schedule", default="cosine", choices=["constant", "cosine"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resume", action="store_true", help="continue from OUT's checkpoint")


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="hybrid", description=__doc__.splitlines()[0])
    commands = root.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train a model and export it").add_subparsers(
        dest="model", required=True
    )
    qt = train.add_parser("quantum-train", help="Quantum-Train (Liu et al., arXiv:2402.16465)")
    qt.add_argument("--dataset", default="mnist", help="mnist, iris, or a .npz/.csv path")
    qt.add_argument("--source", default="auto", help="mnist source: auto, tfds, idx or sample")
    qt.add_argument("--limit", type=int, help="use only the first LIMIT training examples")
    qt.add_argument("--device", default="auto", help="device profile name or .toml path")
    qt.add_argument("--qnn-depth", type=int, default=40, help="QNN blocks L")
    qt.add_argument("--layers", help="target network, e.g. 'dense:16,relu,dense:3'")
    qt.add_argument("--mapping-hidden", type=int, nargs="+", default=[4, 20, 4])
    qt.add_argument("--baseline", action="store_true", help="also train the classical net")
    qt.add_argument("--classical", action="store_true", help="train only the classical net")
    qt.add_argument("--out", default="runs/quantum-train", help="run directory")
    _add_training_options(qt)
    qt.set_defaults(func=_quantum_train)

    predict = commands.add_parser("predict", help="predict with an exported run (NumPy only)")
    predict.add_argument("run_dir")
    predict.add_argument("--data", required=True, help="a .npy of raw inputs, or a data set")
    predict.add_argument("--split", default="test")
    predict.add_argument("--source", default="auto")
    predict.add_argument("--output", help="write one predicted class name per line")
    predict.set_defaults(func=_predict)

    commands.add_parser("devices", help="list device profiles").set_defaults(func=_devices)

    for module, where in EXTENSIONS:
        importlib.import_module(module).add_cli(train if where == "train" else commands)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("\ninterrupted: the last checkpoint is kept; rerun with --resume", file=sys.stderr)
        return 130
    except (ValueError, FileNotFoundError) as err:
        print(f"hybrid: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
