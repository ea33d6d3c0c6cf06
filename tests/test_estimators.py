"""Inner-product estimators: the (eps, gamma) guarantee, RIPE's sampler, costs and errors.

Statistical checks use fixed seeds. A fraction f of n independent pairs inside the band is
compared with 1 - gamma using the binomial standard deviation sqrt(gamma (1 - gamma) / n):
f >= 1 - gamma - 3 sd (a correct estimator fails this with probability < 0.2 %).
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.extend import random as jax_random
from scipy import special as scipy_special
from scipy import stats as scipy_stats

from hybrid.ripe import estimators as E
from hybrid.ripe import sampler
from hybrid.ripe.estimators import Estimator

GAMMA = 0.05
N_PAIRS = 2000


def _pairs(n: int = N_PAIRS, d: int = 8, seed: int = 0):
    """Random pairs whose |<x,y>| spans both regimes of the band (below and above 1)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)) * rng.uniform(0.1, 2.0, size=(n, 1))
    y = rng.normal(size=(n, d)) * rng.uniform(0.1, 2.0, size=(n, 1))
    return x, y, np.sum(x * y, axis=1)


def _inside(s, ip, eps):
    return np.abs(np.asarray(s) - ip) <= eps * np.maximum(1.0, np.abs(ip))


ESTIMATORS = [
    ("shots", {}),
    ("ripe", {}),
    ("ripe", {"norms": "approx"}),
    ("gaussian", {}),
    ("l2_sampling", {}),
]


@pytest.mark.parametrize("eps", [0.1, 0.3, 0.5])
@pytest.mark.parametrize(("kind", "options"), ESTIMATORS)
def test_band_holds_with_probability_one_minus_gamma(kind, options, eps):
    x, y, ip = _pairs()
    _, both_regimes = np.unique(np.abs(ip) > 1, return_counts=True)
    assert len(both_regimes) == 2 and both_regimes.min() > 200
    est = Estimator(kind, eps=eps, gamma=GAMMA, **options)
    s, cost = E.estimate(est, jax.random.key(7), x, y)
    assert s.shape == ip.shape and cost.shape == ip.shape
    frac = float(np.mean(_inside(s, ip, eps)))
    sd = math.sqrt(GAMMA * (1 - GAMMA) / N_PAIRS)
    assert frac >= 1 - GAMMA - 3 * sd, f"{kind}: only {frac:.4f} of pairs inside the band"
    # The estimates really are noisy (so the check above could fail).
    assert np.mean(np.asarray(s) != ip) > 0.9
    assert np.all(np.asarray(cost) > 0)
    if kind == "gaussian":  # calibrated so that the band holds with probability exactly 1-gamma
        assert frac <= 1 - GAMMA + 3 * sd


def test_gaussian_absolute_has_standard_deviation_eps_over_two_at_any_size():
    """The absolute reading of "N(eps/2, 0)": sd eps/2 for |<x,y>| of 0.1 and of 100 alike
    (20,000 draws each: the sample sd is within 3 % of eps/2 with probability > 0.999)."""
    ip = np.repeat([0.1, 100.0], 20000)
    s, cost = E.from_products(Estimator("gaussian_absolute", 0.3), jax.random.key(1), ip, 50, 60)
    err = (np.asarray(s) - ip).reshape(2, -1)
    np.testing.assert_allclose(err.std(axis=1), 0.15, rtol=0.03)
    assert np.all(np.asarray(cost) > 0)


def test_exact_and_eps_zero_are_the_inner_product():
    x, y, ip = _pairs(50)
    for est in (Estimator(), Estimator("ripe", 0.0), Estimator("gaussian", 0.0)):
        s, cost = E.estimate(est, jax.random.key(0), x, y)
        np.testing.assert_allclose(s, ip, rtol=1e-12)
        assert float(jnp.sum(cost)) == 0


def _exact_ae_cdf(a: float, m: int):
    """Estimates sin^2(pi y / M) of M-point amplitude estimation and their exact CDF."""
    theta = math.asin(math.sqrt(a)) / math.pi
    y = np.arange(m)
    delta = theta * m - y
    with np.errstate(invalid="ignore", divide="ignore"):
        w = np.sin(np.pi * delta) ** 2 / (m * np.sin(np.pi * delta / m)) ** 2
    w = np.where(np.abs(np.sin(np.pi * delta / m)) < 1e-12, 1.0, w)
    # The +theta and -theta branches give the same estimate, so one branch is the distribution.
    # y and M - y give the same estimate: merge them before accumulating.
    values, inverse = np.unique(np.round(np.sin(np.pi * y / m) ** 2, 12), return_inverse=True)
    mass = np.bincount(inverse, weights=w)
    return values, np.cumsum(mass) / np.sum(mass)


def test_amplitude_estimation_sampler_matches_the_exact_distribution():
    """Single outputs (``ae_samples``, the q = 1 median) for five (a, M) at once: Kolmogorov
    distance to the exact law below 0.02 (KS critical value at 0.1 % for n = 20000: 0.014)."""
    cases = [(0.3, 7), (0.05, 40), (0.71, 64), (0.42, 300), (0.9, 3001)]
    n = 20000
    a, m = np.array(cases).T
    samples = np.asarray(sampler.ae_samples(jax.random.key(3), a, m, n, window=32))
    assert samples.shape == (len(cases), n)
    for (a_k, m_k), draws in zip(cases, samples, strict=True):
        values, cdf = _exact_ae_cdf(a_k, int(m_k))
        empirical = np.searchsorted(np.sort(draws), values + 1e-9, side="right") / n
        assert np.max(np.abs(empirical - cdf)) < 0.02


def _exact_median_law(a: float, m: int, q: int) -> np.ndarray:
    """P(i* = i), i = 0..M//2, for the median of q outputs, by enumerating all M outcomes."""
    theta = math.asin(math.sqrt(a)) / math.pi
    y = np.arange(m)

    def fejer(d):
        s = np.sin(np.pi * d / m)
        with np.errstate(invalid="ignore", divide="ignore"):
            w = np.sin(np.pi * d) ** 2 / (m * s) ** 2
        return np.where(np.abs(s) < 1e-13, 1.0, w)

    p = 0.5 * (fejer(theta * m - y) + fejer(theta * m + y))  # both branches of the phase
    cdf = np.cumsum(np.bincount(np.minimum(y, m - y), weights=p, minlength=m // 2 + 1))
    h = (q + 1) // 2
    g = scipy_special.betainc(h, h, np.clip(cdf, 0, 1)) if q > 1 else cdf
    return np.diff(np.concatenate([[0.0], g]))


def _folded_index(values, m):
    """i = min(y, M - y) back from an output sin^2(pi y / M)."""
    return np.minimum(np.rint(np.arcsin(np.sqrt(np.asarray(values))) * m / np.pi), m // 2)


def _chi_square_p(counts, probs) -> float:
    """Pearson's chi-square p-value; bins expected below 5 merge into a lower and an upper
    tail bin on either side of the mode (so the tails are tested, not dropped)."""
    n = counts.sum()
    expected = probs * n
    mode = int(np.argmax(probs))
    keep = expected >= 5
    obs, exp = list(counts[keep]), list(expected[keep])
    for side in (np.arange(len(probs)) < mode, np.arange(len(probs)) > mode):
        tail = side & ~keep
        if expected[tail].sum() >= 5:
            obs.append(counts[tail].sum())
            exp.append(expected[tail].sum())
        elif tail.any():  # too little mass to test alone: fold into the mode's bin
            obs[int(np.sum(keep[:mode]))] += counts[tail].sum()
            exp[int(np.sum(keep[:mode]))] += expected[tail].sum()
    obs, exp = np.asarray(obs, float), np.asarray(exp, float)
    if len(obs) < 2:
        return 1.0
    return float(scipy_stats.chi2.sf(np.sum((obs - exp) ** 2 / exp), len(obs) - 1))


# The paper's Fig. 7 vectors (a = 0.1936; M = 38 at eps = 0.3, M = 106 at eps = 0.1).
FIG7_X = np.array([5.88414114, 2.0327562, 1.68155901, 7.91848042, 1.61922687])
FIG7_Y = np.array([5.15610287, 7.2034771, 9.88496245, 3.46281654, 4.20607662])


def _fig7_case(eps: float, gamma: float) -> tuple[float, int, int]:
    ip, nx2, ny2 = FIG7_X @ FIG7_Y, FIG7_X @ FIG7_X, FIG7_Y @ FIG7_Y
    m = int(E.ripe_m(E.ripe_eps_a(ip, nx2, ny2, eps)))
    return float(E.amplitude(ip, nx2, ny2)), m, E.ripe_q(gamma)


MEDIAN_CASES = [
    *(_fig7_case(eps, gamma) for eps in (0.1, 0.3) for gamma in (0.2, 0.05, 0.01)),
    (0.1936, 38, 1),  # Fig. 7 with Q = 1 (the caption's reading): heavy tails on both sides
    (0.0, 12, 1),
    (0.003, 64, 1),
    (0.02, 40, 9),
    (0.134, 38, 17),
    (0.922, 50, 17),
    (0.99, 61, 9),
    (0.9999, 64, 17),
    (1.0, 13, 1),
    (0.3, 1000, 1),  # far from the ends, large M: both tails come from the exact tail CDF
    (0.42, 3001, 9),
]
N_MEDIAN = 40000
MEDIAN = jax.jit(sampler.ae_median, static_argnums=(3, 4))
HUGE_M = (0.2, 1e6, 17)  # too long to enumerate: checked by its spread


@functools.cache
def _median_draws(q: int) -> dict:
    """N_MEDIAN draws for every case with this q, in one compiled call (compilation, not
    sampling, is what costs time here)."""
    cases = [c for c in (*MEDIAN_CASES, HUGE_M) if c[2] == q]
    a = jnp.broadcast_to(jnp.asarray([c[0] for c in cases])[:, None], (len(cases), N_MEDIAN))
    m = jnp.asarray([float(c[1]) for c in cases])[:, None]
    draws = np.asarray(MEDIAN(jax.random.key(q), a, m, q, 2))
    return dict(zip(cases, draws, strict=True))


@pytest.mark.parametrize(("a", "m", "q"), MEDIAN_CASES)
def test_ripe_median_sampler_matches_the_exact_median_law(a, m, q):
    """Chi-square of N_MEDIAN draws of the median index against its exact law (enumeration of
    all M outcomes, both phase branches): p > 1e-3 at fixed seeds (a correct sampler fails one
    case with probability 1e-3). The tails beyond the mode are bins of the statistic, so mass
    misplaced between the window and the tail CDF fails it."""
    draws = _median_draws(q)[(a, m, q)]
    counts = np.bincount(_folded_index(draws, m).astype(int), minlength=m // 2 + 1)
    law = _exact_median_law(a, m, q)
    assert _chi_square_p(counts, law) > 1e-3
    # The mean as well: within 4 standard errors of the exact mean index.
    i = np.arange(m // 2 + 1)
    mean, var = law @ i, law @ i**2 - (law @ i) ** 2
    assert abs(counts @ i / N_MEDIAN - mean) < 4 * math.sqrt(var / N_MEDIAN) + 1e-12


@pytest.mark.parametrize(("a", "m", "q"), [MEDIAN_CASES[0], (0.003, 64, 1), (0.922, 50, 17)])
def test_literal_q_draws_then_median_agrees_with_the_exact_law_and_the_sampler(a, m, q):
    """The slow reference: Q outcomes y drawn from the M-outcome law, median of the Q
    estimates sin^2(pi y / M). It must match the exact median law (which validates the law the
    fast sampler is tested against) and the sampler itself (two-sample chi-square)."""
    n = 20000
    theta = math.asin(math.sqrt(a)) / math.pi
    y = np.arange(m)
    d = theta * m - y
    with np.errstate(invalid="ignore", divide="ignore"):
        k1 = np.sin(np.pi * d) ** 2 / (m * np.sin(np.pi * d / m)) ** 2
        k2 = np.sin(np.pi * d) ** 2 / (m * np.sin(np.pi * (theta * m + y) / m)) ** 2
    k1 = np.where(np.abs(np.sin(np.pi * d / m)) < 1e-13, 1.0, k1)
    k2 = np.where(np.abs(np.sin(np.pi * (theta * m + y) / m)) < 1e-13, 1.0, k2)
    p = 0.5 * (k1 + k2)
    rng = np.random.default_rng(11)
    outcomes = rng.choice(m, size=(n, q), p=p / p.sum())
    literal = np.median(np.sin(np.pi * outcomes / m) ** 2, axis=1)
    literal_counts = np.bincount(_folded_index(literal, m).astype(int), minlength=m // 2 + 1)
    assert _chi_square_p(literal_counts, _exact_median_law(a, m, q)) > 1e-3
    fast = _median_draws(q)[(a, m, q)]
    fast_counts = np.bincount(_folded_index(fast, m).astype(int), minlength=m // 2 + 1)
    table = np.stack([literal_counts, fast_counts])
    table = table[:, table.sum(0) >= 10]
    assert scipy_stats.chi2_contingency(table)[1] > 1e-3


def test_ripe_median_sampler_in_float32_at_large_m_near_an_integer_theta_m():
    """Training runs in float32, where a 784-input layer gives M ~ 8,000. There pi * theta M
    is off by 2e-4, enough to spoil the window's Fejer numerator if it were computed from it
    (theta M = 1479.99976 in float32 here, within 1e-3 of an integer, where the likeliest
    outcome carries nearly all the mass). The law, enumerated in float64 at that same theta M,
    must hold."""
    a32, m = np.float32(0.301426), 8000
    tm = float(sampler.asin_sqrt(jnp.float32(a32)) / jnp.pi * jnp.float32(m))  # as the sampler
    assert 1e-5 < abs(tm - round(tm)) < 1e-3  # the case this test is about
    draws = MEDIAN(jax.random.key(5), jnp.full(N_MEDIAN, a32), jnp.float32(m), 1, 2)
    assert draws.dtype == jnp.float32
    law = _exact_median_law(math.sin(math.pi * tm / m) ** 2, m, 1)
    counts = np.bincount(_folded_index(draws, m).astype(int), minlength=m // 2 + 1)
    # Nearly all the mass is on one outcome, where a chi-square merges the rest into it: test
    # the draws off the mode against their exact probability (binomial, p > 1e-3) instead.
    mode = int(np.argmax(law))
    off = scipy_stats.binomtest(int(N_MEDIAN - counts[mode]), N_MEDIAN, 1 - law[mode])
    assert off.pvalue > 1e-3


@pytest.mark.parametrize(("a", "m", "q"), [(0.5153, 2000, 1), (0.3834, 8000, 1), (0.0453, 2000, 3)])
def test_ripe_median_sampler_in_float32_matches_the_law_at_training_sizes(a, m, q):
    """float32 and M of a 784-input layer (2,000-8,000), as training runs, with Q = 1 and 3,
    where the law spreads over tens of outcomes (at Q = 17 it is nearly one): chi-square of
    40,000 draws against the law enumerated in float64 at the sampler's own float32 theta M,
    p > 1e-3."""
    a32 = np.float32(a)
    tm = float(sampler.asin_sqrt(jnp.float32(a32)) / jnp.pi * jnp.float32(m))
    draws = MEDIAN(jax.random.key(6), jnp.full(N_MEDIAN, a32), jnp.float32(m), q, 2)
    law = _exact_median_law(math.sin(math.pi * tm / m) ** 2, m, q)
    counts = np.bincount(_folded_index(draws, m).astype(int), minlength=m // 2 + 1)
    assert np.sum(law * N_MEDIAN >= 5) >= 10  # a spread law: the test has power
    assert _chi_square_p(counts, law) > 1e-3


FOLDED_CDF = jax.jit(sampler.folded_cdf)


@pytest.mark.parametrize(("a", "m"), [(0.1936, 38), (0.01, 200), (0.3, 1000), (0.97, 77)])
def test_tail_cdf_is_exact_to_its_stated_error(a, m):
    """``folded_cdf`` (trigamma poles + midpoint remainder) against enumeration: error below
    0.02/M^3 plus 1e-8 of the mass summed (midpoint rule and trigamma series, as stated in
    ``ae_median``)."""
    law = np.cumsum(_exact_median_law(a, m, 1))
    tm = math.asin(math.sqrt(a)) / math.pi * m
    s2m = math.sin(math.pi * tm) ** 2 / m**2
    lower = np.arange(0, max(0, math.floor(tm) - 3))
    upper = np.arange(math.floor(tm) + 4, m // 2 + 1)
    for idx, up in ((lower, False), (upper, True)):
        if len(idx):
            got = FOLDED_CDF(jnp.asarray(idx, float), tm, float(m), s2m, up)
            mass = np.minimum(law[idx], 1 - law[idx])
            assert np.all(np.abs(np.asarray(got) - law[idx]) < 0.02 / m**3 + 1e-8 * mass)


def test_window_fejer_weight_polynomial_is_within_its_stated_error():
    """The window's csc^2 (1/w^2 plus a degree-8 fit, no sine) against 1/sin^2, float64: the
    fit within 2e-9 on [0, pi/2], the weight within 3e-9 relative on all of (-pi, pi), and the
    limit 1 where the numerator sin^2 vanishes with the denominator."""
    w = np.linspace(1e-2, np.pi / 2, 100001)  # below, the reference itself cancels
    fit = np.asarray(sampler.csc2_smooth(jnp.asarray(w * w)))
    assert np.max(np.abs(fit - (1 / np.sin(w) ** 2 - 1 / w**2))) < 2e-9
    z = np.linspace(-np.pi, np.pi, 200001)[1:-1]
    z = z[np.abs(z) > 1e-9]
    got = np.asarray(sampler.fejer_weight(jnp.ones_like(jnp.asarray(z)), jnp.asarray(z)))
    assert np.max(np.abs(got * np.sin(z) ** 2 - 1)) < 3e-9
    limit = sampler.fejer_weight(jnp.asarray([0.0, 0.0, 0.0]), jnp.asarray([0.0, np.pi, -np.pi]))
    assert np.allclose(np.asarray(limit), 1.0)


def test_sampler_sine_and_arcsine_series_reach_their_dtype_precision():
    """The series that replace jnp.sin and jnp.arcsin (scalar calls per element on CPU): in
    float64 within 1e-15 of asin(sqrt(a)) (an accurate atan2 reference) and of sin on
    [-pi/2, pi/2]; in float32 within 3e-7 of the float64 values at the same inputs."""
    a = np.linspace(0.0, 1.0, 200001)
    reference = np.arctan2(np.sqrt(a), np.sqrt(1 - a))
    assert np.max(np.abs(np.asarray(sampler.asin_sqrt(jnp.asarray(a))) - reference)) < 1e-15
    a32 = a.astype(np.float32)
    got = np.asarray(sampler.asin_sqrt(jnp.asarray(a32)), dtype=float)
    a64 = a32.astype(float)
    assert np.max(np.abs(got - np.arctan2(np.sqrt(a64), np.sqrt(1 - a64)))) < 3e-7
    x = np.linspace(-np.pi / 2, np.pi / 2, 200001)
    assert np.max(np.abs(np.asarray(sampler.sin_series(jnp.asarray(x))) - np.sin(x))) < 1e-15
    x32 = x.astype(np.float32)
    got = np.asarray(sampler.sin_series(jnp.asarray(x32)), dtype=float)
    assert np.max(np.abs(got - np.sin(x32.astype(float)))) < 3e-7


def test_sampler_threefry_is_jax_threefry_and_its_uniforms_are_uniform():
    """The sampler's unrolled Threefry-2x32 is bit for bit jax's on the same key and counters;
    its uniforms lie in [0, 1) in the requested dtype (odd counts included) and pass a
    Kolmogorov-Smirnov test (p > 1e-3)."""
    key = jnp.asarray([0x12345678, 0x9ABCDEF0], jnp.uint32)
    low = jnp.arange(1000, dtype=jnp.uint32)
    ours = jnp.concatenate(sampler.threefry2x32(key[0], key[1], low, low + 1000))
    np.testing.assert_array_equal(
        ours, jax_random.threefry_2x32(key, jnp.arange(2000, dtype=jnp.uint32))
    )
    for dtype in (jnp.float32, jnp.float64):
        u = np.asarray(sampler.uniform(jax.random.key(0), 100001, dtype))
        assert u.dtype == dtype and u.min() >= 0 and u.max() < 1
        assert scipy_stats.kstest(u, "uniform").pvalue > 1e-3


def test_ripe_median_of_a_zero_uniform_is_the_lowest_outcome(monkeypatch):
    """By hand: u = 0 gives B = G^{-1}(0) = 0 for q = 1, so i* = min{i : F(i) >= 0} = 0 and the
    estimate is sin^2(0) = 0 whatever a and M, the window at 0 (a ~ 0) or above it (a = 0.3)."""
    monkeypatch.setattr(sampler, "uniform", lambda key, n, dtype: jnp.zeros(n, dtype))
    a = jnp.asarray([0.0, 1e-4, 0.3, 0.97], jnp.float32)
    m = jnp.asarray([38.0, 38.0, 38.0, 50.0], jnp.float32)
    np.testing.assert_array_equal(sampler.ae_median(jax.random.key(0), a, m, 1), 0.0)


def test_sampler_names_stay_importable_from_the_estimators():
    """Docs name ``hybrid.estimators.ae_median`` and its kin: the sampler's own objects."""
    for name in ("ae_median", "ae_samples", "ae_median_law", "median_quantile"):
        assert getattr(E, name) is getattr(sampler, name)


@pytest.mark.parametrize("q", [3, 17, 25])
def test_median_quantile_table_inverts_the_median_cdf(q):
    """B = G^{-1}(u) from the logit table: G(B) within 3e-7 of u on a dense grid of u, tails
    included (G evaluated by the exact polynomial ``median_cdf``, float64)."""
    u = np.concatenate([np.logspace(-15, -1, 2000), np.linspace(0.1, 0.9, 4001)])
    u = np.concatenate([u, 1 - u])
    b = sampler.median_quantile(jnp.asarray(u), q)
    assert np.max(np.abs(np.asarray(sampler.median_cdf(b, q)) - u)) < 3e-7


def test_ripe_median_at_huge_m_has_the_guaranteed_spread():
    """M = 10^6 (too long to enumerate): 99 % of medians within pi/M + pi^2/M^2 of a."""
    a, m, _ = HUGE_M
    samples = _median_draws(17)[HUGE_M]
    assert np.quantile(np.abs(samples - a), 0.99) < np.pi / m + np.pi**2 / m**2


def test_ripe_parameters():
    assert E.ripe_q(0.05) == 17 and E.ripe_q(0.2) % 2 == 1 and E.ripe_q(0.01) > E.ripe_q(0.05)
    eps_a = jnp.logspace(-4, 0, 50)
    m = E.ripe_m(eps_a)
    assert np.all(np.pi / m + np.pi**2 / m**2 <= eps_a * (1 + 1e-12))
    assert np.all(np.pi / (m - 1) + np.pi**2 / (m - 1) ** 2 > eps_a)  # M is the smallest


def test_costs_follow_the_formulas():
    x, y, ip = _pairs(20)
    nx2, ny2 = np.sum(x * x, 1), np.sum(y * y, 1)
    eps_a = E.ripe_eps_a(ip, nx2, ny2, 0.2)
    ripe_cost = E.ripe_q(GAMMA) * E.ripe_m(eps_a)
    _, c = E.estimate(Estimator("ripe", 0.2), jax.random.key(0), x, y)
    np.testing.assert_allclose(c, ripe_cost)
    _, c = E.estimate(Estimator("gaussian", 0.2), jax.random.key(0), x, y)
    np.testing.assert_allclose(c, ripe_cost)
    _, c = E.estimate(Estimator("shots", 0.2), jax.random.key(0), x, y)
    np.testing.assert_allclose(c, E.hoeffding_shots(eps_a, GAMMA))
    _, c = E.estimate(Estimator("shots", 0.2, shots=123), jax.random.key(0), x, y)
    np.testing.assert_allclose(c, 123)
    _, c = E.estimate(Estimator("l2_sampling", 0.2), jax.random.key(0), x, y)
    k = np.ceil(8 * nx2 * ny2 / (0.2 * np.maximum(1, np.abs(ip))) ** 2)
    np.testing.assert_allclose(c, k * E.l2_q(GAMMA))
    # l2 sampling pays the quadratic overhead of the paper's section F: 10x smaller eps costs
    # it 100x the samples, where RIPE pays about 10x the oracle calls.
    _, c_small = E.estimate(Estimator("l2_sampling", 0.02), jax.random.key(0), x, y)
    np.testing.assert_allclose(np.asarray(c_small) / np.asarray(c), 100, rtol=0.02)
    ripe_small = E.ripe_q(GAMMA) * E.ripe_m(E.ripe_eps_a(ip, nx2, ny2, 0.02))
    np.testing.assert_allclose(np.asarray(ripe_small) / np.asarray(ripe_cost), 10, rtol=0.15)


def test_batched_matrix_and_jit():
    rng = np.random.default_rng(1)
    w, a = rng.normal(size=(6, 5)), rng.normal(size=(4, 5))
    est = Estimator("ripe", 0.3)
    s, cost = E.matrix(est, jax.random.key(0), w, a)
    assert s.shape == (4, 6) and cost.shape == (4, 6)
    assert np.all(_inside(s, a @ w.T, 0.3))
    s2, _ = jax.jit(E.matrix, static_argnums=0)(est, jax.random.key(0), w, a)
    np.testing.assert_allclose(s, s2, rtol=1e-12)
    s3, _ = E.matrix(Estimator("l2_sampling", 0.3), jax.random.key(2), w, a)
    assert s3.shape == (4, 6)
    # Leading axes broadcast: (2, 3, d) against (d,).
    s4, _ = E.estimate(
        Estimator("gaussian", 0.1),
        jax.random.key(0),
        rng.normal(size=(2, 3, 5)),
        rng.normal(size=5),
    )
    assert s4.shape == (2, 3)


def test_zero_vectors_give_zero_at_no_cost():
    for kind in ("ripe", "gaussian", "shots", "l2_sampling"):
        s, c = E.estimate(Estimator(kind, 0.1), jax.random.key(0), np.zeros(4), np.zeros(4))
        assert float(s) == 0 and float(c) == 0
    s, _ = E.estimate(Estimator("ripe", 0.1), jax.random.key(0), np.zeros(4), np.ones(4))
    assert abs(float(s)) <= 0.1


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"kind": "quantum"}, "unknown estimator"),
        ({"kind": "ripe", "eps": -0.1}, "eps"),
        ({"kind": "ripe", "eps": float("nan")}, "eps"),
        ({"kind": "ripe", "gamma": 1.0}, "gamma"),
        ({"kind": "shots", "shots": 0}, "shots"),
        ({"kind": "ripe", "eps": 1.5, "norms": "approx"}, "eps <= 1"),
        ({"kind": "ripe", "norms": "guess"}, "norms"),
    ],
)
def test_bad_configuration_is_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Estimator(**kwargs)


def test_bad_inputs_are_refused():
    est = Estimator("ripe", 0.1)
    with pytest.raises(ValueError, match="different lengths"):
        E.estimate(est, jax.random.key(0), np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match="NaN"):
        E.estimate(est, jax.random.key(0), np.array([1.0, np.nan]), np.ones(2))
    with pytest.raises(ValueError, match="different lengths"):
        E.matrix(est, jax.random.key(0), np.ones((3, 2)), np.ones((4, 5)))
    with pytest.raises(ValueError, match="vectors themselves"):
        E.from_products(Estimator("l2_sampling", 0.1), jax.random.key(0), 1.0, 2.0, 2.0)
