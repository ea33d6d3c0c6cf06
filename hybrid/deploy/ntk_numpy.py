"""Infinite-width kernels of fully connected networks, written once for NumPy and JAX.

The NNGP and NTK of a fully connected network depend on the data only through inner products,
so one recursion over (Gram block, squared norms) serves three callers: the jit-compiled JAX
kernels of ``hybrid.ntk``, the kernel built from quantum inner-product estimates, and the
deployed NumPy classifier (``kernel_scores``, the evaluator of run kind ``"kernel"``).

Conventions are those of neural-tangents (Novak et al., arXiv:1912.02803), which the reference
code of Zlokapa, Neven and Lloyd (arXiv:2107.09200) used: NTK parameterisation, the input
covariance is x.x'/d, every dense layer maps (nngp, ntk) to
(w nngp + b, w ntk + w nngp + b) with w, b the weight and bias variances, and an activation maps
nngp -> E[phi(u) phi(v)], ntk -> ntk E[phi'(u) phi'(v)] over the Gaussian (u, v) with that
covariance. ``depth`` counts hidden layers: depth + 1 dense layers and depth activations.

This module imports numpy only (``xp`` is numpy or jax.numpy, passed in by the caller).
"""

from __future__ import annotations

import math

import numpy as np

ACTIVATIONS = ("erf", "relu")
# E[erf(z)^2] for z ~ N(0, 1): (2/pi) arcsin(2/3). Dividing the weight variance by it keeps the
# pre-activation variance at 1 through every erf layer (the reference's "normalised erf").
ERF_SECOND_MOMENT = 2 / math.pi * math.asin(2 / 3)
RECIPE_KEYS = ("activation", "depth", "weight_var", "bias_var", "input_dim")
_TINY = 1e-30


def normalized_erf_weight_var() -> float:
    """Weight variance 1 / E[erf(z)^2] that makes q = 1 the fixed point of the erf recursion."""
    return 1 / ERF_SECOND_MOMENT


def check_recipe(recipe: dict) -> dict:
    """Raise ValueError naming the problem if ``recipe`` is not an FC kernel recipe."""
    missing = [k for k in RECIPE_KEYS if k not in recipe]
    if missing:
        raise ValueError(f"kernel recipe is missing {missing}; it needs {list(RECIPE_KEYS)}")
    if recipe["activation"] not in ACTIVATIONS:
        raise ValueError(f"activation {recipe['activation']!r} unknown; use one of {ACTIVATIONS}")
    if int(recipe["depth"]) < 0 or int(recipe["input_dim"]) < 1:
        raise ValueError("depth must be >= 0 and input_dim >= 1")
    if not recipe["weight_var"] > 0 or recipe["bias_var"] < 0:
        raise ValueError("weight_var must be > 0 and bias_var >= 0")
    return recipe


def _erf_self(q, xp):
    """erf at correlation 1 (u = v, variance q): E[erf(u)^2] = (2/pi) asin(2q / (1+2q)) and
    E[erf'(u)^2] = (4/pi) / sqrt(1 + 4q), the c -> 1 limits of ``_erf_layer``."""
    return (2 / math.pi) * xp.arcsin(2 * q / (1 + 2 * q)), (4 / math.pi) / xp.sqrt(1 + 4 * q)


def _erf_layer(q1, q2, k12, xp):
    """erf: E[erf u erf v] = (2/pi) asin(2 k / sqrt((1+2q1)(1+2q2))) and its derivative kernel."""
    a, b = 1 + 2 * q1, 1 + 2 * q2
    ab = a[:, None] * b[None, :]
    nngp = (2 / math.pi) * xp.arcsin(xp.clip(2 * k12 / xp.sqrt(ab), -1.0, 1.0))
    dot = (4 / math.pi) / xp.sqrt(xp.maximum(ab - 4 * k12**2, _TINY))
    return nngp, dot, _erf_self(q1, xp)[0], _erf_self(q2, xp)[0]


def _relu_self(q, xp):
    """ReLU at correlation 1: E[relu(u)^2] = q/2 and E[relu'(u)^2] = 1/2."""
    return q / 2, 0.5 + 0 * q


def _relu_layer(q1, q2, k12, xp):
    """ReLU arc-cosine kernels (Cho and Saul): angle theta between the two pre-activations."""
    norm = xp.sqrt(xp.maximum(q1[:, None] * q2[None, :], _TINY))
    cos = xp.clip(k12 / norm, -1.0, 1.0)
    theta = xp.arccos(cos)
    nngp = norm / (2 * math.pi) * (xp.sqrt(1 - cos**2) + (math.pi - theta) * cos)
    dot = (math.pi - theta) / (2 * math.pi)
    return nngp, dot, q1 / 2, q2 / 2


_LAYERS = {"erf": _erf_layer, "relu": _relu_layer}
_SELF = {"erf": _erf_self, "relu": _relu_self}


def hidden_layer(state, activation: str, weight_var, bias_var, xp):
    """One activation followed by one dense layer, on state (q1, q2, nngp, ntk)."""
    q1, q2, k12, ntk = state
    nngp, dot, p1, p2 = _LAYERS[activation](q1, q2, k12, xp)
    k_next = weight_var * nngp + bias_var
    ntk_next = weight_var * ntk * dot + k_next
    return weight_var * p1 + bias_var, weight_var * p2 + bias_var, k_next, ntk_next


def first_layer(gram, sq1, sq2, weight_var, bias_var, input_dim, xp):
    """The input dense layer: covariance w x.x'/d + b; its NTK equals its NNGP."""
    k = weight_var * gram / input_dim + bias_var
    q1 = weight_var * sq1 / input_dim + bias_var
    q2 = weight_var * sq2 / input_dim + bias_var
    return q1, q2, k, k


def fc_kernels(gram, sq1, sq2, recipe: dict, xp=np):
    """(NNGP, NTK) of the FC network in ``recipe`` between two sets of inputs.

    ``gram[i, j] = <x1_i, x2_j>``, ``sq1 = |x1_i|^2``, ``sq2 = |x2_j|^2``. (``hybrid.ntk`` drives
    the same two layer maps with ``jax.lax.fori_loop`` so that depth is a runtime value.)
    """
    check_recipe(recipe)
    w, b = recipe["weight_var"], recipe["bias_var"]
    state = first_layer(gram, sq1, sq2, w, b, recipe["input_dim"], xp)
    for _ in range(int(recipe["depth"])):
        state = hidden_layer(state, recipe["activation"], w, b, xp)
    return state[2], state[3]


def self_kernels(sq, recipe: dict, xp=np):
    """(NNGP, NTK) of each input with itself, from its squared norm ``sq``: the recursion at
    correlation exactly 1, k = q at every layer, theta <- w theta E[phi'(u)^2] + q.

    The general recursion cannot give these at depth: the erf layer map at the reference's
    weight variance is chaotic (chi = w E[phi'^2] = 1.2257 > 1 at q = 1), c = 1 is an unstable
    fixed point, and the last-bit difference between x.x and |x|^2 (or the rounding of
    arccos near 1 for ReLU) grows layer by layer. Written for the self-pairs only.
    """
    check_recipe(recipe)
    w, b = recipe["weight_var"], recipe["bias_var"]
    q = w * xp.asarray(sq) / recipe["input_dim"] + b
    theta = q
    for _ in range(int(recipe["depth"])):
        nngp, dot = _SELF[recipe["activation"]](q, xp)
        q_next = w * nngp + b
        theta, q = w * theta * dot + q_next, q_next
    return q, theta


def unit_rows(x: np.ndarray) -> np.ndarray:
    """Flatten and scale every example to the unit sphere (the reference's normalisation)."""
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    norms = np.sqrt(np.sum(x * x, axis=1, keepdims=True))
    return x / np.where(norms > 0, norms, 1.0)


def kernel_scores(spec: dict, arrays: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """Evaluator of run kind ``"kernel"``: one score per input, > 0 means class index 1.

    The run stores ``x_train`` (preprocessed, unit-normalised training inputs) and ``alpha``
    (coefficients); ``spec["kernel"]`` holds the recipe, ``clip`` (k_thresh or None: kernel
    values are divided by it and clipped to [-1, 1], as the sparsified and diagonal NTK
    classifiers of the reference use them) and ``threshold`` (subtracted from k(x, X) alpha).
    """
    kernel = spec["kernel"]
    recipe = check_recipe(kernel["recipe"])
    x_train, alpha = np.asarray(arrays["x_train"], np.float64), np.asarray(arrays["alpha"])
    x = unit_rows(x) if kernel.get("unit_normalize", True) else x.reshape(len(x), -1)
    sq_train = np.sum(x_train * x_train, axis=1)
    scores = []
    for start in range(0, len(x), 256):  # bounded memory: 256 x n_train kernel blocks
        xb = x[start : start + 256]
        _, k = fc_kernels(xb @ x_train.T, np.sum(xb * xb, axis=1), sq_train, recipe)
        if kernel.get("clip") is not None:
            k = np.clip(k / kernel["clip"], -1.0, 1.0)
        scores.append(k @ alpha)
    return np.concatenate(scores) - kernel.get("threshold", 0.0)
