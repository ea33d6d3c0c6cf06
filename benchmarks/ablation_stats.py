"""Mean ± sd over seeds and Welch's t-test of Quantum-Train against each control, from the rows
that ``examples/quantum_train_fashion_mnist.py --ablations`` writes.

    python benchmarks/ablation_stats.py [docs/results/quantum_train/ablations.json]
    python benchmarks/ablation_stats.py --plot docs/results/quantum_train/ablations.png

Rows are grouped by everything but the seed (data set, model, ansatz, L, epochs, training
settings, limit, validation split, scale); a control is compared with the QT group of the same
settings. Welch's test (``scipy.stats.ttest_ind(equal_var=False)``) needs two seeds on each side.
The plot shows the full-scale groups only: test accuracy per model, each seed a point.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
from scipy import stats

TABLE = Path("docs/results/quantum_train/ablations.json")
SETTINGS = (
    "dataset",
    "ansatz",
    "depth",
    "epochs",
    "batch_size",
    "learning_rate",
    "schedule",
    "limit",
    "val_fraction",
    "scale",
)


def groups(rows: list[dict]) -> dict[tuple, dict[str, list[dict]]]:
    """{settings: {model: rows over seeds}}, QT and its controls side by side."""
    out: dict[tuple, dict[str, list[dict]]] = {}
    for row in rows:
        key = tuple(row.get(k) for k in SETTINGS)
        out.setdefault(key, {}).setdefault(row["model"], []).append(row)
    return out


def summary(values: list[float]) -> str:
    """Mean ± sample sd in percent (sd left out for a single seed)."""
    mean = 100 * float(np.mean(values))
    if len(values) < 2:
        return f"{mean:.2f}"
    return f"{mean:.2f} ± {100 * float(np.std(values, ddof=1)):.2f}"


def welch(qt: list[float], other: list[float]) -> tuple[float, float]:
    """(t, two-sided p) of QT against a control; NaN where a side has fewer than two seeds."""
    if len(qt) < 2 or len(other) < 2:
        return math.nan, math.nan
    result = stats.ttest_ind(qt, other, equal_var=False)
    return float(result.statistic), float(result.pvalue)


def table(rows: list[dict], metric: str = "test_accuracy") -> list[str]:
    """Markdown lines: one per (settings, model), with val and test accuracy and QT's t-test."""
    lines = [
        "| data | scale | ansatz, L, batch | model | trainable | seeds | val acc (%) "
        f"| test acc (%) | Welch t, p vs QT ({metric.split('_')[0]}) |",
        "|---|---|---|---|---:|---:|---:|---:|---|",
    ]
    for key, models in sorted(groups(rows).items(), key=lambda kv: str(kv[0])):
        settings = dict(zip(SETTINGS, key, strict=True))
        qt = [r[metric] for r in models.get("qt", [])]
        for model in sorted(models, key=lambda m: (m != "qt", m)):
            seeds = sorted(models[model], key=lambda r: r["seed"])
            t, p = welch(qt, [r[metric] for r in seeds]) if model != "qt" else (math.nan,) * 2
            test = "—" if model == "qt" else ("n/a" if math.isnan(t) else f"{t:+.2f}, {p:.3g}")
            lines.append(
                f"| {settings['dataset']} | {settings['scale']} | "
                f"{settings['ansatz']}, {settings['depth']}, {settings['batch_size']} | {model} | "
                f"{seeds[0]['n_trainable']:,} | {len(seeds)} | "
                f"{summary([r['val_accuracy'] for r in seeds])} | "
                f"{summary([r['test_accuracy'] for r in seeds])} | {test} |"
            )
    return lines


def plot(rows: list[dict], path: Path) -> None:
    """One panel per full-scale (data set, trainable count): test accuracy of each model, the
    seeds as points and their mean as a bar, QT first."""
    from hybrid.training import pyplot

    full = {k: v for k, v in groups(rows).items() if v.get("qt") and k[-1] == "full"}
    if not full:
        print("no full-scale group with QT rows: nothing to plot")
        return
    if (plt := pyplot()) is None:
        return
    fig, axes = plt.subplots(1, len(full), figsize=(4.2 * len(full), 3.8), squeeze=False)
    for ax, (key, models) in zip(axes[0], sorted(full.items(), key=str), strict=True):
        names = sorted(models, key=lambda m: (m != "qt", m))
        for x, name in enumerate(names):
            accuracy = [100 * r["test_accuracy"] for r in models[name]]
            ax.bar(x, np.mean(accuracy), color="C0" if name == "qt" else "0.8", width=0.6)
            ax.plot([x] * len(accuracy), accuracy, "k.", ms=6)
        settings = dict(zip(SETTINGS, key, strict=True))
        ax.set_xticks(range(len(names)), names, rotation=35, ha="right", fontsize=8)
        ax.set_ylim(min(100 * r["test_accuracy"] for m in models.values() for r in m) - 5, None)
        ax.set_title(
            f"{settings['dataset']}, {models['qt'][0]['n_trainable']:,} trainable "
            f"(QT {settings['ansatz']} L = {settings['depth']})",
            fontsize=9,
        )
        ax.set_ylabel("test accuracy (%), seeds as points")
        ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"wrote {path}")


def main(argv: list[str] | None = None) -> int:
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("table", nargs="?", type=Path, default=TABLE)
    cli.add_argument("--metric", default="test_accuracy", choices=["test_accuracy", "val_accuracy"])
    cli.add_argument("--plot", type=Path, help="draw the full-scale groups to this PNG instead")
    args = cli.parse_args(argv)
    rows = [r for r in json.loads(args.table.read_text())["rows"] if "val_accuracy" in r]
    if args.plot:
        plot(rows, args.plot)
        return 0
    print("\n".join(table(rows, args.metric)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
