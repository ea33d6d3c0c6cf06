"""Quantum-Train on MNIST, end to end: train, export, reload with NumPy alone, report.

    python examples/quantum_train_mnist.py                       # full MNIST through TFDS if online
    HYBRID_DATA_DIR=../shared/data python examples/quantum_train_mnist.py   # the offline 10k split

Without TFDS or HYBRID_DATA_DIR it trains on a small real-MNIST sample bundled with hybrid and says
so, once, and the final table names the data it used. The classical baseline (the same CNN trained
directly) is trained beside it.
"""

import argparse
import sys
import warnings

from hybrid import quantum_train
from hybrid.data import SampleDataWarning, load
from hybrid.deploy.classifier import NumpyClassifier
from hybrid.training import TrainConfig

cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
cli.add_argument("--epochs", type=int, default=15)
cli.add_argument("--depth", type=int, default=40, help="QNN blocks L")
cli.add_argument("--device", default="auto")
cli.add_argument("--source", default="auto", help="auto, tfds, idx or sample")
cli.add_argument("--out", default="runs/qt-mnist")
cli.add_argument("--overwrite", action="store_true", help="replace a previous run in --out")
cli.add_argument("--resume", action="store_true", help="continue the run in --out")
cli.add_argument("--no-baseline", action="store_true")
cli.add_argument(
    "--val-fraction",
    type=float,
    default=0.0,
    help="held out for validation (0: all 8,000 train, as the documented rows)",
)
args = cli.parse_args()

try:
    report = quantum_train.run(
        "mnist",
        args.out,
        depth=args.depth,
        device=args.device,
        source=args.source,
        models=("quantum-train",) + (() if args.no_baseline else ("classical",)),
        config=TrainConfig(
            epochs=args.epochs, batch_size=64, learning_rate=0.01, schedule="cosine"
        ),
        val_fraction=args.val_fraction,
        overwrite=args.overwrite,
        resume=args.resume,
    )
except ValueError as err:  # a refused directory, device or data set: one line, files untouched
    sys.exit(f"quantum_train_mnist: {err}")
except KeyboardInterrupt as err:  # hybrid.training.Interrupted says what it saved
    print(f"\nquantum_train_mnist: {err or 'interrupted before any checkpoint'}", file=sys.stderr)
    sys.exit(130)
with warnings.catch_warnings():  # the run above already said where the data comes from
    warnings.simplefilter("ignore", SampleDataWarning)
    test = load("mnist", "test", source=args.source)
SOURCES = {
    "tfds": "full MNIST (TFDS)",
    "idx": "MNIST IDX files",
    "sample": "bundled SAMPLE, not full MNIST",
}
data = f"{SOURCES.get(report['source'], report['source'])}: {report['n_train']} train"
print(f"\n{'model':<15}{'weights M':>10}{'trainable':>11}{'NumPy test accuracy':>21}  data")
for kind, run in report["runs"].items():
    accuracy = NumpyClassifier.load(run["run_dir"]).score(test.raw, test.y)
    print(
        f"{kind:<15}{run['n_weights']:>10}{run['n_trainable']:>11}{accuracy:>21.4f}"
        f"  {data} / {len(test.y)} test"
    )
