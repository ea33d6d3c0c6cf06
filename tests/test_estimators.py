"""Inner-product estimators: the (eps, gamma) guarantee, RIPE's sampler, costs and errors.

Statistical checks use fixed seeds. A fraction f of n independent pairs inside the band is
compared with 1 - gamma using the binomial standard deviation sqrt(gamma (1 - gamma) / n):
f >= 1 - gamma - 3 sd (a correct estimator fails this with probability < 0.2 %).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hybrid import estimators as E
from hybrid.estimators import Estimator

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


@pytest.mark.parametrize(("a", "m"), [(0.3, 7), (0.05, 40), (0.71, 64), (0.42, 300), (0.9, 3001)])
def test_amplitude_estimation_sampler_matches_the_exact_distribution(a, m):
    """Kolmogorov distance to the exact law; M <= 64 is sampled exactly, larger M has its
    1/j^2 tail (at most 2/(pi^2 32) = 0.6 % of the mass) drawn from an envelope."""
    n = 20000
    samples = np.asarray(E.ae_samples(jax.random.key(3), a, m, n, window=32))
    assert samples.shape == (n,)
    values, cdf = _exact_ae_cdf(a, m)
    empirical = np.searchsorted(np.sort(samples), values + 1e-9, side="right") / n
    assert np.max(np.abs(empirical - cdf)) < 0.02  # KS critical value at 0.1 %: 0.014


@pytest.mark.parametrize(
    ("a", "m"), [(0.3, 7), (0.0, 12), (1.0, 13), (0.05, 40), (0.499, 301), (0.9, 3001), (0.2, 1e6)]
)
def test_ripe_median_sampler_matches_the_exact_median_law(a, m):
    """The median of Q outputs has CDF I_F(h, h) (regularised incomplete beta, h = (Q+1)/2) at
    every value where F is the exact CDF of one output: checked by Kolmogorov distance."""
    q, n = 17, 20000
    samples = np.asarray(E.ae_median(jax.random.key(4), jnp.full(n, a), m, q))
    if m > 5000:  # exact enumeration is too long; check the median's spread instead
        err = np.abs(samples - a)
        assert np.quantile(err, 0.99) < np.pi / m + np.pi**2 / m**2
        return
    values, cdf = _exact_ae_cdf(a, int(m))
    exact = np.asarray(jax.scipy.special.betainc((q + 1) / 2, (q + 1) / 2, jnp.clip(cdf, 0, 1)))
    empirical = np.searchsorted(np.sort(samples), values + 1e-9, side="right") / n
    assert np.max(np.abs(empirical - exact)) < 0.02  # KS critical value at 0.1 %: 0.014


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
    s, cost = E.matrix(est, jax.random.key(2), w, a)
    assert s.shape == (4, 6) and cost.shape == (4, 6)
    assert np.all(_inside(s, a @ w.T, 0.3))
    s2, _ = jax.jit(E.matrix, static_argnums=0)(est, jax.random.key(2), w, a)
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
