"""Memory and communication of a state-sharded QNN gradient: from XLA's compiled program where it
compiles here, from the formula beyond (``hybrid resources plan``).

The formula: a state of n qubits is 2^n amplitudes of 8 (single) or 16 (double) bytes; the
reversible gradient holds ``LEAN_STATES`` of them (the lean form's measured whole step on one
device), split over D devices. A gate that mixes the two values of a sharded qubit needs the
partner device's values: the exchange route (``qnn._swap``) sends half a shard to swap the qubit
in and half to swap it out, a shard per gate and pass; the ideal is half of that.
"""

from __future__ import annotations

import math
import re

import jax
import jax.numpy as jnp

import hybrid.quantum_train.ansatz as ansatze
import hybrid.quantum_train.qnn as qnn
from hybrid.devices import mesh as meshes

LEAN_STATES = 4.0
BYTES = {"single": 8, "double": 16}
# Passes over the state per gate and step of the lean form: forward, the backward pass's
# recomputed forward, and the backward pass on psi and lambda (3 where the final state is kept).
PASSES = 4
COLLECTIVE = re.compile(
    r"= (\(.*?\)|\S+) (collective-permute|all-reduce|all-gather|all-to-all)(-start)?\("
)
SHAPE = re.compile(r"(\w+)\[([\d,]*)\]")
COMPUTATION = re.compile(r"^(?:ENTRY )?%?([\w.\-]+) \(.*\{$")
LOOP = re.compile(r" while\(.*body=%?([\w.\-]+).*?\"known_trip_count\":\{\"n\":\"(\d+)\"")
ITEM_BYTES = {"c64": 8, "c128": 16, "f32": 4, "f64": 8, "s32": 4, "u32": 4}


def _sharded_gates(n_qubits: int, sharded: int, ansatz: str) -> list:
    """One block's gates as the exchange route runs them on a shard (``qnn._local``)."""
    axes, _, masks, controls = qnn._block_structure(ansatze.get(ansatz), n_qubits)
    return [
        qnn._local(*gate, sharded, n_qubits) for gate in zip(axes, masks, controls, strict=True)
    ]


def exchanging_gates(n_qubits: int, sharded: int, ansatz: str = "ry-cnot") -> int:
    """Gates of one block that mix the values of a sharded (top) qubit: their matrix is not
    diagonal in it (a sharded control needs no exchange)."""
    return sum(bool(g.swaps) for g in _sharded_gates(n_qubits, sharded, ansatz))


def exchanged_shards(n_qubits: int, sharded: int, ansatz: str = "ry-cnot") -> float:
    """Shards one device sends per block and pass: a swap in and out is half a shard each way,
    a quarter each under a local control (``qnn._swap`` exchanges only where it is 1)."""
    gates = _sharded_gates(n_qubits, sharded, ansatz)
    return sum(len(g.swaps) * (0.5 if g.control is not None else 1.0) for g in gates)


def formula(
    n_qubits: int,
    devices: int,
    precision: str = "double",
    depth: int = 1,
    ansatz: str = "ry-cnot",
    lean: bool = True,
) -> dict:
    """Per-device memory and bytes sent per step for the state over ``devices`` (a power of 2).

    The exchange route swaps a sharded qubit in and out around each gate that mixes it
    (``exchanged_shards``); the ideal is half a shard per such gate. The passes are forward,
    backward on psi and lambda, and in the ``lean`` form the recomputed forward."""
    state = 2**n_qubits * BYTES[precision]
    sharded = int(math.log2(devices))
    gates = exchanging_gates(n_qubits, sharded, ansatz) if sharded else 0
    shards = exchanged_shards(n_qubits, sharded, ansatz) if sharded else 0
    shard = state / devices
    passes = (PASSES if lean else PASSES - 1) * depth
    return {
        "state_GiB": state / 2**30,
        "per_device_GiB": LEAN_STATES * shard / 2**30,
        "exchanging_gates_per_block": gates,
        "sent_per_device_per_step_GiB": passes * shards * shard / 2**30,
        "ideal_sent_per_device_per_step_GiB": passes * gates * shard / 2 / 2**30,
    }


def collective_bytes(hlo: str) -> dict[str, int]:
    """Bytes each kind of collective produces per device in a compiled module's text, a loop's
    collectives counted as often as it runs (XLA's known trip count; 1 where it has none)."""
    own: dict[str, dict[str, int]] = {}
    loops: dict[str, list[tuple[str, int]]] = {}
    entry = name = ""
    for line in hlo.splitlines():
        if head := COMPUTATION.match(line):
            name = head.group(1)
            entry = name if line.startswith("ENTRY") else entry
            own[name], loops[name] = {}, []
        elif loop := LOOP.search(line):
            loops[name].append((loop.group(1), int(loop.group(2))))
        elif op := COLLECTIVE.search(line):
            shapes = SHAPE.findall(op.group(1))
            shapes = shapes[:1] if op.group(3) else shapes  # a -start op also lists its input
            size = sum(
                ITEM_BYTES.get(t, 8) * math.prod(map(int, filter(None, d.split(","))))
                for t, d in shapes
            )
            own[name][op.group(2)] = own[name].get(op.group(2), 0) + size

    def total(name: str) -> dict[str, int]:
        out = dict(own.get(name, {}))
        for body, trips in loops.get(name, []):
            for kind, size in total(body).items():
                out[kind] = out.get(kind, 0) + trips * size
        return out

    return total(entry)


def compiled(
    n_qubits: int,
    devices: int,
    precision: str = "double",
    ansatz: str = "ry-cnot",
    exchange: bool = True,
    chunk_qubits: int | None = None,
):
    """XLA's per-device plan of one block's probabilities and VJP with the state over ``devices``
    (None where this process has fewer devices): temp bytes and collective bytes. ``exchange``
    and ``chunk_qubits`` as in ``qnn._reversible``."""
    if devices > len(jax.devices()):
        return None
    dtype = jnp.float64 if precision == "double" else jnp.float32
    if dtype == jnp.float64 and not jax.config.read("jax_enable_x64"):
        return None
    spec = ansatze.get(ansatz)
    mesh = meshes.make_mesh(devices, state=devices) if devices > 1 else None
    probs = qnn._reversible(n_qubits, spec, chunk_qubits, mesh, exchange)
    angles = jnp.zeros(spec.shape(n_qubits, 1), dtype)

    def step(a, g):
        """A step's QNN part: the probabilities and their VJP (without p, XLA drops the forward
        pass that the lean form recomputes, and its exchanges)."""
        p, pull = jax.vjp(probs, a)
        return p, pull(g)[0]

    program = jax.jit(step).lower(angles, jnp.ones(2**n_qubits, dtype)).compile()
    memory = program.memory_analysis()
    sent = collective_bytes(program.as_text())
    return {
        "temp_GiB": memory.temp_size_in_bytes / 2**30,
        "peak_GiB": (
            memory.temp_size_in_bytes
            + memory.argument_size_in_bytes
            + memory.output_size_in_bytes
            - memory.alias_size_in_bytes
        )
        / 2**30,
        "collective_GiB_per_block": {k: v / 2**30 for k, v in sent.items()},
    }


def plan(
    n_qubits: int, devices: int = 1, precision: str = "double", depth: int = 1, compile_up_to=18
) -> dict:
    """The planner's report: the formula always, the compiled program for n <= compile_up_to."""
    if devices < 1 or devices & (devices - 1):
        raise ValueError(f"devices must be a power of two, got {devices}")
    if precision not in BYTES:
        raise ValueError(f"precision must be one of {sorted(BYTES)}")
    report = {
        "n_qubits": n_qubits,
        "devices": devices,
        "precision": precision,
        "depth": depth,
        "formula": formula(n_qubits, devices, precision, depth),
    }
    if n_qubits <= compile_up_to:
        report["compiled_one_block"] = compiled(n_qubits, devices, precision)
    return report
