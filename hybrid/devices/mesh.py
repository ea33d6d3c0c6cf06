"""One device mesh for a run on several devices: a ``data`` axis and a ``state`` axis.

The target net's batch is sharded over ``data`` (parameters replicated, gradients reduced by
XLA); the QNN's state vector is sharded over its top log2(S) qubits on ``state``. A state of
shape (2,)*n can put at most two devices on one of its axes, so the QNN sees the same devices as
a mesh with one axis of two per sharded qubit (``qubit_mesh``): the same device order, so one
compiled program holds both. ``initialize`` joins a multi-host run (``jax.distributed``) and
``is_writer`` names the one process that writes the run directory.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

DATA = "data"
STATE = "state"

# Environment variables that say a launcher started several processes of one job.
LAUNCHERS = {"SLURM_NTASKS": "Slurm", "OMPI_COMM_WORLD_SIZE": "Open MPI"}


def parse(text: str) -> dict[str, int]:
    """``"data=2,state=4"`` -> ``{"data": 2, "state": 4}`` (the ``--mesh`` option)."""
    sizes = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, value = part.partition("=")
        if name not in (DATA, STATE) or not value.isdigit() or int(value) < 1:
            raise ValueError(f"--mesh takes data=D,state=S with positive D, S; got {text!r}")
        sizes[name] = int(value)
    return sizes


def make_mesh(devices: int | None = None, *, data: int | None = None, state: int = 1) -> Mesh:
    """A (data, state) mesh over the first ``devices`` devices (all of them by default).

    ``data`` defaults to devices // state; ``state`` must be a power of two (it splits qubits).
    """
    available = jax.devices()
    count = devices or (data * state if data else len(available))
    if state < 1 or state & (state - 1):
        raise ValueError(f"the state axis must be a power of two, got {state}")
    data = data or count // state
    if data * state != count or count > len(available):
        raise ValueError(
            f"a mesh of data={data} x state={state} needs {data * state} devices; asked for "
            f"{count}, {len(available)} available"
        )
    grid = np.asarray(available[:count], dtype=object).reshape(data, state)
    return Mesh(grid, (DATA, STATE))


def sizes(mesh: Mesh | None) -> dict[str, int]:
    """The mesh's axis sizes, ``{"data": 1, "state": 1}`` for none (one device)."""
    if mesh is None:
        return {DATA: 1, STATE: 1}
    return {DATA: mesh.shape[DATA], STATE: mesh.shape[STATE]}


def state_qubits(mesh: Mesh | None) -> int:
    """How many top qubits of the QNN state the mesh shards (log2 of the state axis)."""
    return int(math.log2(sizes(mesh)[STATE]))


def qubit_mesh(mesh: Mesh) -> Mesh:
    """The same devices as (data, state0, state1, ...): one axis of two per sharded qubit."""
    k = state_qubits(mesh)
    shape = (mesh.shape[DATA],) + (2,) * k
    return Mesh(mesh.devices.reshape(shape), (DATA, *(f"{STATE}{i}" for i in range(k))))


def state_sharding(mesh: Mesh | None, n_qubits: int) -> NamedSharding | None:
    """A (2,)*n state sharded over its top qubits, replicated over ``data``; None unsharded."""
    k = state_qubits(mesh)
    if mesh is None or k == 0:
        return None
    if k > n_qubits:
        raise ValueError(f"a state axis of {2**k} devices needs at least {k} qubits")
    grid = qubit_mesh(mesh)
    return NamedSharding(grid, P(*grid.axis_names[1:], *([None] * (n_qubits - k))))


def state_constraint(mesh: Mesh | None, n_qubits: int) -> Callable[[jax.Array], jax.Array]:
    """``state -> state`` pinned to ``state_sharding`` inside a jit (identity without a mesh)."""
    sharding = state_sharding(mesh, n_qubits)
    if sharding is None:
        return lambda state: state
    return lambda state: jax.lax.with_sharding_constraint(state, sharding)


def batch_sharding(mesh: Mesh) -> NamedSharding:
    """Leading (batch) axis over ``data``, replicated over ``state``."""
    return NamedSharding(mesh, P(DATA))


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, P())


def put(tree, sharding: NamedSharding):
    """Every leaf of ``tree`` (the same on every process) as one global array with ``sharding``:
    each process supplies only its own devices' pieces, so this runs under multi-host too."""

    def one(leaf):
        host = np.asarray(leaf)
        return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])

    return jax.tree_util.tree_map(one, tree)


def local(tree):
    """Every leaf as an ordinary array of this process (a replicated global array's copy)."""
    return jax.tree_util.tree_map(lambda a: jax.numpy.asarray(np.asarray(a)), tree)


def launcher(environ: dict | None = None) -> str | None:
    """The launcher that started several processes of this job (Slurm, Open MPI), or None."""
    environ = os.environ if environ is None else environ
    for variable, name in LAUNCHERS.items():
        if int(environ.get(variable, "1") or 1) > 1:
            return name
    return None


def initialize(
    coordinator: str | None = None, num_processes: int | None = None, process_id: int | None = None
) -> bool:
    """Join a multi-process run: explicit ``coordinator`` HOST:PORT, or what Slurm or Open MPI
    set (``jax.distributed`` reads their variables). CPU processes exchange through gloo. Returns
    whether this process is part of a multi-process run; call it before any JAX computation."""
    if coordinator is None and launcher() is None:
        return False
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator, num_processes, process_id)
    return jax.process_count() > 1


def is_writer() -> bool:
    """Whether this process writes the run directory: process 0 alone, so that several
    processes of one run never write the same files."""
    return jax.process_index() == 0


def on_writer(check: Callable[[], None]) -> None:
    """Run ``check`` (which raises to refuse) on process 0 only, and share its outcome: when it
    refuses, every process stops, process 0 with its own error and the others with one line, so
    that none waits forever at a collective for a process that has left."""
    error = None
    if is_writer():
        try:
            check()
        except Exception as err:  # re-raised below, after the others have heard of it
            error = err
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        refused = int(multihost_utils.broadcast_one_to_all(np.int32(error is not None)))
        if refused and error is None:
            raise RuntimeError("process 0 refused this run (its error says why); stopping too")
    if error is not None:
        raise error
