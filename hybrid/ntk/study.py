"""The MNIST study of Zlokapa, Neven and Lloyd (arXiv:2107.09200): its configuration and loop.

Per training set size n and trial: the exact, sparsified and diagonal NTK classifiers, kappa of
the sparsified NTK and the measurement counts of state preparation and readout
(``hybrid.ntk.sparsify``), a finite network trained by gradient descent, and the FC kernel rebuilt
from estimated inner products. Around it: ``selection`` draws balanced sets, ``oracle`` holds the
CNN kernel pools and the check against the infinite CNN, ``report`` the summaries, fits and
figure, ``classifier`` the exported kernel classifier; the kernels live in ``hybrid.ntk.kernels``.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp
import numpy as np

import hybrid.ntk.sparsify as sparsify
from hybrid.data import Dataset, load
from hybrid.deploy import runs
from hybrid.deploy.runs import atomic_write
from hybrid.ntk.kernels import (
    FCKernel,
    Network,
    coefficient_of_nonlinearity,
    depth_for,
    estimated_gram,
    fc_kernel,
    fc_kernel_from_products,
    fc_network,
    k_thresh_from_separability,
    min_separation,
)
from hybrid.ntk.oracle import cnn_pool
from hybrid.ntk.report import report_json, summarize
from hybrid.ntk.selection import balanced_indices, standardize

if TYPE_CHECKING:
    from hybrid.ripe.estimators import Estimator

# Choices where the reference's analysis and ours differ; the first of each is the reference's
# and the default (used for the tables beside the paper), the second ours, kept by name.
OPTIONS = {
    # "pooled": one median (mean for kappa and accuracy) over all trials, patterns and test
    # points, errors over individual predictions (``sparsify.pooled_statistics``);
    # "per_trial": per-trial medians, then the mean (median for the CNN tables) over trials,
    # errors over trial means.
    "statistics": ("pooled", "per_trial"),
    # s counted on the sparsity pattern (the reference's figure) or on K~ after thresholding.
    "sparsity": ("pattern", "matrix"),
    # CNN k_thresh from one n = 16 draw and class percentiles from the study's first n = 16
    # training kernel (the reference: two different sets), or both from one draw.
    "cnn_thresholds": ("two_sets", "one_set"),
    # f = c (log n)^0.9 with c from ``sparsify.PRECONDITION_COEFFICIENTS`` (0.76 or 0.66).
    "precondition": ("current", "initial"),
}

# The finite network's set-up and the classes per architecture, as the reference ran each:
# ``StudyConfig`` fills the fields left at None from here.
ARCH_DEFAULTS = {
    "fc": {"classes": (8, 9), "finite_trials": 5, "finite_epochs": 100, "finite_lr": 4.0},
    "cnn": {"classes": (1, 0), "finite_trials": 1, "finite_epochs": 20, "finite_lr": 1.0},
}


@dataclass(frozen=True)
class StudyConfig:
    """One sweep of the paper's experiment (defaults: the reference's FC setup, n up to 1024).

    ``arch`` "fc": analytic NTK of the normalised-erf network of depth
    round(depth_factor * 8 log(n / delta) / mu) per training set, k_thresh from separability.
    ``arch`` "cnn": empirical NTK of one finite Myrtle-like CNN (``myrtle_network`` with the
    cnn_* sizes, seed ``seed``) on fixed pools of the data, k_thresh the largest off-diagonal
    entry of a first n = 16 kernel (as the reference), biased sparsification.
    ``finite``: also train a finite network by gradient descent (MSE on +-1 labels) per trial
    (``finite_trials`` of them) for ``finite_epochs`` epochs at learning rate ``finite_lr``.
    ``classes``, ``finite_trials``, ``finite_epochs``, ``finite_lr``: None takes the value of
    ``arch`` in ``ARCH_DEFAULTS`` (fc: 8 vs 9, 5 trials, 100 epochs, lr 4.0; cnn: 1 vs 0, 1 trial,
    20 epochs, lr 1.0), so ``StudyConfig(arch="cnn")`` is the reference's CNN set-up.
    ``estimators``: names of inner-product estimators (``parse_estimator``) whose estimated
    Gram builds the FC kernel once per n (trial 0), to measure the accuracy estimation costs.
    ``statistics``, ``sparsity``, ``cnn_thresholds``, ``precondition``: see ``OPTIONS``; the
    defaults are the reference's.
    """

    arch: str = "fc"
    classes: tuple[int, int] | None = None
    sizes: tuple[int, ...] = (16, 32, 64, 128, 256, 512, 1024)
    trials: int = 5
    test_size: int = 256
    bootstraps: int = 3
    depth_factor: float = 0.1
    delta_hat: float = 1e-5
    percentile: float = 90.0
    seed: int = 0
    dataset: str = "mnist"
    source: str = "auto"
    cnn_stage_depth: int = 3
    cnn_width: int = 32
    cnn_hidden: int = 64
    finite: bool = True
    finite_trials: int | None = None
    finite_width: int = 512
    finite_depth: int = 3
    finite_epochs: int | None = None
    finite_lr: float | None = None
    finite_batch: int = 128
    estimators: tuple[str, ...] = ()
    statistics: str = "pooled"
    sparsity: str = "pattern"
    cnn_thresholds: str = "two_sets"
    precondition: str = "current"

    def __post_init__(self) -> None:
        if self.arch not in ARCH_DEFAULTS:
            raise ValueError(f"arch must be 'fc' or 'cnn', got {self.arch!r}")
        for name, value in ARCH_DEFAULTS[self.arch].items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)  # frozen: set once, here
        for name, allowed in OPTIONS.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if len(self.classes) != 2:
            raise ValueError("the NTK study is binary: give two classes")
        if min(self.sizes) < 4 or any(n % 2 for n in self.sizes) or self.test_size % 2:
            raise ValueError("training and test sizes must be even (balanced classes) and >= 4")
        if self.trials < 1 or self.bootstraps < 1:
            raise ValueError("trials and bootstraps must be >= 1")
        if self.test_size < 2:
            raise ValueError(f"test_size must be an even number >= 2, got {self.test_size}")
        for name in (
            "finite_trials",
            "finite_epochs",
            "finite_batch",
            "finite_width",
            "finite_depth",
            "cnn_stage_depth",
            "cnn_width",
            "cnn_hidden",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if not (isinstance(self.finite_lr, int | float) and 0 < self.finite_lr < math.inf):
            raise ValueError(f"finite_lr must be a finite number > 0, got {self.finite_lr!r}")
        for name in self.estimators:
            parse_estimator(name)  # a typo refused before the first kernel, naming the value


def parse_estimator(text: str) -> Estimator:
    """``exact``, ``shots:N`` (N shots), ``shots@EPS``, ``ripe@EPS``, ``gaussian@EPS``."""
    from hybrid.ripe.estimators import Estimator

    kind, _, rest = text.partition(":")
    try:
        if kind == "shots" and rest:
            return Estimator("shots", shots=int(rest))
        kind, _, eps = text.partition("@")
        return Estimator(kind, eps=float(eps) if eps else 0.0)
    except (ValueError, TypeError) as err:
        raise ValueError(
            f"estimator {text!r} cannot be read ({err}); write exact, shots:N or KIND@EPS"
        ) from None


def load_split(cfg: StudyConfig, split: str) -> tuple[Dataset, np.ndarray, np.ndarray]:
    """(dataset, x as float64, labels 0/1) of one split, the two classes of ``cfg``."""
    ds = load(cfg.dataset, split, source=cfg.source, classes=cfg.classes)
    return ds, np.asarray(ds.x, dtype=np.float64), np.asarray(ds.y)


def check_sizes(cfg: StudyConfig, y_train: np.ndarray, y_test: np.ndarray) -> None:
    """Refuse, before any kernel is computed, sizes the data cannot supply: every draw takes n/2
    examples of each class, so n may be at most twice the smaller class count."""
    for split, y, n, flag in (
        ("train", y_train, max(cfg.sizes), "--sizes"),
        ("test", y_test, cfg.test_size, "--test-size"),
    ):
        fewest = int(min(np.sum(y == 0), np.sum(y == 1)))
        if n > 2 * fewest:
            raise ValueError(
                f"the {split} split has {fewest} examples of its smaller class, {n // 2} needed "
                f"for n = {n}: lower {flag} to at most {2 * fewest} (lower --test-size and "
                "--sizes alike), or give more data: set HYBRID_DATA_DIR to the MNIST IDX files "
                "(the bundled sample has 100 train and 25 test digits a class)"
            )


class _Logits:
    """A scalar network as a two-logit model, so ``hybrid.training.fit`` can train and score it."""

    def __init__(self, net: Network):
        self.net = net

    def init(self, key):
        return self.net.init(key)

    def apply(self, params, x):
        f = self.net.apply(params, x)
        return jnp.stack([-f, f], axis=1)


def _mse(logits, labels):
    """Squared loss on +-1 targets, the loss under which training follows the NTK."""
    return 0.5 * jnp.mean((logits[:, 1] - (2 * labels - 1)) ** 2)


def train_finite(
    net: Network,
    x: np.ndarray,
    y01: np.ndarray,
    x_test: np.ndarray,
    y_test01: np.ndarray,
    cfg: StudyConfig,
    seed: int,
) -> dict:
    """Train ``net`` by (mini-batch) gradient descent on squared loss; returns its accuracies."""
    from hybrid import training

    config = training.TrainConfig(
        epochs=cfg.finite_epochs,
        batch_size=min(cfg.finite_batch, len(x)),
        learning_rate=cfg.finite_lr,
        optimizer="sgd",
        seed=seed,
    )
    _, history = training.fit(
        _Logits(net), (x, y01), (x_test, y_test01), config, progress=False, loss_fn=_mse
    )
    last = history[-1]
    return {
        "acc_finite": last["test_accuracy"],
        "train_acc_finite": last["train_accuracy"],
        "loss_finite": last["loss"],
    }


def _compact(values) -> list[float]:
    """Per-test-point counts for study.json, to 6 significant digits (medians are reported to
    at most 4)."""
    return [float(f"{v:.6g}") for v in np.ravel(values)]


def _kernel_trial(
    cfg: StudyConfig,
    kernel: np.ndarray,
    k_test: np.ndarray,
    k_thresh: float,
    y_tr: np.ndarray,
    y_te: np.ndarray,
    rng: np.random.Generator,
    thresholds: dict | None = None,
) -> dict:
    """The sparsification bootstraps of one trial: per-trial scalars (medians over test points
    and patterns, means over patterns) and, under ``samples``, what the pooled statistics of
    the reference need (``sparsify.pooled_statistics``)."""
    coefficient = sparsify.PRECONDITION_COEFFICIENTS[cfg.precondition]
    shared = sparsify.pattern_free(kernel, k_test, k_thresh, y_tr, y_te)  # once per trial
    rows = []
    for _ in range(cfg.bootstraps):
        pattern = sparsify.sparsity_pattern(y_tr, rng)
        if thresholds is None:
            sparse = sparsify.sparsify_unbiased(kernel, pattern)
        else:
            sparse = sparsify.sparsify_biased(kernel, pattern, y_tr, thresholds, coefficient)
        row = sparsify.trial(kernel, sparse, k_test, k_thresh, y_tr, y_te, shared)
        row["sparsity_matrix"] = row["sparsity"]
        row["sparsity_pattern"] = sparsify.row_sparsity(pattern)
        row["sparsity"] = row[f"sparsity_{cfg.sparsity}"]
        rows.append(row)
    out: dict = {}
    for key in rows[0]:
        vals = [r[key] for r in rows]
        if np.ndim(vals[0]):
            out[key] = float(np.median(np.concatenate(vals)))  # over test points and patterns
        else:
            out[key] = float(np.mean(vals))
    out["samples"] = {
        **{k: v for k, v in out.items() if k.startswith("acc_")},
        "predictions": len(y_te) * cfg.bootstraps,
        "kappa": [r["kappa"] for r in rows],
        "sparsity": [r["sparsity"] for r in rows],
        "post_selection": _compact(rows[0]["post_selection"]),  # the same for every pattern
        "readout_diag": _compact(rows[0]["readout_diag"]),
        "readout_sparse": _compact([r["readout_sparse"] for r in rows]),
    }
    return out


def _cnn_pool(
    cfg: StudyConfig,
    x_tr: np.ndarray,
    y_tr: np.ndarray,
    x_te: np.ndarray,
    y_te: np.ndarray,
    log: Callable[[str], object],
) -> dict:
    """``oracle.cnn_pool`` with this configuration's sizes, CNN and threshold choice."""
    return cnn_pool(
        x_tr,
        y_tr,
        x_te,
        y_te,
        seed=cfg.seed,
        max_n=max(cfg.sizes),
        test_size=cfg.test_size,
        stage_depth=cfg.cnn_stage_depth,
        width=cfg.cnn_width,
        hidden=cfg.cnn_hidden,
        thresholds=cfg.cnn_thresholds,
        percentile=cfg.percentile,
        log=log,
    )


def study(
    cfg: StudyConfig,
    out_dir: str | os.PathLike | None = None,
    *,
    resume: bool = False,
    overwrite: bool = False,
    log: Callable[[str], object] = print,
) -> dict:
    """Run the paper's MNIST experiment: per n and trial, the exact, sparsified and diagonal NTK
    quantities (and a finite network, estimated kernels); writes ``study.json`` after every
    trial (resumable), returns the report with per-n summaries and log-n fits. ``out_dir`` is
    checked as every run directory is (``runs.check_out``): another study only with ``resume``
    (the same configuration) or ``overwrite``, never a directory of other files."""
    path = Path(out_dir) / runs.STUDY if out_dir is not None else None
    records: list[dict] = []
    if path is not None:
        runs.check_out(out_dir, resume=resume, overwrite=overwrite, record=runs.STUDY)
        if resume and path.is_file():
            records = _saved_records(path, cfg)
            log(f"resuming: {len(records)} trials already in {path}")
        path.parent.mkdir(parents=True, exist_ok=True)
    done = {(r["n"], r["trial"]) for r in records}

    _, x_tr_all, y_tr_all = load_split(cfg, "train")
    _, x_te_all, y_te_all = load_split(cfg, "test")
    check_sizes(cfg, y_tr_all, y_te_all)
    mu = coefficient_of_nonlinearity("erf")
    pool = None
    if cfg.arch == "cnn":
        pool = _cnn_pool(cfg, x_tr_all, y_tr_all, x_te_all, y_te_all, log)

    def save() -> dict:
        report = summarize(asdict(cfg), records)
        if path is not None:
            atomic_write(path, report_json(report).encode())
        return report

    for n in cfg.sizes:
        for t in range(cfg.trials):
            if (n, t) in done:
                continue
            t0 = time.perf_counter()
            rng = np.random.default_rng([cfg.seed, n, t])
            rec: dict = {"n": n, "trial": t}
            if cfg.arch == "fc":
                i_tr = balanced_indices(y_tr_all, n, rng)
                i_te = balanced_indices(y_te_all, cfg.test_size, rng)
                (x_tr, x_te), _, _ = standardize(x_tr_all[i_tr], x_te_all[i_te])
                y01, y01_te = y_tr_all[i_tr], y_te_all[i_te]
                delta = min_separation(x_tr)
                kcfg = FCKernel(depth=depth_for(n, delta, mu, cfg.depth_factor))
                _, kernel = fc_kernel(x_tr, None, kcfg)
                _, k_test = fc_kernel(x_te, x_tr, kcfg)
                k_thresh = k_thresh_from_separability(kcfg, x_tr.shape[1], cfg.delta_hat)
                rec.update(delta=delta, depth=kcfg.depth, k_thresh=k_thresh)
                thresholds = None
                net = fc_network(x_tr.shape[1], cfg.finite_width, cfg.finite_depth)
            else:
                i_tr = balanced_indices(pool["y_train"], n, rng)
                i_te = balanced_indices(pool["y_test"], cfg.test_size, rng)
                kernel = pool["k_train"][np.ix_(i_tr, i_tr)]
                k_test = pool["k_test"][np.ix_(i_te, i_tr)]
                y01, y01_te = pool["y_train"][i_tr], pool["y_test"][i_te]
                x_tr, x_te = pool["x_train"][i_tr], pool["x_test"][i_te]
                k_thresh, thresholds = pool["k_thresh"], pool["thresholds"]
                rec.update(k_thresh=k_thresh)
                net = pool["net"]
            y_pm, y_pm_te = 2.0 * y01 - 1, 2.0 * y01_te - 1
            rec.update(_kernel_trial(cfg, kernel, k_test, k_thresh, y_pm, y_pm_te, rng, thresholds))
            if cfg.arch == "fc" and t == 0:
                for name in cfg.estimators:
                    rec[f"acc_estimated[{name}]"], rec[f"cost_estimated[{name}]"] = (
                        _estimated_accuracy(name, kcfg, x_tr, x_te, y_pm, y_pm_te, cfg.seed + n)
                    )
            if cfg.finite and t < cfg.finite_trials:
                rec.update(train_finite(net, x_tr, y01, x_te, y01_te, cfg, seed=cfg.seed + t))
            rec["seconds"] = time.perf_counter() - t0
            records.append(rec)
            save()
            log(
                f"{cfg.arch} n={n} trial={t}: exact {rec['acc_exact']:.3f} sparse "
                f"{rec['acc_sparse']:.3f} diag {rec['acc_diag']:.3f}"
                + (f" finite {rec['acc_finite']:.3f}" if "acc_finite" in rec else "")
                + f" kappa {rec['kappa']:.2f} ({rec['seconds']:.1f} s)"
            )
    return save()


def _saved_records(path: Path, cfg: StudyConfig) -> list[dict]:
    """The trials already in ``path``, refused in one line when unreadable or of another study."""
    try:
        saved = json.loads(path.read_text())
        records = saved["records"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ValueError(
            f"{path} cannot be read as a study record ({err}); use --overwrite"
        ) from None
    if saved.get("config") != json.loads(json.dumps(asdict(cfg))):
        raise ValueError(f"{path} was written with another configuration; use a new out")
    return records


def _estimated_accuracy(
    name: str,
    kcfg: FCKernel,
    x_tr: np.ndarray,
    x_te: np.ndarray,
    y_tr: np.ndarray,
    y_te: np.ndarray,
    seed: int,
) -> tuple[float, float]:
    """Exact-NTK accuracy when every inner product comes from estimator ``name``; mean cost."""
    est = parse_estimator(name)
    key = jax.random.key(seed)
    g_tr, c_tr = estimated_gram(x_tr, None, est, jax.random.fold_in(key, 0), symmetric=True)
    g_te, c_te = estimated_gram(x_te, x_tr, est, jax.random.fold_in(key, 1))
    d = x_tr.shape[1]
    _, kernel = fc_kernel_from_products(
        g_tr, np.diag(g_tr), np.diag(g_tr), kcfg, d, self_pairs=True
    )
    _, k_test = fc_kernel_from_products(g_te, np.sum(x_te**2, 1), np.diag(g_tr), kcfg, d)
    alpha = np.linalg.lstsq(kernel, y_tr, rcond=None)[0]
    acc = float(np.mean(sparsify.median_sign(k_test @ alpha) == y_te))
    n_pairs = len(x_tr) * (len(x_tr) - 1) / 2 + c_te.size
    return acc, float((c_tr.sum() + c_te.sum()) / n_pairs)
