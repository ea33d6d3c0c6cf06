"""The Quantum-Train QNN: L blocks of an ansatz (``hybrid.quantum_train.ansatz``), read out as
2^n probabilities.

``probabilities(n_qubits, depth, profile, ansatz)`` returns a JAX function ``angles -> p (2^n,)``
(angles of shape ``ansatz.shape(n, L)``) that ``jax.grad`` and ``jax.jit`` go through, with the
gradient method the profile names:

- ``backprop`` (default.qubit): a one-block QNode (state in, state out) scanned over the blocks,
  so XLA compiles one block instead of L unrolled ones: compile time does not grow with L, and
  the run time is the same.
- ``reversible`` (profile ``jax``): our own JAX state vector of the ansatz's gates (their matrices
  from PennyLane, so any ansatz runs) with a reversible adjoint: the backward pass un-computes the
  states with the inverse gates, so gradient memory is a few states whatever L is (backprop keeps
  the states inside every block, more than a GPU holds at the largest sizes;
  ``benchmarks/bench_quantum_train.py --memory`` compares them). CPU or GPU, whatever JAX runs on.
- ``adjoint`` (lightning.*): lightning's adjoint method refuses ``qml.probs``, so the VJP of
  p(theta) against a cotangent g is taken as the gradient of <psi(theta)|diag(g)|psi(theta)>, one
  expectation value that the adjoint method differentiates in a single backward pass (DESIGN.md).
  Gates of several angles (U3, CRot) are decomposed into one-angle gates first; the chain rule
  back to the ansatz angles runs in JAX.
- ``parameter-shift`` / ``spsa`` (any device, shots allowed): a PennyLane QNode with that
  ``diff_method``; the route for hardware plugins.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import pennylane as qml
import scipy.sparse as sp
from jax import lax
from jax.sharding import Mesh
from jax.sharding import PartitionSpec as P

import hybrid.quantum_train.ansatz as ansatze
from hybrid import devices, jaxcheck
from hybrid.devices import Profile
from hybrid.devices import mesh as meshes
from hybrid.quantum_train.ansatz import Ansatz

ProbsFn = Callable[[jax.Array], jax.Array]
# From IN_PLACE_QUBITS on, on a CPU, the reversible gradient is lean: its backward pass updates the
# states in place, in chunks of 2^CHUNK_QUBITS amplitudes, and recomputes the final state instead
# of keeping it. That holds fewer states but is slower, since whole-state passes are what XLA
# spreads over the cores; below the threshold a state is small enough that speed wins. The
# threshold trades memory for time: ``benchmarks/bench_quantum_train.py --qnn-only --profiles
# jax@whole jax@in-place`` times both, and with ``--memory`` measures their peaks
# (docs/quantum_train.md).
IN_PLACE_QUBITS = 20
CHUNK_QUBITS = 14
# A sharded state's exchange (``_swap``) sends half a shard in 2^EXCHANGE_SPLIT pieces. By XLA's
# memory plan (16 qubits, whole-state passes, D = 2, 4, 8), whole halves put 1.40x the one-device
# peak over D on each device, eighths 1.20x, for the same bytes: ``bench_distributed.py --qubits 16
# --routes exchange --chunk 0 --exchange-split K`` (results/quantum_train/..._16_split{0,3}.json).
EXCHANGE_SPLIT = 3


def n_angles(n_qubits: int, depth: int, ansatz: str | Ansatz = "ry-cnot") -> int:
    rows, cols = ansatze.get(ansatz).shape(n_qubits, depth)
    return rows * cols


def tape(
    n_qubits: int, depth: int, ansatz: str | Ansatz = "ry-cnot", seed: int = 0
) -> qml.tape.QuantumScript:
    """The QNN circuit with random angles, measuring all probabilities (resource reports)."""
    spec = ansatze.get(ansatz)
    angles = np.random.default_rng(seed).uniform(0, 2 * np.pi, spec.shape(n_qubits, depth))
    ops = qml.tape.make_qscript(spec.circuit)(angles, list(range(n_qubits))).operations
    return qml.tape.QuantumScript(ops, [qml.probs(wires=range(n_qubits))])


def _float():
    return jnp.result_type(float)


def _backprop(n_qubits: int, profile: Profile, ansatz: Ansatz) -> ProbsFn:
    wires = list(range(n_qubits))
    qnode_block = qml.QNode(
        lambda state, angles: (
            qml.StatePrep(state, wires=wires, validate_norm=False),
            ansatz.block(angles, wires),
            qml.state(),
        )[-1],
        devices.make(profile, n_qubits),
        interface="jax",
        diff_method="backprop",
    )

    def probs(angles):
        # complex64 for float32 angles, complex128 for float64: explicit, nothing truncated
        start = jnp.zeros(2**n_qubits, jnp.result_type(angles.dtype, jnp.complex64)).at[0].set(1)
        state, _ = jax.lax.scan(lambda s, a: (qnode_block(s, a), None), start, angles)
        return jnp.abs(state) ** 2

    return probs


def _one_angle_gates(ops: list) -> list:
    """The ops, with every gate of several angles (U3, CRot, ...) decomposed into gates of one
    angle with a generator (or none): the gates lightning's adjoint method differentiates."""
    flat = []
    for op in ops:
        ok = op.num_params == 0 or (op.num_params == 1 and op.has_generator)
        flat.extend([op] if ok else _one_angle_gates(op.decomposition()))
    return flat


def _adjoint(n_qubits: int, profile: Profile, ansatz: Ansatz) -> ProbsFn:
    device = devices.make(profile, n_qubits)
    wires = list(range(n_qubits))
    config = device.setup_execution_config(qml.devices.ExecutionConfig(gradient_method="adjoint"))

    def gates(angles) -> list:
        ops = qml.tape.make_qscript(ansatz.circuit)(angles, wires).operations
        return _one_angle_gates(ops)

    # The lowered circuit's structure, once per depth; its angles are a JAX function of the
    # ansatz angles (``gate_angles``), so the chain rule back to them runs in JAX.
    probe = np.random.default_rng(0).uniform(0, 2 * np.pi, ansatz.shape(n_qubits, 1))
    per_block = sum(len(op.data) for op in gates(probe))

    @functools.cache
    def template(depth: int) -> qml.tape.QuantumScript:
        return qml.tape.QuantumScript(gates(np.tile(probe, (depth, 1))))

    def gate_angles(angles):
        return jnp.stack([jnp.asarray(p, angles.dtype) for op in gates(angles) for p in op.data])

    def script(params, measurement):
        params = [float(p) for p in np.asarray(params, float)]
        circuit = template(len(params) // per_block)
        ops = circuit.bind_new_parameters(params, list(range(len(params)))).operations
        return qml.tape.QuantumScript(ops, [measurement], trainable_params=list(range(len(params))))

    def host_probs(params):
        p = device.execute(script(params, qml.probs(wires=wires)))
        return np.asarray(p, dtype=params.dtype)

    def host_vjp(params, cotangent):
        diag = sp.csr_matrix(sp.diags(np.asarray(cotangent, dtype=float)))
        observable = qml.SparseHamiltonian(diag, wires=wires)
        grad = device.compute_derivatives(script(params, qml.expval(observable)), config)
        return np.asarray(grad, dtype=params.dtype).reshape(params.shape)

    @jax.custom_vjp
    def probs(angles):
        out = jax.ShapeDtypeStruct((2**n_qubits,), angles.dtype)
        params = gate_angles(angles)
        return jax.pure_callback(host_probs, out, params, vmap_method="sequential")

    def forward(angles):
        return probs(angles), angles

    def backward(angles, cotangent):
        params, pull = jax.vjp(gate_angles, angles)
        out = jax.ShapeDtypeStruct(params.shape, params.dtype)
        grad = jax.pure_callback(host_vjp, out, params, cotangent, vmap_method="sequential")
        return pull(grad)

    probs.defvjp(forward, backward)
    return probs


# -- reversible: the ansatz's gates as matrices on a JAX state, un-computed in the backward pass --


def _gates(ops: list) -> list:
    """The ops, with any that has no matrix replaced by its decomposition (until all have one)."""
    flat = []
    for op in ops:
        flat.extend([op] if op.has_matrix else _gates(op.decomposition()))
    return flat


def _block_structure(ansatz: Ansatz, n_qubits: int) -> tuple[list, list, list, list]:
    """Per gate of one block: its wires, whether it has angles, which matrix entries can be
    non-zero (probed at two random angle sets; a controlled gate then costs its non-zero terms),
    and the positions of its wires that control it (the identity where they are 0)."""
    wires = list(range(n_qubits))
    rng = np.random.default_rng(0)
    probes = [
        _gates(qml.tape.make_qscript(ansatz.block)(rng.uniform(0, 2 * np.pi, k), wires).operations)
        for k in [ansatz.angles_per_block(n_qubits)] * 2
    ]
    axes = [tuple(int(w) for w in op.wires) for op in probes[0]]
    trainable = [op.num_params > 0 for op in probes[0]]
    masks = [np.abs(a.matrix()) + np.abs(b.matrix()) > 0 for a, b in zip(*probes, strict=True)]
    controls = [
        tuple(p for p in range(len(ax)) if all(_controls(op.matrix(), p) for op in pair))
        for ax, pair in zip(axes, zip(*probes, strict=True), strict=True)
    ]
    return axes, trainable, masks, controls


def _controls(matrix: np.ndarray, position: int) -> bool:
    """Whether ``matrix`` is the identity where its ``position``-th wire is 0 (and keeps that
    wire's value): then only the part of the state where it is 1 changes."""
    bit = 1 << (matrix.shape[0].bit_length() - 2 - position)
    zero = np.array([i for i in range(len(matrix)) if not i & bit])
    one = np.array([i for i in range(len(matrix)) if i & bit])
    return (
        np.allclose(matrix[np.ix_(zero, zero)], np.eye(len(zero)))
        and np.allclose(matrix[np.ix_(zero, one)], 0)
        and np.allclose(matrix[np.ix_(one, zero)], 0)
    )


def _slices(state: jax.Array, axes: tuple[int, ...]) -> list[jax.Array]:
    """The 2^m sub-tensors of ``state`` with the gate's wires fixed to each basis bit string."""
    parts = []
    for bits in itertools.product((0, 1), repeat=len(axes)):
        index = [slice(None)] * state.ndim
        for axis, bit in zip(axes, bits, strict=True):
            index[axis] = bit
        parts.append(state[tuple(index)])
    return parts


def _apply(matrix, mask: np.ndarray, state: jax.Array, axes: tuple[int, ...]) -> jax.Array:
    """``matrix`` on the wires ``axes`` of ``state`` (shape (2,)*n) as one elementwise pass over
    the state (XLA fuses it), skipping the entries ``mask`` says are zero.

    The new amplitudes are stacked back straight into the gate's axes, wire by wire in
    increasing order: stacking them in front and moving the axes after would cost XLA a
    transposed copy of the state per gate, a few more states in the reversible gradient's memory
    (``benchmarks/bench_quantum_train.py --memory --qnn-only`` reports XLA's buffer plan)."""
    parts = _slices(state, axes)
    rows = {}
    for i, bits in enumerate(itertools.product((0, 1), repeat=len(axes))):
        terms = [matrix[i, j] * parts[j] for j in np.flatnonzero(mask[i])]
        rows[bits] = functools.reduce(jnp.add, terms) if terms else jnp.zeros_like(parts[0])
    order = sorted(range(len(axes)), key=lambda k: axes[k])

    def assemble(level: int, bits: dict) -> jax.Array:
        if level == len(axes):
            return rows[tuple(bits[k] for k in range(len(axes)))]
        k = order[level]  # the earlier (smaller) gate axes are not in the array yet
        halves = [assemble(level + 1, {**bits, k: b}) for b in (0, 1)]
        return jnp.stack(halves, axis=axes[k] - level)

    return assemble(0, {})


def _overlaps(bra: jax.Array, ket: jax.Array, mask: np.ndarray, axes: tuple[int, ...]):
    """X_ij = sum over the other wires of conj(bra)_i ket_j, for the entries ``mask`` keeps.

    A fused multiply-and-sum reads the strided halves in place; ``jnp.vdot`` would make XLA's CPU
    code copy each into a contiguous operand for its dot routine, copies of the state that cost
    the gradient both memory and time."""
    bras, kets = _slices(bra, axes), _slices(ket, axes)
    size = len(bras)
    return jnp.stack(
        [
            jnp.stack(
                [
                    jnp.sum(jnp.conj(bras[i]) * kets[j]) if mask[i, j] else jnp.zeros((), bra.dtype)
                    for j in range(size)
                ]
            )
            for i in range(size)
        ]
    )


def _unapply(
    inverse,
    mask: np.ndarray,
    axes: tuple[int, ...],
    psi,
    lam,
    overlap,
    chunk_qubits,
    pin=None,
    sharded: int = 0,
):
    """One gate of the backward pass: ``inverse`` (U^dagger, non-zero where ``mask``) on the wires
    ``axes`` of psi and of lambda, and, for an ``overlap`` mask, Y = ``_overlaps(lam, psi)`` of
    the results (else Y = None).

    With ``chunk_qubits`` both are updated in place, 2^chunk_qubits amplitudes at a time (the
    leading wires outside the gate fixed in a ``fori_loop``): psi, lambda and a chunk, where
    whole-state passes write each gate's output beside its input (XLA writes in place only where
    an output element depends on the same input element, and a gate mixes pairs). Y is summed
    inside the loop from the chunks just written; read after it, XLA would have to copy both
    states so that the next gate's loop could not overwrite them first. ``pin`` holds a
    state sharded over its ``sharded`` top qubits to that sharding; the chunk loop runs over the
    other qubits, so each device loops over its own shard."""
    n = psi.ndim
    pin = pin or meshes.state_constraint(None, n)
    free = [a for a in range(sharded, n) if a not in axes]
    loop = free[: max(0, n - (chunk_qubits or n))]
    sizes = tuple(1 if a in loop else 2 for a in range(n))

    def body(i, carry):
        states, y = carry
        if loop:
            starts = [jnp.zeros((), jnp.int32)] * n
            for k, a in enumerate(loop):
                starts[a] = ((i >> (len(loop) - 1 - k)) & 1).astype(jnp.int32)
            states = [
                pin(
                    lax.dynamic_update_slice(
                        s, _apply(inverse, mask, lax.dynamic_slice(s, starts, sizes), axes), starts
                    )
                )
                for s in states
            ]
            chunks = [lax.dynamic_slice(s, starts, sizes) for s in states]
        else:
            states = chunks = [pin(_apply(inverse, mask, s, axes)) for s in states]
        if overlap is not None:
            y = y + _overlaps(chunks[1], chunks[0], overlap, axes)
        return states, y

    # zeros_like: Y varies over the devices of a shard_map as psi does (the loop's carry types)
    y = None if overlap is None else jnp.zeros_like(psi, shape=overlap.shape)
    (psi, lam), y = (
        lax.fori_loop(0, 2 ** len(loop), body, ([psi, lam], y))
        if loop
        else body(0, ([psi, lam], y))
    )
    return psi, lam, y


def _mixes(mask: np.ndarray, position: int) -> bool:
    """Whether a gate (non-zero where ``mask``) mixes the two values of its ``position``-th wire:
    a wire it is diagonal in (a control, a phase) only selects which block of it applies."""
    bit = 1 << (mask.shape[0].bit_length() - 2 - position)
    rows, cols = np.nonzero(mask)
    return bool(np.any((rows & bit) != (cols & bit)))


@dataclasses.dataclass(frozen=True)
class _Local:
    """A gate on a state sharded over its top ``k`` wires, seen from one device's shard.

    A global wire the gate mixes is swapped with the local axis in ``swaps`` around it; one it
    is diagonal in is ``fixed``: the device's own bit of it picks ``blocks[c]``, the matrix rows
    (and columns) that act on its shard. ``axes`` are the local axes of the other wires. With a
    local ``control`` axis the swaps exchange only its half where it is 1, the half the gate
    changes; elsewhere the swapped wires stay put, so ``live`` marks the entries of Y that the
    swapped layout gives (the rest multiply the constant identity: no gradient)."""

    swaps: tuple[tuple[int, int], ...]
    fixed: tuple[int, ...]
    blocks: tuple[np.ndarray, ...]
    axes: tuple[int, ...]
    control: int | None
    live: np.ndarray


def _local(
    wires: tuple[int, ...], mask: np.ndarray, controls: tuple[int, ...], k: int, n_qubits: int
) -> _Local:
    """The gate on ``wires`` as a local gate with exchanges (``_Local``); k = 0: unchanged. A
    swapped wire takes the first local axis the gate leaves free: its halves are contiguous."""
    spare = iter(a for a in range(n_qubits - k) if a + k not in wires)
    swaps, fixed, kept, axes = [], [], [], []
    for pos, wire in enumerate(wires):
        if wire >= k:
            kept.append(pos)
            axes.append(wire - k)
        elif _mixes(mask, pos):
            swaps.append((wire, next(spare)))
            kept.append(pos)
            axes.append(swaps[-1][1])
        else:
            fixed.append(pos)
    m = len(wires)
    bits = [[(i >> (m - 1 - pos)) & 1 for pos in fixed] for i in range(2**m)]
    blocks = tuple(
        np.array([i for i in range(2**m) if bits[i] == list(v)])
        for v in itertools.product((0, 1), repeat=len(fixed))
    )
    local_controls = [p for p in controls if wires[p] >= k]
    control = local_controls[0] if swaps and local_controls else None
    on = np.array([control is None or (i >> (m - 1 - control)) & 1 for i in range(2**m)], bool)
    return _Local(
        tuple(swaps),
        tuple(wires[p] for p in fixed),
        blocks,
        tuple(axes),
        None if control is None else wires[control] - k,
        np.outer(on, on),
    )


def _block_of(gate: _Local, k: int) -> jax.Array | int:
    """Which of ``gate.blocks`` this device's shard takes: its bits of the fixed wires."""
    if not gate.fixed:
        return 0
    index = lax.axis_index(meshes.STATE)
    return functools.reduce(
        lambda c, wire: 2 * c + ((index >> (k - 1 - wire)) & 1), gate.fixed, jnp.int32(0)
    )


def _sub(matrix, gate: _Local, c):
    """The block ``c`` of ``matrix`` that acts on this device's shard."""
    if len(gate.blocks) == 1:
        return matrix
    return jnp.stack([matrix[np.ix_(b, b)] for b in gate.blocks])[c]


def _sub_mask(mask: np.ndarray, gate: _Local) -> np.ndarray:
    """Where any device's block can be non-zero."""
    return functools.reduce(np.logical_or, [mask[np.ix_(b, b)] for b in gate.blocks])


def _embed(y, gate: _Local, c, size: int):
    """A device's block ``c`` of Y placed in the gate's full Y (zero elsewhere), to be summed."""
    if len(gate.blocks) == 1:
        return y
    full = [jnp.zeros((size, size), y.dtype).at[np.ix_(b, b)].set(y) for b in gate.blocks]
    return jnp.stack(full)[c]


def _swap(state: jax.Array, wire: int, axis: int, k: int, control: int | None) -> jax.Array:
    """Exchange the global ``wire`` with the local ``axis`` in place (its own inverse).

    The device whose bit of ``wire`` is b keeps its slice axis = b and overwrites its slice
    axis = 1 - b with the partner's slice axis = b (the partner's own 1 - b, which it sends):
    afterwards the device's bit is the value of the old local wire and the local axis is the
    wire's value. Half a shard goes each way, in 2^EXCHANGE_SPLIT pieces (a ``fori_loop`` over
    the next local axes), so that the buffers in flight are a piece, not half a shard; with a
    ``control`` axis, only its half where it is 1."""
    flip = 1 << (k - 1 - wire)
    b = (lax.axis_index(meshes.STATE) >> (k - 1 - wire)) & 1
    loop = [a for a in range(state.ndim) if a not in (axis, control)][:EXCHANGE_SPLIT]
    sizes = tuple(1 if a in (*loop, axis, control) else 2 for a in range(state.ndim))
    pairs = [(i, i ^ flip) for i in range(2**k)]

    def piece(i, state):
        starts = [jnp.zeros((), jnp.int32)] * state.ndim
        starts[axis] = (1 - b).astype(jnp.int32)
        if control is not None:
            starts[control] = jnp.ones((), jnp.int32)
        for j, a in enumerate(loop):
            starts[a] = ((i >> (len(loop) - 1 - j)) & 1).astype(jnp.int32)
        got = lax.ppermute(lax.dynamic_slice(state, starts, sizes), meshes.STATE, pairs)
        return lax.dynamic_update_slice(state, got, starts)

    return lax.fori_loop(0, 2 ** len(loop), piece, state)


def _swapped(states: list, gate: _Local, k: int) -> list:
    for wire, axis in gate.swaps:
        states = [_swap(s, wire, axis, k, gate.control) for s in states]
    return states


def _reversible(
    n_qubits: int,
    ansatz: Ansatz,
    chunk_qubits: int | None = None,
    mesh: Mesh | None = None,
    exchange: bool = True,
) -> ProbsFn:
    """State vector in JAX with a reversible adjoint: memory of a few states, not of every gate.

    The forward pass keeps only the final state. The backward pass walks the gates in reverse,
    un-computing each state with the gate's inverse (U^dagger: the gates are unitary) while it
    carries the adjoint state lambda = U_k^dagger ... U_L^dagger diag(g) psi_L; a gate's angles get
    2 Re sum_ij dU_ij/dtheta X_ij with X_ij = <lambda_i|psi_j>, taken by ``jax.grad`` of the gate
    matrices the ansatz queues, so any ansatz of PennyLane gates with matrices runs. Here lambda is
    the adjoint before U^dagger and psi the state after it; ``_unapply`` updates both in one pass
    and gives Y_mj = <lambda'_m|psi_j> of the updated pair, and lambda = U lambda' makes
    X = conj(U) Y. With ``chunk_qubits`` that pass is in place: two states and a chunk instead of
    four. The forward pass keeps whole-state passes: it holds two states at most, so chunking it
    would only make it slower. With ``chunk_qubits`` the final state is not kept either: the
    backward pass runs the forward pass again, so whatever the caller does between the two passes (a
    Quantum-Train step's mapping model and target network) runs without a state beside it.

    With a ``mesh`` whose ``state`` axis has S = 2^k devices, every state is held sharded over its
    top k qubits. With ``exchange`` each device runs on its own shard (``jax.shard_map``): a gate
    that mixes a sharded qubit swaps it with a local one around it (``_swap``: half a shard each
    way), one diagonal in it (a control) takes the device's block of its matrix, and Y is summed
    over the devices. Without, every state is pinned to ``mesh.state_sharding`` and XLA's
    partitioner inserts the exchanges (more memory and bytes: docs/distributed.md).
    """
    wires = list(range(n_qubits))
    axes, trainable, masks, controls = _block_structure(ansatz, n_qubits)
    sharded = meshes.state_qubits(mesh)
    k = sharded if exchange else 0
    pin = meshes.state_constraint(None if k else mesh, n_qubits)
    local = [_local(*gate, k, n_qubits) for gate in zip(axes, masks, controls, strict=True)]
    shape = (2,) * (n_qubits - k)

    def matrices(block_angles, dtype):
        ops = _gates(qml.tape.make_qscript(ansatz.block)(block_angles, wires).operations)
        return [jnp.asarray(op.matrix(), dtype=dtype) for op in ops]

    def complex_of(angles):
        return jnp.result_type(angles.dtype, jnp.complex64)

    def run(angles, after):
        dtype = complex_of(angles)
        # |0...0> with its 1 taken from ``after``: a constant 1 lets XLA fold the whole start
        # state into a literal, one state of memory more for the whole run, and in the backward
        # pass a 1 from the cotangent keeps XLA from running the pass early.
        one = (after.reshape(-1)[0] * 0 + 1).astype(dtype)
        if k:
            one = jnp.where(lax.axis_index(meshes.STATE) == 0, one, 0)
        start = pin(jnp.zeros(shape, dtype).at[(0,) * len(shape)].set(one))

        def block(state, block_angles):
            for u, mask, gate in zip(matrices(block_angles, dtype), masks, local, strict=True):
                (state,) = _swapped([state], gate, k)
                c = _block_of(gate, k)
                state = pin(_apply(_sub(u, gate, c), _sub_mask(mask, gate), state, gate.axes))
                (state,) = _swapped([state], gate, k)
            return state, None

        return jax.lax.scan(block, start, angles)[0]

    def backward_pass(angles, cotangent, *kept):
        if kept:
            (state,) = kept
        else:
            # The barrier makes XLA write the cotangent out before the pass: fused into its one
            # use after the pass, it would keep its inputs (more than a state) alive through it.
            cotangent = jax.lax.optimization_barrier(cotangent)
            state = run(angles, cotangent)
        state = state.reshape(shape)
        dtype = state.dtype
        adjoint = pin(cotangent.reshape(shape).astype(dtype) * state)

        def block(carry, block_angles):
            psi, lam = carry
            mats = matrices(block_angles, dtype)
            ys = {}
            for i in reversed(range(len(mats))):
                mask, gate = masks[i], local[i]
                overlap = (mask.T.astype(int) @ mask > 0) if trainable[i] else None
                c = _block_of(gate, k)
                psi, lam = _swapped([psi, lam], gate, k)
                psi, lam, y = _unapply(
                    _sub(jnp.conj(mats[i]).T, gate, c),
                    _sub_mask(mask.T, gate),
                    gate.axes,
                    psi,
                    lam,
                    None if overlap is None else _sub_mask(overlap & gate.live, gate),
                    chunk_qubits,
                    pin,
                    sharded - k,
                )
                psi, lam = _swapped([psi, lam], gate, k)
                if trainable[i]:
                    ys[i] = _embed(y, gate, c, len(mask))
            if k:
                ys = lax.psum(ys, meshes.STATE)  # Y sums over the whole state: every shard's part
            weights = {i: 2 * jnp.conj(mats[i]) @ y for i, y in ys.items()}

            def pulled(a):
                mats_a = matrices(a, dtype)
                return sum(jnp.real(jnp.sum(mats_a[i] * w)) for i, w in weights.items())

            grad = jax.grad(pulled)(block_angles) if weights else jnp.zeros_like(block_angles)
            return (psi, lam), grad

        return jax.lax.scan(block, (state, adjoint), angles, reverse=True)[1]

    keep = chunk_qubits is None

    def forward_pass(angles):
        """Probabilities, and the final state where the backward pass keeps it."""
        state = run(angles, angles)
        probs = (jnp.abs(state) ** 2).reshape(-1)
        return (probs, state.reshape(-1)) if keep else (probs,)

    if k:  # each device on its shard; probabilities and states in order over the state axis
        spread, same = P(meshes.STATE), P()
        forward_pass = jax.shard_map(
            forward_pass, mesh=mesh, in_specs=same, out_specs=(spread,) * (1 + keep)
        )
        backward_pass = jax.shard_map(
            backward_pass, mesh=mesh, in_specs=(same, spread) + (spread,) * keep, out_specs=same
        )

    @jax.custom_vjp
    def probs(angles):
        return forward_pass(angles)[0]

    def forward(angles):
        p, *kept = forward_pass(angles)
        return p, (angles, kept)

    def backward(residual, cotangent):
        angles, kept = residual
        return (backward_pass(angles, cotangent, *kept),)

    probs.defvjp(forward, backward)
    return jax.jit(probs)


def _qnode(n_qubits: int, profile: Profile, ansatz: Ansatz) -> ProbsFn:
    if problem := jaxcheck.qnode_problem():
        raise RuntimeError(problem)
    wires = list(range(n_qubits))
    qnode = qml.QNode(
        lambda angles: (ansatz.circuit(angles, wires), qml.probs(wires=wires))[-1],
        devices.make(profile, n_qubits),
        interface="jax",
        diff_method=profile.gradient,
    )
    if profile.shots:
        qnode = qml.set_shots(qnode, shots=profile.shots)
    return lambda angles: jnp.asarray(qnode(angles), dtype=angles.dtype)


def probabilities(
    n_qubits: int,
    depth: int,
    profile: Profile | devices.Route | str = "auto",
    ansatz: str | Ansatz = "ry-cnot",
    mesh: Mesh | None = None,
    exchange: bool = True,
) -> ProbsFn:
    """``angles (ansatz.shape(n, L)) -> probabilities (2^n_qubits,)``, differentiable by JAX.

    ``mesh`` (``hybrid.devices.mesh.make_mesh``) shards the reversible route's state over its
    ``state`` axis; the other routes hold a whole state and refuse a sharded one. ``exchange``
    (the default: it meets the memory goal, docs/distributed.md) runs each device on its shard
    with explicit exchanges; False leaves them to XLA's partitioner."""
    if n_qubits < 1 or depth < 1:
        raise ValueError(f"need n_qubits >= 1 and depth >= 1, got {n_qubits}, {depth}")
    profile, spec = devices.resolve(profile, n_qubits).profile, ansatze.get(ansatz)
    if meshes.state_qubits(mesh) and profile.gradient != "reversible":
        raise ValueError(
            f"a sharded state (mesh state axis > 1) runs on the reversible route (profile jax), "
            f"not on {profile.name} ({profile.gradient})"
        )
    if profile.gradient == "backprop":
        return _backprop(n_qubits, profile, spec)
    if profile.gradient == "adjoint":
        return _adjoint(n_qubits, profile, spec)
    if profile.gradient == "reversible":
        in_place = n_qubits >= IN_PLACE_QUBITS and jax.default_backend() == "cpu"
        return _reversible(n_qubits, spec, CHUNK_QUBITS if in_place else None, mesh, exchange)
    return _qnode(n_qubits, profile, spec)
