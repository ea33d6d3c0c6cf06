"""Quantum-Train with default depth and mapping widths against its classical baseline.

Writes docs/results/quantum_train/defaults.json: iris and two synthetic tabular sets (Gaussian
class blobs built here), and, where scikit-learn is installed, its wine and breast-cancer sets as
held-out checks, 3 seeds each, every run `hybrid train quantum-train --dataset D
--baseline --seed S` with the library's defaults otherwise.
Run from the repository root: python benchmarks/defaults_check.py
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from hybrid import cli

OUT = Path(__file__).resolve().parents[1] / "docs" / "results" / "quantum_train" / "defaults.json"
SETS = {"blobs-8x3": (8, 3, 300, 1.5), "blobs-13x3": (13, 3, 240, 1.2)}


def blobs(path: Path, features: int, classes: int, rows: int, spread: float) -> Path:
    """A labelled CSV of Gaussian blobs, class centres drawn once (seed 7)."""
    rng = np.random.default_rng(7)
    centres = rng.normal(0, 1, (classes, features))
    y = rng.integers(0, classes, rows)
    x = centres[y] + spread * rng.normal(0, 1, (rows, features))
    lines = [
        ",".join(f"{v:.5f}" for v in row) + f",c{label}" for row, label in zip(x, y, strict=True)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def one(dataset: str, seed: int, out: Path) -> dict:
    argv = ["train", "quantum-train", "--dataset", dataset, "--baseline", "--seed", str(seed)]
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert cli.main([*argv, "--out", str(out)]) == 0
    runs = json.loads(buffer.getvalue())["runs"]
    qt, classical = runs["quantum-train"], runs["classical"]
    return {
        "seed": seed,
        "qt_test": qt["test_accuracy"],
        "classical_test": classical["test_accuracy"],
        "n_weights": qt["n_weights"],
        "n_trainable": qt["n_trainable"],
        "depth": qt["depth"],
        "mapping_hidden": qt["mapping_hidden"],
    }


def held_out(tmp: Path) -> dict[str, str]:
    """scikit-learn's wine and breast-cancer sets as CSV files: never used to choose a default,
    only to check the chosen ones (empty when scikit-learn is not installed)."""
    try:
        from sklearn import datasets
    except ImportError:
        return {}
    found = {}
    for name in ("wine", "breast_cancer"):
        bunch = getattr(datasets, f"load_{name}")()
        lines = [
            ",".join(f"{v:.6g}" for v in row) + f",c{label}"
            for row, label in zip(bunch.data, bunch.target, strict=True)
        ]
        path = tmp / f"{name}.csv"
        path.write_text("\n".join(lines) + "\n")
        found[f"{name} (held out)"] = str(path)
    return found


def main() -> None:
    tmp = Path(tempfile.mkdtemp())
    sets = {"iris": "iris"} | {
        name: str(blobs(tmp / f"{name}.csv", *spec)) for name, spec in SETS.items()
    }
    sets |= held_out(tmp)
    results = {}
    for name, dataset in sets.items():
        rows = [one(dataset, seed, tmp / f"{name}-{seed}") for seed in (0, 1, 2)]
        qt = float(np.mean([r["qt_test"] for r in rows]))
        classical = float(np.mean([r["classical_test"] for r in rows]))
        results[name] = {"runs": rows, "qt_mean": qt, "classical_mean": classical}
        print(name, f"QT {qt:.3f} classical {classical:.3f}", file=sys.stderr)
    report = {
        "command": "python benchmarks/defaults_check.py",
        "per_run": "hybrid train quantum-train --dataset D --baseline --seed S (defaults)",
        "synthetic": {
            k: dict(zip(("features", "classes", "rows", "spread"), v, strict=True))
            for k, v in SETS.items()
        },
        "chosen_on": "iris and the synthetic blobs (MIN_STEPS 500 or 1000, by test accuracy); "
        "the held-out sets only check the choice",
        "results": results,
    }
    OUT.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
