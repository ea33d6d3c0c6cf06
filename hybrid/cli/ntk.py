"""``hybrid ntk {study,train,qsvt}``: each handler turns the parsed options into typed library
calls (``StudyConfig``, keyword arguments) and prints; no algorithm module sees the Namespace.

Options left unset arrive as None and are passed on as None, so the per-architecture defaults
live in one place, ``hybrid.ntk.study.ARCH_DEFAULTS``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path


def _log(message: str) -> None:
    """Progress goes to stderr, so stdout holds only the JSON summary."""
    print(message, file=sys.stderr, flush=True)


def study(args: argparse.Namespace) -> int:
    """Run the MNIST study into ``args.out`` (study.json and the figure); print the fits."""
    from hybrid.deploy.runs import STUDY, check_out, claim
    from hybrid.ntk.report import plot_study
    from hybrid.ntk.study import StudyConfig
    from hybrid.ntk.study import study as run_study

    cfg = StudyConfig(
        arch=args.arch,
        classes=tuple(args.classes) if args.classes else None,
        sizes=tuple(args.sizes),
        trials=args.trials,
        test_size=args.test_size,
        bootstraps=args.bootstraps,
        seed=args.seed,
        dataset=args.dataset,
        source=args.source,
        finite=not args.no_finite,
        finite_trials=args.finite_trials,
        finite_epochs=args.finite_epochs,
        finite_lr=args.finite_lr,
        cnn_stage_depth=args.cnn_stage_depth,
        cnn_width=args.cnn_width,
        estimators=tuple(args.estimators),
        statistics=args.statistics,
        sparsity=args.sparsity,
        cnn_thresholds=args.cnn_thresholds,
        precondition=args.precondition,
    )
    claimed = {"resume": args.resume, "overwrite": args.overwrite, "record": STUDY}
    check_out(args.out, **claimed)  # before any data is read
    with claim(args.out, **claimed):
        report = run_study(cfg, args.out, resume=args.resume, log=_log)
        plot_study(report, Path(args.out) / f"ntk_{args.arch}.png")
    largest = report["per_n"].get(str(max(cfg.sizes)))
    print(json.dumps({"fits": report["fits"], "largest_n": largest}, indent=1))
    return 0


def train(args: argparse.Namespace) -> int:
    """Train the FC NTK classifier and export it as a run in ``args.out``; print its metrics."""
    from hybrid.deploy.runs import check_out, claim
    from hybrid.ntk.classifier import train_and_export

    check_out(args.out, overwrite=args.overwrite)  # before the kernel is computed
    with claim(args.out, overwrite=args.overwrite):
        spec = train_and_export(
            args.out,
            n=args.n,
            approx=args.approx,
            classes=tuple(args.classes),
            dataset=args.dataset,
            source=args.source,
            seed=args.seed,
        )
    print(
        json.dumps(
            {"run_dir": str(args.out), "kernel": spec["kernel"], "metrics": spec["metrics"]},
            indent=1,
        )
    )
    return 0


def qsvt(args: argparse.Namespace) -> int:
    """Solve small sparsified NTK systems with QSVT, one run per ``--eps``; print (and with
    ``--out`` write) the report with the command that reproduces it."""
    from hybrid.data import DATA_DIR_ENV
    from hybrid.deploy.runs import atomic_write
    from hybrid.ntk.qsvt import qsvt_demo

    if args.out and Path(args.out).is_dir():
        raise ValueError(f"--out {args.out} is a directory; the report is one JSON file")
    classes = tuple(args.classes or (8, 9))
    command = (
        f"hybrid ntk qsvt --n {args.n} --eps {' '.join(map(str, args.eps))} "
        f"--depths {' '.join(map(str, args.depths))} --dataset {args.dataset} "
        f"--classes {classes[0]} {classes[1]} --source {args.source} --seed {args.seed} "
        f"--device {args.device}" + (f" --out {args.out}" if args.out else "")
    )
    report = {
        "paper": "Zlokapa, Neven, Lloyd, arXiv:2107.09200; QSVT: Gilyen, Su, Low, Wiebe, "
        "arXiv:1806.01838",
        "command": command,
        DATA_DIR_ENV: os.environ.get(DATA_DIR_ENV),
        "runs": [
            qsvt_demo(
                n=args.n,
                eps=eps,
                device=args.device,
                source=args.source,
                seed=args.seed,
                depths=tuple(d or None for d in args.depths),
                classes=classes,
                dataset=args.dataset,
            )
            for eps in args.eps
        ],
    }
    text = json.dumps(report, indent=1)
    if args.out:
        atomic_write(args.out, (text + "\n").encode())
    print(text)
    return 0
