"""The sampler behind RIPE: medians of amplitude-estimation outputs drawn in one step.

Robust inner-product estimation (``hybrid.ripe.estimators``, kind ``ripe``) takes the median of
Q amplitude-estimation runs of M evaluations each. Drawing Q outcomes from the M-outcome law per
pair costs O(Q M); ``ae_median`` draws the median itself from one uniform per pair, through the
law's exact CDF, so a layer of thousands of pairs at M in the thousands stays cheap to train.
``ae_median_law`` enumerates the same law in NumPy, the reference for reports and tests.

Everything is vectorised JAX and jit-friendly, in the dtype of the amplitudes (float32 stays
float32, as in training). The elementary functions are written as series and polynomials
(``sin_series``, ``asin_sqrt``, ``csc2_smooth``) because XLA's CPU code calls a scalar routine
per element for jnp.sin and jnp.arcsin, and the uniforms come from an unrolled Threefry
(``threefry2x32``, ``uniform``) because jax.random's CPU lowering loops over its rounds.
"""

from __future__ import annotations

import functools
import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np


def _horner(z, coefs: tuple[float, ...]):
    """sum_k coefs[k] z^k."""
    acc = coefs[-1]
    for c in reversed(coefs[:-1]):
        acc = acc * z + c
    return acc


@functools.cache
def _series(name: str, eps: float) -> tuple[float, ...]:
    """Taylor coefficients in x^2 of asin(x)/x on x^2 <= 1/4 or sin(x)/x on x^2 <= (pi/2)^2,
    through the first term below eps/4 there (each later term is at most a quarter of the one
    before, so they sum to less than eps/12): the dtype's precision from multiply-adds alone."""
    coef, r = {
        "asin": (lambda k: math.comb(2 * k, k) / (4**k * (2 * k + 1)), 0.25),
        "sin": (lambda k: (-1) ** k / math.factorial(2 * k + 1), (math.pi / 2) ** 2),
    }[name]
    n = next(k for k in itertools.count() if abs(coef(k)) * r**k < eps / 4)
    return tuple(coef(k) for k in range(n + 1))


def sin_series(x: jax.Array) -> jax.Array:
    """sin x for |x| <= pi/2 by its series: XLA's CPU code calls a scalar sine per element."""
    return x * _horner(x * x, _series("sin", float(jnp.finfo(x.dtype).eps)))


def asin_sqrt(a: jax.Array) -> jax.Array:
    """asin(sqrt(a)) for a in [0, 1]: the series at x^2 = a <= 1/4, above through asin(x) =
    pi/2 - 2 asin(sqrt((1 - x)/2)). jnp.arcsin is an atan2, a scalar call per element on CPU,
    and the sampler needs it for every pair."""
    high = a > 0.25
    z = jnp.where(high, (1 - a) / (2 * (1 + jnp.sqrt(a))), a)  # (1 - sqrt(a))/2, no cancellation
    s = jnp.sqrt(z) * _horner(z, _series("asin", float(jnp.finfo(z.dtype).eps)))
    return jnp.where(high, jnp.pi / 2 - 2 * s, s)


def _trigamma(x):
    """psi_1(x) = sum_{n >= 0} 1/(x + n)^2: two terms, then the asymptotic series to x^-11 at
    x + 2 (relative error below 2e-8 for x >= 2, the only arguments it gets). Finite sums of
    1/d^2 are its differences. One division: 1/x, 1/(x + 1), 1/(x + 2) from 1/(x (x+1) (x+2))."""
    x1, x2 = x + 1, x + 2
    inv = 1 / (x * x1 * x2)
    r0, r1, r = inv * x1 * x2, inv * x * x2, inv * x * x1
    r2 = r * r
    odd = _horner(r2, (1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66))
    return r0 * r0 + r1 * r1 + r + r2 * (0.5 + r * odd)


# 1/y - cot y = sum_k c_k y^(2k-1), c_k = 2 zeta(2k) / pi^(2k): 12 terms are within 3e-8 on
# [0, pi/2] (a polynomial: no tangent, no cancellation near 0).
_COT_GAP = (
    0.33333333333333337,
    0.022222222222222227,
    0.002116402116402117,
    0.00021164021164021173,
    2.137779915557694e-05,
    2.1644042808063985e-06,
    2.192594785187379e-07,
    2.221460878997969e-08,
    2.250784651680901e-09,
    2.28051512045922e-10,
    2.3106432599002644e-11,
    2.3411706819824906e-12,
)


def _cot_gap(y):
    """1/y - cot y on [0, pi/2] by its power series (error < 3e-8)."""
    return y * _horner(y * y, _COT_GAP)


def _smooth_integral(x):
    """G(x) = 1/x - cot x - 1/(pi - x) on (0, pi): an antiderivative of the smooth, bounded
    g(x) = csc^2 x - 1/x^2 - 1/(pi - x)^2 (0.19 <= g <= 0.24), written without cancellation."""
    low = x <= jnp.pi / 2
    p = _cot_gap(jnp.where(low, x, jnp.pi - x))
    return jnp.where(low, p - 1 / (jnp.pi - x), 1 / x - p)


def _csc2_sum(d0, n, m):
    """sum_{k=0}^{n-1} csc^2(pi (d0 + k) / M) for d0 >= 2, n >= 0 and M - d0 - n + 1 >= 2.

    csc^2 x = 1/x^2 + 1/(pi - x)^2 + g(x): the two poles (at d = 0 and d = M: the range is
    finite, both ends count) are summed exactly by trigamma differences; the smooth rest g by
    the midpoint rule, whose error is at most (pi/M)/24 * max|g'(0)-g'(pi)| = 0.017/M.
    """
    near = _trigamma(d0) - _trigamma(d0 + n)  # sum 1/(d0 + k)^2
    far = _trigamma(m - d0 - n + 1) - _trigamma(m - d0 + 1)  # sum 1/(M - d0 - k)^2
    h = jnp.pi / m
    smooth = (_smooth_integral(h * (d0 + n - 0.5)) - _smooth_integral(h * (d0 - 0.5))) / h
    return (m / jnp.pi) ** 2 * (near + far) + smooth


def folded_cdf(i, tm, m, s2m, upper) -> jax.Array:
    """F(i) = P(min(y, M - y) <= i) for M-point amplitude estimation of theta M = ``tm``, at
    an i at least 2 below (``upper`` False) or 1 above (``upper`` True) tm.

    P(y) = (1/2)(K(tm - y) + K(tm + y)) with the Fejer kernel K(d) = sin^2(pi d) / (M sin(pi d /
    M))^2, so F(i) = sum_{|y| <= i} K(tm - y) exactly (the mirrored branch folds onto the same
    y); above tm it is 1 minus the sum over y in [i + 1, M - i - 1]. ``s2m`` = sin^2(pi tm)/M^2.
    """
    half = jnp.floor(m / 2)
    d0 = jnp.where(upper, i + 1 - tm, tm - i)
    n = jnp.where(upper, jnp.maximum(m - 2 * i - 1, 0), 2 * i + 1)
    mass = s2m * _csc2_sum(d0, n, m)
    return jnp.where(i >= half, 1.0, jnp.where(upper, 1 - mass, mass))


def median_cdf(f: jax.Array, q: int) -> jax.Array:
    """P(median of q outputs <= v) = P(Binomial(q, F(v)) >= h), h = (q + 1)/2, for CDF values f.

    A polynomial in F (the regularised incomplete beta I_F(h, h) for integer h), summed by the
    term ratio and the symmetry G(F) = 1 - G(1 - F) so that the ratio F/(1 - F) stays <= 1.
    """
    h = (q + 1) // 2
    g = jnp.clip(jnp.minimum(f, 1 - f), 0.0, 0.5)
    ratio = g / (1 - g)
    # First term C(q, h) g^h (1 - g)^(q - h), then t_k / t_{k-1} = (q - k + 1)/k * ratio.
    first = math.comb(q, h) * g**h * (1 - g) ** (q - h)
    term, upper = first, first
    for k in range(h + 1, q + 1):  # q - h terms, unrolled: cheaper than a cumprod on CPU
        term = term * ((q - k + 1) / k) * ratio
        upper = upper + term  # ends as P(Binomial(q, g) >= h)
    return jnp.where(f <= 0.5, upper, 1 - upper)


# Grid of the median-quantile table: logit(v) from logit(2^-60) to 0 (v = min(u, 1 - u)).
QUANTILE_POINTS = 4096
QUANTILE_LOGIT_MIN = math.log(2.0**-60 / (1 - 2.0**-60))


@functools.cache
def _median_quantile_table(q: int) -> np.ndarray:
    """logit of G^{-1}(v), the Beta(h, h) quantile (the median of q uniforms, h = (q + 1)/2), on
    a uniform grid of logit(v); linear interpolation in logit-logit inverts G to within 3e-7
    (absolute, in probability; tested)."""
    from scipy.special import betaincinv

    h = (q + 1) // 2
    t = np.linspace(QUANTILE_LOGIT_MIN, 0.0, QUANTILE_POINTS)
    b = betaincinv(h, h, 1 / (1 + np.exp(-t)))
    return np.log(b / (1 - b))


def median_quantile(u: jax.Array, q: int) -> jax.Array:
    """B = G^{-1}(u): the median of q outputs is F^{-1}(B), B ~ Beta(h, h) when u ~ U(0, 1).

    One table look-up per pair replaces evaluating the median's CDF G at every outcome the
    sampler considers: the median index is then min{i : F(i) >= B}."""
    if q == 1:
        return u
    table = jnp.asarray(_median_quantile_table(q), u.dtype)
    v = jnp.clip(jnp.minimum(u, 1 - u), 2.0**-60, 0.5)
    step = -QUANTILE_LOGIT_MIN / (QUANTILE_POINTS - 1)
    pos = (jnp.log(v / (1 - v)) - QUANTILE_LOGIT_MIN) / step
    j = jnp.clip(jnp.floor(pos), 0, QUANTILE_POINTS - 2)
    frac = pos - j
    j = j.astype(jnp.int32)
    y = table[j] + frac * (table[j + 1] - table[j])
    b = 1 / (1 + jnp.exp(-y))
    return jnp.where(u <= 0.5, b, 1 - b)


# csc^2 w - 1/w^2 as a polynomial in w^2 on [0, (pi/2)^2]: least-squares Chebyshev fit of
# degree 8 (float64), within 2e-9 of the function there (tested); a few multiply-adds in place
# of a sine's range reduction and polynomial.
_CSC2_SMOOTH = (
    0.333333334632243,
    0.06666662004447396,
    0.010582417702305794,
    0.0014799820299575453,
    0.00019526058399333898,
    2.0715406262607174e-05,
    4.7966089205306375e-06,
    -3.5482336648288817e-07,
    1.5559610253702364e-07,
)


def csc2_smooth(w2: jax.Array) -> jax.Array:
    """csc^2 w - 1/w^2 for w^2 = ``w2`` in [0, (pi/2)^2] (error < 2e-9)."""
    return _horner(w2, _CSC2_SMOOTH)


def fejer_weight(num: jax.Array, z: jax.Array) -> jax.Array:
    """Fejer weight num * csc^2 z for |z| <= pi, with its limit 1 where z = 0 or +-pi (num then
    vanishes as sin^2 z does): csc^2 z = 1/w^2 + (csc^2 w - 1/w^2), w = min(|z|, pi - |z|)."""
    w = jnp.abs(z)
    w = jnp.minimum(w, jnp.pi - w)
    w2 = w * w
    small = w2 < 1e-24
    return jnp.where(small, 1.0, num / jnp.where(small, 1.0, w2) + num * csc2_smooth(w2))


# Pairs whose median falls outside the window are resolved this many at a time.
TAIL_CHUNK = 256


def _tail_median(b, tm, m, s2m, lo, hi, upper):
    """The smallest i in (lo, hi] with F(i) >= b, by bisection on the exact tail CDF."""

    def body(bounds):
        lo, hi = bounds
        mid = jnp.floor((lo + hi) / 2)
        ok = folded_cdf(mid, tm, m, s2m, upper) >= b
        open_ = hi - lo > 1
        return jnp.where(open_ & ~ok, mid, lo), jnp.where(open_ & ok, mid, hi)

    return jax.lax.while_loop(lambda b: jnp.any(b[1] - b[0] > 1), body, (lo, hi))[1]


def _resolve_tails(idx, b, tm, m, window: int):
    """Replace ``idx`` where it marks a tail (start - 1 or end + 1) by the exact tail index,
    TAIL_CHUNK pairs per pass: the cost follows the number of tail draws (rare for Q >= 9), not
    the number of pairs. The bisection bounds are recomputed from (tm, M) for the chunk only, so
    that the common case (no tail) carries few arrays across the loop."""
    n = idx.shape[0]
    k = min(n, TAIL_CHUNK)
    start, end, _ = _window_bounds(tm, m, window)
    need = (idx < start) | (idx > end)

    def body(carry):
        idx, need = carry
        sel = jnp.nonzero(need, size=k, fill_value=n)[0]
        at = jnp.minimum(sel, n - 1)
        b_, tm_, m_, i_ = b[at], tm[at], m[at], idx[at]
        start, end, half = _window_bounds(tm_, m_, window)
        up = i_ > end
        s2m = _sin2_pi(tm_) / m_**2
        lo = jnp.where(up, end, -1.0)
        hi = jnp.where(up, half, start - 1)
        res = _tail_median(b_, tm_, m_, s2m, lo, hi, up)
        return idx.at[sel].set(res, mode="drop"), need.at[sel].set(False, mode="drop")

    return jax.lax.while_loop(lambda c: jnp.any(c[1]), body, (idx, need))[0]


# Threefry-2x32's rotations, its rounds being applied in groups of four (Salmon et al. 2011).
_THREEFRY_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))


def threefry2x32(
    k0: jax.Array, k1: jax.Array, x0: jax.Array, x1: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """The Threefry-2x32 block function (20 rounds) of key (k0, k1) on counters (x0, x1),
    bit for bit jax's, unrolled into constant shifts where jax.random's CPU lowering runs a loop
    with rotations read from an array: the sampler draws one uniform per pair, every step."""
    ks = (k0, k1, k0 ^ k1 ^ np.uint32(0x1BD11BDA))
    x0, x1 = x0 + ks[0], x1 + ks[1]
    for j in range(5):
        for r in _THREEFRY_ROTATIONS[j % 2]:
            x0 = x0 + x1
            x1 = ((x1 << np.uint32(r)) | (x1 >> np.uint32(32 - r))) ^ x0
        x0 = x0 + ks[(j + 1) % 3]
        x1 = x1 + ks[(j + 2) % 3] + np.uint32(j + 1)
    return x0, x1


def uniform(key: jax.Array, n: int, dtype) -> jax.Array:
    """n uniforms in [0, 1) of ``dtype`` (float32: 24 random bits, float64: 52), two 32-bit
    words per Threefry block under a key drawn from ``key``."""
    words = n if jnp.finfo(dtype).bits <= 32 else 2 * n
    k0, k1 = jax.random.bits(key, (2,), jnp.uint32)
    count = jnp.arange((words + 1) // 2, dtype=jnp.uint32)
    bits = jnp.concatenate(threefry2x32(k0, k1, count, jnp.zeros_like(count)))
    if words == n:
        return (bits[:n] >> 8).astype(dtype) * 2.0**-24
    high, low = (bits[:n] >> 6).astype(dtype), (bits[n:] >> 6).astype(dtype)
    return (high * 2.0**26 + low) * 2.0**-52


def _sin2_pi(tm):
    """sin^2(pi tm) from tm's distance to the nearest integer (sin^2 has period 1).

    In float32, pi * tm at tm ~ 2,000 (M ~ 8,000, as in a 784-input layer) carries a rounding
    error of order 1e-4, so sin(pi * tm) would lose the small fraction that the window's Fejer
    numerator needs while the denominators use tm - i exactly: near an integer tm the likeliest
    outcome's weight would be far from 1 and draws would go to the tail."""
    return sin_series(jnp.pi * (tm - jnp.round(tm))) ** 2


def _window_bounds(tm, m, window: int):
    """First and last index of the window of 2 * window outcomes around theta M, and M // 2."""
    half = jnp.floor(m / 2)
    start = jnp.clip(jnp.floor(tm) - window + 1, 0, jnp.maximum(0, half - 2 * window + 1))
    return start, start + 2 * window - 1, half


def ae_median(key: jax.Array, a, m, q: int, window: int = 2) -> jax.Array:
    """The median of ``q`` (odd) M-point amplitude-estimation outputs, drawn in one step.

    The law is Subroutine 4's (Brassard-Hoyer-Mosca-Tapp amplitude estimation: outcome y with
    probability (1/2)(K(theta M - y) + K(theta M + y)), K the Fejer kernel, theta = asin(sqrt
    a)/pi), for every a in [0, 1], M >= 2 and odd q >= 1. An output sin^2(pi y / M) depends on y
    only through i = min(y, M - y) in [0, M/2] and grows with it, so the median of q outputs is
    sin^2(pi i* / M) with i* = min{i : F(i) >= B}, F the CDF of i and B = G^{-1}(u) the
    quantile of the median of q uniforms (``median_quantile``) at one uniform u. F is exact on
    2 * window consecutive i around theta M (Fejer weights without sines, ``fejer_weight``:
    relative error < 3e-9), and the mass below them is exact too
    (``folded_cdf``: trigamma for the poles, a midpoint sum of a bounded remainder, error
    < 0.02/M^3 + 1e-8 F). A median beyond the window (Q = 1, window 2: up to 1 draw in 10;
    Q = 17: < 1e-6) is found by bisection on that exact tail CDF, only for the pairs that need
    it. Law exact up to those terms, G^{-1}'s table (3e-7) and the dtype's uniform (2^-24 in
    float32). One uniform per pair instead of q outputs is what keeps RIPE cheap.
    """
    if window < 2:
        raise ValueError("the RIPE median sampler needs window >= 2")
    dtype = jnp.result_type(a, m, float)  # float32 stays float32, as in training
    a, m = jnp.broadcast_arrays(jnp.asarray(a, dtype), jnp.asarray(m, dtype))
    shape = a.shape
    a, m = a.reshape(-1), m.reshape(-1)
    tm = asin_sqrt(a) / jnp.pi * m  # theta M, in [0, M/2]
    start, end, half = _window_bounds(tm, m, window)
    # Fejer weights sin^2(pi d) / (M sin(pi d / M))^2 at d = theta M -+ i: the numerator is
    # sin^2(pi theta M) for every integer i, so only the denominators vary across the window.
    s2m = _sin2_pi(tm) / m**2
    has_below = start > 0
    lo_i = jnp.where(has_below, start - 1, 0.0)
    cdf = jnp.where(has_below, folded_cdf(lo_i, tm, m, s2m, False), 0.0)
    b = median_quantile(uniform(key, a.shape[0], a.dtype), q)
    # The CDF at start - 1, ..., end, one (pairs,) column at a time, counted against B: then
    # i* = start - 1 + count. No (window, pairs) tensor: XLA fuses its sum with every term
    # recomputed per column.
    count = (cdf < b).astype(a.dtype)
    h = jnp.pi / m
    for k in range(2 * window):
        i = start + k
        w = fejer_weight(s2m, (tm - i) * h)
        mirror = (i > 0) & (2 * i != m)  # y = i and y = M - i are distinct outcomes
        w = w + jnp.where(mirror, fejer_weight(s2m, (tm + i) * h), 0.0)
        cdf = cdf + jnp.where(i <= half, w, 0.0)
        count = count + (cdf < b)
    # One array out of the window pass (XLA would recompute the pass for each consumer);
    # start - 1 and end + 1 mark medians in the lower and upper tail. The floor at 0: with
    # start = 0 and B = 0 (u = 0, q = 1) nothing counts, and i* = 0, not -1.
    i_star = jax.lax.optimization_barrier(jnp.clip(start - 1 + count, 0, half))
    if a.size:
        i_star = _resolve_tails(i_star, b, tm, m, window)
    return (sin_series(jnp.pi * i_star / m) ** 2).reshape(shape)


def ae_samples(key: jax.Array, a, m, n: int, window: int = 32) -> jax.Array:
    """``n`` single amplitude-estimation outputs sin^2(pi y / M) for each amplitude in ``a``:
    the median of one output (``ae_median`` with q = 1), so the same exact law. Returns shape
    a.shape + (n,)."""
    a, m = jnp.broadcast_arrays(jnp.asarray(a, float), jnp.asarray(m, float))
    a = jnp.broadcast_to(a[..., None], (*a.shape, n))
    m = jnp.broadcast_to(m[..., None], a.shape)
    return ae_median(key, a, m, 1, window)


def ae_median_law(a: float, m: int, q: int) -> np.ndarray:
    """Exact P(median index = i), i = 0..M//2, by enumerating all M outcomes (NumPy, O(M)):
    the reference law of ``ae_median`` for reports and checks, not for training."""
    tm = math.asin(math.sqrt(a)) / math.pi * m
    y = np.arange(m)

    def fejer(d):
        s = np.sin(np.pi * d / m)
        with np.errstate(invalid="ignore", divide="ignore"):
            w = np.sin(np.pi * d) ** 2 / (m * s) ** 2
        return np.where(np.abs(s) < 1e-13, 1.0, w)

    p = 0.5 * (fejer(tm - y) + fejer(tm + y))
    cdf = np.cumsum(np.bincount(np.minimum(y, m - y), weights=p, minlength=m // 2 + 1))
    cdf = np.asarray(median_cdf(jnp.asarray(np.clip(cdf, 0, 1)), q))
    return np.diff(np.concatenate([[0.0], cdf]))
