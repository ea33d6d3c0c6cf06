"""Table II of Allcock et al. (arXiv:1812.03089) on Iris, and the circuit-mode run.

    python examples/ripe_iris.py table --repeats 5 --eval-every 50 --plot-dir docs/results/ripe \
        --out docs/results/ripe/table2_iris.json
    python examples/ripe_iris.py circuit --device lightning.qubit \
        --out docs/results/ripe/circuit_iris.json --run-dir runs/ripe-iris-circuit

``table``: the 4-10-3 tanh network, M = 10, T = 1200, eta = 0.07, for each estimator (gaussian,
ripe) and eps in {0, 0.1, 0.3, 0.5}, ``--repeats`` seeds; reports the number of the 30 test
flowers classified correctly (noise-free and with the (eps, gamma) forward pass) and the R terms
(Theorem 1's, averaged over t and m, then over seeds).
Results are rewritten after every row; rerunning the command skips the rows ``--out`` already
holds with the same settings. ``circuit``: the same network with every inner product measured by
Hadamard-test QNodes; the trained weights are exported and checked with the NumPy classifier.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
from _table import command, has_row, open_table, save_table

from hybrid import data
from hybrid.ripe import feedforward
from hybrid.ripe.estimators import Estimator


def table(args) -> dict:
    train, test = data.load("iris", "train"), data.load("iris", "test")
    net = feedforward.NetConfig((4, 10, 3))
    out = open_table(args.out, net=asdict(net))
    for kind in args.estimators:
        for eps in args.eps:
            configs = [
                replace(
                    feedforward.PAPER,
                    steps=args.steps,
                    batch_size=args.batch_size,
                    learning_rate=args.lr,
                    seed=seed,
                    eval_every=args.eval_every,
                )
                for seed in range(args.repeats)
            ]
            settings = {"estimator": kind, "eps": eps, "gamma": args.gamma}
            settings["train"] = [asdict(c) for c in configs]
            if has_row(out, **settings):
                continue
            runs = []
            for config in configs:
                t0 = time.perf_counter()  # the first run of a row includes its compilation
                _, history = feedforward.train(
                    train.x,
                    train.y,
                    test.x,
                    test.y,
                    net=net,
                    config=config,
                    estimator=Estimator(kind, eps, args.gamma),
                    verbose=False,
                )
                seconds = time.perf_counter() - t0
                runs.append(
                    {"seed": config.seed, "seconds": seconds, **feedforward.summary(history)}
                )
                if args.plot_dir and config.seed == 0:  # Figs. 5-6 style: accuracy, R terms vs t
                    name = f"iris_{kind}_eps{eps}.png"
                    feedforward.plot_history(history, Path(args.plot_dir) / name)
            row = {**settings, "runs": runs}
            for key in ("test_correct", "test_correct_noisy", "R_a", "R_delta", "R_W"):
                values = [r[key] for r in runs]
                row[key + "_avg"] = float(np.mean(values))
                row[key + "_std"] = float(np.std(values))
            out["rows"].append(row)
            print(
                f"{kind:9s} eps={eps:<4} correct {row['test_correct_avg']:.1f}/30 "
                f"(noisy {row['test_correct_noisy_avg']:.1f}) R_a {row['R_a_avg']:.2f} "
                f"R_delta {row['R_delta_avg']:.2f} R_W {row['R_W_avg']:.2f}",
                flush=True,
            )
            save_table(args.out, out)
    return out


def circuit(args) -> dict:
    from hybrid.deploy.classifier import NumpyClassifier
    from hybrid.ripe.inner_product import CircuitInnerProducts

    train, test = data.load("iris", "train"), data.load("iris", "test")
    net = feedforward.NetConfig((4, 10, 3))
    config = replace(
        feedforward.PAPER,
        steps=args.steps,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        seed=args.seed,
        eval_every=args.eval_every,
    )
    ips = CircuitInnerProducts(args.device, shots=args.shots, seed=args.seed)
    t0 = time.perf_counter()
    params, history = feedforward.train(
        train.x, train.y, test.x, test.y, net=net, config=config, circuit=ips, run_dir=args.run_dir
    )
    seconds = time.perf_counter() - t0
    result = feedforward.summary(history)
    feedforward.export(
        args.run_dir,
        params,
        net,
        preprocessing=train.preprocessing,
        class_names=train.class_names,
        extra={"metrics": result},
    )
    numpy_acc = NumpyClassifier.load(args.run_dir).score(test.raw, test.y)
    out = {
        "command": command(),
        "machine": platform.platform(),
        "device": ips.profile.name,
        "shots": ips.profile.shots,
        "circuits": ips.calls,
        "seconds": seconds,
        "numpy_classifier_test_acc": numpy_acc,
        **result,
    }
    print(json.dumps(out, indent=2))
    save_table(args.out, out)
    return out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("mode", choices=["table", "circuit"])
    p.add_argument("--estimators", nargs="+", default=["gaussian", "ripe"])
    p.add_argument("--eps", type=float, nargs="+", default=[0.0, 0.1, 0.3, 0.5])
    p.add_argument("--gamma", type=float, default=0.05)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--steps", type=int, default=1200)
    p.add_argument("--batch-size", type=int, default=10)
    p.add_argument("--lr", type=float, default=0.07)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--eval-every", type=int, help="test every N steps (table: T, circuit: 200)")
    p.add_argument("--plot-dir", help="table: save seed 0's accuracy and R-term plot per row")
    p.add_argument("--device", default="lightning.qubit")
    p.add_argument("--shots", type=int)
    p.add_argument("--run-dir", default="runs/ripe-iris-circuit")
    p.add_argument("--out", help="results JSON (default runs/ripe/iris_MODE.json)")
    args = p.parse_args(argv)
    args.eval_every = args.eval_every or (args.steps if args.mode == "table" else 200)
    args.out = args.out or f"runs/ripe/iris_{args.mode}.json"
    table(args) if args.mode == "table" else circuit(args)


if __name__ == "__main__":
    main()
