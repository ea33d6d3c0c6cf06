"""Neural tangent kernels in JAX: infinite-width FC kernels, empirical NTKs of finite networks.

Zlokapa, Neven and Lloyd (arXiv:2107.09200) train a wide, deep network through its NTK: the
trained infinite-width network predicts k(x*, X) K^-1 y, and a quantum linear-system solver
inverts a sparsified or diagonal approximation of K in O(log n). This module computes the
kernels; ``hybrid.ntk.sparsify`` builds the approximations and the four quantities of the paper,
``hybrid.ntk.qsvt`` solves a small sparsified system with QSVT, ``hybrid.ntk.study`` runs the
MNIST study, ``hybrid.ntk.classifier`` exports a trained classifier, and
``hybrid.deploy.ntk_numpy`` holds the recursion shared with the NumPy classifier.

- ``fc_kernel``: closed-form NNGP/NTK recursion (erf, ReLU; any depth, weight and bias
  variance) from the Gram matrix, jit-compiled once per block shape, depth a runtime value,
  evaluated in blocks so n = 8,192 fits in memory.
- ``fc_kernel_from_products``: the same from given inner products, e.g. quantum estimates
  (``estimated_gram``, through ``hybrid.ripe.estimators``), since the FC kernel sees the data only
  through them.
- ``empirical_ntk``: J(x1) J(x2)^T of any finite network, per-example gradients contracted in
  blocks; with ``Network`` (NTK parameterisation over ``hybrid.deploy.architecture`` layer stacks)
  it converges to the analytic kernel as width grows, and covers the CNN with pooling, whose
  infinite-width kernel (a 784 x 784 pixel covariance per pair of images through 96 layers in
  the reference) is out of reach on a CPU.

Kernels are computed in float64 inside ``jax.enable_x64`` (deep kernels differ from their fixed
point in late digits); results are NumPy float64 arrays.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from hybrid.deploy import architecture
from hybrid.deploy.ntk_numpy import (
    ACTIVATIONS,
    check_recipe,
    first_layer,
    hidden_layer,
    normalized_erf_weight_var,
    self_kernels,
    unit_rows,
)

__all__ = [
    "FCKernel",
    "Network",
    "coefficient_of_nonlinearity",
    "depth_for",
    "empirical_ntk",
    "estimated_gram",
    "fc_kernel",
    "fc_kernel_from_products",
    "fc_network",
    "k_thresh_from_separability",
    "min_separation",
    "myrtle_network",
    "normalized_erf_weight_var",
    "unit_rows",
]


@dataclass(frozen=True)
class FCKernel:
    """An infinite-width FC network: ``depth`` hidden layers, activation, weight/bias variances.

    The default is the reference's network: normalised erf (weight variance 1/E[erf^2]), no bias.
    """

    activation: str = "erf"
    depth: int = 1
    weight_var: float = field(default_factory=normalized_erf_weight_var)
    bias_var: float = 0.0

    def __post_init__(self):
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation {self.activation!r} unknown; use one of {ACTIVATIONS}")
        if self.depth < 0 or self.weight_var <= 0 or self.bias_var < 0:
            raise ValueError(f"need depth >= 0, weight_var > 0, bias_var >= 0: {self}")

    def recipe(self, input_dim: int) -> dict:
        """The JSON-able recipe that ``hybrid.deploy.ntk_numpy.fc_kernels`` evaluates."""
        return check_recipe(
            {
                "activation": self.activation,
                "depth": int(self.depth),
                "weight_var": float(self.weight_var),
                "bias_var": float(self.bias_var),
                "input_dim": int(input_dim),
            }
        )


def coefficient_of_nonlinearity(activation: str = "erf", weight_var: float | None = None) -> float:
    """mu = 1 - E[z s(z)]^2 for s = sqrt(weight_var) phi, z ~ N(0, 1) (closed form).

    E[z erf(z)] = 2 / sqrt(3 pi) and E[z relu(z)] = 1/2. The reference estimates the same number
    by Monte Carlo with 10^8 samples.
    """
    if weight_var is None:
        weight_var = normalized_erf_weight_var() if activation == "erf" else 2.0
    slope = {"erf": 2 / math.sqrt(3 * math.pi), "relu": 0.5}[activation]
    return 1 - weight_var * slope**2


def min_separation(x: np.ndarray, block: int = 2048) -> float:
    """delta = min over i != j of 1 - |<x_i, x_j>| for unit rows (blocked, never n x n at once)."""
    x = np.asarray(x, dtype=np.float64)
    best = np.inf
    for start in range(0, len(x), block):
        g = np.abs(x[start : start + block] @ x.T)
        rows = np.arange(start, min(start + block, len(x)))
        g[rows - start, rows] = -np.inf
        best = min(best, 1 - float(g.max()))
    return best


def depth_for(n: int, delta: float, mu: float, factor: float = 0.1) -> int:
    """Depth factor * L_conv with L_conv = 8 log(n / delta) / mu (the reference uses 0.1)."""
    return max(1, round(factor * 8 * math.log(n / delta) / mu))


# ---------------------------------------------------------------- analytic FC kernels (jit)


def _recursion(gram, sq1, sq2, depth, weight_var, bias_var, input_dim, activation):
    state = first_layer(gram, sq1, sq2, weight_var, bias_var, input_dim, jnp)

    def body(_, s):
        return hidden_layer(s, activation, weight_var, bias_var, jnp)

    state = jax.lax.fori_loop(0, depth, body, state)
    return state[2], state[3]


@partial(jax.jit, static_argnames=("activation",))
def _block_from_gram(gram, sq1, sq2, depth, weight_var, bias_var, input_dim, activation):
    return _recursion(gram, sq1, sq2, depth, weight_var, bias_var, input_dim, activation)


@jax.jit
def _products(x1, x2):
    """Gram matrix and squared norms of a tile (jit-compiled: XLA's eager and compiled dot can
    round differently, and the deep kernel amplifies the last digit of inner products near 1)."""
    return x1 @ x2.T, jnp.sum(x1 * x1, axis=1), jnp.sum(x2 * x2, axis=1)


def _pad(a: np.ndarray, rows: int, fill: float = 0.0) -> np.ndarray:
    if len(a) == rows:
        return a
    pad = np.full((rows - len(a), *a.shape[1:]), fill, dtype=a.dtype)
    return np.concatenate([a, pad])


def _blocks(n: int, block: int):
    size = min(block, n)
    return size, [(s, min(s + size, n)) for s in range(0, n, size)]


def _blocked_kernels(n1: int, n2: int, tile, cfg: FCKernel, input_dim: int, block: int):
    """(NNGP, NTK) of shape (n1, n2), one (block x block) tile at a time.

    ``tile(r0, r1, b1, c0, c1, b2)`` returns the tile's (gram, sq1, sq2) padded to (b1, b2): every
    tile has the same shape, so the recursion compiles once per call shape, and memory beyond
    the two results is O(block^2), not O(n1 n2).
    """
    b1, rows = _blocks(n1, block)
    b2, cols = _blocks(n2, block)
    nngp, ntk = np.empty((n1, n2)), np.empty((n1, n2))
    args = (cfg.depth, cfg.weight_var, cfg.bias_var, input_dim)
    with jax.enable_x64(True):
        for r0, r1 in rows:
            for c0, c1 in cols:
                g, s1, s2 = (jnp.asarray(a) for a in tile(r0, r1, b1, c0, c1, b2))
                k, t = _block_from_gram(g, s1, s2, *args, activation=cfg.activation)
                nngp[r0:r1, c0:c1] = np.asarray(k)[: r1 - r0, : c1 - c0]
                ntk[r0:r1, c0:c1] = np.asarray(t)[: r1 - r0, : c1 - c0]
    return nngp, ntk


def _exact_diagonal(kernels, sq, cfg: FCKernel, input_dim: int):
    """Overwrite the diagonals of (NNGP, NTK) with the self-pair recursion at c = 1."""
    diag = self_kernels(sq, cfg.recipe(input_dim), np)
    for matrix, d in zip(kernels, diag, strict=True):
        np.fill_diagonal(matrix, d)
    return kernels


def fc_kernel(x1, x2=None, cfg: FCKernel = FCKernel(), *, block: int = 2048):
    """(NNGP, NTK) matrices between the rows of x1 and x2 (x2 = x1 when omitted).

    Inputs are flattened, not normalised (call ``unit_rows`` first for the reference setup).
    The Gram matrix and norms are formed per tile (in JAX, float64) and go through the same
    blocked recursion as ``fc_kernel_from_products``; the n1 x n2 Gram is never held whole.
    With x2 omitted the diagonal (each input with itself) is computed at correlation exactly 1
    from the squared norms (``hybrid.deploy.ntk_numpy.self_kernels``), so it is exact at any depth;
    the general recursion's diagonal is rounding-dominated from depth ~100 (erf, chaotic).
    """
    same = x2 is None
    x1 = np.asarray(x1, dtype=np.float64).reshape(len(x1), -1)
    x2 = x1 if same else np.asarray(x2, dtype=np.float64).reshape(len(x2), -1)
    if x1.shape[1] != x2.shape[1]:
        raise ValueError(f"inputs of different dimension: {x1.shape[1]} and {x2.shape[1]}")

    def tile(r0, r1, b1, c0, c1, b2):
        return _products(jnp.asarray(_pad(x1[r0:r1], b1)), jnp.asarray(_pad(x2[c0:c1], b2)))

    kernels = _blocked_kernels(len(x1), len(x2), tile, cfg, x1.shape[1], block)
    if same:
        kernels = _exact_diagonal(kernels, np.sum(x1 * x1, axis=1), cfg, x1.shape[1])
    return kernels


def fc_kernel_from_products(
    gram, sq1, sq2, cfg: FCKernel, input_dim: int, *, block: int = 2048, self_pairs: bool = False
):
    """(NNGP, NTK) from inner products ``gram`` (n1, n2) and squared norms ``sq1``, ``sq2``.

    ``self_pairs=True``: ``gram`` is one set's Gram with itself (sq1 = sq2), and the diagonal is
    computed at correlation exactly 1 from ``sq1``, as ``fc_kernel`` does with x2 omitted.
    """
    gram = np.asarray(gram, dtype=np.float64)
    sq1, sq2 = np.asarray(sq1, np.float64), np.asarray(sq2, np.float64)
    if gram.shape != (len(sq1), len(sq2)):
        raise ValueError(f"gram {gram.shape} does not match norms ({len(sq1)}, {len(sq2)})")
    if self_pairs and not np.array_equal(sq1, sq2):
        raise ValueError("self_pairs=True needs one set: sq1 = sq2")

    def tile(r0, r1, b1, c0, c1, b2):
        g = _pad(_pad(gram[r0:r1, c0:c1], b1).T, b2).T
        return g, _pad(sq1[r0:r1], b1, 1.0), _pad(sq2[c0:c1], b2, 1.0)

    kernels = _blocked_kernels(len(sq1), len(sq2), tile, cfg, input_dim, block)
    return _exact_diagonal(kernels, sq1, cfg, input_dim) if self_pairs else kernels


def k_thresh_from_separability(cfg: FCKernel, input_dim: int, delta_hat: float = 1e-5) -> float:
    """|NTK| between two unit vectors with inner product 1 - delta_hat: the clipping scale.

    The reference normalises k* by this k_thresh for the FC network, with delta_hat below any
    separation the data set shows, so that no |k_i| / k_thresh exceeds 1 in practice.
    """
    g = np.array([[1.0 - delta_hat]])
    _, ntk = fc_kernel_from_products(g, np.ones(1), np.ones(1), cfg, input_dim)
    return float(abs(ntk[0, 0]))


def estimated_gram(x1, x2, estimator, key, *, symmetric: bool = False, block: int = 64):
    """Inner products <x1_i, x2_j> as an inner-product estimator returns them, and their cost.

    ``estimator`` is a ``hybrid.ripe.estimators.Estimator`` (exact, shots, ripe, gaussian).
    Norms are exact (the reference's inputs are unit vectors, stored with their norms). With
    ``symmetric=True`` (x2 = x1 or None, a training Gram) only the tiles on and above the
    diagonal are estimated, the strict upper triangle is mirrored, and the diagonal is the known
    squared norm, at zero cost. Rows go in blocks: RIPE samples a (rows, cols, Q, window) array
    per call.
    """
    from hybrid.ripe import estimators

    x1 = np.asarray(x1, dtype=np.float64).reshape(len(x1), -1)
    x2 = x1 if x2 is None else np.asarray(x2, dtype=np.float64).reshape(len(x2), -1)
    if symmetric and not (x1.shape == x2.shape and np.array_equal(x1, x2)):
        raise ValueError("symmetric=True needs x2 = x1 (or None)")
    sq1, sq2 = np.sum(x1 * x1, axis=1), np.sum(x2 * x2, axis=1)
    gram, cost = np.zeros((len(x1), len(x2))), np.zeros((len(x1), len(x2)))
    rows = [(r0, min(r0 + block, len(x1))) for r0 in range(0, len(x1), block)]
    # symmetric: tiles (i, j >= i) of the row blocks; else all of x2 per row block. One key each.
    cols = rows if symmetric else [(0, len(x2))]
    with jax.enable_x64(True):
        for i, (r0, r1) in enumerate(rows):
            for j, (c0, c1) in enumerate(cols):
                if symmetric and j < i:
                    continue
                s, c = estimators.from_products(
                    estimator,
                    jax.random.fold_in(key, i * len(cols) + j),
                    x1[r0:r1] @ x2[c0:c1].T,
                    sq1[r0:r1, None],
                    sq2[None, c0:c1],
                )
                gram[r0:r1, c0:c1], cost[r0:r1, c0:c1] = np.asarray(s), np.asarray(c)
    if symmetric:
        upper = np.triu(gram, 1)
        gram = upper + upper.T + np.diag(sq1)
        cost = np.triu(cost, 1)  # each pair is estimated once; the diagonal costs nothing
    return gram, cost


# ---------------------------------------------------------------- finite networks, empirical NTK


@dataclass(frozen=True)
class Network:
    """A ``hybrid.deploy.architecture`` layer stack in NTK parameterisation, with one scalar output.

    Parameters are standard normal; a dense or conv layer multiplies its weights by
    sqrt(weight_var / fan_in) and its bias by sqrt(bias_var) in the forward pass, so that the
    empirical NTK converges to the infinite-width one (Jacot et al.) as the width grows.
    ``standard_params`` folds the scales in, giving weights ``architecture.apply`` (and the
    deployed NumPy classifier) runs directly.
    """

    layers: tuple
    input_shape: tuple
    weight_var: float = 2.0
    bias_var: float = 0.0

    def init(self, key) -> list:
        shapes = architecture.param_shapes(list(self.layers), self.input_shape)
        keys = jax.random.split(key, len(shapes))
        return [jax.random.normal(k, s) for k, s in zip(keys, shapes, strict=True)]

    def standard_params(self, params) -> list:
        """Parameters with the NTK scales folded in (standard parameterisation)."""
        out = []
        for w, b in zip(params[::2], params[1::2], strict=True):
            fan_in = math.prod(w.shape[:-1])
            out += [w * math.sqrt(self.weight_var / fan_in), b * math.sqrt(self.bias_var)]
        return out

    def apply(self, params, x):
        """Outputs f(x), shape (N,)."""
        out = architecture.apply(list(self.layers), self.standard_params(params), x, xp=jnp)
        return out.reshape(len(x))

    @property
    def n_params(self) -> int:
        return architecture.param_count(list(self.layers), self.input_shape)


def fc_network(input_dim: int, width: int, depth: int, cfg: FCKernel = FCKernel()) -> Network:
    """The finite FC network whose infinite-width limit is ``FCKernel`` with ``depth`` layers."""
    layers = architecture.mlp([width] * depth, 1, cfg.activation)
    return Network(tuple(layers), (input_dim,), cfg.weight_var, cfg.bias_var)


def myrtle_network(
    stage_depth: int = 1, width: int = 32, hidden: int = 64, input_shape=(28, 28, 1)
) -> Network:
    """The reference's Myrtle-like CNN, finite: three stages of ``stage_depth`` 3x3 SAME convs
    with ReLU, each followed by 2x2 average pooling, one more pooling, then dense(hidden), erf,
    dense(1); weight variance 2, no bias (as in the reference's neural-tangents stack)."""
    layers: list[dict] = []
    for stage in range(3):
        layers += [
            {"type": "conv", "filters": width, "kernel": 3, "padding": "same"},
            {"type": "relu"},
        ] * stage_depth
        layers.append({"type": "avgpool", "size": 2})
        if stage == 2:
            layers.append({"type": "avgpool", "size": 2})
    layers += [
        {"type": "flatten"},
        {"type": "dense", "units": hidden},
        {"type": "erf"},
        {"type": "dense", "units": 1},
    ]
    return Network(tuple(layers), tuple(input_shape), 2.0, 0.0)


# Compiled per-example gradient functions, one per (network, parameter shapes): repeated calls
# (one per trial or benchmark repeat) reuse the compilation instead of tracing a new closure.
_JACOBIANS: dict = {}


def _jacobian_fn(net: Network, params):
    flat, unravel = ravel_pytree(params)
    leaves = jax.tree_util.tree_leaves(params)
    key = (repr(net), tuple((p.shape, str(p.dtype)) for p in leaves))
    if key not in _JACOBIANS:

        def single(p, xi):
            return net.apply(unravel(p), xi[None])[0]

        _JACOBIANS[key] = jax.jit(jax.vmap(jax.grad(single), in_axes=(None, 0)))
    return flat, _JACOBIANS[key]


def empirical_ntk(
    net: Network, params, x1, x2=None, *, block: int = 128, max_bytes: float = 2e9
) -> np.ndarray:
    """Theta(x1, x2) = J(x1) J(x2)^T of a finite network at ``params``, in blocks.

    Per-example gradients (vmap of grad, one compiled shape) of ``block`` inputs at a time; the
    Jacobian of x2 is kept when it fits in ``max_bytes``, else recomputed per block of x1.
    Computed in float64 like the analytic kernels, so the two compare to rounding.
    """
    same = x2 is None
    with jax.enable_x64(True):
        params = jax.tree_util.tree_map(lambda p: jnp.asarray(p, jnp.float64), params)
        flat, jac = _jacobian_fn(net, params)
        x1 = np.asarray(x1, dtype=np.float64)
        x2 = x1 if same else np.asarray(x2, dtype=np.float64)
        b = min(block, max(len(x1), len(x2)))

        def jacobians(x):
            for start in range(0, len(x), b):
                stop = min(start + b, len(x))
                yield start, stop, jac(flat, jnp.asarray(_pad(x[start:stop], b)))[: stop - start]

        keep = len(x2) * flat.size * 8 <= max_bytes
        cached = list(jacobians(x2)) if keep else None
        out = np.empty((len(x1), len(x2)))
        for r0, r1, ja in cached if (same and keep) else jacobians(x1):
            for c0, c1, jb in cached if keep else jacobians(x2):
                out[r0:r1, c0:c1] = np.asarray(ja @ jb.T)
    return out
