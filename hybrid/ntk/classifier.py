"""The FC NTK classifier as a deployable run: ``fit_kernel_classifier`` solves for the
coefficients of the exact, sparsified or diagonal kernel, ``train_and_export`` trains one on a
balanced draw of a data set and writes a "kernel" run that
``hybrid.deploy.classifier.NumpyClassifier`` evaluates with NumPy alone.
"""

from __future__ import annotations

import os

import numpy as np

import hybrid.ntk.sparsify as sparsify
from hybrid.deploy import preprocessing, runs
from hybrid.deploy.ntk_numpy import kernel_scores
from hybrid.ntk.kernels import (
    FCKernel,
    coefficient_of_nonlinearity,
    depth_for,
    fc_kernel,
    k_thresh_from_separability,
    min_separation,
)
from hybrid.ntk.selection import balanced_indices, standardize
from hybrid.ntk.study import StudyConfig, load_split


def fit_kernel_classifier(
    x_train: np.ndarray, y_pm: np.ndarray, cfg: FCKernel, approx: str = "exact", *, seed: int = 0
) -> dict:
    """Coefficients of the exact, sparsified or diagonal FC NTK classifier on unit inputs.

    Returns the ``kernel`` section of a "kernel" run spec plus ``alpha``. The sparsified and
    diagonal classifiers score with clip(k / k_thresh) as the reference; the threshold is the
    median training score (0 for the exact NTK with balanced classes).
    """
    if approx not in ("exact", "sparse", "diag"):
        raise ValueError(f"approx must be exact, sparse or diag, got {approx!r}")
    _, kernel = fc_kernel(x_train, None, cfg)
    d = x_train.shape[1]
    k_thresh = k_thresh_from_separability(cfg, d)
    if approx == "exact":
        alpha, clip, scores_k = np.linalg.solve(kernel, y_pm), None, kernel
    else:
        matrix = (
            sparsify.diagonal(kernel)
            if approx == "diag"
            else sparsify.sparsify_unbiased(
                kernel, sparsify.sparsity_pattern(y_pm, np.random.default_rng(seed))
            )
        )
        alpha, clip = np.linalg.solve(matrix, y_pm), k_thresh
        scores_k = sparsify.normalize_test_kernel(kernel, k_thresh)
    return {
        "alpha": alpha,
        "kernel": {
            "recipe": cfg.recipe(d),
            "approximation": approx,
            "clip": clip,
            "threshold": float(np.median(scores_k @ alpha)),
            "unit_normalize": True,
            "k_thresh": k_thresh,
        },
    }


def train_and_export(
    out_dir: str | os.PathLike,
    *,
    n: int = 512,
    approx: str = "exact",
    classes: tuple[int, int] = (8, 9),
    dataset: str = "mnist",
    source: str = "auto",
    seed: int = 0,
    depth_factor: float = 0.1,
    test_size: int | None = None,
) -> dict:
    """Train the FC NTK classifier on n balanced training points and export it as a "kernel"
    run (x_train, alpha, recipe) that ``hybrid.deploy.classifier.NumpyClassifier`` evaluates."""
    cfg = StudyConfig(classes=tuple(classes), dataset=dataset, source=source, seed=seed)
    ds, x_all, y_all = load_split(cfg, "train")
    test, _, y_te_all = load_split(cfg, "test")
    rng = np.random.default_rng([seed, n])
    idx = balanced_indices(y_all, n, rng)
    (x_tr,), mean, std = standardize(x_all[idx])
    y_pm = 2.0 * y_all[idx] - 1
    kcfg = FCKernel(
        depth=depth_for(n, min_separation(x_tr), coefficient_of_nonlinearity(), depth_factor)
    )
    fitted = fit_kernel_classifier(x_tr, y_pm, kcfg, approx, seed=seed)
    prep = preprocessing.then_standardize(ds.preprocessing, mean, std)
    spec = {
        "kind": "kernel",
        "preprocessing": prep,
        "class_names": list(ds.class_names),
        "kernel": fitted["kernel"],
        "training": {
            "n": n,
            "classes": list(classes),
            "dataset": dataset,
            "seed": seed,
            "paper": "Zlokapa, Neven, Lloyd, arXiv:2107.09200",
        },
    }
    raw, y_eval = test.raw, y_te_all
    if test_size is not None:
        raw, y_eval = raw[:test_size], y_eval[:test_size]
    arrays = {"x_train": x_tr, "alpha": fitted["alpha"]}
    scores = kernel_scores(spec, arrays, preprocessing.apply(prep, raw))
    spec["metrics"] = {
        "test_accuracy": float(np.mean((scores > 0) == (y_eval == 1))),
        "test_examples": int(len(y_eval)),
    }
    runs.save_run(out_dir, arrays, spec)
    return spec
