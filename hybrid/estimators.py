"""Inner-product estimators with one interface: each returns the estimate s and its cost.

An (eps, gamma)-estimator returns s with |s - <x,y>| <= max(eps |<x,y>|, eps) with probability
at least 1 - gamma (Allcock, Hsieh, Kerenidis, Zhang, arXiv:1812.03089). The kinds:

- ``exact``: s = <x,y>, no quantum cost (the classical baseline; eps = 0 of every other kind).
- ``shots``: the Hadamard-test circuit of ``hybrid.inner_product`` read out with a finite number of
  shots, simulated exactly (binomial counts). Shots are fixed, or chosen by Hoeffding's bound so
  the (eps, gamma) guarantee holds; cost = shots.
- ``ripe``: robust inner-product estimation, sampled as the paper's Subroutine 4: amplitude
  estimation of a = P(first qubit = 1) with M evaluations (M from eps), median of Q repeats
  (Q from gamma). Norms exact, or known to relative error eps/3 (then amplitude estimation gets an
  eps/2 budget so the total stays within eps for eps <= 1). Cost = Q * M oracle calls.
- ``gaussian``: the noise model of the paper's simulations, s = <x,y> + sigma * N(0, 1) with
  sigma = max(eps |<x,y>|, eps) / z_{1 - gamma/2}, i.e. the band holds with probability exactly
  1 - gamma. Cost reported as that of the RIPE call it stands for.
- ``gaussian_absolute``: the other reading of the paper's "N(eps/2, 0)": s = <x,y> + (eps/2)
  N(0, 1), an absolute standard deviation eps/2 whatever |<x,y>|. For |<x,y>| <= 1 it nearly
  equals ``gaussian`` (eps/2 against eps/1.96 at gamma = 0.05); above, its error does not grow
  with |<x,y>|. Cost as for ``gaussian``.
- ``l2_sampling``: the quantum-inspired classical estimator of the paper's section F (Tang's
  l2 sampling): sample i with probability x_i^2/|x|^2, average y_i |x|^2 / x_i over k samples,
  median of Q' means. k grows as (|x||y| / (eps max(1, |<x,y>|)))^2: the quadratic overhead that
  makes it impractical. Cost = k * Q' samples (each one l2-sample of x and one query of y).

Everything is vectorised JAX (broadcasting over leading axes) and jit-friendly: the estimator
configuration is a frozen dataclass, hashable, so it can be a static argument.
"""

from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass
from functools import partial
from statistics import NormalDist

import jax
import jax.numpy as jnp
import numpy as np

KINDS = ("exact", "shots", "ripe", "gaussian", "gaussian_absolute", "l2_sampling")
NORMS = ("exact", "approx")
# Success probability of one amplitude-estimation run (Brassard, Hoyer, Mosca, Tapp, k = 1).
AE_SUCCESS = 8 / math.pi**2
# One Chebyshev-bounded mean of k l2 samples fails with probability at most 1/8 (k = 8 R^2/eps^2).
L2_CHEBYSHEV = 8.0
L2_SUCCESS = 7 / 8


@dataclass(frozen=True)
class Estimator:
    """Which inner-product estimator, and its (eps, gamma) target.

    ``shots`` only applies to kind ``shots`` (None: chosen from eps, gamma by Hoeffding).
    ``norms`` only applies to ``ripe``. ``window``: RIPE weighs 2 * window outcomes around the
    peak directly and reaches the rest through the exact tail CDF (see ``ae_median``); it
    changes the speed, not the law.
    """

    kind: str = "exact"
    eps: float = 0.0
    gamma: float = 0.05
    shots: int | None = None
    norms: str = "exact"
    window: int = 2

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown estimator {self.kind!r}; kinds are {KINDS}")
        if not (math.isfinite(self.eps) and self.eps >= 0):
            raise ValueError(f"eps must be a finite number >= 0, got {self.eps}")
        if not 0 < self.gamma < 1:
            raise ValueError(f"gamma must lie in (0, 1), got {self.gamma}")
        if self.norms not in NORMS:
            raise ValueError(f"norms must be one of {NORMS}, got {self.norms!r}")
        if self.shots is not None and self.shots < 1:
            raise ValueError(f"shots must be a positive integer, got {self.shots}")
        if self.norms == "approx" and self.eps > 1:
            raise ValueError("norms='approx' splits the error budget and needs eps <= 1")
        if self.window < 2:
            raise ValueError("window must be >= 2 (see ae_median)")

    @property
    def noiseless(self) -> bool:
        """True when the estimate is the exact inner product (exact kind, or eps = 0).

        ``shots`` with a fixed shot count is never noiseless, whatever eps says; with shots
        chosen from eps, eps = 0 is the infinite-shot limit.
        """
        if self.kind == "shots" and self.shots is not None:
            return False
        return self.kind == "exact" or self.eps == 0


def band(ip, eps: float):
    """The allowed error max(eps |<x,y>|, eps)."""
    return eps * jnp.maximum(1.0, jnp.abs(ip))


def _median_repeats(gamma: float, success: float) -> int:
    """Odd number of repeats whose median fails with probability <= gamma (Hoeffding), when
    each repeat succeeds with probability ``success`` > 1/2."""
    q = math.ceil(math.log(1 / gamma) / (2 * (success - 0.5) ** 2))
    return q if q % 2 else q + 1


def ripe_q(gamma: float) -> int:
    """Repeats Q of RIPE's median (one amplitude estimation succeeds with probability 8/pi^2)."""
    return _median_repeats(gamma, AE_SUCCESS)


def l2_q(gamma: float) -> int:
    """Median-of-means repeats for l2 sampling (each mean succeeds with probability 7/8)."""
    return _median_repeats(gamma, L2_SUCCESS)


def ripe_eps_a(ip, nx2, ny2, eps: float):
    """The amplitude error eps_a = eps max(1, |<x,y>|) / (|x|^2 + |y|^2) that RIPE must reach."""
    return band(ip, eps) / (nx2 + ny2)


def ripe_m(eps_a):
    """Evaluations M = ceil(pi/(2 eps_a) (1 + sqrt(1 + 4 eps_a))): then pi/M + pi^2/M^2 <= eps_a."""
    return jnp.ceil(jnp.pi / (2 * eps_a) * (1 + jnp.sqrt(1 + 4 * eps_a)))


def hoeffding_shots(eps_a, gamma: float):
    """Shots so that the frequency of outcome 1 is within eps_a of a with probability 1-gamma."""
    return jnp.ceil(math.log(2 / gamma) / (2 * eps_a**2))


def amplitude(ip, nx2, ny2):
    """a = P(first qubit = 1) of the Hadamard-test state of [x; y]."""
    return jnp.clip((nx2 + ny2 - 2 * ip) / (2 * (nx2 + ny2)), 0.0, 1.0)


def from_amplitude(a, nx2, ny2):
    """Invert ``amplitude``: <x,y> = (|x|^2 + |y|^2)(1 - 2a)/2."""
    return (nx2 + ny2) * (1 - 2 * a) / 2


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


def _sin(x):
    """sin x for |x| <= pi/2 by its series: XLA's CPU code calls a scalar sine per element."""
    return x * _horner(x * x, _series("sin", float(jnp.finfo(x.dtype).eps)))


def _asin_sqrt(a):
    """asin(sqrt(a)) for a in [0, 1]: the series at x^2 = a <= 1/4, above through asin(x) =
    pi/2 - 2 asin(sqrt((1 - x)/2)). jnp.arcsin is an atan2, a scalar call per element on CPU
    and once the sampler's costliest op."""
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


def _folded_cdf(i, tm, m, s2m, upper):
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


def _median_cdf(f, q: int):
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


def median_quantile(u, q: int):
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
# degree 8 (float64), within 2e-9 of the function there (tested); a few multiply-adds where a
# sine took a range reduction and its own polynomial.
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


def _csc2_smooth(w2):
    """csc^2 w - 1/w^2 for w^2 = ``w2`` in [0, (pi/2)^2] (error < 2e-9)."""
    return _horner(w2, _CSC2_SMOOTH)


def _fejer_weight(num, z):
    """Fejer weight num * csc^2 z for |z| <= pi, with its limit 1 where z = 0 or +-pi (num then
    vanishes as sin^2 z does): csc^2 z = 1/w^2 + (csc^2 w - 1/w^2), w = min(|z|, pi - |z|)."""
    w = jnp.abs(z)
    w = jnp.minimum(w, jnp.pi - w)
    w2 = w * w
    small = w2 < 1e-24
    return jnp.where(small, 1.0, num / jnp.where(small, 1.0, w2) + num * _csc2_smooth(w2))


# Pairs whose median falls outside the window are resolved this many at a time.
TAIL_CHUNK = 256


def _tail_median(b, tm, m, s2m, lo, hi, upper):
    """The smallest i in (lo, hi] with F(i) >= b, by bisection on the exact tail CDF."""

    def body(bounds):
        lo, hi = bounds
        mid = jnp.floor((lo + hi) / 2)
        ok = _folded_cdf(mid, tm, m, s2m, upper) >= b
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


def _threefry2x32(k0, k1, x0, x1):
    """The Threefry-2x32 block function (20 rounds) of key (k0, k1) on counters (x0, x1),
    unrolled: jax.random's CPU lowering runs it as a loop with rotations read from an array,
    about 4x slower on the sampler's uniforms than these constant shifts."""
    ks = (k0, k1, k0 ^ k1 ^ np.uint32(0x1BD11BDA))
    x0, x1 = x0 + ks[0], x1 + ks[1]
    for j in range(5):
        for r in _THREEFRY_ROTATIONS[j % 2]:
            x0 = x0 + x1
            x1 = ((x1 << np.uint32(r)) | (x1 >> np.uint32(32 - r))) ^ x0
        x0 = x0 + ks[(j + 1) % 3]
        x1 = x1 + ks[(j + 2) % 3] + np.uint32(j + 1)
    return x0, x1


def _uniform(key, n: int, dtype):
    """n uniforms in [0, 1) of ``dtype`` (float32: 24 random bits, float64: 52), two 32-bit
    words per Threefry block under a key drawn from ``key``."""
    words = n if jnp.finfo(dtype).bits <= 32 else 2 * n
    k0, k1 = jax.random.bits(key, (2,), jnp.uint32)
    count = jnp.arange((words + 1) // 2, dtype=jnp.uint32)
    bits = jnp.concatenate(_threefry2x32(k0, k1, count, jnp.zeros_like(count)))
    if words == n:
        return (bits[:n] >> 8).astype(dtype) * 2.0**-24
    high, low = (bits[:n] >> 6).astype(dtype), (bits[n:] >> 6).astype(dtype)
    return (high * 2.0**26 + low) * 2.0**-52


def _sin2_pi(tm):
    """sin^2(pi tm) from tm's distance to the nearest integer (sin^2 has period 1).

    In float32, pi * tm at tm ~ 2,000 (M ~ 8,000, as in a 784-input layer) is off by up to 4e-4,
    so sin(pi * tm) loses the small fraction that the window's Fejer numerator needs while the
    denominators use tm - i exactly: within 1e-3 of an integer tm the likeliest outcome's weight
    came out 0.40 to 1.54 instead of 1 (cases checked), and draws went to the tail."""
    return _sin(jnp.pi * (tm - jnp.round(tm))) ** 2


def _window_bounds(tm, m, window: int):
    """First and last index of the window of 2 * window outcomes around theta M, and M // 2."""
    half = jnp.floor(m / 2)
    start = jnp.clip(jnp.floor(tm) - window + 1, 0, jnp.maximum(0, half - 2 * window + 1))
    return start, start + 2 * window - 1, half


def ae_median(key, a, m, q: int, window: int = 2):
    """The median of ``q`` (odd) M-point amplitude-estimation outputs, drawn in one step.

    The law is Subroutine 4's (Brassard-Hoyer-Mosca-Tapp amplitude estimation: outcome y with
    probability (1/2)(K(theta M - y) + K(theta M + y)), K the Fejer kernel, theta = asin(sqrt
    a)/pi), for every a in [0, 1], M >= 2 and odd q >= 1. An output sin^2(pi y / M) depends on y
    only through i = min(y, M - y) in [0, M/2] and grows with it, so the median of q outputs is
    sin^2(pi i* / M) with i* = min{i : F(i) >= B}, F the CDF of i and B = G^{-1}(u) the
    quantile of the median of q uniforms (``median_quantile``) at one uniform u. F is exact on
    2 * window consecutive i around theta M (Fejer weights without sines, ``_fejer_weight``:
    relative error < 3e-9), and the mass below them is exact too
    (``_folded_cdf``: trigamma for the poles, a midpoint sum of a bounded remainder, error
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
    tm = _asin_sqrt(a) / jnp.pi * m  # theta M, in [0, M/2]
    start, end, half = _window_bounds(tm, m, window)
    # Fejer weights sin^2(pi d) / (M sin(pi d / M))^2 at d = theta M -+ i: the numerator is
    # sin^2(pi theta M) for every integer i, so only the denominators vary across the window.
    s2m = _sin2_pi(tm) / m**2
    has_below = start > 0
    lo_i = jnp.where(has_below, start - 1, 0.0)
    cdf = jnp.where(has_below, _folded_cdf(lo_i, tm, m, s2m, False), 0.0)
    b = median_quantile(_uniform(key, a.shape[0], a.dtype), q)
    # The CDF at start - 1, ..., end, one (pairs,) column at a time, counted against B: then
    # i* = start - 1 + count. No (window, pairs) tensor, whose sum XLA fused with every term
    # recomputed per column.
    count = (cdf < b).astype(a.dtype)
    h = jnp.pi / m
    for k in range(2 * window):
        i = start + k
        w = _fejer_weight(s2m, (tm - i) * h)
        mirror = (i > 0) & (2 * i != m)  # y = i and y = M - i are distinct outcomes
        w = w + jnp.where(mirror, _fejer_weight(s2m, (tm + i) * h), 0.0)
        cdf = cdf + jnp.where(i <= half, w, 0.0)
        count = count + (cdf < b)
    # One array out of the window pass (XLA would recompute the pass for each consumer);
    # start - 1 and end + 1 mark medians in the lower and upper tail. The floor at 0: with
    # start = 0 and B = 0 (u = 0, q = 1) nothing counts, and i* = 0, not -1.
    i_star = jax.lax.optimization_barrier(jnp.clip(start - 1 + count, 0, half))
    if a.size:
        i_star = _resolve_tails(i_star, b, tm, m, window)
    return (_sin(jnp.pi * i_star / m) ** 2).reshape(shape)


def ae_samples(key, a, m, n: int, window: int = 32):
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
    cdf = np.asarray(_median_cdf(jnp.asarray(np.clip(cdf, 0, 1)), q))
    return np.diff(np.concatenate([[0.0], cdf]))


def _ripe(key, ip, nx2, ny2, eps, gamma: float, norms: str, window: int):
    q = ripe_q(gamma)
    k_norm, k_ae = jax.random.split(key)
    if norms == "approx":
        # Squared norms known to relative error eps/3 (uniform within the bound); amplitude
        # estimation then targets eps/2 so that the total error stays within eps (eps <= 1).
        u = jax.random.uniform(k_norm, (2, *ip.shape), minval=-1.0, maxval=1.0)
        nx2_used, ny2_used = nx2 * (1 + eps / 3 * u[0]), ny2 * (1 + eps / 3 * u[1])
        eps_ae = eps / 2
    else:
        nx2_used, ny2_used, eps_ae = nx2, ny2, eps
    m = ripe_m(ripe_eps_a(ip, nx2, ny2, eps_ae))
    # from_amplitude decreases in a_hat, so the median of the q estimates of <x,y> is the
    # estimate at the median amplitude.
    a_med = ae_median(k_ae, amplitude(ip, nx2, ny2), m, q, window)
    return from_amplitude(a_med, nx2_used, ny2_used), q * m


def _gaussian(key, ip, nx2, ny2, eps, gamma: float, absolute: bool = False):
    if absolute:
        sigma = eps / 2 * jnp.ones_like(ip)
    else:
        sigma = band(ip, eps) / NormalDist().inv_cdf(1 - gamma / 2)
    s = ip + sigma * jax.random.normal(key, ip.shape)
    return s, ripe_q(gamma) * ripe_m(ripe_eps_a(ip, nx2, ny2, eps))


def _shots(key, ip, nx2, ny2, eps, gamma: float, shots: int | None):
    if shots is not None:
        n = jnp.full(ip.shape, float(shots))
    else:
        n = hoeffding_shots(ripe_eps_a(ip, nx2, ny2, eps), gamma)
    ones = jax.random.binomial(key, n, amplitude(ip, nx2, ny2))
    return from_amplitude(ones / n, nx2, ny2), n


def _l2(key, x, y, eps, gamma: float):
    """Tang's estimator: median of Q' means of k samples y_i |x|^2 / x_i, i ~ x_i^2 / |x|^2."""
    x, y = jnp.broadcast_arrays(x, y)
    ip = jnp.sum(x * y, axis=-1)
    nx2, ny2 = jnp.sum(x * x, axis=-1), jnp.sum(y * y, axis=-1)
    q = l2_q(gamma)
    k = jnp.ceil(L2_CHEBYSHEV * nx2 * ny2 / band(ip, eps) ** 2)
    safe = jnp.where(nx2 > 0, nx2, 1.0)
    p = x * x / safe[..., None]
    z = jnp.where(x != 0, y * nx2[..., None] / jnp.where(x != 0, x, 1.0), 0.0)
    counts = jax.random.multinomial(
        key, k[..., None], p[..., None, :], shape=(*ip.shape, q, x.shape[-1]), dtype=z.dtype
    )
    means = jnp.sum(counts * z[..., None, :], axis=-1) / k[..., None]
    zero = nx2 * ny2 == 0  # a zero vector: <x,y> = 0, known without sampling
    return jnp.where(zero, 0.0, jnp.median(means, axis=-1)), jnp.where(zero, 0.0, k * q)


@partial(jax.jit, static_argnums=0)
def _sample(cfg: tuple, key, eps, a, b, c):
    """The noisy kinds, compiled once per (kind, gamma, shots, norms, window): eps is traced,
    so sweeping eps does not recompile. ``a, b, c`` are (<x,y>, |x|^2, |y|^2), or (x, y, -)."""
    kind, gamma, shots, norms, window = cfg
    if kind == "l2_sampling":
        return _l2(key, a, b, eps, gamma)
    ip, nx2, ny2 = a, b, c
    zero = (nx2 + ny2) == 0  # both vectors zero: <x,y> = 0 and no state to prepare
    nx2, ny2 = jnp.where(zero, 1.0, nx2), jnp.where(zero, 1.0, ny2)
    if kind == "ripe":
        s, cost = _ripe(key, ip, nx2, ny2, eps, gamma, norms, window)
    elif kind in ("gaussian", "gaussian_absolute"):
        s, cost = _gaussian(key, ip, nx2, ny2, eps, gamma, kind == "gaussian_absolute")
    else:
        s, cost = _shots(key, ip, nx2, ny2, eps, gamma, shots)
    return jnp.where(zero, 0.0, s), jnp.where(zero, 0.0, cost)


def _cfg(est: Estimator) -> tuple:
    return (est.kind, est.gamma, est.shots, est.norms, est.window)


def from_products(est: Estimator, key, ip, nx2, ny2):
    """Estimate from the exact <x,y>, |x|^2, |y|^2 (all kinds but l2_sampling need no more)."""
    ip, nx2, ny2 = jnp.broadcast_arrays(*(jnp.asarray(v, float) for v in (ip, nx2, ny2)))
    if est.kind == "l2_sampling":
        raise ValueError("l2_sampling needs the vectors themselves; use estimate() or matrix()")
    if est.noiseless:
        return ip, jnp.zeros_like(ip)
    return _sample(_cfg(est), key, jnp.asarray(est.eps, float), ip, nx2, ny2)


def _check(x, y):
    """Clear errors for what has no inner product (checked eagerly; skipped under jit)."""
    if x.shape[-1] != y.shape[-1]:
        raise ValueError(f"vectors of different lengths: {x.shape[-1]} and {y.shape[-1]}")
    for name, v in (("x", x), ("y", y)):
        if not isinstance(v, jax.core.Tracer) and not np.all(np.isfinite(np.asarray(v))):
            raise ValueError(f"{name} contains NaN or infinite entries")


def estimate(est: Estimator, key, x, y):
    """Estimate <x, y> along the last axis (leading axes broadcast); returns (s, cost)."""
    x, y = jnp.asarray(x, float), jnp.asarray(y, float)
    _check(x, y)
    if est.noiseless:
        ip = jnp.sum(x * y, axis=-1)
        return ip, jnp.zeros_like(ip)
    if est.kind == "l2_sampling":
        return _sample(_cfg(est), key, jnp.asarray(est.eps, float), x, y, None)
    ip = jnp.sum(x * y, axis=-1)
    return from_products(est, key, ip, jnp.sum(x * x, axis=-1), jnp.sum(y * y, axis=-1))


def matrix(est: Estimator, key, w, a):
    """All inner products S[b, j] ~ <w_j, a_b> of rows of ``w`` (k, d) and ``a`` (B, d).

    This is one layer of an (eps, gamma)-network: z = W a with every entry estimated. Returns
    (S (B, k), cost (B, k)). For l2_sampling the rows of ``w`` are the l2-sampled vectors.
    """
    w, a = jnp.asarray(w, float), jnp.asarray(a, float)
    _check(w, a)
    if est.noiseless:
        ip = a @ w.T
        return ip, jnp.zeros_like(ip)
    if est.kind == "l2_sampling":
        return estimate(est, key, w[None, :, :], a[:, None, :])
    ip = a @ w.T
    nw2, na2 = jnp.sum(w * w, axis=-1), jnp.sum(a * a, axis=-1)
    return from_products(est, key, ip, nw2[None, :], na2[:, None])
