"""The CNN side of the NTK study: the empirical kernel pools, the reference's k_thresh sets, and
the oracle that checks a finite Myrtle CNN's kernel against neural-tangents' infinite one.

``cnn_pool`` takes plain arrays and numbers rather than a ``StudyConfig``, so that the study
(which calls it) is the only module that knows the configuration.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import jax
import numpy as np

import hybrid.ntk.sparsify as sparsify
from hybrid.ntk.kernels import empirical_ntk, myrtle_network
from hybrid.ntk.selection import balanced_indices, standardize


def cnn_threshold_sets(
    y_pool: np.ndarray, seed: int, how: str = "two_sets"
) -> tuple[np.ndarray, np.ndarray]:
    """Pool indices of the n = 16 sets that give the CNN's k_thresh and its class percentiles.

    k_thresh is the largest off-diagonal entry of an n = 16 training kernel drawn for it alone
    (the reference's ``compute_k_thresh_from_training_set``). "two_sets": the percentiles come
    from the training set of the study's first n = 16 trial (the notebook loads the first
    n = 16 ``kernel_train`` file; ``study`` draws it first from rng [seed, 16, 0]), a different
    set, as the reference; "one_set": from the k_thresh set.
    """
    k_set = balanced_indices(y_pool, 16, np.random.default_rng([seed, 2]))
    if how == "one_set":
        return k_set, k_set
    return k_set, balanced_indices(y_pool, 16, np.random.default_rng([seed, 16, 0]))


def cnn_pool(
    x_tr: np.ndarray,
    y_tr: np.ndarray,
    x_te: np.ndarray,
    y_te: np.ndarray,
    *,
    seed: int,
    max_n: int,
    test_size: int,
    stage_depth: int,
    width: int,
    hidden: int,
    thresholds: str,
    percentile: float,
    log: Callable[[str], object],
) -> dict:
    """Empirical NTK of one Myrtle-like CNN on balanced pools of the training and test splits.

    Every trial then draws its training and test sets from the pools and takes sub-blocks of
    the pool kernels: the same numbers as recomputing the kernel per trial, computed once.
    ``max_n``: the largest training set a trial draws; ``thresholds``: "two_sets" or "one_set"
    (``cnn_threshold_sets``); the other arguments are the ``StudyConfig`` fields of those names.
    """
    rng = np.random.default_rng([seed, 1])
    per_tr = min(np.bincount(y_tr, minlength=2))
    per_te = min(np.bincount(y_te, minlength=2))
    if 2 * per_tr < max_n or 2 * per_te < test_size:
        raise ValueError(f"not enough examples per class ({per_tr}, {per_te}) for these sizes")
    i_tr = balanced_indices(y_tr, 2 * per_tr, rng)
    i_te = balanced_indices(y_te, 2 * per_te, rng)
    (xp_tr, xp_te), _, _ = standardize(x_tr[i_tr], x_te[i_te])
    shape = x_tr.shape[1:]
    xp_tr, xp_te = xp_tr.reshape(-1, *shape), xp_te.reshape(-1, *shape)
    net = myrtle_network(stage_depth, width, hidden, shape)
    params = net.init(jax.random.key(seed))
    t0 = time.perf_counter()
    log(f"cnn: empirical NTK of {net.n_params} parameters on {len(xp_tr)} + {len(xp_te)} images")
    k_all = empirical_ntk(net, params, np.concatenate([xp_tr, xp_te]))  # one Jacobian pass
    k_train, k_test = k_all[: len(xp_tr), : len(xp_tr)], k_all[len(xp_tr) :, : len(xp_tr)]
    log(f"cnn: pool kernels done in {time.perf_counter() - t0:.0f} s")
    k_set, base = cnn_threshold_sets(y_tr[i_tr], seed, thresholds)
    k_base = k_train[np.ix_(k_set, k_set)]
    k_thresh = float(np.max(np.abs(k_base[np.triu_indices(16, 1)])))
    y_base = 2.0 * y_tr[i_tr][base] - 1
    return {
        "net": net,
        "x_train": xp_tr,
        "x_test": xp_te,
        "y_train": y_tr[i_tr],
        "y_test": y_te[i_te],
        "k_train": k_train,
        "k_test": k_test,
        "k_thresh": k_thresh,
        "thresholds": sparsify.class_thresholds(k_train[np.ix_(base, base)], y_base, percentile),
        "seconds": time.perf_counter() - t0,
    }


def class_structure(kernel: np.ndarray, y: np.ndarray) -> dict:
    """How diagonal a kernel is, in the terms the docs use: mean within-class and between-class
    correlation K_ij / sqrt(K_ii K_jj) (off the diagonal), kappa, and the number of diagonally
    dominant rows (K_ii > sum over j != i of |K_ij|)."""
    d = np.sqrt(np.diag(kernel))
    corr = kernel / d[:, None] / d[None, :]
    off = ~np.eye(len(y), dtype=bool)
    same = (y[:, None] == y[None, :]) & off
    dominant = np.diag(kernel) > np.sum(np.abs(kernel), axis=1) - np.abs(np.diag(kernel))
    return {
        "within_class_correlation": float(corr[same].mean()),
        "between_class_correlation": float(corr[~same & off].mean()),
        "kappa": sparsify.condition_number(kernel),
        "diagonally_dominant_rows": int(dominant.sum()),
    }


def cnn_oracle(
    fixture,
    widths: tuple[int, ...] = (16, 64, 256),
    seeds: tuple[int, ...] = (0, 1, 2, 3),
    *,
    log: Callable[[str], object] | None = print,
) -> dict:
    """The finite Myrtle CNN's empirical NTK against neural-tangents' infinite-width one.

    ``fixture``: ``tests/fixtures/nt_myrtle.npz`` (``make_nt_fixtures.py``: the reference's
    ``create_convolutional_network(9)`` on eight MNIST digits). For each width (channels and
    the hidden dense layer alike) and seed, the relative Frobenius error
    ||Theta_width - Theta_inf|| / ||Theta_inf||, and that of the mean over seeds; the class
    structure (``class_structure``) of the infinite kernel and of each finite one.
    """
    data = np.load(fixture)
    x, y, exact = data["x"], data["labels"], data["ntk"]
    out = {"fixture": str(fixture), "infinite": class_structure(exact, y), "widths": []}
    for width in widths:
        net = myrtle_network(3, width, width, x.shape[1:])
        t0 = time.process_time()
        kernels = [empirical_ntk(net, net.init(jax.random.key(s)), x, block=len(x)) for s in seeds]
        errors = [float(np.linalg.norm(k - exact) / np.linalg.norm(exact)) for k in kernels]
        mean = np.mean(kernels, axis=0)
        row = {
            "width": width,
            "parameters": net.n_params,
            "seeds": list(seeds),
            "relative_error": errors,
            "relative_error_median": float(np.median(errors)),
            "relative_error_of_mean": float(np.linalg.norm(mean - exact) / np.linalg.norm(exact)),
            "structure": [class_structure(k, y) for k in kernels],
            "cpu_seconds": time.process_time() - t0,
        }
        out["widths"].append(row)
        if log is not None:
            log(f"cnn oracle width {width}: errors {np.round(errors, 3)}")
    return out
