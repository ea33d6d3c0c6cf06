"""Quantum-Train on Iris beside the classical baseline; both reloaded by the NumPy classifier.

python examples/quantum_train_iris.py
"""

import argparse

from hybrid import quantum_train
from hybrid.data import load
from hybrid.deploy import architecture
from hybrid.deploy.classifier import NumpyClassifier
from hybrid.training import TrainConfig

cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
cli.add_argument("--epochs", type=int, default=100)
cli.add_argument("--depth", type=int, default=8, help="QNN blocks L")
cli.add_argument("--device", default="auto")
cli.add_argument("--seed", type=int, default=0)
cli.add_argument("--out", default="runs/qt-iris")
args = cli.parse_args()

report = quantum_train.run(
    "iris",
    args.out,
    depth=args.depth,
    device=args.device,
    models=("quantum-train", "classical"),
    layers=architecture.mlp((16, 16), 3),
    mapping_hidden=(8,),
    config=TrainConfig(
        epochs=args.epochs, batch_size=16, learning_rate=0.01, schedule="cosine", seed=args.seed
    ),
)
test = load("iris", "test")
print(f"\n{'model':<15}{'weights M':>10}{'trainable':>11}{'NumPy test accuracy':>21}")
for kind, run in report["runs"].items():
    accuracy = NumpyClassifier.load(run["run_dir"]).score(test.raw, test.y)
    print(f"{kind:<15}{run['n_weights']:>10}{run['n_trainable']:>11}{accuracy:>21.4f}")
