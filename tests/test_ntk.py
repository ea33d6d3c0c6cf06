"""hybrid.ntk kernels: closed form vs Monte Carlo, finite vs infinite width, export round trip."""

import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import numpy as np
import pytest
from scipy.special import erf

from hybrid import cli, ntk
from hybrid.deploy import ntk_numpy
from hybrid.ntk import classifier, oracle, qsvt, selection, sparsify
from hybrid.ntk import study as ntk_study
from hybrid.ripe.estimators import Estimator


def _unit_points(n=5, d=8, seed=0):
    return ntk.unit_rows(np.random.default_rng(seed).normal(size=(n, d)))


def _monte_carlo_kernels(x, cfg: ntk.FCKernel, samples: int, rng):
    """NNGP and NTK by sampling: every layer's Gaussian expectation is a mean over ``samples``
    independent neurons drawn with the previous layer's *estimated* covariance, so nothing of
    the closed-form arc-sine / arc-cosine expressions is used."""
    if cfg.activation == "erf":
        phi = erf
        dphi = lambda u: 2 / math.sqrt(math.pi) * np.exp(-(u**2))  # noqa: E731
    else:
        phi = lambda u: np.maximum(u, 0)  # noqa: E731
        dphi = lambda u: (u > 0).astype(float)  # noqa: E731
    w, b = cfg.weight_var, cfg.bias_var
    k = w * (x @ x.T) / x.shape[1] + b
    theta = k.copy()
    for _ in range(cfg.depth):
        u = rng.multivariate_normal(np.zeros(len(x)), k, size=samples, method="eigh")
        act, der = phi(u), dphi(u)
        k_next = w * (act.T @ act) / samples + b
        theta = w * theta * (der.T @ der) / samples + k_next
        k = k_next
    return k, theta


@pytest.mark.parametrize(
    "cfg",
    [ntk.FCKernel("erf", depth=3), ntk.FCKernel("relu", depth=3, weight_var=2.0, bias_var=0.1)],
    ids=["erf-normalised", "relu-bias"],
)
def test_recursion_matches_monte_carlo(cfg):
    """Tolerance, relative to the largest entry (near-zero entries have no useful relative
    error): 2e5 samples give a standard error of ~0.25 % of the scale per layer and entry,
    ~0.5 % after three layers; we allow 2 % (about 4 standard errors, max over 15 entries)."""
    x = _unit_points()
    nngp, theta = ntk.fc_kernel(x, None, cfg)
    mc_nngp, mc_theta = _monte_carlo_kernels(x, cfg, 200_000, np.random.default_rng(1))
    assert np.max(np.abs(mc_nngp - nngp)) < 0.02 * np.max(np.abs(nngp))
    assert np.max(np.abs(mc_theta - theta)) < 0.02 * np.max(np.abs(theta))
    assert not np.allclose(mc_theta, nngp, rtol=0.05)  # the NTK differs from the NNGP


def test_jax_blocks_match_numpy_recursion():
    """The jit-compiled, blocked (padded last block) kernel equals the shared NumPy recursion."""
    rng = np.random.default_rng(3)
    x1, x2 = rng.normal(size=(11, 6)), rng.normal(size=(7, 6))  # not unit: norms enter too
    for cfg in (ntk.FCKernel("erf", 4, 1.3, 0.2), ntk.FCKernel("relu", 2, 2.0, 0.0)):
        nngp, theta = ntk.fc_kernel(x1, x2, cfg, block=4)
        ref = ntk_numpy.fc_kernels(x1 @ x2.T, np.sum(x1**2, 1), np.sum(x2**2, 1), cfg.recipe(6), np)
        np.testing.assert_allclose(nngp, ref[0], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(theta, ref[1], rtol=1e-8, atol=1e-10)
        g = x1 @ x2.T
        via_products = ntk.fc_kernel_from_products(
            g, np.sum(x1**2, 1), np.sum(x2**2, 1), cfg, 6, block=3
        )
        np.testing.assert_allclose(via_products[1], theta, rtol=1e-10)


def _self_pair_recursion(sq: float, cfg: ntk.FCKernel, d: int) -> tuple[float, float]:
    """(NNGP, NTK) of an input with itself, by hand: at correlation 1 the erf layer gives
    E[erf(u)^2] = (2/pi) asin(2q/(1+2q)), E[erf'(u)^2] = (4/pi)/sqrt(1+4q); ReLU q/2 and 1/2."""
    w, b = cfg.weight_var, cfg.bias_var
    q = theta = w * sq / d + b
    for _ in range(cfg.depth):
        if cfg.activation == "erf":
            nngp, dot = (
                2 / math.pi * math.asin(2 * q / (1 + 2 * q)),
                4 / math.pi / math.sqrt(1 + 4 * q),
            )
        else:
            nngp, dot = q / 2, 0.5
        q = w * nngp + b
        theta = w * theta * dot + q
    return q, theta


@pytest.mark.parametrize(
    "cfg",
    [
        ntk.FCKernel(depth=150),
        ntk.FCKernel("erf", 150, 1.7, 0.3),
        ntk.FCKernel("relu", 150, 2.0, 0.1),
    ],
    ids=["erf-normalised", "erf-bias", "relu-bias"],
)
def test_fc_diagonal_is_exact_at_depth_150(cfg):
    """Self-pairs at exactly c = 1: the diagonal of the depth-150 kernel equals the c = 1
    recursion to 1e-12 relative, for rows of different norms, through ``fc_kernel`` (blocked,
    padded) and ``fc_kernel_from_products(self_pairs=True)``. Without it (the general
    recursion on x.x') the normalised-erf NTK diagonal was off by 2e-4 (fc_kernel) and 1e-2
    (NumPy x @ x.T through the products) relative here."""
    x = _unit_points(6, 784, seed=4) * np.array([1.0, 3.0, 0.5, 1.0, 2.0, 1.0])[:, None]
    sq = np.sum(x * x, axis=1)
    expected = np.array([_self_pair_recursion(float(v), cfg, 784) for v in sq])
    nngp, theta = ntk.fc_kernel(x, None, cfg, block=4)
    np.testing.assert_allclose(np.diag(nngp), expected[:, 0], rtol=1e-12)
    np.testing.assert_allclose(np.diag(theta), expected[:, 1], rtol=1e-12)
    _, via_products = ntk.fc_kernel_from_products(x @ x.T, sq, sq, cfg, 784, self_pairs=True)
    np.testing.assert_allclose(np.diag(via_products), expected[:, 1], rtol=1e-12)
    np.testing.assert_allclose(via_products, theta, rtol=1e-9)  # off-diagonal: same recursion
    assert np.all(np.isfinite(theta))


def test_self_pair_recursion_is_the_c_to_1_limit():
    """At shallow depth the general recursion's diagonal (x.x on the Gram diagonal) equals the
    c = 1 formulas of ``self_kernels``: erf to 1e-12; ReLU to 1e-7 only, because its angle
    arccos(1 - e) ~ sqrt(2 e) turns a last-bit error e ~ 1e-16 of the correlation into ~1e-8
    in the NTK (measured 1.3e-8 at depth 5), another reason to compute self-pairs at c = 1."""
    x = _unit_points(4, 16, seed=6) * 1.5
    sq = np.sum(x * x, axis=1)
    for cfg, rtol in (
        (ntk.FCKernel("erf", 5, 1.7, 0.3), 1e-12),
        (ntk.FCKernel("relu", 5, 2.0, 0.1), 1e-7),
    ):
        general = ntk_numpy.fc_kernels(x @ x.T, sq, sq, cfg.recipe(16), np)
        exact = ntk_numpy.self_kernels(sq, cfg.recipe(16), np)
        np.testing.assert_allclose(np.diag(general[0]), exact[0], rtol=1e-12)
        np.testing.assert_allclose(np.diag(general[1]), exact[1], rtol=rtol)


FIXTURES = Path(__file__).parent / "fixtures"  # written by fixtures/make_nt_fixtures.py


@pytest.mark.parametrize("name", ["erf", "erf_bias", "relu_bias"])
def test_fc_kernels_match_neural_tangents(name):
    """Oracle: neural-tangents 0.6.5 (the reference's library, run in a side environment by
    tests/fixtures/make_nt_fixtures.py) on six preprocessed MNIST digits, depths 0-50.
    Off-diagonal NNGP and NTK, ours (blocked JAX and the NumPy recursion): 1e-12 relative
    (measured at most 3e-13). Diagonal: 1e-8, neural-tangents' own rounding, not ours (measured
    4e-10 at depth 50 for erf, growing by chi = 1.2257 per layer; 5e-9 for ReLU, whose arccos
    near 1 amplifies a last-bit error). k_thresh as the reference computes it: 1e-10 (measured
    1.5e-11; its test vector has squared norm 1 only to rounding, felt at 1e-16 / delta_hat)."""
    data = np.load(FIXTURES / "nt_fc.npz")
    x = data["x"]
    sq = np.sum(x * x, axis=1)
    off = ~np.eye(len(x), dtype=bool)
    activation, w, b = (str(v) for v in data[f"{name}/network"])
    for i, depth in enumerate(data["depths"]):
        cfg = ntk.FCKernel(activation, int(depth), float(w), float(b))
        nt_nngp, nt_ntk = data[f"{name}/nngp"][i], data[f"{name}/ntk"][i]
        nngp, theta = ntk.fc_kernel(x, None, cfg)
        numpy_nngp, numpy_ntk = ntk_numpy.fc_kernels(x @ x.T, sq, sq, cfg.recipe(x.shape[1]))
        for ours, expected in ((nngp, nt_nngp), (theta, nt_ntk), (numpy_nngp, nt_nngp)):
            np.testing.assert_allclose(ours[off], expected[off], rtol=1e-12, atol=0)
        np.testing.assert_allclose(numpy_ntk[off], nt_ntk[off], rtol=1e-12, atol=0)
        np.testing.assert_allclose(np.diag(theta), np.diag(nt_ntk), rtol=1e-8, atol=0)
        np.testing.assert_allclose(np.diag(nngp), np.diag(nt_nngp), rtol=1e-8, atol=0)
        k_thresh = ntk.k_thresh_from_separability(cfg, x.shape[1], 1e-5)
        assert k_thresh == pytest.approx(data[f"{name}/k_thresh"][i], rel=1e-10, abs=0)
    assert name != "erf" or float(w) == pytest.approx(ntk.normalized_erf_weight_var(), rel=1e-15)


def test_normalised_erf_has_unit_fixed_point():
    """weight_var = 1/E[erf^2] keeps a unit-variance pre-activation at variance 1."""
    q = np.ones(1)
    state = (q, q, np.ones((1, 1)), np.ones((1, 1)))
    q1, _, k, _ = ntk_numpy.hidden_layer(state, "erf", ntk.normalized_erf_weight_var(), 0.0, np)
    assert q1[0] == pytest.approx(1.0, abs=1e-12)
    assert k[0, 0] == pytest.approx(1.0, abs=1e-12)


def test_coefficient_of_nonlinearity_matches_monte_carlo():
    """mu = 1 - E[z s(z)]^2, as the reference estimates it by sampling (SE ~ 1e-3 here)."""
    z = np.random.default_rng(0).normal(size=1_000_000)
    s = math.sqrt(ntk.normalized_erf_weight_var()) * erf(z)
    sampled = 1 - np.mean(z * s) ** 2
    assert ntk.coefficient_of_nonlinearity("erf") == pytest.approx(sampled, abs=5e-3)
    assert ntk.coefficient_of_nonlinearity("relu") == pytest.approx(0.5)


def test_depth_and_separation():
    x = np.array([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]])
    assert ntk.min_separation(x, block=2) == pytest.approx(0.2)
    mu = ntk.coefficient_of_nonlinearity()
    assert ntk.depth_for(64, 0.1, mu) == round(0.1 * 8 * math.log(640) / mu)


def _relative_error(width, x, cfg, seeds=(0, 1)):
    _, exact = ntk.fc_kernel(x, None, cfg)
    net = ntk.fc_network(x.shape[1], width, cfg.depth, cfg)
    errors = []
    for seed in seeds:
        emp = ntk.empirical_ntk(net, net.init(jax.random.key(seed)), x, block=4)
        errors.append(np.linalg.norm(emp - exact) / np.linalg.norm(exact))
    return float(np.mean(errors))


def test_empirical_ntk_converges_to_analytic_with_width():
    """Finite-width fluctuations shrink like 1/sqrt(width): mean relative Frobenius error over
    two initialisations, depth 2 normalised-erf net on 6 unit vectors in d = 16. Typical values:
    about 0.17 at width 64 and 0.05 at width 1024. Asserted: below 0.10 at width 1024 and at
    least 2x smaller than at width 64 (1/sqrt scaling predicts 4x)."""
    x = _unit_points(6, 16, seed=2)
    cfg = ntk.FCKernel("erf", depth=2)
    narrow, wide = _relative_error(64, x, cfg), _relative_error(1024, x, cfg)
    assert wide < 0.10
    assert narrow / wide > 2.0


def test_empirical_ntk_blocks_match_full_jacobian():
    """The blocked per-example-gradient contraction equals J J^T from one full jacobian (CNN
    with pooling, blocks of 3 with a padded last block, x1 != x2, Jacobians recomputed)."""
    net = ntk.myrtle_network(stage_depth=1, width=3, hidden=4, input_shape=(16, 16, 1))
    params = net.init(jax.random.key(0))
    x = np.random.default_rng(0).normal(size=(9, 16, 16, 1))
    x1, x2 = x[:5], x[5:]
    blocked = ntk.empirical_ntk(net, params, x1, x2, block=3, max_bytes=0)
    with jax.enable_x64(True):
        p64 = [jax.numpy.asarray(p, jax.numpy.float64) for p in params]
        jac = [np.asarray(j).reshape(len(x), -1) for j in jax.jacrev(net.apply)(p64, x)]
    full = sum(j[:5] @ j[5:].T for j in jac)
    np.testing.assert_allclose(blocked, full, rtol=1e-9)
    same = ntk.empirical_ntk(net, params, x1, block=3)  # cached Jacobians, x2 = x1
    np.testing.assert_allclose(same, sum(j[:5] @ j[:5].T for j in jac), rtol=1e-9)


def test_estimated_gram_exact_and_ripe():
    """exact reproduces the Gram; RIPE at eps = 0.1 stays in the band max(eps|ip|, eps) for at
    least 1 - gamma - 0.05 of the entries (gamma = 0.05; the guarantee is per entry)."""
    x = _unit_points(12, 8, seed=5)
    key = jax.random.key(0)
    g, cost = ntk.estimated_gram(x, None, Estimator("exact"), key, symmetric=True)
    np.testing.assert_allclose(g, x @ x.T, atol=1e-12)
    assert np.all(cost == 0)
    g, cost = ntk.estimated_gram(x, None, Estimator("ripe", eps=0.1), key, symmetric=True)
    np.testing.assert_allclose(g, g.T)
    np.testing.assert_allclose(np.diag(g), 1.0)
    upper = np.triu_indices(12, 1)
    inside = np.abs(g - x @ x.T)[upper] <= 0.1 * np.maximum(1, np.abs(x @ x.T)[upper]) + 1e-12
    assert inside.mean() >= 0.90
    assert np.all(cost[upper] > 0)


def _toy_problem():
    rng = np.random.default_rng(7)
    centers = ntk.unit_rows(rng.normal(size=(2, 20)))
    y01 = np.repeat([1, 0], 12)
    x = ntk.unit_rows(centers[1 - y01] + 0.6 * rng.normal(size=(24, 20)) / math.sqrt(20))
    return x, y01


@pytest.mark.parametrize("approx", ["exact", "sparse", "diag"])
def test_kernel_classifier_numpy_matches_jax(approx):
    """The exported recipe, evaluated by the NumPy evaluator, reproduces the JAX scores."""
    x, y01 = _toy_problem()
    cfg = ntk.FCKernel(depth=5)
    fitted = classifier.fit_kernel_classifier(x[:16], 2.0 * y01[:16] - 1, cfg, approx)
    spec = {"kernel": fitted["kernel"]}
    arrays = {"x_train": x[:16], "alpha": fitted["alpha"]}
    scores = ntk_numpy.kernel_scores(spec, arrays, x[16:] * 3.0)  # unit-normalised inside
    _, k = ntk.fc_kernel(x[16:], x[:16], cfg)
    if fitted["kernel"]["clip"] is not None:
        k = np.clip(k / fitted["kernel"]["clip"], -1, 1)
    np.testing.assert_allclose(scores, k @ fitted["alpha"] - fitted["kernel"]["threshold"])
    assert np.mean((scores > 0) == (y01[16:] == 1)) >= 0.75


def test_exported_kernel_run_predicts_without_jax(tmp_path, offline_mnist):
    """hybrid ntk train's export, loaded by the NumPy classifier (EVALUATORS["kernel"]) in a
    process where importing jax, pennylane, optax or scipy fails: same accuracy as at runs."""
    spec = classifier.train_and_export(tmp_path / "run", n=32, source="idx", test_size=64)
    assert spec["kind"] == "kernel" and spec["metrics"]["test_accuracy"] > 0.7
    script = textwrap.dedent(
        f"""
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("jax", "jaxlib", "pennylane", "optax", "scipy"):
                    raise ImportError("blocked: " + name)
        sys.meta_path.insert(0, Block())
        from hybrid.deploy import classifier
        from hybrid import data
        model = classifier.NumpyClassifier.load({str(tmp_path / "run")!r})
        test = data.load("mnist", "test", source="idx", classes=(8, 9))
        print(model.score(test.raw[:64], test.y[:64]))
        """
    )
    env = {**os.environ, "HYBRID_DATA_DIR": str(offline_mnist)}
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
    )
    assert float(out.stdout.split()[-1]) == pytest.approx(spec["metrics"]["test_accuracy"])


def test_exported_iris_kernel_run_matches_the_in_memory_model(tmp_path):
    """Iris is standardised per feature by the data set and once more (scalar) by the NTK
    pipeline: the exported preprocessing composes both, so the NumPy classifier's scores on raw
    test flowers equal the in-memory model's, which needs every feature's statistics exported."""
    from hybrid.deploy import runs
    from hybrid.deploy.classifier import NumpyClassifier

    n = 40
    spec = classifier.train_and_export(tmp_path, n=n, dataset="iris", classes=(1, 2))
    cfg = ntk_study.StudyConfig(dataset="iris", classes=(1, 2))
    _, x_all, y_all = ntk_study.load_split(cfg, "train")
    test, x_te, y_te = ntk_study.load_split(cfg, "test")
    idx = selection.balanced_indices(y_all, n, np.random.default_rng([0, n]))
    (x_tr, x_te), _, _ = selection.standardize(x_all[idx], x_te)
    _, arrays = runs.load_run(tmp_path)
    np.testing.assert_allclose(arrays["x_train"], x_tr)
    _, k = ntk.fc_kernel(x_te, x_tr, ntk.FCKernel(depth=spec["kernel"]["recipe"]["depth"]))
    in_memory = k @ arrays["alpha"] - spec["kernel"]["threshold"]
    model = NumpyClassifier.load(tmp_path)
    np.testing.assert_allclose(model.decision_function(test.raw), in_memory, rtol=1e-6, atol=1e-9)
    accuracy = float(np.mean((in_memory > 0) == (y_te == 1)))
    assert model.score(test.raw, y_te) == spec["metrics"]["test_accuracy"] == accuracy
    assert accuracy >= 0.75


# ---------------------------------------------------------------- sparsify: the paper's quantities


def test_sparsity_pattern_properties():
    """Symmetric, diagonal kept, no entry between classes, and log n same-class entries per row
    on average (n = 1024: measured 6.90 +- 0.11 over seeds against log n = 6.93; asserted
    within 10 %)."""
    n = 1024
    y = np.repeat([1.0, -1.0], n // 2)
    pattern = sparsify.sparsity_pattern(y, np.random.default_rng(0))
    assert np.array_equal(pattern, pattern.T)
    assert np.all(np.diag(pattern))
    assert not np.any(pattern & (y[:, None] != y[None, :]))
    off_diagonal = pattern.sum(axis=1) - 1
    assert abs(off_diagonal.mean() - math.log(n)) < 0.1 * math.log(n)
    assert sparsify.row_sparsity(pattern) < 4 * math.log(n)  # O(log n), not O(n)


def test_sparsified_and_diagonal_kernels():
    """Unbiased: K on the pattern, zero elsewhere. Biased: also drops within-class entries at or
    below the class threshold, keeps the diagonal and adds f diag with f = 0.76 (log n)^0.9 by
    default (the reference's code today), 0.66 (its first commit) by name."""
    rng = np.random.default_rng(1)
    n = 16
    y = np.repeat([1.0, -1.0], n // 2)
    a = rng.uniform(0.1, 1.0, size=(n, n))
    kernel = (a + a.T) / 2 + n * np.eye(n)
    pattern = sparsify.sparsity_pattern(y, rng)
    unbiased = sparsify.sparsify_unbiased(kernel, pattern)
    np.testing.assert_array_equal(unbiased[pattern], kernel[pattern])
    assert np.all(unbiased[~pattern] == 0)
    thresholds = {1.0: 0.5, -1.0: 0.7}
    biased = sparsify.sparsify_biased(kernel, pattern, y, thresholds)
    off = ~np.eye(n, dtype=bool) & (biased != 0)
    assert np.all(pattern[off])
    for c, t in thresholds.items():
        in_class = off & (y[:, None] == c)
        assert np.all(kernel[in_class] > t)
    f = sparsify.precondition_factor(n)
    assert f == pytest.approx(0.76 * math.log(n) ** 0.9)
    np.testing.assert_allclose(np.diag(biased), (1 + f) * np.diag(kernel))
    initial = sparsify.PRECONDITION_COEFFICIENTS["initial"]
    assert initial == 0.66 and sparsify.precondition_factor(16, initial) == pytest.approx(
        0.66 * math.log(16) ** 0.9
    )
    older = sparsify.sparsify_biased(kernel, pattern, y, thresholds, initial)
    np.testing.assert_allclose(np.diag(older), (1 + 0.66 * math.log(n) ** 0.9) * np.diag(kernel))
    np.testing.assert_array_equal(older - np.diag(np.diag(older)), off * biased)
    np.testing.assert_array_equal(sparsify.diagonal(kernel), np.diag(np.diag(kernel)))


def test_measurement_counts_and_fits():
    """Closed cases: a flat |k*> needs 1/P = 1 post-selection round; k* parallel to the
    coefficients needs no readout repeats (1/|o|^2 - 1 = 0), orthogonal ones an infinite
    number; kappa of diag(1, 2, 4) is 4; the log fit recovers a known line with R^2 = 1."""
    flat = np.ones((3, 8))
    np.testing.assert_allclose(sparsify.post_selection(flat), 1.0)
    one_hot = np.zeros((1, 8))
    one_hot[0, 0] = 1.0
    assert sparsify.post_selection(one_hot)[0] == pytest.approx(8.0)  # 1/P = n
    c = np.array([1.0, -1.0, 1.0, -1.0])
    np.testing.assert_allclose(sparsify.readout(c[None] * 0.3, c), 0.0, atol=1e-12)
    with np.errstate(divide="ignore"):
        assert np.isinf(sparsify.readout(np.array([[1.0, 1.0, 1.0, 1.0]]), c)[0])
    assert sparsify.condition_number(np.diag([1.0, -2.0, 4.0])) == pytest.approx(4.0)
    n = np.array([16, 64, 256, 1024])
    fit = sparsify.log_fit(n, 1.5 * np.log(n) + 2.0)
    assert fit["a"] == pytest.approx(1.5) and fit["b"] == pytest.approx(2.0)
    assert fit["r2"] == pytest.approx(1.0)


def test_pooled_statistics_are_the_notebooks():
    """The reference's analysis pools all trials, patterns and test points: one median of the
    counts (here 3 over [1, 2, 3, 4, 5], where the mean of per-trial medians is 2.75), kappa
    the mean over all patterns, accuracy the mean over all predictions with error
    sqrt(p (1 - p) / count); the counts' error is its Poisson bootstrap, std / sqrt(5)."""
    a = {
        "acc_exact": 0.5,
        "predictions": 4,
        "kappa": [1.0, 3.0],
        "sparsity": [2, 4],
        "post_selection": [1.0, 2.0],
        "readout_diag": [1.0, 2.0],
        "readout_sparse": [[1.0, 2.0], [9.0, 9.0]],
    }
    b = {
        "acc_exact": 1.0,
        "predictions": 4,
        "kappa": [5.0],
        "sparsity": [6],
        "post_selection": [3.0, 4.0, 5.0],
        "readout_diag": [7.0, 8.0, 9.0],
        "readout_sparse": [[3.0, 4.0, 5.0]],
    }
    out = sparsify.pooled_statistics([a, b], np.random.default_rng(0))
    assert out["acc_exact"]["value"] == 0.75 and out["acc_exact"]["count"] == 8
    assert out["acc_exact"]["sem"] == pytest.approx(math.sqrt(0.75 * 0.25 / 8))
    assert out["kappa"]["value"] == 3.0
    assert out["kappa"]["sem"] == pytest.approx(np.std([1.0, 3.0, 5.0]) / math.sqrt(3))
    assert out["sparsity"]["value"] == 4.0
    assert out["post_selection"]["value"] == 3.0 and out["post_selection"]["count"] == 5
    assert out["readout_diag"]["value"] == 7.0
    assert out["readout_sparse"]["value"] == 4.0 and out["readout_sparse"]["count"] == 7
    rng = np.random.default_rng(1)
    v = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    medians = [np.median(rng.poisson(size=5) * v) for _ in range(5)]
    expected = np.std(medians) / math.sqrt(5)
    assert sparsify.poisson_median_error(v, np.random.default_rng(1)) == pytest.approx(expected)


def test_study_config_options_default_to_the_reference():
    """The reference's choices are the defaults; ours stay available by name; others fail."""
    cfg = ntk_study.StudyConfig()
    assert (cfg.statistics, cfg.sparsity, cfg.cnn_thresholds, cfg.precondition) == (
        "pooled",
        "pattern",
        "two_sets",
        "current",
    )
    assert sparsify.PRECONDITION_COEFFICIENTS[cfg.precondition] == 0.76
    ntk_study.StudyConfig(statistics="per_trial", sparsity="matrix", cnn_thresholds="one_set")
    with pytest.raises(ValueError, match="statistics"):
        ntk_study.StudyConfig(statistics="mean")


def test_study_config_fills_the_defaults_of_its_architecture():
    """The finite network's set-up and the classes follow ``arch`` (fc: 8 vs 9, 5 trials, 100
    epochs, lr 4.0; cnn: 1 vs 0, 1 trial, 20 epochs, lr 1.0), from Python as from the command
    line; values given explicitly win."""

    def chosen(cfg):
        return cfg.classes, cfg.finite_trials, cfg.finite_epochs, cfg.finite_lr

    assert chosen(ntk_study.StudyConfig(arch="fc")) == ((8, 9), 5, 100, 4.0)
    assert chosen(ntk_study.StudyConfig(arch="cnn")) == ((1, 0), 1, 20, 1.0)
    assert ntk_study.StudyConfig() == ntk_study.StudyConfig(arch="fc")
    given = {"classes": (3, 5), "finite_trials": 2, "finite_epochs": 7, "finite_lr": 0.25}
    assert chosen(ntk_study.StudyConfig(arch="cnn", **given)) == ((3, 5), 2, 7, 0.25)
    with pytest.raises(ValueError, match="arch"):
        ntk_study.StudyConfig(arch="rnn")


def test_cnn_thresholds_come_from_two_sets():
    """As the reference: k_thresh from an n = 16 set of its own, the class percentiles from the
    study's first n = 16 training set (drawn first from rng [seed, 16, 0], as ``study`` does);
    "one_set" uses the first set for both. Each set is balanced, 8 per class."""
    y = np.repeat([1, 0], 50)
    k_set, p_set = oracle.cnn_threshold_sets(y, 0, "two_sets")
    first_trial = selection.balanced_indices(y, 16, np.random.default_rng([0, 16, 0]))
    np.testing.assert_array_equal(p_set, first_trial)
    assert set(k_set) != set(p_set)
    assert np.sum(y[k_set]) == np.sum(y[p_set]) == 8
    one, same = oracle.cnn_threshold_sets(y, 0, "one_set")
    np.testing.assert_array_equal(one, k_set)
    np.testing.assert_array_equal(same, k_set)


def test_trial_samples_are_what_the_per_trial_medians_summarise():
    """A study trial keeps its per-test-point counts: the per-trial median of each count is the
    median of its samples, s is the pattern's by default, and the pooled statistics of one
    trial reproduce it (one trial: pooled = per-trial)."""
    rng = np.random.default_rng(3)
    x, y01 = _toy_problem()
    _, kernel = ntk.fc_kernel(x[:16], None, ntk.FCKernel(depth=3))
    _, k_test = ntk.fc_kernel(x[16:], x[:16], ntk.FCKernel(depth=3))
    y_tr, y_te = 2.0 * y01[:16] - 1, 2.0 * y01[16:] - 1
    cfg = ntk_study.StudyConfig(test_size=8)
    rec = ntk_study._kernel_trial(cfg, kernel, k_test, 1.0, y_tr, y_te, rng)
    samples = rec["samples"]
    assert len(samples["readout_sparse"]) == cfg.bootstraps * len(y_te)
    for key in ("post_selection", "readout_diag", "readout_sparse"):
        assert np.median(samples[key]) == pytest.approx(rec[key], rel=1e-5)
    assert rec["sparsity"] == rec["sparsity_pattern"] == np.mean(samples["sparsity"])
    pooled = sparsify.pooled_statistics([samples], np.random.default_rng(0))
    assert pooled["kappa"]["value"] == pytest.approx(rec["kappa"])
    assert pooled["acc_exact"]["value"] == pytest.approx(rec["acc_exact"])
    assert pooled["readout_sparse"]["value"] == pytest.approx(rec["readout_sparse"], rel=1e-5)


@pytest.mark.slow
def test_finite_cnn_ntk_approaches_the_infinite_one():
    """Oracle: neural-tangents' infinite-width NTK of the reference's depth-9 Myrtle CNN on
    eight MNIST digits (tests/fixtures/nt_myrtle.npz) against the empirical NTK of
    ``myrtle_network(3, width, width)`` over four initialisations. Deep ReLU networks at
    finite width fluctuate multiplicatively, with a variance growing like depth / width (the
    whole kernel's scale varies between seeds), so single seeds are noisy. Typical values
    (relative Frobenius error, median of 4 seeds; docs/results/ntk/cnn_oracle.json): 0.59 at
    width 8, 0.23 at width 256; error of the 4-seed mean 0.45 and 0.11. Asserted: median at
    256 below 0.35 and below 0.6x that at width 8; the 4-seed mean at 256 below 0.2."""
    report = oracle.cnn_oracle(FIXTURES / "nt_myrtle.npz", (8, 256), (0, 1, 2, 3), log=None)
    narrow, wide = report["widths"]
    assert wide["relative_error_median"] < 0.35
    assert wide["relative_error_median"] < 0.6 * narrow["relative_error_median"]
    assert wide["relative_error_of_mean"] < 0.2


# ---------------------------------------------------------------- QSVT linear-system solve


def test_qsvt_solution_matches_numpy_solve():
    """QSVT on lightning.qubit solves a well-conditioned 8 x 8 symmetric system (kappa ~ 2) to
    the polynomial's accuracy: every eigencomponent of P(A) b is s/lambda (1 + e) with
    |e| <= 2 eps, so the normalised solution is within ~4 eps = 0.04 of numpy.linalg.solve's.
    The right-hand side itself (what a solver that did nothing would return) is much further."""
    pytest.importorskip("pennylane_lightning")
    rng = np.random.default_rng(4)
    m = rng.normal(size=(8, 8))
    a = np.eye(8) + 0.08 * (m + m.T)
    b = rng.normal(size=8)
    result = qsvt.solve(a, b, eps=1e-2, device="lightning.qubit")
    x = np.linalg.solve(a, b)
    x_unit = x / np.linalg.norm(x)
    np.testing.assert_allclose(result["x_classical_normalized"], x_unit)
    error = np.linalg.norm(np.asarray(result["x_quantum"]) - x_unit)
    assert error == pytest.approx(result["solution_error"])
    assert error < 4e-2
    assert np.linalg.norm(b / np.linalg.norm(b) - x_unit) > 5 * error
    assert 0 < result["success_probability"] <= 1
    assert result["qubits"] == 2 + 3 and result["degree"] % 2 == 1


def test_qsvt_refuses_what_it_cannot_do():
    with pytest.raises(ValueError, match="2\\^m"):
        qsvt.solve(np.eye(3), np.ones(3))
    with pytest.raises(ValueError, match="symmetric"):
        qsvt.solve(np.array([[1.0, 0.5], [0.0, 1.0]]), np.ones(2))
    with pytest.raises(ValueError, match="degree"):
        qsvt.inverse_polynomial(1e3, 1e-3)


def test_cli_train_exports_a_run(tmp_path, offline_mnist, capsys):
    """``hybrid ntk train`` as the command line registers it: parses, trains, exports, reports."""
    import json

    parser = cli.parser()
    args = parser.parse_args(
        ["ntk", "train", "--n", "16", "--approx", "diag", "--source", "idx", "--out", str(tmp_path)]
    )
    assert cli.handler(args)(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["kernel"]["approximation"] == "diag"
    assert (tmp_path / "model.json").is_file()
    before = (tmp_path / "model.json").read_bytes()
    with pytest.raises(ValueError, match="already holds a run"):
        cli.handler(args)(args)
    assert (tmp_path / "model.json").read_bytes() == before
    study = parser.parse_args(["ntk", "study", "--arch", "cnn"])
    assert study.sizes[-1] == 1024 and study.trials == 5


def test_cli_qsvt_writes_its_report(tmp_path, offline_mnist):
    """``hybrid ntk qsvt --out`` writes the report with its command; ``depth`` is the NTK's
    (0.1 L_conv, as ``depth_for`` gives it), the circuit's is ``circuit_depth``."""
    import json

    pytest.importorskip("pennylane_lightning")
    out = tmp_path / "qsvt.json"
    argv = ["ntk", "qsvt", "--n", "4", "--eps", "0.05", "--depths", "0", "--source", "idx"]
    args = cli.parser().parse_args([*argv, "--classes", "9", "8", "--out", str(out)])
    assert cli.handler(args)(args) == 0
    report = json.loads(out.read_text())
    assert report["command"].startswith("hybrid ntk qsvt --n 4 --eps 0.05 --depths 0")
    run = report["runs"][0]
    assert run["classes"] == [9, 8] and run["dataset"] == "mnist"
    (entry,) = run["results"]
    cfg = ntk_study.StudyConfig(classes=(9, 8), source="idx")
    _, x_all, y_all = ntk_study.load_split(cfg, "train")
    idx = selection.balanced_indices(y_all, 4, np.random.default_rng([0, 4]))
    (x,), _, _ = selection.standardize(x_all[idx])
    mu = ntk.coefficient_of_nonlinearity()
    assert entry["depth"] == ntk.depth_for(4, ntk.min_separation(x), mu)
    assert "skipped" not in entry and entry["circuit_depth"] > 0
