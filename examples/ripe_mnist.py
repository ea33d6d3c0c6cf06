"""Table I of Allcock et al. (arXiv:1812.03089): a 784-100-30-10 (eps, gamma)-network on MNIST.

Offline (the fixed 8,000 / 2,000 split of the official 10k test set, no network needed), Table I
and the study of docs/ripe.md (12.5 epochs as the paper; the absolute reading of the noise):

    HYBRID_DATA_DIR=../shared/data nice -n 5 python examples/ripe_mnist.py --source idx \
        --estimator gaussian --init standard --eps 0 0.1 0.3 0.5 \
        --plot-dir docs/results/ripe --out docs/results/ripe/table1_mnist_offline.json
    HYBRID_DATA_DIR=../shared/data nice -n 5 python examples/ripe_mnist.py --source idx \
        --estimator gaussian --init low_rank --eps 0.1 0.3 0.5 \
        --plot-dir docs/results/ripe --out docs/results/ripe/table1_mnist_offline.json
    HYBRID_DATA_DIR=../shared/data nice -n 5 python examples/ripe_mnist.py --source idx \
        --estimator ripe --init standard low_rank --eps 0.1 0.3 0.5 \
        --plot-dir docs/results/ripe --out docs/results/ripe/table1_mnist_offline.json
    HYBRID_DATA_DIR=../shared/data nice -n 5 python examples/ripe_mnist.py --source idx \
        --estimator gaussian ripe --init standard --eps 0 0.5 --steps 1000 --eval-every 250 \
        --out docs/results/ripe/study_mnist.json
    HYBRID_DATA_DIR=../shared/data nice -n 5 python examples/ripe_mnist.py --source idx \
        --estimator gaussian_absolute --init standard --eps 0.1 0.3 0.5 \
        --out docs/results/ripe/study_mnist.json

Full MNIST (60k / 10k) where TFDS can download it:

    python examples/ripe_mnist.py --source tfds --estimator gaussian \
        --init standard low_rank --eps 0 0.1 0.3 0.5 --out results/table1_mnist_full.json

M = 100, T = 7500, eta = 0.05, gamma = 0.05, tanh + quadratic loss, low rank r = 6 (the paper's
settings). Each row is written as soon as it finishes; a rerun skips the rows ``--out`` already
holds with the same settings. ``--steps`` shortens a run for a smoke test.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, replace
from pathlib import Path

from _table import has_row, open_table, save_table

from hybrid import data
from hybrid.ripe import feedforward
from hybrid.ripe.estimators import Estimator


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--source", default="auto", help="auto, tfds, idx or sample")
    p.add_argument("--estimator", nargs="+", default=["gaussian"])
    p.add_argument("--init", nargs="+", default=["standard", "low_rank"])
    p.add_argument("--rank", type=int, default=6)
    p.add_argument("--eps", type=float, nargs="+", default=[0.0, 0.1, 0.3, 0.5])
    p.add_argument("--gamma", type=float, default=0.05)
    p.add_argument("--steps", type=int, default=7500)
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--eval-every", type=int, default=500)
    p.add_argument("--out", default="runs/ripe/table1_mnist.json")
    p.add_argument("--run-dir", help="export the last trained network here")
    p.add_argument("--plot-dir", help="save each row's accuracy and R-term plot here")
    args = p.parse_args(argv)

    train, test = (
        data.load("mnist", "train", source=args.source),
        data.load("mnist", "test", source=args.source),
    )
    data_info = {"source": train.source, "train": len(train), "test": len(test)}
    out = open_table(args.out, data=data_info)
    if out["data"] != data_info:
        raise SystemExit(f"{args.out} holds rows trained on {out['data']}; use another --out")
    for kind in args.estimator:
        for init in args.init:
            for eps in args.eps:
                net = feedforward.NetConfig((784, 100, 30, 10), init=init, rank=args.rank)
                config = replace(
                    feedforward.PAPER,
                    steps=args.steps,
                    batch_size=args.batch_size,
                    learning_rate=args.lr,
                    seed=args.seed,
                    eval_every=args.eval_every,
                )
                settings = {"estimator": kind, "init": init, "eps": eps, "gamma": args.gamma}
                settings |= {"net": asdict(net), "train": asdict(config)}
                if has_row(out, **settings):
                    continue
                t0 = time.perf_counter()
                params, history = feedforward.train(
                    train.x,
                    train.y,
                    test.x,
                    test.y,
                    net=net,
                    config=config,
                    estimator=Estimator(kind, eps, args.gamma),
                )
                row = {
                    **settings,
                    "seconds": time.perf_counter() - t0,
                    **feedforward.summary(history),
                    "evals": history.evals,
                }
                out["rows"].append(row)
                if args.plot_dir:  # Figs. 5-6 style: accuracy and R terms against t
                    name = f"mnist_{kind}_{init}_eps{eps}.png"
                    feedforward.plot_history(history, Path(args.plot_dir) / name)
                print(json.dumps({k: v for k, v in row.items() if k != "evals"}), flush=True)
                save_table(args.out, out)
                if args.run_dir:
                    feedforward.export(
                        args.run_dir,
                        params,
                        net,
                        preprocessing=train.preprocessing,
                        class_names=train.class_names,
                        input_shape=train.input_shape,
                    )
    return out


if __name__ == "__main__":
    main()
