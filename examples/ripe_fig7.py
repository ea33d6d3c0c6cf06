"""The check of Fig. 7 of Allcock et al. (arXiv:1812.03089): RIPE samples for the paper's x, y.

    python examples/ripe_fig7.py --samples 10000 --out docs/results/ripe/fig7.json

For eps = 0.3 and gamma in {0.2, 0.05, 0.01}, draws ``--samples`` RIPE estimates of <x, y> for the
two 5-dimensional vectors printed in the paper's Fig. 7 and reports the fraction f inside the
band max(eps |<x,y>|, eps), which the (eps, gamma) guarantee requires to be >= 1 - gamma (up to
the binomial tolerance 3 sqrt(gamma (1 - gamma) / samples) of a finite sample). The
same is done for the Gaussian model for comparison, and a histogram is saved beside the JSON.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

import jax
import numpy as np

from hybrid import estimators
from hybrid.estimators import Estimator
from hybrid.training import pyplot

# The vectors of the paper's Fig. 7 (also written out in ../shared/DESIGN.md).
X = np.array([5.88414114, 2.0327562, 1.68155901, 7.91848042, 1.61922687])
Y = np.array([5.15610287, 7.2034771, 9.88496245, 3.46281654, 4.20607662])


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--samples", type=int, default=10000)
    p.add_argument("--eps", type=float, default=0.3)
    p.add_argument("--gammas", type=float, nargs="+", default=[0.2, 0.05, 0.01])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="docs/results/ripe/fig7.json")
    args = p.parse_args(argv)
    jax.config.update("jax_enable_x64", True)
    ip = float(X @ Y)
    width = args.eps * max(1.0, abs(ip))
    xs, ys = np.tile(X, (args.samples, 1)), np.tile(Y, (args.samples, 1))
    out = {
        "command": " ".join(["python", *sys.argv]),
        "machine": platform.platform(),
        "x": X.tolist(),
        "y": Y.tolist(),
        "inner_product": ip,
        "eps": args.eps,
        "band": [ip - width, ip + width],
        "samples": args.samples,
        "rows": [],
    }
    draws = {}
    for gamma in args.gammas:
        for kind in ("ripe", "gaussian"):
            est = Estimator(kind, args.eps, gamma)
            key = jax.random.fold_in(jax.random.key(args.seed), int(gamma * 1e6))
            s, cost = estimators.estimate(est, key, xs, ys)
            s = np.asarray(s)
            f = float(np.mean(np.abs(s - ip) <= width))
            sd = float(np.sqrt(gamma * (1 - gamma) / args.samples))  # binomial, at f = 1-gamma
            row = {
                "estimator": kind,
                "gamma": gamma,
                "f": f,
                "required": 1 - gamma,
                "f_minus_3sd": f - 3 * sd,
                "ok_binomial_3sd": f >= 1 - gamma - 3 * sd,
                "Q": estimators.ripe_q(gamma),
                "M": int(np.asarray(cost)[0] / estimators.ripe_q(gamma)),
                "mean": float(s.mean()),
                "std": float(s.std()),
            }
            out["rows"].append(row)
            draws[(kind, gamma)] = s
            print(
                f"{kind:8s} gamma={gamma:<5} f={f:.4f} (need >= {1 - gamma:.2f}) "
                f"Q={row['Q']} M={row['M']}",
                flush=True,
            )
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2))
    _plot(draws, ip, width, args, path.with_suffix(".png"))
    return out


def _plot(draws, ip, width, args, path) -> None:
    if (plt := pyplot()) is None:
        return
    fig, axes = plt.subplots(1, len(args.gammas), figsize=(4 * len(args.gammas), 3.2))
    for ax, gamma in zip(np.atleast_1d(axes), args.gammas, strict=True):
        for kind in ("ripe", "gaussian"):
            ax.hist(draws[(kind, gamma)], bins=80, histtype="step", density=True, label=kind)
        for edge in (ip - width, ip + width):
            ax.axvline(edge, color="k", ls="--", lw=0.8)
        ax.set_title(f"eps={args.eps}, gamma={gamma}")
        ax.set_xlabel("estimate of <x,y>")
    np.atleast_1d(axes)[0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
