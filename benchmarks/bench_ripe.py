"""Time one (eps, gamma)-network training epoch per estimator, side by side, as ratios to exact.

The network and batch of the paper's MNIST run (784-100-30-10, tanh, quadratic loss, M = 100,
eta = 0.05) on synthetic MNIST-shaped inputs, so no data set is needed; one epoch is
``--examples / M`` iterations of forward + backpropagation + SGD + the R terms' logging, the whole
epoch one compiled ``lax.scan`` (as ``feedforward.train`` runs it). Every estimator is compiled and
warmed up first; then the repeats are interleaved (exact, gaussian, ripe, exact, ...) so that load
from other processes on a shared machine hits every estimator alike. Reported: each estimator's
median epoch, its ratio to exact's median, and the median of the per-round ratios (each round's
epochs run back to back, so the ratio of a round is the least disturbed figure).

    python benchmarks/bench_ripe.py --repeats 9 --out docs/results/ripe/bench_cpu.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from timing import time_calls

from hybrid.ripe import feedforward
from hybrid.ripe.estimators import Estimator


def compile_epoch(est: Estimator, net, x, targets, batch: int, lr: float, r_terms: bool):
    """The jitted epoch for ``est`` and its state, compiled and run once (warm-up)."""
    products = feedforward.estimator_products(est)
    state = feedforward.initial_state(jax.random.key(0), net, lr)
    steps = x.shape[0] // batch
    xb = x[: steps * batch].reshape(steps, batch, -1)
    tb = targets[: steps * batch].reshape(steps, batch, -1)
    keys = jax.random.split(jax.random.key(1), steps)
    step = feedforward.make_step(net, products, lr, r_terms=r_terms)
    epoch = jax.jit(lambda s: jax.lax.scan(step, s, (keys, xb, tb)))
    t0 = time.perf_counter()
    _, logs = jax.block_until_ready(epoch(state))
    first = time.perf_counter() - t0
    return (lambda: epoch(state)), first, steps, float(np.sum(np.asarray(logs["cost"])))


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[784, 100, 30, 10])
    p.add_argument("--examples", type=int, default=8000, help="examples in one epoch")
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--eps", type=float, default=0.1)
    p.add_argument("--gamma", type=float, default=0.05)
    p.add_argument("--estimators", nargs="+", default=["exact", "gaussian", "ripe"])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--no-r-terms", action="store_true", help="time training without R terms")
    p.add_argument("--out", help="write the results as JSON here")
    args = p.parse_args(argv)
    net = feedforward.NetConfig(tuple(args.sizes))
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.uniform(0, 1, size=(args.examples, args.sizes[0])), dtype=jnp.float32)
    targets = jnp.asarray(
        np.eye(args.sizes[-1])[rng.integers(0, args.sizes[-1], args.examples)], dtype=jnp.float32
    )
    kinds = list(dict.fromkeys(["exact", *args.estimators]))
    ests = [Estimator(k, 0.0 if k == "exact" else args.eps, args.gamma) for k in kinds]
    compiled = [
        compile_epoch(e, net, x, targets, args.batch, args.lr, not args.no_r_terms) for e in ests
    ]
    times = {k: [] for k in kinds}
    for _ in range(args.repeats):  # interleaved: one epoch of every estimator per round
        for kind, (run, *_) in zip(kinds, compiled, strict=True):
            times[kind].append(time_calls(run, 0)[0])
    rows = []
    for kind, est, (_, first, steps, cost) in zip(kinds, ests, compiled, strict=True):
        per_round = [t / e for t, e in zip(times[kind], times["exact"], strict=True)]
        rows.append(
            {
                "estimator": kind,
                "eps": est.eps,
                "gamma": est.gamma,
                "steps": steps,
                "compile_and_first_s": first,
                "median_s": statistics.median(times[kind]),
                "times_s": times[kind],
                "ratio_per_round_median": statistics.median(per_round),
                "cost_per_epoch": cost,
            }
        )
    base = rows[0]["median_s"]
    for row in rows:
        row["ratio_to_exact"] = row["median_s"] / base
        print(
            f"{row['estimator']:18s} eps={row['eps']:<4} epoch {row['median_s'] * 1e3:8.1f} ms "
            f"({row['ratio_to_exact']:.2f}x exact, per round {row['ratio_per_round_median']:.2f}x)"
            f", compile+first {row['compile_and_first_s']:.1f} s, cost {row['cost_per_epoch']:.3g}",
            flush=True,
        )
    out = {
        "command": " ".join(["python", *sys.argv]),
        "machine": platform.platform(),
        "processor": platform.processor(),
        "jax": jax.__version__,
        "backend": jax.default_backend(),
        "sizes": args.sizes,
        "examples": args.examples,
        "batch": args.batch,
        "r_terms": not args.no_r_terms,
        "load_average": os.getloadavg(),
        "rows": rows,
    }
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
