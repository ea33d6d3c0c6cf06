"""benchmarks/ablation_stats.py: groups keep data sets apart, and Welch's t is the textbook one."""

import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
import ablation_stats  # noqa: E402

sys.path.pop(0)


def _rows(dataset: str, model: str, accuracies: list[float]) -> list[dict]:
    settings = dict.fromkeys(ablation_stats.SETTINGS) | {"dataset": dataset, "scale": "full"}
    return [
        settings
        | {"model": model, "seed": seed, "n_trainable": 1497, "test_accuracy": acc}
        | {"val_accuracy": acc}
        for seed, acc in enumerate(accuracies)
    ]


def test_welch_on_a_case_computed_by_hand():
    """Means 0.82 and 0.72, both sd 0.02 over three seeds: t = 0.10 / sqrt(2 * 0.02^2 / 3)
    = 6.124 with 4 degrees of freedom (equal variances), two-sided p = 0.0036."""
    t, p = ablation_stats.welch([0.80, 0.82, 0.84], [0.70, 0.72, 0.74])
    assert t == pytest.approx(0.10 / math.sqrt(2 * 0.02**2 / 3), rel=1e-9)
    assert p == pytest.approx(0.0036, abs=2e-4)
    assert all(math.isnan(v) for v in ablation_stats.welch([0.8], [0.7, 0.72]))


def test_a_control_is_compared_with_the_qt_rows_of_its_own_data_set():
    rows = _rows("fashion_mnist", "qt", [0.80, 0.82, 0.84])
    rows += _rows("fashion_mnist", "mps", [0.70, 0.72, 0.74])
    rows += _rows("mnist", "qt", [0.70, 0.72, 0.74])
    rows += _rows("mnist", "mps", [0.70, 0.72, 0.74])
    lines = ablation_stats.table(rows)
    mps = {line.split("|")[1].strip(): line for line in lines if "| mps |" in line}
    assert "+6.12, 0.0036" in mps["fashion_mnist"]
    assert "+0.00, 1" in mps["mnist"]  # the same seeds on both sides: no difference
    assert sum("| qt |" in line for line in lines) == 2
