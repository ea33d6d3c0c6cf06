"""Network stacks described as data, run by the same code under NumPy and JAX.

A network is a list of layer dicts (see ``LAYER_TYPES``); every function takes ``xp`` (``numpy`` or
``jax.numpy``), so the exported NumPy classifier runs exactly the computation that was trained.
Images are NHWC. Imports numpy only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

Layer = dict[str, Any]
ACTIVATIONS = ("relu", "tanh", "sigmoid", "erf")
LAYER_TYPES = ("dense", "conv", "maxpool", "avgpool", "flatten", *ACTIVATIONS)

# The small CNN that Quantum-Train compresses on MNIST (Liu et al., arXiv:2402.16465, reference
# code): conv 5x5 (8) -> maxpool 2 -> conv 5x5 (12) -> maxpool 2 -> dense 20 -> dense 10, with
# max-pooling as its only nonlinearity; M = 6,690 parameters, so n = 13 qubits.
QT_MNIST_CNN: list[Layer] = [
    {"type": "conv", "filters": 8, "kernel": 5},
    {"type": "maxpool", "size": 2},
    {"type": "conv", "filters": 12, "kernel": 5},
    {"type": "maxpool", "size": 2},
    {"type": "flatten"},
    {"type": "dense", "units": 20},
    {"type": "dense", "units": 10},
]


def mlp(hidden: Sequence[int], outputs: int, activation: str = "relu") -> list[Layer]:
    """A dense stack: ``hidden`` widths with ``activation`` between, then ``outputs`` logits."""
    layers: list[Layer] = []
    for units in hidden:
        layers += [{"type": "dense", "units": int(units)}, {"type": activation}]
    return [*layers, {"type": "dense", "units": int(outputs)}]


def _check(layer: Layer) -> str:
    kind = layer.get("type") if isinstance(layer, dict) else None
    if kind not in LAYER_TYPES:
        raise ValueError(f"unknown layer {layer!r}; layer types are {LAYER_TYPES}")
    for key in ("units", "filters", "kernel", "size"):
        value = layer.get(key, 1)
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(f"layer {layer!r}: {key} must be an integer >= 1, got {value!r}")
    return kind


def _conv_out(size: int, kernel: int, padding: str) -> int:
    if padding not in ("valid", "same"):
        raise ValueError(f"conv padding must be 'valid' or 'same', got {padding!r}")
    return size if padding == "same" else size - kernel + 1


def param_shapes(layers: Sequence[Layer], input_shape: Sequence[int]) -> list[tuple[int, ...]]:
    """Shapes of (W, b) for each dense or conv layer, in order; checks the stack fits the input."""
    shape, shapes = tuple(int(s) for s in input_shape), []
    for layer in layers:
        kind = _check(layer)
        if kind == "dense":
            fan_in = math.prod(shape)
            shapes += [(fan_in, layer["units"]), (layer["units"],)]
            shape = (layer["units"],)
        elif kind == "conv":
            if len(shape) != 3:
                raise ValueError(f"conv needs (H, W, C) input, got {shape}")
            k, pad = layer["kernel"], layer.get("padding", "valid")
            h, w = _conv_out(shape[0], k, pad), _conv_out(shape[1], k, pad)
            if h < 1 or w < 1:
                raise ValueError(f"a {k}x{k} conv does not fit input {shape}")
            shapes += [(k, k, shape[2], layer["filters"]), (layer["filters"],)]
            shape = (h, w, layer["filters"])
        elif kind in ("maxpool", "avgpool"):
            if len(shape) != 3 or shape[0] < layer["size"] or shape[1] < layer["size"]:
                raise ValueError(f"{kind} of size {layer['size']} does not fit input {shape}")
            shape = (shape[0] // layer["size"], shape[1] // layer["size"], shape[2])
        elif kind == "flatten":
            shape = (math.prod(shape),)
    return shapes


def output_shape(layers: Sequence[Layer], input_shape: Sequence[int]) -> tuple[int, ...]:
    """Shape of one example's output, found by running a zero input through the stack."""
    params = [np.zeros(s) for s in param_shapes(layers, input_shape)]
    return apply(layers, params, np.zeros((1, *input_shape)))[0].shape


def param_count(layers: Sequence[Layer], input_shape: Sequence[int]) -> int:
    """M, the number of weights Quantum-Train must generate."""
    return sum(math.prod(s) for s in param_shapes(layers, input_shape))


def unflatten(flat, layers: Sequence[Layer], input_shape: Sequence[int]) -> list:
    """Cut a flat weight vector (NumPy or JAX) into the per-layer arrays, in order."""
    shapes = param_shapes(layers, input_shape)
    total = sum(math.prod(s) for s in shapes)
    if flat.shape[0] < total:
        raise ValueError(f"need {total} weights, got {flat.shape[0]}")
    params, start = [], 0
    for shape in shapes:
        size = math.prod(shape)
        params.append(flat[start : start + size].reshape(shape))
        start += size
    return params


def init_params(rng: np.random.Generator, layers: Sequence[Layer], input_shape) -> list:
    """LeCun-uniform weights and biases (bound 1/sqrt(fan_in)), as PyTorch initialises them."""
    shapes = param_shapes(layers, input_shape)
    params = []
    for w_shape, b_shape in zip(shapes[::2], shapes[1::2], strict=True):
        bound = 1 / math.sqrt(math.prod(w_shape[:-1]))
        params += [rng.uniform(-bound, bound, w_shape), rng.uniform(-bound, bound, b_shape)]
    return params


def _erf(x, xp):
    if xp is np:
        return np.vectorize(math.erf, otypes=[float])(x)
    from jax.scipy.special import erf

    return erf(x)


def _activation(kind: str, x, xp):
    if kind == "relu":
        return xp.maximum(x, 0)
    if kind == "tanh":
        return xp.tanh(x)
    if kind == "sigmoid":
        return 1 / (1 + xp.exp(-x))
    return _erf(x, xp)


def _conv(x, kernel, bias, padding: str, xp):
    """Convolution as one matmul over k*k shifted views (im2col), identical in NumPy and JAX."""
    k = kernel.shape[0]
    if padding == "same":
        lo = (k - 1) // 2
        x = xp.pad(x, ((0, 0), (lo, k - 1 - lo), (lo, k - 1 - lo), (0, 0)))
    h, w = x.shape[1] - k + 1, x.shape[2] - k + 1
    patches = xp.concatenate(
        [x[:, i : i + h, j : j + w, :] for i in range(k) for j in range(k)], axis=-1
    )
    return patches @ kernel.reshape(-1, kernel.shape[-1]) + bias


def _pool(x, size: int, reduce):
    n, h, w, c = x.shape
    h, w = h // size, w // size
    x = x[:, : h * size, : w * size, :].reshape(n, h, size, w, size, c)
    return reduce(reduce(x, axis=4), axis=2)


def apply(layers: Sequence[Layer], params: Sequence, x, xp=np):
    """Run the stack on a batch ``x``; returns the last layer's outputs (logits)."""
    params = iter(params)
    for layer in layers:
        kind = _check(layer)
        if kind == "dense":
            w, b = next(params), next(params)
            x = x.reshape(x.shape[0], -1) @ w + b
        elif kind == "conv":
            w, b = next(params), next(params)
            x = _conv(x, w, b, layer.get("padding", "valid"), xp)
        elif kind == "maxpool":
            x = _pool(x, layer["size"], xp.max)
        elif kind == "avgpool":
            x = _pool(x, layer["size"], xp.mean)
        elif kind == "flatten":
            x = x.reshape(x.shape[0], -1)
        else:
            x = _activation(kind, x, xp)
    return x


def softmax(z, xp=np):
    """Row-wise softmax, shifted by the row maximum so large logits cannot overflow."""
    z = z - xp.max(z, axis=-1, keepdims=True)
    e = xp.exp(z)
    return e / xp.sum(e, axis=-1, keepdims=True)


def parse(text: str) -> list[Layer]:
    """Read a stack written as ``conv:8:5,maxpool:2,flatten,dense:20,relu,dense:10``.

    ``conv:F:K[:same]`` gives F filters of size KxK, ``maxpool:S`` / ``avgpool:S`` pool SxS,
    ``dense:U`` has U units; activations and ``flatten`` take no argument.
    """
    layers: list[Layer] = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, *args = item.split(":")
        try:
            if name == "dense":
                (units,) = args
                layers.append({"type": "dense", "units": int(units)})
            elif name == "conv":
                filters, kernel, *padding = args
                layer = {"type": "conv", "filters": int(filters), "kernel": int(kernel)}
                layers.append(layer | ({"padding": padding[0]} if padding else {}))
            elif name in ("maxpool", "avgpool"):
                (size,) = args
                layers.append({"type": name, "size": int(size)})
            elif name in ("flatten", *ACTIVATIONS) and not args:
                layers.append({"type": name})
            else:
                raise ValueError
        except ValueError:
            raise ValueError(
                f"cannot read layer {item!r}; write e.g. 'conv:8:5,maxpool:2,flatten,dense:10' "
                f"with layer types {LAYER_TYPES}"
            ) from None
    if not layers:
        raise ValueError("the layer stack is empty")
    for layer in layers:
        _check(layer)  # dense:0 or dense:-4 named here, not as NumPy's shape error later
    return layers
