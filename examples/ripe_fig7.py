"""The check of Fig. 7 of Allcock et al. (arXiv:1812.03089): RIPE samples for the paper's x, y.

    python examples/ripe_fig7.py --samples 10000 --out docs/results/ripe/fig7.json

For eps in {0.1, 0.3} and gamma in {0.2, 0.05, 0.01} (Q from the gamma rule), and Q = 1 (the Fig. 7
caption's reading for gamma = 0.2), draws ``--samples`` RIPE estimates of <x, y> for the two
5-dimensional vectors printed in the paper's Fig. 7. Reports the fraction f inside the band
max(eps |<x,y>|, eps), which the (eps, gamma) guarantee requires to be >= 1 - gamma (up to the
binomial tolerance 3 sqrt(gamma (1 - gamma) / samples)), and the sample mean and standard
deviation beside those of the exact law of the median (``sampler.ae_median_law``). The
Gaussian model is drawn for comparison; histograms are saved beside the JSON.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

import jax
import numpy as np

from hybrid.ripe import estimators, sampler
from hybrid.ripe.estimators import Estimator
from hybrid.training import pyplot

# The vectors printed in the paper's Fig. 7.
X = np.array([5.88414114, 2.0327562, 1.68155901, 7.91848042, 1.61922687])
Y = np.array([5.15610287, 7.2034771, 9.88496245, 3.46281654, 4.20607662])


def _exact_moments(a: float, m: int, q: int, norm2: float) -> tuple[float, float]:
    """Mean and standard deviation of the estimate of <x,y> under the exact median law."""
    law = sampler.ae_median_law(a, m, q)
    s = norm2 * (1 - 2 * np.sin(np.pi * np.arange(len(law)) / m) ** 2) / 2
    mean = float(law @ s)
    return mean, float(np.sqrt(law @ (s - mean) ** 2))


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--samples", type=int, default=10000)
    p.add_argument("--eps", type=float, nargs="+", default=[0.1, 0.3])
    p.add_argument("--gammas", type=float, nargs="+", default=[0.2, 0.05, 0.01])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="docs/results/ripe/fig7.json")
    args = p.parse_args(argv)
    jax.config.update("jax_enable_x64", True)
    ip, norm2 = float(X @ Y), float(X @ X + Y @ Y)
    a = float(estimators.amplitude(ip, X @ X, Y @ Y))
    xs, ys = np.tile(X, (args.samples, 1)), np.tile(Y, (args.samples, 1))
    out = {
        "command": " ".join(["python", *sys.argv]),
        "machine": platform.platform(),
        "x": X.tolist(),
        "y": Y.tolist(),
        "inner_product": ip,
        "amplitude": a,
        "samples": args.samples,
        "rows": [],
    }
    draws = {}
    for eps in args.eps:
        width = eps * max(1.0, abs(ip))
        m = int(estimators.ripe_m(estimators.ripe_eps_a(ip, X @ X, Y @ Y, eps)))
        for gamma in [*args.gammas, None]:  # None: Q = 1, the caption's reading of gamma = 0.2
            q = estimators.ripe_q(gamma) if gamma is not None else 1
            key = jax.random.fold_in(jax.random.key(args.seed), int((gamma or 1) * 1e6 + eps * 1e3))
            kinds = ("ripe", "gaussian") if gamma is not None else ("ripe",)
            for kind in kinds:
                if gamma is None:  # the median of one output: the sampler with q = 1
                    a_hat = sampler.ae_median(key, np.full(args.samples, a), m, 1)
                    s = np.asarray(estimators.from_amplitude(a_hat, X @ X, Y @ Y))
                else:
                    s = np.asarray(estimators.estimate(Estimator(kind, eps, gamma), key, xs, ys)[0])
                f = float(np.mean(np.abs(s - ip) <= width))
                g = gamma if gamma is not None else 0.2
                sd = float(np.sqrt(g * (1 - g) / args.samples))  # binomial, at f = 1 - gamma
                row = {
                    "estimator": kind,
                    "eps": eps,
                    "gamma": gamma,
                    "Q": q,
                    "M": m,
                    "band": [ip - width, ip + width],
                    "f": f,
                    "required": 1 - g,
                    "ok_binomial_3sd": f >= 1 - g - 3 * sd,
                    "mean": float(s.mean()),
                    "std": float(s.std()),
                }
                if kind == "ripe":
                    row["exact_mean"], row["exact_std"] = _exact_moments(a, m, q, norm2)
                out["rows"].append(row)
                draws[(kind, eps, q)] = s
                print(
                    f"{kind:8s} eps={eps} gamma={gamma} Q={q} M={m} f={f:.4f} "
                    f"mean {row['mean']:.2f} std {row['std']:.2f}"
                    + (
                        f" (exact {row['exact_mean']:.2f}, {row['exact_std']:.2f})"
                        if kind == "ripe"
                        else ""
                    ),
                    flush=True,
                )
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2))
    _plot(draws, ip, args, path.with_suffix(".png"))
    return out


def _plot(draws, ip, args, path) -> None:
    if (plt := pyplot()) is None:
        return
    fig, axes = plt.subplots(len(args.eps), 1, figsize=(9, 3.2 * len(args.eps)), squeeze=False)
    for ax, eps in zip(axes[:, 0], args.eps, strict=True):
        for (kind, e, q), s in draws.items():
            if e == eps:
                ax.hist(s, bins=120, histtype="step", density=True, label=f"{kind} Q={q}")
        width = eps * max(1.0, abs(ip))
        for edge in (ip - width, ip + width):
            ax.axvline(edge, color="k", ls="--", lw=0.8)
        ax.set_title(f"eps={eps}")
        ax.set_xlabel("estimate of <x,y>")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
