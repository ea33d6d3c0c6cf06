"""Sparsified and diagonal NTK, and the four quantities that make the quantum training O(log n).

Zlokapa, Neven and Lloyd (arXiv:2107.09200) replace the n x n NTK K by

- the *sparsified* NTK K~: K on a pseudorandom pattern with O(log n) entries per row (only
  within a class) plus the diagonal. For the FC network the kept entries are K's own
  ("unbiased"); for the CNN the pattern also drops within-class entries below a class
  percentile measured on a small training kernel, and K~ is preconditioned by adding
  f diag(K~), f = 0.76 (log n)^0.9 ("biased"; 0.66 in the reference's first commit);
- the *diagonal* NTK diag(K).

and measure, per training set size n (functions named after them here):

1. ``accuracies``: test accuracy of exact, sparsified and diagonal NTK regression;
2. ``condition_number`` kappa of K~ (a QLSP solver needs kappa = O(log n));
3. ``post_selection``: measurements 1/P to prepare |k*> = sum_i k_i |i> / sqrt(P) from the
   clipped, normalised test kernel (P = mean k_i^2 relative to max |k_i| = 1);
4. ``readout``: measurements 1/|o|^2 - 1 for o = <k*|y> (diagonal) or <k*|K~^-1 y> (sparsified).

Definitions follow the reference's analysis notebook (github.com/quantummind/
quantum-deep-neural-network); where ours differ it is said at the function. NumPy only.
"""

from __future__ import annotations

import math

import numpy as np


def target_sparsity(n: int) -> float:
    """Expected nonzeros per row, log n (the reference's choice of O(log n))."""
    return math.log(n)


def sparsity_pattern(y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A symmetric boolean pattern with ~log n same-class entries per row, plus the diagonal.

    Each row draws Binomial(n, 2 log n / n) column indices uniformly (with repetition); the
    lower triangle is mirrored to the upper one (half the draws survive, so ~log n remain per
    row in expectation after the class mask); entries between different classes are dropped.
    This is O(n log n) work: the quantum algorithm can compute it on the fly from a seed.
    """
    y = np.asarray(y)
    n = len(y)
    p_one = min(2 * target_sparsity(n) / n, 1.0)
    counts = rng.binomial(n, p_one, size=n)
    rows = np.repeat(np.arange(n), counts)
    cols = rng.integers(0, n, size=rows.size)
    mask = np.zeros((n, n), dtype=bool)
    mask[rows, cols] = True
    mask = np.tril(mask) | np.tril(mask, -1).T
    mask &= y[:, None] == y[None, :]
    np.fill_diagonal(mask, True)
    return mask


def sparsify_unbiased(kernel: np.ndarray, pattern: np.ndarray) -> np.ndarray:
    """K~ = K on the pattern (the reference's FC sparsification)."""
    return np.where(pattern, kernel, 0.0)


def class_thresholds(kernel: np.ndarray, y: np.ndarray, percentile: float = 90.0) -> dict:
    """Per-class truncation thresholds from a small training kernel, as the reference takes them.

    For each class c, the percentile of |K| masked to that class's off-diagonal block, taken
    over the whole n x n masked array (zeros included, as the reference's notebook does): with
    two balanced classes about 1/4 of the entries are nonzero, so percentile 90 keeps roughly
    the largest 40 % of each class's within-class entries.
    """
    y = np.asarray(y)
    out = {}
    for c in np.unique(y):
        mask = (y[:, None] == c) & (y[None, :] == c) & ~np.eye(len(y), dtype=bool)
        out[float(c)] = float(np.percentile(np.abs(kernel) * mask, percentile))
    return out


# c in f = c (log n)^0.9, by the version of the reference's analysis.ipynb that has it: the
# initial commit (80c84dc, 2021-07-18) wrote 0.66; the next ("typos", efdf374, 2021-07-19)
# changed it to 0.76, which is what its code runs today and our default.
PRECONDITION_COEFFICIENTS = {"current": 0.76, "initial": 0.66}


def precondition_factor(n: int, coefficient: float = PRECONDITION_COEFFICIENTS["current"]) -> float:
    """f = 0.76 (log n)^0.9, the reference's diagonal shift ("we expect a factor of
    ~target_sparsity by Gershgorin's theorem"); ``coefficient`` replaces 0.76."""
    return coefficient * target_sparsity(n) ** 0.9


def sparsify_biased(
    kernel: np.ndarray,
    pattern: np.ndarray,
    y: np.ndarray,
    thresholds: dict,
    coefficient: float = PRECONDITION_COEFFICIENTS["current"],
) -> np.ndarray:
    """K~ for the CNN: the pattern, minus within-class entries at or below the class threshold,
    plus the diagonal; then preconditioned K~ + f diag(K~) (``precondition_factor``)."""
    y = np.asarray(y)
    keep = np.zeros_like(pattern)
    for c, t in thresholds.items():
        block = (y[:, None] == c) & (y[None, :] == c)
        keep |= block & (kernel > t)
    keep &= pattern
    np.fill_diagonal(keep, True)
    sparse = np.where(keep, kernel, 0.0)
    return sparse + precondition_factor(len(y), coefficient) * np.diag(np.diag(sparse))


def diagonal(kernel: np.ndarray) -> np.ndarray:
    """The diagonal NTK diag(K)."""
    return np.diag(np.diag(kernel))


def row_sparsity(matrix: np.ndarray) -> int:
    """s: the largest number of nonzeros in any row (the matrix is symmetric)."""
    return int(np.max(np.count_nonzero(matrix, axis=1)))


def condition_number(matrix: np.ndarray) -> float:
    """kappa = max |lambda| / min |lambda| of a symmetric matrix (singular values)."""
    ev = np.abs(np.linalg.eigvalsh(matrix))
    return float(ev.max() / ev.min()) if ev.min() > 0 else math.inf


def normalize_test_kernel(k_test: np.ndarray, k_thresh: float) -> np.ndarray:
    """k_i / k_thresh clipped to [-1, 1]: the amplitudes a qRAM can load for |k*>."""
    return np.clip(k_test / k_thresh, -1.0, 1.0)


def median_sign(scores: np.ndarray) -> np.ndarray:
    """+-1 by the sign of score minus the median score: the reference's classifier, which
    assumes a balanced test set (the outputs of the approximate NTKs are not calibrated)."""
    return np.sign(scores - np.median(scores))


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def post_selection(k_test_normalized: np.ndarray) -> np.ndarray:
    """1/P per test point, P = sum_i k_i^2 / n after scaling the largest |k_i| of the test
    kernel to 1 (the reference's ``N / p``)."""
    ki = k_test_normalized / np.max(np.abs(k_test_normalized))
    return k_test_normalized.shape[1] / np.sum(ki * ki, axis=1)


def readout(k_test_normalized: np.ndarray, coefficients: np.ndarray) -> np.ndarray:
    """1/|o|^2 - 1 per test point for o = <k*|c> with |c> = coefficients normalised
    (the reference's count: enough shots for the overlap's standard deviation to be O(o))."""
    k = k_test_normalized / np.linalg.norm(k_test_normalized, axis=1, keepdims=True)
    o = k @ _unit(coefficients)
    return 1 / o**2 - 1


def _accuracies(name: str, test_scores, train_scores, y_test) -> dict:
    fixed = np.where(test_scores > np.median(train_scores), 1.0, -1.0)
    return {
        f"acc_{name}": float(np.mean(median_sign(test_scores) == y_test)),
        f"acc_{name}_fixed": float(np.mean(fixed == y_test)),
    }


def pattern_free(
    kernel: np.ndarray,
    k_test: np.ndarray,
    k_thresh: float,
    y_train: np.ndarray,
    y_test: np.ndarray,
) -> dict:
    """The part of ``trial`` that no sparsity pattern changes: the exact solve, the diagonal
    NTK, the clipped kernels |k*> is loaded from and their counts. Computed once per training
    set and passed to the ``trial`` of every pattern."""
    alpha_exact = _unit(np.linalg.solve(kernel, y_train))
    alpha_diag = _unit(y_train / np.diag(kernel))
    k_test_normalized = normalize_test_kernel(k_test, k_thresh)
    k_train_normalized = normalize_test_kernel(kernel, k_thresh)
    return {
        "k_test_normalized": k_test_normalized,
        "k_train_normalized": k_train_normalized,
        "exact": _accuracies("exact", k_test @ alpha_exact, kernel @ alpha_exact, y_test),
        "diag": _accuracies(
            "diag", k_test_normalized @ alpha_diag, k_train_normalized @ alpha_diag, y_test
        ),
        "post_selection": post_selection(k_test_normalized),
        "readout_diag": readout(k_test_normalized, y_train),
    }


def trial(
    kernel: np.ndarray,
    sparse: np.ndarray,
    k_test: np.ndarray,
    k_thresh: float,
    y_train: np.ndarray,
    y_test: np.ndarray,
    shared: dict | None = None,
) -> dict:
    """Everything the reference measures for one training set and one sparsity pattern.

    Labels are +-1. The exact NTK predicts with k_test, the sparsified and diagonal ones with
    the clipped k_test / k_thresh that |k*> holds (as the reference). Returns accuracies
    (median threshold over the test set, as the reference), kappa of K~, its row sparsity, and
    per-test-point arrays of post-selection and readout measurements. ``acc_*_fixed`` use a
    threshold fixed at training time instead (the median of the same score over the training
    inputs), which a deployed classifier can apply to one input at a time. ``shared``:
    ``pattern_free`` of the same arguments, to compute it once for several patterns.
    """
    if shared is None:
        shared = pattern_free(kernel, k_test, k_thresh, y_train, y_test)
    alpha_sparse = _unit(np.linalg.solve(sparse, y_train))
    k_test_normalized = shared["k_test_normalized"]
    sparse_scores = (
        k_test_normalized @ alpha_sparse,
        shared["k_train_normalized"] @ alpha_sparse,
    )
    return {
        **shared["exact"],
        **_accuracies("sparse", *sparse_scores, y_test),
        **shared["diag"],
        "kappa": condition_number(sparse),
        "sparsity": row_sparsity(sparse),
        "post_selection": shared["post_selection"],
        "readout_diag": shared["readout_diag"],
        "readout_sparse": readout(k_test_normalized, alpha_sparse),
    }


def poisson_median_error(values: np.ndarray, rng: np.random.Generator, bootstraps: int = 5):
    """The reference's error bar on a pooled median of counts: "Poisson bootstrapping",
    ``r = np.random.poisson(size=...); medians[b] = np.median(r * values)``, then
    ``np.std(medians) / np.sqrt(bootstraps)`` (each value weighted by a Poisson(1) draw; 5
    bootstraps)."""
    v = np.asarray(values, dtype=np.float64)
    medians = [np.median(rng.poisson(size=v.shape) * v) for _ in range(bootstraps)]
    return float(np.std(medians) / math.sqrt(bootstraps))


def pooled_statistics(samples: list[dict], rng: np.random.Generator) -> dict:
    """The reference's statistics for one n, from every trial's ``samples``: the analysis
    notebook concatenates over trials, sparsity patterns and test points, then takes

    - accuracy: the mean of the correct/incorrect flags, error ``np.std(correct) /
      np.sqrt(len(correct))`` over individual predictions (the exact and diagonal predictions
      counted once per pattern, as the notebook appends them per pattern);
    - kappa: the mean over all trials and patterns, error std / sqrt(count);
    - 1/P and the readout counts: one median over all of them, error ``poisson_median_error``
      (1/P and the diagonal readout do not depend on the pattern and enter once per test point;
      the notebook repeats them per pattern, which leaves the median unchanged).

    Each sample dict holds ``acc_*`` (a trial's accuracy over its test points), ``predictions``
    (test points x patterns), ``kappa`` (per pattern), ``post_selection`` and ``readout_diag``
    (per test point, the same for every pattern), ``readout_sparse`` (per pattern and test
    point) and ``sparsity`` (per pattern).
    """
    out: dict = {}
    n_pred = sum(s["predictions"] for s in samples)
    for key in samples[0]:
        if key.startswith("acc_"):
            p = sum(s[key] * s["predictions"] for s in samples) / n_pred
            out[key] = {"value": float(p), "sem": math.sqrt(p * (1 - p) / n_pred), "count": n_pred}
    for key in ("kappa", "sparsity"):
        v = np.concatenate([np.ravel(s[key]) for s in samples])
        sem = float(v.std() / math.sqrt(len(v)))
        out[key] = {"value": float(v.mean()), "sem": sem, "count": len(v)}
    for key in ("post_selection", "readout_diag", "readout_sparse"):
        v = np.concatenate([np.ravel(s[key]) for s in samples])
        med = float(np.median(v))
        out[key] = {"value": med, "sem": poisson_median_error(v, rng), "count": len(v)}
    return out


def log_fit(n, values) -> dict:
    """Least-squares fit values = a log n + b; returns a, b and R^2."""
    x, v = np.log(np.asarray(n, dtype=np.float64)), np.asarray(values, dtype=np.float64)
    a, b = np.polyfit(x, v, 1)
    residual = v - (a * x + b)
    total = np.sum((v - v.mean()) ** 2)
    r2 = 1 - np.sum(residual**2) / total if total > 0 else 1.0
    return {"a": float(a), "b": float(b), "r2": float(r2)}
