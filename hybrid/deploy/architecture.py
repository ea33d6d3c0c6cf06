"""Network stacks described as data, run by the same code under NumPy and JAX.

A network is a list of layer dicts (see ``LAYER_TYPES``); every function takes ``xp`` (``numpy`` or
``jax.numpy``), so the exported NumPy classifier runs exactly the computation that was trained.
Images are NHWC. Imports numpy only.

Every layer computes its inference form: ``dropout`` is the identity (training-time dropout is not
offered), ``batchnorm`` normalises with stored running statistics, never with batch statistics.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

Layer = dict[str, Any]
Shape = tuple[int, ...]
ACTIVATIONS = ("relu", "tanh", "sigmoid", "erf", "gelu")
LAYER_TYPES = (
    "dense",
    "conv",
    "maxpool",
    "avgpool",
    "globalavgpool",
    "flatten",
    "dropout",
    "layernorm",
    "batchnorm",
    "residual",
    *ACTIVATIONS,
)
# Flax's defaults (nnx.LayerNorm, nnx.BatchNorm), so Flax-trained statistics carry over unchanged.
NORM_EPS = {"layernorm": 1e-6, "batchnorm": 1e-5}
# Names of each parameterised layer's arrays, in the order they sit in the weight vector.
PARAM_ROLES = {
    "dense": ("kernel", "bias"),
    "conv": ("kernel", "bias"),
    "layernorm": ("scale", "bias"),
    "batchnorm": ("scale", "bias", "mean", "var"),
}

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


def _conv_bn(filters: int) -> list[Layer]:
    return [
        {"type": "conv", "filters": filters, "kernel": 3, "padding": "same"},
        {"type": "batchnorm"},
    ]


def resnet(width: int = 16, outputs: int = 10, stages: int = 3) -> list[Layer]:
    """A small ResNet-style CNN: per stage conv-BN-ReLU then one residual block of two 3x3 convs,
    max-pooling between stages and doubling the width, then global average pooling and a dense
    head. Width 16, three stages on 28x28x1 inputs: 122,282 weights."""
    layers: list[Layer] = []
    for stage in range(stages):
        filters = width * 2**stage
        if stage:
            layers.append({"type": "maxpool", "size": 2})
        block = [*_conv_bn(filters), {"type": "relu"}, *_conv_bn(filters)]
        layers += [*_conv_bn(filters), {"type": "relu"}]
        layers += [{"type": "residual", "layers": block}, {"type": "relu"}]
    return [*layers, {"type": "globalavgpool"}, {"type": "dense", "units": int(outputs)}]


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


def _eps(layer: Layer) -> float:
    eps = float(layer.get("eps", NORM_EPS[layer["type"]]))
    if not eps > 0:
        raise ValueError(f"{layer['type']} eps must be positive, got {eps}")
    return eps


def _leaves(layers: Sequence[Layer], shape: Shape) -> tuple[list[tuple[Layer, list[Shape]]], Shape]:
    """Each parameterised layer with its array shapes (residual blocks unrolled in order), and the
    output shape; one walk, so shapes, counts, names and initialisation cannot disagree."""
    leaves: list[tuple[Layer, list[Shape]]] = []
    for layer in layers:
        kind = _check(layer)
        if kind == "residual":
            inner, out = _leaves(_block(layer), shape)
            if out != shape:
                raise ValueError(f"a residual block maps {shape} to {out}; it must keep the shape")
            leaves += inner
            continue
        shapes, shape = _layer_shapes(layer, kind, shape)
        if shapes:
            leaves.append((layer, shapes))
    return leaves, shape


def _block(layer: Layer) -> Sequence[Layer]:
    block = layer.get("layers")
    if not isinstance(block, list | tuple) or not block:
        raise ValueError(f"a residual layer needs a non-empty 'layers' list, got {layer!r}")
    return block


def _layer_shapes(layer: Layer, kind: str, shape: Shape) -> tuple[list[Shape], Shape]:
    """(array shapes, output shape) of one layer that is not a residual block."""
    if kind == "dense":
        fan_in = math.prod(shape)
        return [(fan_in, layer["units"]), (layer["units"],)], (layer["units"],)
    if kind == "conv":
        if len(shape) != 3:
            raise ValueError(f"conv needs (H, W, C) input, got {shape}")
        k, pad = layer["kernel"], layer.get("padding", "valid")
        h, w = _conv_out(shape[0], k, pad), _conv_out(shape[1], k, pad)
        if h < 1 or w < 1:
            raise ValueError(f"a {k}x{k} conv does not fit input {shape}")
        return [(k, k, shape[2], layer["filters"]), (layer["filters"],)], (h, w, layer["filters"])
    if kind in ("maxpool", "avgpool"):
        if len(shape) != 3 or shape[0] < layer["size"] or shape[1] < layer["size"]:
            raise ValueError(f"{kind} of size {layer['size']} does not fit input {shape}")
        return [], (shape[0] // layer["size"], shape[1] // layer["size"], shape[2])
    if kind == "globalavgpool":
        if len(shape) != 3:
            raise ValueError(f"globalavgpool needs (H, W, C) input, got {shape}")
        return [], (shape[2],)
    if kind == "flatten":
        return [], (math.prod(shape),)
    if kind in ("layernorm", "batchnorm"):
        _eps(layer)
        return [(shape[-1],)] * len(PARAM_ROLES[kind]), shape
    if kind == "dropout" and not 0 <= layer.get("rate", 0) < 1:
        raise ValueError(f"dropout rate must be in [0, 1), got {layer['rate']!r}")
    return [], shape


def param_shapes(layers: Sequence[Layer], input_shape: Sequence[int]) -> list[Shape]:
    """Shapes of every weight array, in order (dense/conv: W, b; layernorm: scale, bias;
    batchnorm: scale, bias, mean, var); checks the stack fits the input."""
    leaves, _ = _leaves(layers, tuple(int(s) for s in input_shape))
    return [s for _, shapes in leaves for s in shapes]


def param_names(layers: Sequence[Layer], input_shape: Sequence[int]) -> list[str]:
    """One name per array of ``param_shapes``, e.g. ``3.batchnorm.var``: the parameterised layer's
    index among those with weights, its type and the array's role (``PARAM_ROLES``)."""
    leaves, _ = _leaves(layers, tuple(int(s) for s in input_shape))
    return [
        f"{i}.{layer['type']}.{role}"
        for i, (layer, _) in enumerate(leaves)
        for role in PARAM_ROLES[layer["type"]]
    ]


def output_shape(layers: Sequence[Layer], input_shape: Sequence[int]) -> Shape:
    """Shape of one example's output."""
    return _leaves(layers, tuple(int(s) for s in input_shape))[1]


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
    """LeCun-uniform weights and biases (bound 1/sqrt(fan_in)), as PyTorch initialises them;
    norm layers start as the identity (scale 1, bias 0, running mean 0, running var 1)."""
    leaves, _ = _leaves(layers, tuple(int(s) for s in input_shape))
    params = []
    for layer, shapes in leaves:
        if layer["type"] in ("dense", "conv"):
            w_shape, b_shape = shapes
            bound = 1 / math.sqrt(math.prod(w_shape[:-1]))
            params += [rng.uniform(-bound, bound, w_shape), rng.uniform(-bound, bound, b_shape)]
        else:
            identity = {"scale": 1.0, "bias": 0.0, "mean": 0.0, "var": 1.0}
            roles = PARAM_ROLES[layer["type"]]
            params += [np.full(s, identity[r]) for r, s in zip(roles, shapes, strict=True)]
    return params


def _erf(x, xp):
    if xp is np:
        return np.vectorize(math.erf, otypes=[float])(x)
    from jax.scipy.special import erf

    return erf(x)


def _gelu(x, approximate: bool, xp):
    """GELU; exact (erf) by default, as ``jax.nn.gelu(approximate=False)``. The tanh form is
    ``jax.nn.gelu``'s and Flax's default, offered so their nets carry over."""
    if approximate:
        return 0.5 * x * (1 + xp.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))
    return 0.5 * x * (1 + _erf(x / math.sqrt(2), xp))


def _activation(layer: Layer, x, xp):
    kind = layer["type"]
    if kind == "relu":
        return xp.maximum(x, 0)
    if kind == "tanh":
        return xp.tanh(x)
    if kind == "sigmoid":
        return 1 / (1 + xp.exp(-x))
    if kind == "gelu":
        return _gelu(x, bool(layer.get("approximate", False)), xp)
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


def _layernorm(x, scale, bias, eps: float, xp):
    """Normalise over the last axis with this example's own statistics (two-pass variance)."""
    mean = xp.mean(x, axis=-1, keepdims=True)
    var = xp.mean((x - mean) ** 2, axis=-1, keepdims=True)
    return (x - mean) / xp.sqrt(var + eps) * scale + bias


def _batchnorm(x, scale, bias, mean, var, eps: float, xp):
    """Inference-form batch norm over the last axis. The running statistics are weights like any
    other: stored in the weight vector, generated or trained as the rest, never updated from
    batches. ``|var|`` equals any real running variance and keeps a generated one usable."""
    return (x - mean) / xp.sqrt(xp.abs(var) + eps) * scale + bias


def _forward(layer: Layer, params: Iterator, x, xp):
    """One layer on a batch, taking its arrays from the shared ``params`` iterator."""
    kind = _check(layer)
    if kind == "dense":
        w, b = next(params), next(params)
        return x.reshape(x.shape[0], -1) @ w + b
    if kind == "conv":
        w, b = next(params), next(params)
        return _conv(x, w, b, layer.get("padding", "valid"), xp)
    if kind == "maxpool":
        return _pool(x, layer["size"], xp.max)
    if kind == "avgpool":
        return _pool(x, layer["size"], xp.mean)
    if kind == "globalavgpool":
        return xp.mean(x, axis=(1, 2))
    if kind == "flatten":
        return x.reshape(x.shape[0], -1)
    if kind == "dropout":
        return x
    if kind == "layernorm":
        return _layernorm(x, next(params), next(params), _eps(layer), xp)
    if kind == "batchnorm":
        stats = [next(params) for _ in range(4)]
        return _batchnorm(x, *stats, _eps(layer), xp)
    if kind == "residual":
        return x + _run(_block(layer), params, x, xp)
    return _activation(layer, x, xp)


def _run(layers: Sequence[Layer], params: Iterator, x, xp):
    for layer in layers:
        x = _forward(layer, params, x, xp)
    return x


def apply(layers: Sequence[Layer], params: Sequence, x, xp=np):
    """Run the stack on a batch ``x``; returns the last layer's outputs (logits)."""
    return _run(layers, iter(params), x, xp)


def softmax(z, xp=np):
    """Row-wise softmax, shifted by the row maximum so large logits cannot overflow."""
    z = z - xp.max(z, axis=-1, keepdims=True)
    e = xp.exp(z)
    return e / xp.sum(e, axis=-1, keepdims=True)


def _split(text: str) -> list[str]:
    """Split at the commas outside parentheses, so residual blocks stay whole."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            raise ValueError(f"unbalanced ')' in {text!r}")
        if char == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    if depth:
        raise ValueError(f"unbalanced '(' in {text!r}")
    return [p.strip() for p in [*parts, text[start:]] if p.strip()]


def _parse_one(item: str) -> Layer:
    if item.startswith("residual(") and item.endswith(")"):
        return {"type": "residual", "layers": parse(item[len("residual(") : -1])}
    name, *args = item.split(":")
    if name == "dense":
        (units,) = args
        return {"type": "dense", "units": int(units)}
    if name == "conv":
        filters, kernel, *padding = args
        layer = {"type": "conv", "filters": int(filters), "kernel": int(kernel)}
        return layer | ({"padding": padding[0]} if padding else {})
    if name in ("maxpool", "avgpool"):
        (size,) = args
        return {"type": name, "size": int(size)}
    if name == "dropout":
        (rate,) = args
        return {"type": "dropout", "rate": float(rate)}
    if name in NORM_EPS and len(args) <= 1:
        return {"type": name} | ({"eps": float(args[0])} if args else {})
    if name == "gelu" and args in ([], ["tanh"]):
        return {"type": "gelu"} | ({"approximate": True} if args else {})
    if name in ("flatten", "globalavgpool", *ACTIVATIONS) and not args:
        return {"type": name}
    raise ValueError


def parse(text: str) -> list[Layer]:
    """Read a stack written as ``conv:8:5,maxpool:2,flatten,dense:20,relu,dense:10``.

    ``conv:F:K[:same]`` gives F filters of size KxK, ``maxpool:S`` / ``avgpool:S`` pool SxS,
    ``dense:U`` has U units, ``dropout:R`` drops rate R (identity at inference), ``layernorm[:EPS]``
    and ``batchnorm[:EPS]`` normalise the last axis, ``gelu[:tanh]`` is exact unless ``tanh``,
    ``residual(...)`` adds a sub-stack's output to its input; activations, ``flatten`` and
    ``globalavgpool`` take no argument. ``to_text`` writes a stack back in this form.
    """
    layers: list[Layer] = []
    for item in _split(text):
        try:
            layers.append(_parse_one(item))
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


def _text_one(layer: Layer) -> str:
    kind = _check(layer)
    if kind == "residual":
        return f"residual({to_text(_block(layer))})"
    args = {
        "dense": ["units"],
        "conv": ["filters", "kernel", "padding"],
        "maxpool": ["size"],
        "avgpool": ["size"],
        "dropout": ["rate"],
        "layernorm": ["eps"],
        "batchnorm": ["eps"],
    }.get(kind, [])
    values = [str(layer[key]) for key in args if key in layer]
    if kind == "gelu" and layer.get("approximate"):
        values = ["tanh"]
    return ":".join([kind, *values])


def to_text(layers: Sequence[Layer]) -> str:
    """The text form ``parse`` reads: ``parse(to_text(layers)) == layers``."""
    return ",".join(_text_one(layer) for layer in layers)
