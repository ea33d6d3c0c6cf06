"""Quantum NTK training on binary MNIST (Zlokapa, Neven, Lloyd, arXiv:2107.09200).

Runs the paper's study with ``hybrid.ntk.study``: for each training set size n and trial, the exact,
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

from hybrid.cli import NTK_STUDY_OPTIONS
from hybrid.ntk import oracle
from hybrid.ntk import study as ntk_study
from hybrid.ntk.report import plot_study, statistic


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
    for name, (choices, text) in NTK_STUDY_OPTIONS.items():  # the study's OPTIONS, with help
        flag = "--" + name.replace("_", "-")
        p.add_argument(flag, choices=choices, default=choices[0], help=text)
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
        report = oracle.cnn_oracle(
            args.cnn_oracle, tuple(args.oracle_widths), tuple(range(args.oracle_seeds))
        )
        report["command"] = "python examples/ntk_mnist.py " + " ".join(argv or sys.argv[1:])
        Path(args.out).mkdir(parents=True, exist_ok=True)
        (Path(args.out) / "cnn_oracle.json").write_text(json.dumps(report, indent=1) + "\n")
        print(json.dumps({k: v for k, v in report.items() if k != "widths"}, indent=1))
        return 0
    cnn = args.arch == "cnn"
    cfg = ntk_study.StudyConfig(  # classes and the finite network: the defaults of args.arch
        arch=args.arch,
        sizes=tuple(args.sizes),
        trials=args.trials,
        source=args.source,
        finite=not args.no_finite,
        finite_trials=None if cnn else args.trials,
        estimators=() if cnn else tuple(args.estimators),
        statistics=args.statistics,
        sparsity=args.sparsity,
        cnn_thresholds=args.cnn_thresholds,
        precondition=args.precondition,
    )
    out = Path(args.out) / args.arch
    result = ntk_study.study(cfg, out, resume=args.resume, log=lambda m: print(m, file=sys.stderr))
    plot_study(result, out / f"ntk_{args.arch}.png")
    largest = result["per_n"][str(max(cfg.sizes))]
    for key in ("acc_exact", "acc_sparse", "acc_diag", "acc_finite"):
        if key in largest:
            value, sem = statistic(largest, key, cfg.statistics)
            print(f"n={max(cfg.sizes)} {key}: {value:.4f} +- {sem:.4f}")
    for key, fit in result["fits"].items():
        print(f"{key} = {fit['a']:.3f} log n + {fit['b']:.3f}   R^2 = {fit['r2']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
