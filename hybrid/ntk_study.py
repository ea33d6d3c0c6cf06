"""The MNIST study of Zlokapa, Neven and Lloyd (arXiv:2107.09200), export and ``hybrid ntk``.

Per training set size n and trial: the exact, sparsified and diagonal NTK classifiers, kappa of
the sparsified NTK and the measurement counts of state preparation and readout
(``hybrid.sparsify``), a finite network trained by gradient descent, and the FC kernel rebuilt
from estimated inner products; summaries with fits against log n (``summarize``), the paper's
figure (``plot_study``). ``train_and_export`` writes a trained FC NTK classifier as a "kernel"
run that ``hybrid.classifier.NumpyClassifier`` evaluates with NumPy alone. The kernels
themselves live in ``hybrid.ntk``.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from hybrid.ntk import (
    FCKernel,
    Network,
    coefficient_of_nonlinearity,
    depth_for,
    empirical_ntk,
    estimated_gram,
    fc_kernel,
    fc_kernel_from_products,
    fc_network,
    k_thresh_from_separability,
    min_separation,
    myrtle_network,
    unit_rows,
)

# ---------------------------------------------------------------- the MNIST study of the paper


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


@dataclass(frozen=True)
class StudyConfig:
    """One sweep of the paper's experiment (defaults: the reference's FC setup, n up to 1024).

    ``arch`` "fc": analytic NTK of the normalised-erf network of depth
    round(depth_factor * 8 log(n / delta) / mu) per training set, k_thresh from separability.
    ``arch`` "cnn": empirical NTK of one finite Myrtle-like CNN (``myrtle_network`` with the
    cnn_* sizes, seed ``seed``) on fixed pools of the data, k_thresh the largest off-diagonal
    entry of a first n = 16 kernel (as the reference), biased sparsification.
    ``finite``: also train a finite network by gradient descent (MSE on +-1 labels) per trial
    (``finite_trials`` of them) for ``finite_epochs`` epochs.
    ``estimators``: names of inner-product estimators (``parse_estimator``) whose estimated
    Gram builds the FC kernel once per n (trial 0), to measure the accuracy estimation costs.
    ``statistics``, ``sparsity``, ``cnn_thresholds``, ``precondition``: see ``OPTIONS``; the
    defaults are the reference's.
    """

    arch: str = "fc"
    classes: tuple = (8, 9)
    sizes: tuple = (16, 32, 64, 128, 256, 512, 1024)
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
    finite_trials: int = 5
    finite_width: int = 512
    finite_depth: int = 3
    finite_epochs: int = 100
    finite_lr: float = 0.5
    finite_batch: int = 128
    estimators: tuple = ()
    statistics: str = "pooled"
    sparsity: str = "pattern"
    cnn_thresholds: str = "two_sets"
    precondition: str = "current"

    def __post_init__(self):
        if self.arch not in ("fc", "cnn"):
            raise ValueError(f"arch must be 'fc' or 'cnn', got {self.arch!r}")
        for name, allowed in OPTIONS.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if len(self.classes) != 2:
            raise ValueError("the NTK study is binary: give two classes")
        if min(self.sizes) < 4 or any(n % 2 for n in self.sizes) or self.test_size % 2:
            raise ValueError("training and test sizes must be even (balanced classes) and >= 4")
        if self.trials < 1 or self.bootstraps < 1:
            raise ValueError("trials and bootstraps must be >= 1")


def parse_estimator(text: str):
    """``exact``, ``shots:N`` (N shots), ``shots@EPS``, ``ripe@EPS``, ``gaussian@EPS``."""
    from hybrid.estimators import Estimator

    kind, _, rest = text.partition(":")
    if kind == "shots" and rest:
        return Estimator("shots", shots=int(rest))
    kind, _, eps = text.partition("@")
    return Estimator(kind, eps=float(eps) if eps else 0.0)


def load_split(cfg: StudyConfig, split: str):
    """(dataset, x as float64, labels 0/1) of one split, the two classes of ``cfg``."""
    from hybrid import data

    ds = data.load(cfg.dataset, split, source=cfg.source, classes=cfg.classes)
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


def balanced_indices(y: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """n indices, n/2 of each class (0 and 1), drawn without replacement; class 1 first."""
    per = n // 2
    out = []
    for c in (1, 0):
        pool = np.flatnonzero(y == c)
        if len(pool) < per:
            raise ValueError(f"class {c} has {len(pool)} examples, {per} needed for n = {n}")
        out.append(rng.choice(pool, per, replace=False))
    return np.concatenate(out)


def standardize(x_train: np.ndarray, *others: np.ndarray):
    """The reference's preprocessing: (x - mean) / std with one scalar mean and std (from the
    training inputs here, so that a deployed model can apply it), then unit-normalise."""
    mean, std = float(np.mean(x_train)), float(np.std(x_train))
    unit = [unit_rows((x - mean) / std) for x in (x_train, *others)]
    return unit, mean, std


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


def train_finite(net: Network, x, y01, x_test, y_test01, cfg: StudyConfig, seed: int) -> dict:
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


def _summaries(values) -> dict:
    v = np.asarray(values, dtype=np.float64)
    return {
        "mean": float(v.mean()),
        "sem": float(v.std(ddof=1) / math.sqrt(len(v))) if len(v) > 1 else 0.0,
        "median": float(np.median(v)),
    }


def _compact(values) -> list:
    """Per-test-point counts for study.json, to 6 significant digits (medians are reported to
    at most 4)."""
    return [float(f"{v:.6g}") for v in np.ravel(values)]


def _kernel_trial(cfg, kernel, k_test, k_thresh, y_tr, y_te, rng, thresholds=None) -> dict:
    """The sparsification bootstraps of one trial: per-trial scalars (medians over test points
    and patterns, means over patterns) and, under ``samples``, what the pooled statistics of
    the reference need (``sparsify.pooled_statistics``)."""
    from hybrid import sparsify

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


def study(cfg: StudyConfig, out_dir=None, *, resume: bool = False, log=print) -> dict:
    """Run the paper's MNIST experiment: per n and trial, the exact, sparsified and diagonal NTK
    quantities (and a finite network, estimated kernels); writes ``study.json`` after every
    trial (resumable), returns the report with per-n summaries and log-n fits."""
    import json
    import time
    from dataclasses import asdict
    from pathlib import Path

    from hybrid.export import atomic_write

    path = Path(out_dir) / "study.json" if out_dir is not None else None
    records: list[dict] = []
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        if resume and path.is_file():
            saved = json.loads(path.read_text())
            if saved.get("config") != json.loads(json.dumps(asdict(cfg))):
                raise ValueError(f"{path} was written with another configuration; use a new out")
            records = saved["records"]
            log(f"resuming: {len(records)} trials already in {path}")
    done = {(r["n"], r["trial"]) for r in records}

    _, x_tr_all, y_tr_all = load_split(cfg, "train")
    _, x_te_all, y_te_all = load_split(cfg, "test")
    check_sizes(cfg, y_tr_all, y_te_all)
    mu = coefficient_of_nonlinearity("erf")
    cnn_pool = (
        _cnn_pool(cfg, x_tr_all, y_tr_all, x_te_all, y_te_all, log) if cfg.arch == "cnn" else None
    )

    def save() -> dict:
        report = summarize(cfg, records)
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
                pool = cnn_pool
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


def report_json(report: dict) -> str:
    """The report as JSON: indented, except one line per trial record (each holds its
    per-test-point samples, thousands of numbers, which indenting puts one per line)."""
    import json

    head = json.dumps({k: v for k, v in report.items() if k != "records"}, indent=1)
    rows = ",\n  ".join(json.dumps(r) for r in report["records"])
    return f'{head[:-2]},\n "records": [\n  {rows}\n ]\n}}\n'


def _estimated_accuracy(name, kcfg, x_tr, x_te, y_tr, y_te, seed) -> tuple[float, float]:
    """Exact-NTK accuracy when every inner product comes from estimator ``name``; mean cost."""
    from hybrid import sparsify

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


def cnn_threshold_sets(y_pool: np.ndarray, seed: int, how: str = "two_sets"):
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


def _cnn_pool(cfg: StudyConfig, x_tr, y_tr, x_te, y_te, log) -> dict:
    """Empirical NTK of one Myrtle-like CNN on balanced pools of the training and test splits.

    Every trial then draws its training and test sets from the pools and takes sub-blocks of
    the pool kernels: the same numbers as recomputing the kernel per trial, computed once.
    """
    import time

    from hybrid import sparsify

    rng = np.random.default_rng([cfg.seed, 1])
    per_tr = min(np.bincount(y_tr, minlength=2))
    per_te = min(np.bincount(y_te, minlength=2))
    if 2 * per_tr < max(cfg.sizes) or 2 * per_te < cfg.test_size:
        raise ValueError(f"not enough examples per class ({per_tr}, {per_te}) for these sizes")
    i_tr = balanced_indices(y_tr, 2 * per_tr, rng)
    i_te = balanced_indices(y_te, 2 * per_te, rng)
    (xp_tr, xp_te), _, _ = standardize(x_tr[i_tr], x_te[i_te])
    shape = x_tr.shape[1:]
    xp_tr, xp_te = xp_tr.reshape(-1, *shape), xp_te.reshape(-1, *shape)
    net = myrtle_network(cfg.cnn_stage_depth, cfg.cnn_width, cfg.cnn_hidden, shape)
    params = net.init(jax.random.key(cfg.seed))
    t0 = time.perf_counter()
    log(f"cnn: empirical NTK of {net.n_params} parameters on {len(xp_tr)} + {len(xp_te)} images")
    k_all = empirical_ntk(net, params, np.concatenate([xp_tr, xp_te]))  # one Jacobian pass
    k_train, k_test = k_all[: len(xp_tr), : len(xp_tr)], k_all[len(xp_tr) :, : len(xp_tr)]
    log(f"cnn: pool kernels done in {time.perf_counter() - t0:.0f} s")
    k_set, base = cnn_threshold_sets(y_tr[i_tr], cfg.seed, cfg.cnn_thresholds)
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
        "thresholds": sparsify.class_thresholds(
            k_train[np.ix_(base, base)], y_base, cfg.percentile
        ),
        "seconds": time.perf_counter() - t0,
    }


def class_structure(kernel: np.ndarray, y: np.ndarray) -> dict:
    """How diagonal a kernel is, in the terms the docs use: mean within-class and between-class
    correlation K_ij / sqrt(K_ii K_jj) (off the diagonal), kappa, and the number of diagonally
    dominant rows (K_ii > sum over j != i of |K_ij|)."""
    from hybrid import sparsify

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


def cnn_oracle(fixture, widths=(16, 64, 256), seeds=(0, 1, 2, 3), *, log=print) -> dict:
    """The finite Myrtle CNN's empirical NTK against neural-tangents' infinite-width one.

    ``fixture``: ``tests/fixtures/nt_myrtle.npz`` (``make_nt_fixtures.py``: the reference's
    ``create_convolutional_network(9)`` on eight MNIST digits). For each width (channels and
    the hidden dense layer alike) and seed, the relative Frobenius error
    ||Theta_width - Theta_inf|| / ||Theta_inf||, and that of the mean over seeds; the class
    structure (``class_structure``) of the infinite kernel and of each finite one.
    """
    import time

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


FITTED = ("kappa", "post_selection", "readout_diag", "readout_sparse", "sparsity")


def summarize(cfg: StudyConfig, records: list[dict]) -> dict:
    """Per n: mean, standard error and median over trials of every per-trial quantity, and
    under ``pooled`` the reference's statistics over all trials, patterns and test points
    (``sparsify.pooled_statistics``; its Poisson-bootstrap errors seeded by n). Fits against
    log n, with R^2, of the pooled values (``statistics="pooled"``) or of the per-n medians of
    per-trial medians (kappa: means; ``"per_trial"``)."""
    from dataclasses import asdict

    from hybrid import sparsify

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
            rng = np.random.default_rng([cfg.seed, n, 2])
            per_n[str(n)]["pooled"] = sparsify.pooled_statistics(samples, rng)
    fits = {}
    if len(sizes) >= 3:
        for key in FITTED:
            stat = "mean" if key == "kappa" else "median"
            if cfg.statistics == "pooled":
                stat = "pooled " + ("mean" if key in ("kappa", "sparsity") else "median")
            vals = [statistic(per_n[str(n)], key, cfg.statistics)[0] for n in sizes]
            fits[key] = sparsify.log_fit(sizes, vals) | {"statistic": stat}
    return {"config": asdict(cfg), "per_n": per_n, "fits": fits, "records": records}


def statistic(entry: dict, key: str, statistics: str = "pooled") -> tuple[float, float]:
    """(value, standard error) of ``key`` in one ``per_n`` entry of a report: the pooled
    statistic, or over trials the mean (kappa, accuracies) or the median (counts, sparsity)."""
    if statistics == "pooled" and key in entry.get("pooled", {}):
        return entry["pooled"][key]["value"], entry["pooled"][key]["sem"]
    stat = "mean" if key == "kappa" or key.startswith("acc_") else "median"
    return entry[key][stat], entry[key]["sem"]


def plot_study(report: dict, path) -> object:
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


# ---------------------------------------------------------------- export and command line


def fit_kernel_classifier(
    x_train, y_pm, cfg: FCKernel, approx: str = "exact", *, seed: int = 0
) -> dict:
    """Coefficients of the exact, sparsified or diagonal FC NTK classifier on unit inputs.

    Returns the ``kernel`` section of a "kernel" run spec plus ``alpha``. The sparsified and
    diagonal classifiers score with clip(k / k_thresh) as the reference; the threshold is the
    median training score (0 for the exact NTK with balanced classes).
    """
    from hybrid import sparsify

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
    out_dir,
    *,
    n: int = 512,
    approx: str = "exact",
    classes=(8, 9),
    dataset: str = "mnist",
    source: str = "auto",
    seed: int = 0,
    depth_factor: float = 0.1,
    test_size: int | None = None,
) -> dict:
    """Train the FC NTK classifier on n balanced training points and export it as a "kernel"
    run (x_train, alpha, recipe) that ``hybrid.classifier.NumpyClassifier`` evaluates."""
    from hybrid import export, preprocessing

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
    from hybrid.ntk_numpy import kernel_scores

    raw, y_eval = test.raw, y_te_all
    if test_size is not None:
        raw, y_eval = raw[:test_size], y_eval[:test_size]
    arrays = {"x_train": x_tr, "alpha": fitted["alpha"]}
    scores = kernel_scores(spec, arrays, preprocessing.apply(prep, raw))
    spec["metrics"] = {
        "test_accuracy": float(np.mean((scores > 0) == (y_eval == 1))),
        "test_examples": int(len(y_eval)),
    }
    export.save_run(out_dir, arrays, spec)
    return spec


def _cmd_study(args) -> int:
    import json
    from pathlib import Path

    cnn = args.arch == "cnn"
    cfg = StudyConfig(
        arch=args.arch,
        classes=tuple(args.classes or ((1, 0) if cnn else (8, 9))),
        sizes=tuple(args.sizes),
        trials=args.trials,
        test_size=args.test_size,
        bootstraps=args.bootstraps,
        seed=args.seed,
        dataset=args.dataset,
        source=args.source,
        finite=not args.no_finite,
        finite_trials=args.finite_trials if args.finite_trials is not None else (1 if cnn else 5),
        finite_epochs=args.finite_epochs or (20 if cnn else 100),
        finite_lr=args.finite_lr or (1.0 if cnn else 4.0),
        cnn_stage_depth=args.cnn_stage_depth,
        cnn_width=args.cnn_width,
        estimators=tuple(args.estimators),
        statistics=args.statistics,
        sparsity=args.sparsity,
        cnn_thresholds=args.cnn_thresholds,
        precondition=args.precondition,
    )
    report = study(
        cfg, args.out, resume=args.resume, log=lambda msg: print(msg, file=sys.stderr, flush=True)
    )
    plot_study(report, Path(args.out) / f"ntk_{args.arch}.png")
    largest = report["per_n"].get(str(max(cfg.sizes)))
    print(json.dumps({"fits": report["fits"], "largest_n": largest}, indent=1))
    return 0


def _cmd_train(args) -> int:
    import json

    from hybrid.export import check_out, claim

    check_out(args.out, overwrite=args.overwrite)  # before the kernel is computed
    held = claim(args.out, overwrite=args.overwrite)
    spec = train_and_export(
        args.out,
        n=args.n,
        approx=args.approx,
        classes=tuple(args.classes),
        dataset=args.dataset,
        source=args.source,
        seed=args.seed,
    )
    print(
        json.dumps(
            {"run_dir": str(args.out), "kernel": spec["kernel"], "metrics": spec["metrics"]},
            indent=1,
        )
    )
    held.release()
    return 0


def qsvt_demo(
    n: int = 16,
    eps: float = 1e-2,
    device: str = "lightning.qubit",
    source: str = "auto",
    seed: int = 0,
    depths: tuple = (None, 10),
    classes: tuple = (8, 9),
    dataset: str = "mnist",
) -> dict:
    """QSVT solve of K~ x = y for a sparsified FC NTK of n balanced training points of two
    classes (MNIST 8 vs 9 by default), preprocessed as the study does.

    ``depths``: hidden layers of the NTK; None is the reference's depth (0.1 L_conv), at which
    K~ is nearly diagonal (kappa ~ 1); a shallower kernel gives a less trivial system. A depth
    whose system is out of reach (polynomial degree beyond ``qsvt.MAX_DEGREE``) is reported with its
    kappa and the reason instead of a result. Returns one entry per depth: ``depth`` is the
    NTK's, ``circuit_depth`` the QSVT circuit's.
    """
    from hybrid import ntk, qsvt, sparsify

    cfg = StudyConfig(classes=tuple(classes), dataset=dataset, source=source, seed=seed)
    _, x_all, y_all = load_split(cfg, "train")
    rng = np.random.default_rng([seed, n])
    idx = balanced_indices(y_all, n, rng)
    (x,), _, _ = standardize(x_all[idx])
    y = 2.0 * y_all[idx] - 1
    pattern = sparsify.sparsity_pattern(y, rng)
    mu = ntk.coefficient_of_nonlinearity()
    out = []
    for depth in depths:
        depth = ntk.depth_for(n, ntk.min_separation(x), mu) if depth is None else depth
        _, kernel = ntk.fc_kernel(x, None, ntk.FCKernel(depth=depth))
        sparse = sparsify.sparsify_unbiased(kernel, pattern)
        entry = {"depth": depth, "sparsity": sparsify.row_sparsity(sparse)}
        try:
            result = qsvt.solve(sparse, y, eps=eps, device=device)
        except ValueError as err:
            out.append(entry | {"kappa": sparsify.condition_number(sparse), "skipped": str(err)})
            continue
        result.pop("x_quantum")
        result.pop("x_classical_normalized")
        result["circuit_depth"] = result.pop("depth")
        out.append(entry | result)
    return {
        "dataset": dataset,
        "classes": list(classes),
        "seed": seed,
        "eps": eps,
        "results": out,
    }


def _cmd_qsvt(args) -> int:
    import json
    import os

    from hybrid.data import DATA_DIR_ENV
    from hybrid.export import atomic_write

    classes = tuple(args.classes or (8, 9))
    command = (
        f"hybrid ntk qsvt --n {args.n} --eps {' '.join(map(str, args.eps))} "
        f"--depths {' '.join(map(str, args.depths))} --dataset {args.dataset} "
        f"--classes {classes[0]} {classes[1]} --source {args.source} --seed {args.seed} "
        f"--device {args.device}" + (f" --out {args.out}" if args.out else "")
    )
    report = {
        "paper": "Zlokapa, Neven, Lloyd, arXiv:2107.09200; QSVT: Gilyen, Su, Low, Wiebe, "
        "arXiv:1806.01838",
        "command": command,
        DATA_DIR_ENV: os.environ.get(DATA_DIR_ENV),
        "runs": [
            qsvt_demo(
                n=args.n,
                eps=eps,
                device=args.device,
                source=args.source,
                seed=args.seed,
                depths=tuple(d or None for d in args.depths),
                classes=classes,
                dataset=args.dataset,
            )
            for eps in args.eps
        ],
    }
    text = json.dumps(report, indent=1)
    if args.out:
        atomic_write(args.out, (text + "\n").encode())
    print(text)
    return 0
