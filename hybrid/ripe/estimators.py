"""Inner-product estimators with one interface: each returns the estimate s and its cost.

An (eps, gamma)-estimator returns s with |s - <x,y>| <= max(eps |<x,y>|, eps) with probability
at least 1 - gamma (Allcock, Hsieh, Kerenidis, Zhang, arXiv:1812.03089). The kinds:

- ``exact``: s = <x,y>, no quantum cost (the classical baseline; eps = 0 of every other kind).
- ``shots``: the Hadamard-test circuit of ``hybrid.ripe.inner_product`` read out with a finite
  number of shots, simulated exactly (binomial counts). Shots are fixed, or chosen by Hoeffding's
  bound so the (eps, gamma) guarantee holds; cost = shots.
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
configuration is a frozen dataclass, hashable, so it can be a static argument. RIPE's medians
are drawn by ``hybrid.ripe.sampler`` (``ae_median``; its names stay importable from here).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial
from statistics import NormalDist

import jax
import jax.numpy as jnp
import numpy as np

from hybrid.ripe.sampler import ae_median, ae_median_law, ae_samples, median_quantile

__all__ = [
    "AE_SUCCESS",
    "KINDS",
    "L2_CHEBYSHEV",
    "L2_SUCCESS",
    "NORMS",
    "Estimator",
    "ae_median",
    "ae_median_law",
    "ae_samples",
    "amplitude",
    "band",
    "estimate",
    "from_amplitude",
    "from_products",
    "hoeffding_shots",
    "l2_q",
    "matrix",
    "median_quantile",
    "ripe_eps_a",
    "ripe_m",
    "ripe_q",
]

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
