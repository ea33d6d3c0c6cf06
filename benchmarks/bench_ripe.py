"""Time one (eps, gamma)-network training epoch per estimator, side by side, as ratios to exact.

The network and batch of the paper's MNIST run (784-100-30-10, tanh, quadratic loss, M = 100,
eta = 0.05) on synthetic MNIST-shaped inputs, so no data set is needed; one epoch is
``--examples / M`` iterations of forward + backpropagation + SGD, the whole epoch one compiled
``lax.scan``. Every estimator runs in the same process: compiled once, warmed up, then timed
``--repeats`` times; the median is kept and divided by the exact estimator's median.

    python benchmarks/bench_ripe.py --out docs/results/ripe/bench_cpu.json
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from timing import time_calls

from hybrid import feedforward
from hybrid.estimators import Estimator


def time_epoch(est: Estimator, net, x, targets, batch: int, lr: float, repeats: int) -> dict:
    products = feedforward.estimator_products(est)
    state = feedforward.initial_state(jax.random.key(0), net, lr)
    steps = x.shape[0] // batch
    xb = x[: steps * batch].reshape(steps, batch, -1)
    tb = targets[: steps * batch].reshape(steps, batch, -1)
    keys = jax.random.split(jax.random.key(1), steps)
    epoch = jax.jit(
        lambda s: jax.lax.scan(feedforward.make_step(net, products, lr), s, (keys, xb, tb))
    )
    first, times = time_calls(lambda: epoch(state), repeats)
    _, logs = epoch(state)
    return {
        "estimator": est.kind,
        "eps": est.eps,
        "gamma": est.gamma,
        "steps": steps,
        "compile_and_first_s": first,
        "median_s": statistics.median(times),
        "times_s": times,
        "cost_per_epoch": float(np.sum(np.asarray(logs["cost"]))),
    }


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
    p.add_argument("--out", help="write the results as JSON here")
    args = p.parse_args(argv)
    net = feedforward.NetConfig(tuple(args.sizes))
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.uniform(0, 1, size=(args.examples, args.sizes[0])), dtype=jnp.float32)
    targets = jnp.asarray(
        np.eye(args.sizes[-1])[rng.integers(0, args.sizes[-1], args.examples)], dtype=jnp.float32
    )
    rows = []
    for kind in dict.fromkeys(["exact", *args.estimators]):
        eps = 0.0 if kind == "exact" else args.eps
        row = time_epoch(
            Estimator(kind, eps, args.gamma), net, x, targets, args.batch, args.lr, args.repeats
        )
        rows.append(row)
    base = rows[0]["median_s"]
    for row in rows:
        row["ratio_to_exact"] = row["median_s"] / base
        print(
            f"{row['estimator']:12s} eps={row['eps']:<4} epoch {row['median_s'] * 1e3:8.1f} ms "
            f"({row['ratio_to_exact']:.2f}x exact), compile+first {row['compile_and_first_s']:.1f}"
            f" s, quantum cost {row['cost_per_epoch']:.3g}",
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
        "rows": rows,
    }
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
