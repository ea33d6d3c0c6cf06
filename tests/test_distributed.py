"""Several devices give what one device gives: the sharded QNN state, the data-parallel step and
a two-process run, each in a child process that sets its own device count (the device count is
fixed when JAX starts, so this process keeps its one CPU device)."""

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

PRELUDE = """
import json, sys
import jax
jax.config.update("jax_num_cpu_devices", {devices})
jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp
import numpy as np
from hybrid.devices import mesh as meshes
"""


def child(code: str, devices: int = 8, timeout: int = 240, env: dict | None = None) -> dict:
    """Run ``code`` (after ``PRELUDE``) in a fresh Python with ``devices`` CPU devices; the JSON
    object it prints last is the answer."""
    script = PRELUDE.format(devices=devices) + textwrap.dedent(code)
    out = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


QNN = """
import pennylane as qml
from hybrid.quantum_train import ansatz, qnn

def mixed(a, wires):
    # gates the registered ansaetze lack: one mixing two sharded qubits, a sharded target under
    # a local control, a diagonal gate on sharded qubits only
    for q, wire in enumerate(wires):
        qml.RX(a[q], wires=wire)
    qml.IsingXX(a[len(wires)], wires=wires[:2])
    qml.CRX(a[len(wires) + 1], wires=[wires[-1], wires[0]])
    qml.CNOT(wires=[wires[1], wires[-1]])
    qml.CZ(wires=[wires[0], wires[2]])

n, depth, name = {n}, 2, "{ansatz}"
spec = ansatz.ANSATZE.get(name) or ansatz.Ansatz(name, mixed, lambda n: n + 2)
angles = jax.random.uniform(jax.random.key(0), spec.shape(n, depth), float, 0, 2 * np.pi)
g = jax.random.normal(jax.random.key(1), (2**n,))

def value_and_grad(mesh, chunk=None):
    p, pull = jax.vjp(qnn._reversible(n, spec, chunk, mesh, {exchange}), angles)
    return np.asarray(p), np.asarray(pull(g)[0])

p1, g1 = value_and_grad(None)
gaps = {{}}
for state in {states}:
    p, grad = value_and_grad(meshes.make_mesh(state, state=state), {chunk})
    gaps[state] = [float(np.max(np.abs(p - p1))), float(np.max(np.abs(grad - g1)))]
print(json.dumps(gaps))
"""


SLOW = pytest.mark.slow


@pytest.mark.parametrize(
    "ansatz, n, states, chunk, exchange",
    [
        ("ry-cnot", 12, (2, 4, 8), None, True),
        ("ry-cnot", 10, (4,), 6, True),
        ("u3-cu3", 6, (2, 8), None, True),
        ("mixed", 6, (4, 8), 3, True),
        ("ry-cnot", 10, (8,), None, False),
        pytest.param("ry-cnot", 14, (2, 8), 10, True, marks=SLOW),
        pytest.param("u3-cu3", 12, (2, 4, 8), None, True, marks=SLOW),
        pytest.param("ry-cnot", 12, (2, 4, 8), None, False, marks=SLOW),
        pytest.param("ry-cnot", 14, (8,), 10, False, marks=SLOW),
        pytest.param("u3-cu3", 12, (2, 4, 8), None, False, marks=SLOW),
    ],
)
def test_sharded_state_equals_one_device(ansatz, n, states, chunk, exchange):
    """Probabilities and their gradient (one VJP) with the state over 2, 4, 8 devices, by the
    explicit exchange (``exchange``) or XLA's partitioner, whole-state passes and the lean
    in-place chunks alike. A compile of u3-cu3's block takes six times ry-cnot's, and XLA's SPMD
    partitioning about as long again, so the larger cases are marked slow."""
    code = QNN.format(n=n, ansatz=ansatz, states=states, chunk=chunk, exchange=exchange)
    gaps = child(code, timeout=900)  # u3-cu3 at 12 qubits: four long compiles
    assert set(gaps) == {str(s) for s in states}
    for state, (p_gap, g_gap) in gaps.items():
        assert p_gap < 1e-10 and g_gap < 1e-10, (state, p_gap, g_gap)


STEP = """
from hybrid import training
from hybrid.deploy import architecture
from hybrid.quantum_train import QuantumTrain

layers = tuple(architecture.mlp({hidden}, 3, "relu"))
model = QuantumTrain(layers, (4,), depth=2, profile="jax", ansatz="{ansatz}")
rng = np.random.default_rng(0)
x, y = rng.normal(size=(64, 4)), rng.integers(0, 3, 64)
config = training.TrainConfig(epochs=1, batch_size=32, seed=0)

def trained(mesh):
    m = model if mesh is None else QuantumTrain(
        layers, (4,), depth=2, profile="jax", ansatz="{ansatz}", mesh=mesh
    )
    params, history = training.fit(m, (x, y), (x, y), config, progress=False, mesh=mesh)
    return jax.tree_util.tree_leaves(params), history[-1]["loss"]

one, loss1 = trained(None)
gaps = {{}}
for data, state in {meshes}:
    leaves, loss = trained(meshes.make_mesh(data * state, state=state))
    gap = max(float(np.max(np.abs(np.asarray(a) - np.asarray(b)))) for a, b in zip(leaves, one))
    gaps[f"{{data}}x{{state}}"] = [gap, abs(loss - loss1)]
print(json.dumps({{"n_qubits": model.n_qubits, "gaps": gaps}}))
"""


@pytest.mark.parametrize(
    "ansatz, hidden, n_qubits, meshes",
    [
        ("ry-cnot", (32, 16), 10, [(8, 1), (2, 4)]),
        pytest.param("ry-cnot", (64, 32), 12, [(8, 1), (1, 8), (2, 4)], marks=SLOW),
        pytest.param("u3-cu3", (64, 32), 12, [(2, 4)], marks=SLOW),
    ],
)
def test_quantum_train_steps_equal_one_device(ansatz, hidden, n_qubits, meshes):
    """Two Adam steps of a Quantum-Train model (M = 739 on 10 qubits, 2,499 on 12):
    data-parallel over 8 devices, state-sharded over 8, and both at once, give the one-device
    parameters and loss."""
    out = child(STEP.format(ansatz=ansatz, hidden=hidden, meshes=meshes))
    assert out["n_qubits"] == n_qubits
    for name, (gap, loss_gap) in out["gaps"].items():
        assert gap < 1e-10 and loss_gap < 1e-10, (name, gap, loss_gap)


def test_mesh_options_are_checked():
    out = child(
        """
        errors = []
        for kwargs in ({"devices": 8, "state": 3}, {"devices": 16}, {"devices": 6, "state": 4}):
            try:
                meshes.make_mesh(**kwargs)
            except ValueError as err:
                errors.append(str(err))
        mesh = meshes.make_mesh(8, state=4)
        print(json.dumps({
            "errors": len(errors), "sizes": meshes.sizes(mesh),
            "parsed": meshes.parse("data=2,state=4"),
            "spec": list(meshes.state_sharding(mesh, 5).spec),
        }))
        """
    )
    assert out["errors"] == 3
    assert out["sizes"] == {"data": 2, "state": 4} == out["parsed"]
    assert out["spec"] == ["state0", "state1", None, None, None]


TWO_PROCESSES = """
jax.config.update("jax_cpu_collectives_implementation", "gloo")
process = int(sys.argv[1])
if process >= 0:
    meshes.initialize("127.0.0.1:{port}", 2, process)
from hybrid import training
from hybrid.deploy import architecture
from hybrid.quantum_train import QuantumTrain

layers = tuple(architecture.mlp((32, 16), 3, "relu"))
mesh = meshes.make_mesh(2, state={state}) if process >= 0 else None
model = QuantumTrain(layers, (4,), depth=2, profile="jax", mesh=mesh)
rng = np.random.default_rng(0)
x, y = rng.normal(size=(32, 4)), rng.integers(0, 3, 32)
config = training.TrainConfig(epochs=1, batch_size=32, seed=0)
params, history = training.fit(model, (x, y), (x, y), config, progress=False, mesh=mesh)
leaves = [np.asarray(a).ravel().tolist() for a in jax.tree_util.tree_leaves(params)]
print(json.dumps({{"leaves": leaves, "loss": history[-1]["loss"],
                  "devices": jax.device_count(), "writer": meshes.is_writer()}}))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("state", [1, 2])
def test_two_processes_equal_one(state, tmp_path):
    """Two processes on this machine (one CPU device each, gloo) run one Quantum-Train step,
    data-parallel (state=1) or with the state split between them (state=2), and agree with one
    process to 1e-10."""
    script = PRELUDE.format(devices=1) + textwrap.dedent(
        TWO_PROCESSES.format(port=free_port(), state=state)
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(i)],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in (0, 1, -1)
    ]
    answers = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=240)
        assert proc.returncode == 0, stderr[-3000:]
        answers.append(json.loads(stdout.strip().splitlines()[-1]))
    first, second, alone = answers
    assert (first["devices"], second["devices"], alone["devices"]) == (2, 2, 1)
    assert (first["writer"], second["writer"]) == (True, False)
    for answer in (first, second):
        assert abs(answer["loss"] - alone["loss"]) < 1e-10
        for a, b in zip(answer["leaves"], alone["leaves"], strict=True):
            assert max(abs(u - v) for u, v in zip(a, b, strict=True)) < 1e-10


REFUSED = """
jax.config.update("jax_cpu_collectives_implementation", "gloo")
process = int(sys.argv[1])
meshes.initialize("127.0.0.1:{port}", 2, process)
from hybrid import quantum_train

try:
    quantum_train.run("iris", sys.argv[2], depth=1, mesh=meshes.make_mesh(2), progress=False)
except Exception as err:
    print(json.dumps({{"error": f"{{type(err).__name__}}: {{err}}"}}))
"""


def test_a_refusal_of_process_0_stops_every_process(tmp_path):
    """Process 0 alone checks the run directory; when it refuses (here: not empty), process 1
    must stop too instead of waiting at the first collective for a process that left."""
    out = tmp_path / "taken"
    out.mkdir()
    (out / "notes.txt").write_text("someone's file\n")
    script = PRELUDE.format(devices=1) + textwrap.dedent(REFUSED.format(port=free_port()))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(i), str(out)],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in (0, 1)
    ]
    errors = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=240)
        assert proc.returncode == 0, stderr[-3000:]
        errors.append(json.loads(stdout.strip().splitlines()[-1])["error"])
    assert "holds files hybrid did not write (notes.txt)" in errors[0], errors[0]
    assert (
        errors[1] == "RuntimeError: process 0 refused this run (its error says why); stopping too"
    )
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]  # nothing written


def test_collective_bytes_count_each_loop_trip():
    """The benchmark's bytes: a collective in a loop body counts once per trip, every element of
    a tuple-shaped collective counts, and a sharded control needs no exchange."""
    from hybrid.quantum_train import plan

    hlo = textwrap.dedent(
        """
        %body.1 (p: (s64[], c128[4])) -> (s64[], c128[4]) {
          %cp = c128[1,2]{1,0} collective-permute(%x), channel_id=1
        }
        ENTRY %main.2 (a: c128[4]) -> c128[4] {
          %w = (s64[], c128[4]) while(%t), condition=%c, body=%body.1, backend_config={"known_trip_count":{"n":"8"}}
          %ar = (f64[3], c128[2,2]) all-reduce(%a, %b), to_apply=%add
        }
        """  # noqa: E501
    )
    assert plan.collective_bytes(hlo) == {"collective-permute": 8 * 32, "all-reduce": 24 + 64}
    # ry-cnot: RY on each sharded qubit and the CNOT targeting it; CNOT(0, 1) only controls 0
    assert [plan.exchanging_gates(8, k) for k in (1, 2, 3)] == [2, 4, 6]
