"""Quantum NTK training on binary MNIST (Zlokapa, Neven, Lloyd, arXiv:2107.09200).

Runs the paper's study with ``hybrid.ntk_study``: for each training set size n and trial, the exact,
sparsified and diagonal NTK classifiers, a finite network trained by gradient descent, the
condition number of the sparsified NTK and the measurement counts for state preparation and
readout, with fits against log n. Writes ``study.json`` (resumable with --resume) and a plot.

    # offline 10k MNIST split (as in docs/ntk.md), FC 8 vs 9 then CNN 1 vs 0:
    HYBRID_DATA_DIR=../shared/data/mnist python examples/ntk_mnist.py --arch fc --source idx
    HYBRID_DATA_DIR=../shared/data/mnist python examples/ntk_mnist.py --arch cnn --source idx
    # finite CNN NTK against the infinite-width one of neural-tangents (docs/ntk.md):
    python examples/ntk_mnist.py --cnn-oracle tests/fixtures/nt_myrtle.npz --out docs/results/ntk
    # full MNIST through TFDS, n up to 8192 (a connected machine; a GPU helps the CNN):
    python examples/ntk_mnist.py --arch fc --source tfds --sizes 16 64 256 1024 4096 8192
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from hybrid import ntk_study


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--arch", choices=("fc", "cnn"), default="fc")
    p.add_argument("--source", default="auto", help="auto, tfds, idx (HYBRID_DATA_DIR), sample")
    p.add_argument("--sizes", type=int, nargs="+", default=[16, 32, 64, 128, 256, 512, 1024])
    p.add_argument("--trials", type=int, default=5)
    p.add_argument("--no-finite", action="store_true")
    p.add_argument("--estimators", nargs="*", default=["shots:1000", "ripe@0.1", "ripe@0.02"])
    p.add_argument("--out", default="docs/results/ntk")
    p.add_argument("--resume", action="store_true")
    ntk_study.study_options(p)
    p.add_argument(
        "--cnn-oracle",
        metavar="FIXTURE",
        help="instead of the study: finite CNN NTK against the infinite one in FIXTURE "
        "(tests/fixtures/nt_myrtle.npz), written to OUT/cnn_oracle.json",
    )
    p.add_argument("--oracle-widths", type=int, nargs="+", default=[16, 64, 256])
    p.add_argument("--oracle-seeds", type=int, default=4)
    args = p.parse_args(argv)
    if args.cnn_oracle:
        report = ntk_study.cnn_oracle(
            args.cnn_oracle, tuple(args.oracle_widths), tuple(range(args.oracle_seeds))
        )
        report["command"] = "python examples/ntk_mnist.py " + " ".join(argv or sys.argv[1:])
        Path(args.out).mkdir(parents=True, exist_ok=True)
        (Path(args.out) / "cnn_oracle.json").write_text(json.dumps(report, indent=1) + "\n")
        print(json.dumps({k: v for k, v in report.items() if k != "widths"}, indent=1))
        return 0
    cnn = args.arch == "cnn"
    cfg = ntk_study.StudyConfig(
        arch=args.arch,
        classes=(1, 0) if cnn else (8, 9),
        sizes=tuple(args.sizes),
        trials=args.trials,
        source=args.source,
        finite=not args.no_finite,
        finite_trials=1 if cnn else args.trials,
        finite_epochs=20 if cnn else 100,
        finite_lr=1.0 if cnn else 4.0,
        estimators=() if cnn else tuple(args.estimators),
        statistics=args.statistics,
        sparsity=args.sparsity,
        cnn_thresholds=args.cnn_thresholds,
        precondition=args.precondition,
    )
    out = Path(args.out) / args.arch
    report = ntk_study.study(cfg, out, resume=args.resume, log=lambda m: print(m, file=sys.stderr))
    ntk_study.plot_study(report, out / f"ntk_{args.arch}.png")
    largest = report["per_n"][str(max(cfg.sizes))]
    for key in ("acc_exact", "acc_sparse", "acc_diag", "acc_finite"):
        if key in largest:
            value, sem = ntk_study.statistic(largest, key, cfg.statistics)
            print(f"n={max(cfg.sizes)} {key}: {value:.4f} +- {sem:.4f}")
    for key, fit in report["fits"].items():
        print(f"{key} = {fit['a']:.3f} log n + {fit['b']:.3f}   R^2 = {fit['r2']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
