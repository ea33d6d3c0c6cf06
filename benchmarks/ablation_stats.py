"""Mean ± sd over seeds and Welch's t-test of Quantum-Train against each control, from the rows
that ``examples/quantum_train_fashion_mnist.py --ablations`` writes.

    python benchmarks/ablation_stats.py [docs/results/quantum_train/ablations.json]

Rows are grouped by everything but the seed (model, ansatz, L, epochs, training settings,
limit, validation split, scale); a control is compared with the QT group of the same settings.
Welch's test (``scipy.stats.ttest_ind(equal_var=False)``) needs two seeds on each side.
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
        "| scale | ansatz, L, batch | model | trainable | seeds | val acc (%) | test acc (%) "
        f"| Welch t, p vs QT ({metric.split('_')[0]}) |",
        "|---|---|---|---:|---:|---:|---:|---|",
    ]
    for key, models in sorted(groups(rows).items(), key=lambda kv: str(kv[0])):
        settings = dict(zip(SETTINGS, key, strict=True))
        qt = [r[metric] for r in models.get("qt", [])]
        for model in sorted(models, key=lambda m: (m != "qt", m)):
            seeds = sorted(models[model], key=lambda r: r["seed"])
            t, p = welch(qt, [r[metric] for r in seeds]) if model != "qt" else (math.nan,) * 2
            test = "—" if model == "qt" else ("n/a" if math.isnan(t) else f"{t:+.2f}, {p:.3g}")
            lines.append(
                f"| {settings['scale']} | {settings['ansatz']}, {settings['depth']}, "
                f"{settings['batch_size']} | {model} | "
                f"{seeds[0]['n_trainable']:,} | {len(seeds)} | "
                f"{summary([r['val_accuracy'] for r in seeds])} | "
                f"{summary([r['test_accuracy'] for r in seeds])} | {test} |"
            )
    return lines


def main(argv: list[str] | None = None) -> int:
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("table", nargs="?", type=Path, default=TABLE)
    cli.add_argument("--metric", default="test_accuracy", choices=["test_accuracy", "val_accuracy"])
    args = cli.parse_args(argv)
    rows = [r for r in json.loads(args.table.read_text())["rows"] if "val_accuracy" in r]
    print("\n".join(table(rows, args.metric)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
