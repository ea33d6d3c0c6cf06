"""What the NTK study reports: per-n summaries with fits against log n (``summarize``), the value
and error of one quantity (``statistic``), the paper's figure (``plot_study``) and the JSON text
of ``study.json`` (``report_json``).

Everything here reads the report's plain dictionaries (the configuration as ``asdict`` of a
``StudyConfig``), so a ``study.json`` written earlier can be summarised and plotted again
without the study's code.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

import hybrid.ntk.sparsify as sparsify

# The quantities fitted against log n, as in the paper's figure.
FITTED = ("kappa", "post_selection", "readout_diag", "readout_sparse", "sparsity")


def _summaries(values) -> dict:
    """Mean, standard error of the mean and median over trials."""
    v = np.asarray(values, dtype=np.float64)
    return {
        "mean": float(v.mean()),
        "sem": float(v.std(ddof=1) / math.sqrt(len(v))) if len(v) > 1 else 0.0,
        "median": float(np.median(v)),
    }


def summarize(config: dict, records: list[dict]) -> dict:
    """Per n: mean, standard error and median over trials of every per-trial quantity, and
    under ``pooled`` the reference's statistics over all trials, patterns and test points
    (``sparsify.pooled_statistics``; its Poisson-bootstrap errors seeded by n). Fits against
    log n, with R^2, of the pooled values (``statistics="pooled"``) or of the per-n medians of
    per-trial medians (kappa: means; ``"per_trial"``).

    ``config``: the study's configuration as a dictionary (``dataclasses.asdict`` of its
    ``StudyConfig``); its ``seed`` and ``statistics`` are read.
    """
    per_n = {}
    sizes = sorted({r["n"] for r in records})
    for n in sizes:
        rows = [r for r in records if r["n"] == n]
        keys = dict.fromkeys(k for r in rows for k in r if k not in ("n", "trial", "samples"))
        per_n[str(n)] = {
            k: _summaries([r[k] for r in rows if k in r]) | {"trials": sum(k in r for r in rows)}
            for k in keys
        }
        samples = [r["samples"] for r in rows if "samples" in r]
        if samples:
            rng = np.random.default_rng([config["seed"], n, 2])
            per_n[str(n)]["pooled"] = sparsify.pooled_statistics(samples, rng)
    fits = {}
    if len(sizes) >= 3:
        for key in FITTED:
            stat = "mean" if key == "kappa" else "median"
            if config["statistics"] == "pooled":
                stat = "pooled " + ("mean" if key in ("kappa", "sparsity") else "median")
            vals = [statistic(per_n[str(n)], key, config["statistics"])[0] for n in sizes]
            fits[key] = sparsify.log_fit(sizes, vals) | {"statistic": stat}
    return {"config": dict(config), "per_n": per_n, "fits": fits, "records": records}


def statistic(entry: dict, key: str, statistics: str = "pooled") -> tuple[float, float]:
    """(value, standard error) of ``key`` in one ``per_n`` entry of a report: the pooled
    statistic, or over trials the mean (kappa, accuracies) or the median (counts, sparsity)."""
    if statistics == "pooled" and key in entry.get("pooled", {}):
        return entry["pooled"][key]["value"], entry["pooled"][key]["sem"]
    stat = "mean" if key == "kappa" or key.startswith("acc_") else "median"
    return entry[key][stat], entry[key]["sem"]


def report_json(report: dict) -> str:
    """The report as JSON: indented, except one line per trial record (each holds its
    per-test-point samples, thousands of numbers, which indenting puts one per line)."""
    head = json.dumps({k: v for k, v in report.items() if k != "records"}, indent=1)
    rows = ",\n  ".join(json.dumps(r) for r in report["records"])
    return f'{head[:-2]},\n "records": [\n  {rows}\n ]\n}}\n'


def plot_study(report: dict, path: str | Path) -> str | Path | None:
    """The paper's four panels against n: accuracy, kappa, post-selection and readout counts."""
    from hybrid.training import pyplot

    if (plt := pyplot()) is None:
        return None
    per_n = report["per_n"]
    sizes = sorted(int(n) for n in per_n)

    how = report["config"].get("statistics", "per_trial")

    def series(key):
        ok = [n for n in sizes if key in per_n[str(n)]]
        values = [statistic(per_n[str(n)], key, how) for n in ok]
        return ok, [v for v, _ in values], [e for _, e in values]

    fig, axes = plt.subplots(1, 4, figsize=(18, 4))
    for key, label in (
        ("acc_exact", "exact NTK"),
        ("acc_sparse", "sparsified NTK"),
        ("acc_diag", "diagonal NTK"),
        ("acc_finite", "finite net (GD)"),
    ):
        ns, v, e = series(key)
        if ns:
            axes[0].errorbar(ns, v, yerr=2 * np.asarray(e), fmt="o-", label=label, capsize=3)
    axes[0].set_ylabel("test accuracy")
    axes[0].legend(loc="lower right")
    ns, v, e = series("kappa")
    axes[1].errorbar(ns, v, yerr=2 * np.asarray(e), fmt="o", color="C1", capsize=3)
    axes[1].set_ylabel("condition number of sparsified NTK")
    ns, v, _ = series("post_selection")
    axes[2].plot(ns, v, "o", color="C0")
    axes[2].set_ylabel("measurements (post-selection, 1/P)")
    for key, label, color in (
        ("readout_sparse", "sparsified NTK", "C1"),
        ("readout_diag", "diagonal NTK", "C2"),
    ):
        ns, v, _ = series(key)
        axes[3].plot(ns, v, "o", color=color, label=label)
    axes[3].set_ylabel("measurements (readout, 1/|o|^2)")
    axes[3].legend()
    fits = report.get("fits", {})
    for ax, key in ((axes[1], "kappa"), (axes[2], "post_selection"), (axes[3], "readout_sparse")):
        if key in fits:
            grid = np.geomspace(sizes[0], sizes[-1], 50)
            f = fits[key]
            ax.plot(
                grid,
                f["a"] * np.log(grid) + f["b"],
                "--",
                color="gray",
                label=f"{f['a']:.2f} log n + {f['b']:.2f} (R2 {f['r2']:.2f})",
            )
            ax.legend(fontsize=8)
    for ax in axes:
        ax.set_xscale("log", base=2)
        ax.set_xlabel("training set size n")
        ax.grid(alpha=0.3)
    cfg = report["config"]
    fig.suptitle(f"{cfg['arch'].upper()} NTK, MNIST {cfg['classes'][0]} vs {cfg['classes'][1]}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
