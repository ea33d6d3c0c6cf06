"""Quantum-Train over any pytree: a QNN and a mapping model generate every leaf of a template.

The template's leaves, flattened in ``jax.tree_util`` order, are one vector of M weights. A QNN
on n qubits gives 2^n probabilities p_i; a small mapping model turns (bits of the weight's index,
normalised p_i) into the weight. With ``chunks`` > 1 the same 2^n probabilities serve every chunk
of 2^n weights and the chunk's index enters the mapping model as extra bits, so n = ⌈log2(M /
chunks)⌉. Only the angles and the mapping model are trained. ``QuantumTrain`` (``model.py``) is
this generator over an ``architecture`` stack; a Flax, Equinox or Haiku model is the same
generator over that model's parameters.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

import hybrid.quantum_train.ansatz as ansatze
import hybrid.quantum_train.qnn as qnn
from hybrid.deploy import architecture
from hybrid.devices import Profile

# The mapping model runs in chunks of at least MAPPING_ROWS rows and at most MAPPING_CHUNKS of them
# (``Generator.mapped``): a fixed number of chunks keeps one chunk's activations a fixed fraction
# of the state as n grows, and keeps the loop short (each chunk is a round of kernel launches on a
# GPU).
MAPPING_ROWS = 2**14
MAPPING_CHUNKS = 64
SCALES = (None, "fan_in", "he")
# Which axis of a weight matrix is the output: the last (Flax, Haiku, hybrid.architecture:
# kernels (..., in, out)) or the first (Equinox, PyTorch: (out, in, ...)).
LAYOUTS = ("last", "first")


def bits_of(index, n_bits: int, xp=np):
    """Rows of +-1: the n bits of each integer in ``index``, most significant (wire 0) first."""
    return 2.0 * ((index[:, None] >> xp.arange(n_bits - 1, -1, -1)) & 1) - 1.0


def basis_bits(n_bits: int, count: int) -> np.ndarray:
    """``bits_of`` every index i < count: the mapping model's bit columns."""
    return bits_of(np.arange(count), n_bits)


def mapping_layers(hidden: Sequence[int], activation: str | None = None) -> list:
    """The mapping model's dense stack, hidden widths then one output, ``activation`` between."""
    if activation:
        return architecture.mlp(tuple(hidden), 1, activation)
    return [{"type": "dense", "units": u} for u in (*hidden, 1)]


def leaf_name(path: Sequence[Any]) -> str:
    """A key path as a dotted name (``conv1.kernel``, ``layers.0.weight``): what the safetensors
    export is keyed by. An NNX Variable's trailing ``value`` attribute is left out."""
    parts = []
    for key in path:
        for attr in ("key", "name", "idx"):
            if hasattr(key, attr):
                parts.append(str(getattr(key, attr)))
                break
        else:
            parts.append(str(key))
    if len(parts) > 1 and isinstance(path[-1], jax.tree_util.GetAttrKey) and parts[-1] == "value":
        parts.pop()
    return ".".join(parts) or "weights"


def fan_in(shape: Sequence[int], layout: str = "last") -> int:
    """Inputs feeding one output unit of a weight of ``shape``: every axis but the output one.
    Vectors and scalars (biases, norm scales) have none: 0."""
    if len(shape) < 2:
        return 0
    out = shape[-1] if layout == "last" else shape[0]
    return math.prod(shape) // max(out, 1)


def fan_in_gains(shapes: Sequence[Sequence[int]], layout: str = "last") -> np.ndarray:
    """One fixed gain per leaf, proportional to He's sqrt(2 / fan_in) on weight matrices.

    The gains are normalised so that their mean square over the matrices' weights is 1: the
    overall scale stays the generator's own (the mapping model's last layer sets it, and learns
    it); only the ratios between leaves change, as He initialisation would have them. Vectors
    (biases, norm parameters) keep gain 1.
    """
    fans = [fan_in(s, layout) for s in shapes]
    sizes = [math.prod(s) for s in shapes]
    he = [2.0 / f if f else 0.0 for f in fans]
    in_matrices = sum(n for n, f in zip(sizes, fans, strict=True) if f)
    if not in_matrices:
        return np.ones(len(shapes))
    mean_square = sum(n * h for n, h in zip(sizes, he, strict=True)) / in_matrices
    return np.asarray([math.sqrt(h / mean_square) if h else 1.0 for h in he])


def he_standardised(w: jax.Array, shape: Sequence[int], layout: str = "last") -> jax.Array:
    """A weight matrix's generated values with the parts shared along either axis removed (each
    input's mean over the output units, then each unit's mean over its inputs), scaled to He's
    standard deviation sqrt(2 / fan_in) (He et al., arXiv:1502.01852); vectors unchanged. Fixed,
    not trained: a weight standardisation (Qiao et al., arXiv:1903.10520) for generated weights.

    The mapping model sees the index bits of input and unit, so its output holds a part f(i)
    shared by every unit and a part g(j) shared by every input, and a layer's inputs h are not
    centred (post-ReLU, post-pool). f gives every unit the same shift sum_i h_i f(i): the
    optimiser's first steps can push it far below zero and switch a whole ReLU layer off for good
    (``benchmarks/relu_units.py``: all 64 units of a dense layer dead, loss at ln 10). g adds
    g(j) sum_i h_i, which grows with the fan-in where a random matrix's term grows with its
    square root, layer after layer: the 130k-weight ResNet of ``examples/quantum_train_flax.py``
    starts with logits of std 4e5-6e5 with f removed alone, 5-6 with both (seeds 0, 1;
    ``benchmarks/initial_logits.py``, the first figure at commit 1998d11).
    Standardising then fixes each layer's scale, which one shared generator scale would
    otherwise let shrink in every layer at once.
    """
    fan = fan_in(shape, layout)
    if not fan:
        return w
    units = shape[-1] if layout == "last" else shape[0]
    q = w.reshape(-1, units) if layout == "last" else w.reshape(units, -1).T
    q = q - jnp.mean(q, axis=1, keepdims=True)  # f(i): shared by the units
    q = q - jnp.mean(q, axis=0, keepdims=True)  # g(j): shared by a unit's inputs
    q = jax.nn.standardize(q, axis=None, epsilon=1e-12) * math.sqrt(2.0 / fan)
    return (q if layout == "last" else q.T).reshape(-1)


def _float():
    return jnp.result_type(float)


@dataclass(frozen=True)
class Generator:
    """Generates the leaves ``shapes`` (a pytree ``treedef``) from QNN angles and a mapping model.

    Build it with ``generator(template, ...)``. ``shapes``, ``dtypes`` and ``names`` are in the
    order the flat vector fills them; ``positions[g]`` is the tree leaf that generated leaf g is.
    ``gamma``, ``beta``, ``alpha`` are the probability normalisation of the authors' reference
    code, x_i = (beta * tanh(gamma * 2^(n-1) * p_i))^alpha minus its mean: it lifts the tiny
    p_i ~ 2^-n to order one before the mapping model sees them. The mapping model is the
    reference's dense stack (bits + 1) -> 4 -> 20 -> 4 -> 1 without activations;
    ``mapping_activation`` adds one between layers.
    """

    shapes: tuple[tuple[int, ...], ...]
    dtypes: tuple[str, ...]
    names: tuple[str, ...]
    treedef: Any
    positions: tuple[int, ...]
    depth: int
    ansatz: str = "ry-cnot"
    profile: Profile | str = "auto"
    chunks: int = 1
    scale: str | None = None
    layout: str = "last"
    mapping_hidden: tuple[int, ...] = (4, 20, 4)
    mapping_activation: str | None = None
    gamma: float = 0.1
    beta: float = 0.8
    alpha: float = 0.3
    probs_fn: qnn.ProbsFn | None = field(default=None, compare=False, repr=False)
    mesh: Any = field(default=None, compare=False, repr=False)

    def __post_init__(self):
        if self.depth < 1:
            raise ValueError(f"the QNN needs depth >= 1 blocks, got {self.depth}")
        ansatze.get(self.ansatz)  # fail early on an unknown name
        if self.mapping_activation not in (None, *architecture.ACTIVATIONS):
            raise ValueError(f"mapping_activation must be one of {architecture.ACTIVATIONS}")
        if isinstance(self.chunks, bool) or not isinstance(self.chunks, int) or self.chunks < 1:
            raise ValueError(f"chunks must be a positive int, got {self.chunks!r}")
        if self.scale not in SCALES:
            raise ValueError(f"scale must be one of {SCALES}, got {self.scale!r}")
        if self.layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}, got {self.layout!r}")
        if not self.shapes or self.n_weights < 1:
            raise ValueError("the template holds no weights")
        if self.n_chunks > 1 and not self.mapping_activation:
            raise ValueError(
                f"{self.n_chunks} chunks need a mapping_activation: a linear mapping model makes "
                "every chunk the first chunk's weights plus a constant"
            )

    @cached_property
    def sizes(self) -> tuple[int, ...]:
        return tuple(math.prod(s) for s in self.shapes)

    @cached_property
    def n_weights(self) -> int:
        return sum(self.sizes)

    @cached_property
    def n_qubits(self) -> int:
        """n = ⌈log2(M / chunks)⌉: the qubits of one chunk of 2^n weights."""
        return max(1, math.ceil(math.log2(-(-self.n_weights // self.chunks))))

    @cached_property
    def n_chunks(self) -> int:
        """The chunks of 2^n weights the M weights fill (at most ``chunks``)."""
        return -(-self.n_weights // 2**self.n_qubits)

    @cached_property
    def n_bits(self) -> int:
        """Bits of a weight's index: the n qubits' and the chunk's."""
        return self.n_qubits + (self.n_chunks - 1).bit_length()

    @cached_property
    def mapping_layers(self) -> list:
        return mapping_layers(self.mapping_hidden, self.mapping_activation)

    @cached_property
    def probabilities(self) -> qnn.ProbsFn:
        return self.probs_fn or qnn.probabilities(
            self.n_qubits, self.depth, self.profile, self.ansatz, self.mesh
        )

    @cached_property
    def gains(self) -> np.ndarray | None:
        """The fixed per-leaf scale, or None when ``scale`` is off."""
        return fan_in_gains(self.shapes, self.layout) if self.scale == "fan_in" else None

    @cached_property
    def n_trainable(self) -> int:
        """The numbers ``init`` returns: the QNN angles and the mapping model."""
        leaves = jax.tree_util.tree_leaves(self.init(jax.random.key(0)))
        return sum(int(np.size(leaf)) for leaf in leaves)

    def init(self, key: jax.Array) -> dict:
        """Angles uniform in [0, 2 pi); the mapping model LeCun-uniform, as PyTorch's Linear."""
        k_angles, k_map = jax.random.split(key)
        shape = ansatze.get(self.ansatz).shape(self.n_qubits, self.depth)
        angles = jax.random.uniform(k_angles, shape, _float(), 0, 2 * jnp.pi)
        seed = int(jax.random.randint(k_map, (), 0, 2**31 - 1))
        mapping = architecture.init_params(
            np.random.default_rng(seed), self.mapping_layers, (self.n_bits + 1,)
        )
        return {"angles": angles, "mapping": [jnp.asarray(p, _float()) for p in mapping]}

    def normalise(self, p: jax.Array) -> jax.Array:
        scaled = self.beta * jnp.tanh(self.gamma * 2 ** (self.n_qubits - 1) * p)
        # The tiny floor keeps d/dp of x**alpha finite where a probability is exactly zero.
        x = jnp.maximum(scaled, 1e-30) ** self.alpha
        return x - jnp.mean(x)

    def flat(self, params: dict) -> jax.Array:
        """The M generated weights as one vector, in the template's leaf order."""
        p = self.probabilities(params["angles"])
        if self.n_chunks > 1:
            p = jnp.tile(p, self.n_chunks)
        return self.finish(self.mapped(params["mapping"], self.normalise(p[: self.n_weights])))

    def finish(self, w: jax.Array) -> jax.Array:
        """The mapping model's M outputs centred, and scaled per leaf when ``scale`` is on."""
        w = w - jnp.mean(w)
        if self.scale is None:
            return w
        offsets = np.cumsum((0, *self.sizes))
        if self.scale == "fan_in":
            parts = zip(offsets[:-1], offsets[1:], self.gains, strict=True)
            return jnp.concatenate([w[start:stop] * gain for start, stop, gain in parts])
        parts = zip(offsets[:-1], offsets[1:], self.shapes, strict=True)
        return jnp.concatenate(
            [he_standardised(w[start:stop], s, self.layout) for start, stop, s in parts]
        )

    def unflatten(self, flat) -> Any:
        """A flat vector of M weights as the template's pytree, each leaf in its dtype."""
        offsets = np.cumsum((0, *self.sizes))
        leaves: list = [None] * len(self.shapes)
        for g, position in enumerate(self.positions):
            part = flat[offsets[g] : offsets[g + 1]]
            leaves[position] = part.reshape(self.shapes[g]).astype(self.dtypes[g])
        return jax.tree_util.tree_unflatten(self.treedef, leaves)

    def weights(self, params: dict) -> Any:
        """The generated weights: the template's structure, shapes and dtypes."""
        return self.unflatten(self.flat(params))

    def mapped(self, mapping: list, x: jax.Array) -> jax.Array:
        """The mapping model on the rows (bits of i, x_i), i < len(x), a chunk of rows at a time.

        Each chunk makes its bits from i and is recomputed in the backward pass (``jax.checkpoint``
        in a scan), so memory holds one chunk's activations instead of the whole (M, bits + 1)
        input and its hidden layers, which would be several times the QNN's own memory. The scan
        writes each chunk's weights over its inputs, in place, where ``lax.map`` (with or without
        its ``batch_size``) has XLA allocate more (M,) buffers at the start of the step and hold
        them through the QNN's forward pass. ``benchmarks/bench_quantum_train.py --memory``
        measures the step's peak (docs/quantum_train.md)."""
        m = x.shape[0]
        chunk = min(m, max(MAPPING_ROWS, -(-m // MAPPING_CHUNKS)))

        def rows(start, xs):
            bits = bits_of(start + jnp.arange(chunk), self.n_bits, jnp).astype(xs.dtype)
            inputs = jnp.concatenate([bits, xs[:, None]], 1)
            return architecture.apply(self.mapping_layers, mapping, inputs, xp=jnp)[:, 0]

        count = -(-m // chunk)
        if count == 1:
            return rows(0, x)
        xs = jnp.pad(x, (0, count * chunk - m)).reshape(count, chunk)
        chunk_rows = jax.checkpoint(rows)

        def overwrite(chunks, i):
            return chunks.at[i].set(chunk_rows(i * chunk, chunks[i])), None

        return jax.lax.scan(overwrite, xs, jnp.arange(count))[0].reshape(-1)[:m]

    def named(self, weights: Any) -> dict[str, np.ndarray]:
        """Generated weights (this generator's pytree) as {key path: NumPy array}, in the order
        they are generated."""
        leaves = jax.tree_util.tree_leaves(weights)
        return {
            name: np.asarray(leaves[position])
            for name, position in zip(self.names, self.positions, strict=True)
        }


def generator(
    template: Any,
    *,
    depth: int,
    ansatz: str = "ry-cnot",
    profile: Profile | str = "auto",
    chunks: int = 1,
    scale: str | None = None,
    layout: str = "last",
    mapping_hidden: Sequence[int] = (4, 20, 4),
    mapping_activation: str | None = None,
    gamma: float = 0.1,
    beta: float = 0.8,
    alpha: float = 0.3,
    order: Sequence[str] | None = None,
    probs_fn: qnn.ProbsFn | None = None,
    mesh: Any = None,
) -> Generator:
    """A Quantum-Train generator of the weights of ``template``, any pytree of float arrays.

    ``template`` gives structure, shapes and dtypes only (arrays or ``jax.ShapeDtypeStruct``): a
    Flax NNX ``nnx.split(model, nnx.Param, ...)[1]``, Flax Linen or Haiku params, the array part
    of an Equinox model (``eqx.partition(model, eqx.is_inexact_array)[0]``), a dict of NumPy
    arrays. ``depth`` is the QNN's L; ``chunks`` > 1 generates the M weights in chunks of 2^n
    from one QNN of n = ⌈log2(M / chunks)⌉ qubits, for M far above what the qubits at hand give.

    ``scale`` sets each weight matrix's scale by its fan-in (``layout`` says which axis is the
    output). ``"he"`` standardises each matrix to He's sqrt(2 / fan_in) (``he_standardised``):
    turn it on for nets deeper or larger than the reference's, whose layers otherwise all get
    about the same weight scale and share one scale the optimiser can collapse, so the loss
    can sit at ln(classes). ``"fan_in"`` (kept for its runs) only multiplies each matrix by a
    fixed gain in He's ratios (``fan_in_gains``). Leave it off to reproduce the reference.

    ``order`` lists the leaves' names (``leaf_name``: ``conv1.kernel``) in the order the flat
    vector fills them, if not the tree's (which sorts dict keys, so a bias before its kernel):
    the same order as an ``architecture`` stack makes the same key give the same weights.
    ``mesh`` shards the QNN's state over its ``state`` axis (``hybrid.devices.mesh``).
    """
    flat, treedef = jax.tree_util.tree_flatten_with_path(template)
    names, shapes, dtypes = [], [], []
    for path, leaf in flat:
        dtype = np.dtype(getattr(leaf, "dtype", np.asarray(leaf).dtype))
        name = leaf_name(path)
        if not np.issubdtype(dtype, np.floating):
            raise ValueError(
                f"template leaf {name!r} is {dtype}, not a float array: pass the trainable part "
                "only (nnx.split(model, nnx.Param, ...), eqx.partition(model, "
                "eqx.is_inexact_array))"
            )
        names.append(name)
        shapes.append(tuple(int(s) for s in (leaf.shape if hasattr(leaf, "shape") else ())))
        dtypes.append(dtype.name)
    if len(set(names)) != len(names):
        raise ValueError(f"template leaves share names: {sorted(names)}")
    positions = list(range(len(names)))
    if order is not None:
        if sorted(order) != sorted(names):
            raise ValueError(f"order must name every leaf once: {sorted(names)}")
        positions = [names.index(name) for name in order]
    return Generator(
        tuple(shapes[i] for i in positions),
        tuple(dtypes[i] for i in positions),
        tuple(names[i] for i in positions),
        treedef,
        tuple(positions),
        depth,
        ansatz=ansatz,
        profile=profile,
        chunks=chunks,
        scale=scale,
        layout=layout,
        mapping_hidden=tuple(int(u) for u in mapping_hidden),
        mapping_activation=mapping_activation,
        gamma=gamma,
        beta=beta,
        alpha=alpha,
        probs_fn=probs_fn,
        mesh=mesh,
    )
