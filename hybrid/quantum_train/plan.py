"""Memory and communication of a state-sharded QNN gradient: from XLA's compiled program where it
compiles here, from the formula beyond (``hybrid resources plan``).

The formula: a state of n qubits is 2^n amplitudes of 8 (single) or 16 (double) bytes; the
reversible gradient holds ``LEAN_STATES`` of them (the lean form's measured whole step on one
device), split over D devices. A gate that mixes the two values of a sharded qubit needs the
partner device's shard: XLA's partitioner sends the whole shard, the ideal exchange half of it.
"""

from __future__ import annotations

import math
import re

import jax
import jax.numpy as jnp
import numpy as np

import hybrid.quantum_train.ansatz as ansatze
import hybrid.quantum_train.qnn as qnn
from hybrid.devices import mesh as meshes

LEAN_STATES = 4.0
BYTES = {"single": 8, "double": 16}
# Passes over the state per gate and step: forward, the backward pass's recomputed forward, and
# the backward pass on psi and lambda.
PASSES = 4
COLLECTIVE = re.compile(
    r"= \(?(\w+)\[([\d,]*)\][^=]*? (collective-permute|all-reduce|all-gather|all-to-all)(-start)?\("
)
ITEM_BYTES = {"c64": 8, "c128": 16, "f32": 4, "f64": 8, "s32": 4, "u32": 4}


def exchanging_gates(n_qubits: int, sharded: int, ansatz: str = "ry-cnot") -> int:
    """Gates of one block that mix the values of a sharded (top) qubit: their target is sharded
    and their matrix is not diagonal in it (a sharded control needs no exchange)."""
    spec = ansatze.get(ansatz)
    axes, _, masks = qnn._block_structure(spec, n_qubits)
    count = 0
    for wires, mask in zip(axes, masks, strict=True):
        m = len(wires)
        for pos, wire in enumerate(wires):
            bit = 1 << (m - 1 - pos)
            rows, cols = np.nonzero(mask)
            if wire < sharded and np.any((rows & bit) != (cols & bit)):
                count += 1
                break
    return count


def formula(n_qubits: int, devices: int, precision: str = "double", depth: int = 1, **kw) -> dict:
    """Per-device memory and bytes sent per step for the state over ``devices`` (a power of 2)."""
    state = 2**n_qubits * BYTES[precision]
    sharded = int(math.log2(devices))
    gates = exchanging_gates(n_qubits, sharded, kw.get("ansatz", "ry-cnot")) if sharded else 0
    shard = state / devices
    return {
        "state_GiB": state / 2**30,
        "per_device_GiB": LEAN_STATES * shard / 2**30,
        "exchanging_gates_per_block": gates,
        "sent_per_device_per_step_GiB": PASSES * gates * depth * shard / 2**30,
        "ideal_sent_per_device_per_step_GiB": PASSES * gates * depth * shard / 2 / 2**30,
    }


def collective_bytes(hlo: str) -> dict[str, int]:
    """Bytes each kind of collective produces per device in a compiled module's text (each op
    counted once: loop bodies are counted once, so compile with one block)."""
    out: dict[str, int] = {}
    for item, dims, kind, _ in COLLECTIVE.findall(hlo):
        size = ITEM_BYTES.get(item, 8) * math.prod(int(d) for d in dims.split(",") if d)
        out[kind] = out.get(kind, 0) + size
    return out


def compiled(n_qubits: int, devices: int, precision: str = "double", ansatz: str = "ry-cnot"):
    """XLA's per-device plan of one block's probabilities VJP with the state over ``devices``
    (None where this process has fewer devices): temp bytes and collective bytes."""
    if devices > len(jax.devices()):
        return None
    dtype = jnp.float64 if precision == "double" else jnp.float32
    if dtype == jnp.float64 and not jax.config.read("jax_enable_x64"):
        return None
    spec = ansatze.get(ansatz)
    mesh = meshes.make_mesh(devices, state=devices) if devices > 1 else None
    probs = qnn._reversible(n_qubits, spec, None, mesh)
    angles = jnp.zeros(spec.shape(n_qubits, 1), dtype)

    def vjp(a, g):
        return jax.vjp(probs, a)[1](g)[0]

    program = jax.jit(vjp).lower(angles, jnp.ones(2**n_qubits, dtype)).compile()
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
