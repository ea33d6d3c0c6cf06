"""Run hybrid's circuits on PennyLane plugin devices (Qiskit, Amazon Braket) and cost them.

A plugin profile in ``devices/`` is an ordinary profile whose ``options`` may hold a few keys that
this module turns into plugin arguments before ``qml.device`` sees them:

- ``fake_backend`` (qiskit.aer): a fake IBM backend of ``qiskit_ibm_runtime.fake_provider``; the
  device simulates with its noise model, native gates and coupling map. pennylane-qiskit's
  ``qiskit.aer`` transpiles with routing switched off, so the logical wires are laid on a chain of
  coupled physical qubits and ``route`` (Qiskit's SABRE router) inserts the SWAPs for that chain.
- ``stand_in`` (qiskit.remote): the fake backend used offline for resource reports.
- ``backend_env`` (qiskit.remote): environment variable naming the IBM backend (else least busy).
- ``arn_env`` (braket.aws.qubit): environment variable holding the device ARN.
- ``seed`` (any): ``seed_simulator`` on Aer; Braket's local simulator takes no seed and drops it.

Credentials come only from the environment or the plugin's own configuration (``~/.qiskit``,
``~/.aws``); nothing here reads a token into a profile, a run directory, a log or metrics.
Remote devices retry failed executions with exponential backoff (``with_retries``).
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pennylane as qml

from hybrid import export
from hybrid.devices import Profile

# profile options read by plugin_kwargs, never passed to qml.device (module docstring)
PLUGIN_KEYS = ("fake_backend", "noise", "stand_in", "backend_env", "arn_env", "seed")
REMOTE = ("qiskit.remote", "braket.aws.qubit")

# Documented prices (USD). Amazon Braket: https://aws.amazon.com/braket/pricing/ (read 2026-11):
# a per-task fee plus a per-shot fee by QPU family; SV1 per minute (3 s minimum: not re-checked).
# IBM Quantum pay-as-you-go: https://www.ibm.com/quantum/pricing, USD 96 per minute of QPU time.
BRAKET_TASK_FEE = 0.30
BRAKET_SHOT_FEE = {
    "ionq/forte": 0.08,
    "ionq/aria": 0.03,
    "iqm/garnet": 0.00145,
    "rigetti/ankaa": 0.0009,
    "quera/aquila": 0.01,
}
BRAKET_SV1_PER_MINUTE, BRAKET_SV1_MIN_S = 0.075, 3.0
IBM_PER_SECOND = 96.0 / 60.0


# -- devices -------------------------------------------------------------------------------------


@functools.cache
def fake_backend(name: str):
    """A fake IBM backend by class name (``FakeTorino``, ``FakeKolkataV2``, ...)."""
    from qiskit_ibm_runtime import fake_provider

    if not hasattr(fake_provider, name):
        known = sorted(n for n in dir(fake_provider) if n.startswith("Fake"))
        raise ValueError(f"qiskit_ibm_runtime.fake_provider has no {name}; known: {known}")
    return getattr(fake_provider, name)()


def chain(edges: list[tuple[int, int]], n: int) -> list[int]:
    """n physical qubits forming a path in the coupling graph (depth-first search, lowest first)."""
    adjacent: dict[int, set[int]] = {}
    for a, b in edges:
        adjacent.setdefault(a, set()).add(b)
        adjacent.setdefault(b, set()).add(a)

    def extend(path: list[int]) -> list[int] | None:
        if len(path) == n:
            return path
        for q in sorted(adjacent[path[-1]] - set(path)):
            if found := extend([*path, q]):
                return found
        return None

    for start in sorted(adjacent):
        if found := extend([start]):
            return found
    raise ValueError(f"no chain of {n} coupled qubits in a {len(adjacent)}-qubit coupling map")


def _aer_noisy(name: str, wires: int, noise: bool = True) -> tuple[dict, Callable]:
    """Plugin kwargs and a device transform that simulate fake backend ``name`` on ``wires``."""
    backend = fake_backend(name)
    if wires > backend.num_qubits:
        raise ValueError(f"{name} has {backend.num_qubits} qubits; the circuit needs {wires}")
    layout = chain(list(backend.coupling_map.get_edges()), wires)
    kwargs = {"backend": aer_from_backend(name, noise), "initial_layout": layout}
    return kwargs, functools.partial(route, n=wires)


@qml.transform
def route(tape: qml.tape.QuantumScript, n: int, seed: int = 0):
    """Route ``tape`` (wires 0..n-1) onto a line of n qubits with Qiskit's transpiler (SABRE).

    pennylane-qiskit's ``qiskit.aer`` transpiles with routing off, so this does it first: the
    circuit goes to Qiskit, is laid out on the line and routed, comes back as PennyLane gates, and
    each measurement is moved to the physical wire where its logical qubit ends up.
    """
    from pennylane_qiskit.converter import circuit_to_qiskit
    from qiskit import transpile
    from qiskit.transpiler import CouplingMap

    params = tape.get_parameters(trainable_only=False)
    numeric = tape.bind_new_parameters([np.asarray(p) for p in params], list(range(len(params))))
    circuit = circuit_to_qiskit(numeric, n, diagonalize=False, measure=False)
    routed = transpile(
        circuit,
        coupling_map=CouplingMap.from_line(n),
        initial_layout=list(range(n)),
        basis_gates=["rz", "sx", "x", "cx"],
        optimization_level=1,
        seed_transpiler=seed,
    )
    final = routed.layout.final_index_layout() if routed.layout else list(range(n))
    ops = qml.tape.make_qscript(qml.from_qiskit(routed))().operations
    moved = {i: final[i] for i in range(n)}
    measurements = [m.map_wires(moved) for m in tape.measurements]
    new = qml.tape.QuantumScript(ops, measurements, shots=tape.shots)
    return [new], lambda results: results[0]


def cached_target_aer(**options):
    """An ideal AerSimulator whose ``target`` is built once, not on every access.

    Qiskit's transpiler reads ``backend.target`` about 150 times per circuit and Aer rebuilds it
    each time (an AerSimulator made from a backend keeps its target; a plain one does not). That
    was most of a parameter-shift step on qiskit.aer: 0.445 s per circuit before, 0.164 s after
    (9 qubits, 2048 shots, shared CPU; `docs/results/hardware/aer_overhead.txt`). ``set_options``
    drops the cache, since the method option changes the target's gate set.
    """
    from qiskit_aer import AerSimulator

    class CachedTargetAer(AerSimulator):
        @functools.cached_property
        def target(self):
            return super().target

        def set_options(self, **fields):
            super().set_options(**fields)
            self.__dict__.pop("target", None)

    return CachedTargetAer(**options)


@functools.cache
def noise_model(name: str):
    """The noise model of fake backend ``name``, built once (0.7 s; the simulator takes 3 ms)."""
    from qiskit_aer.noise import NoiseModel

    return NoiseModel.from_backend(fake_backend(name))


def aer_from_backend(name: str, noise: bool = True):
    """A new AerSimulator with the fake backend's target; its noise model too unless ``noise`` is
    False. New per device: the plugin sets options on its backend, which must not leak."""
    from qiskit_aer import AerSimulator

    model = noise_model(name) if noise else None
    return AerSimulator.from_backend(fake_backend(name), noise_model=model)


def ibm_backend(backend_env: str, wires: int):
    """An IBM Quantum backend through ``QiskitRuntimeService`` (its saved account or env vars):
    the one named by environment variable ``backend_env``, else the least busy."""
    from qiskit_ibm_runtime import QiskitRuntimeService

    token = os.environ.get("QISKIT_IBM_TOKEN")
    service = (
        QiskitRuntimeService(
            channel=os.environ.get("QISKIT_IBM_CHANNEL", "ibm_quantum_platform"),
            token=token,
            instance=os.environ.get("QISKIT_IBM_INSTANCE"),
        )
        if token
        else QiskitRuntimeService()
    )
    name = os.environ.get(backend_env)
    if name:
        return service.backend(name)
    return service.least_busy(operational=True, simulator=False, min_num_qubits=wires)


def plugin_kwargs(profile: Profile, wires: int, *, offline: bool = False) -> tuple[dict, list]:
    """``qml.device`` keyword arguments for ``profile`` and the device transforms to apply.

    ``offline`` replaces remote backends by their stand-ins (resource reports, tests).
    """
    options = {k: v for k, v in profile.options.items() if k not in PLUGIN_KEYS}
    seed = profile.options.get("seed")
    fake = profile.options.get("fake_backend")
    transforms: list = []
    if profile.device == "qiskit.aer":
        if fake:
            extra, transform = _aer_noisy(fake, wires, bool(profile.options.get("noise", True)))
            options |= extra
            transforms.append(transform)
        else:
            options.setdefault("backend", cached_target_aer())
        if seed is not None:
            options.setdefault("seed_simulator", int(seed))
            options.setdefault("seed_transpiler", int(seed))
    elif profile.device == "qiskit.remote":
        if offline:
            options["backend"] = fake_backend(profile.options.get("stand_in", "FakeTorino"))
        else:
            env = profile.options.get("backend_env", "QISKIT_IBM_BACKEND")
            options["backend"] = ibm_backend(env, wires)
        if seed is not None:
            options.setdefault("seed_transpiler", int(seed))
    elif profile.device == "braket.aws.qubit" and "arn_env" in profile.options:
        arn = braket_arn(profile)
        if not arn and not offline:
            raise ValueError(
                f"profile {profile.name}: set {profile.options['arn_env']} to the Braket device "
                "ARN (e.g. arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1)"
            )
        options["device_arn"] = arn
    return options, transforms


def braket_arn(profile: Profile) -> str:
    """The Braket device ARN: ``device_arn`` of the profile, else the variable ``arn_env`` names."""
    arn_env = str(profile.options.get("arn_env", ""))
    return str(profile.options.get("device_arn") or os.environ.get(arn_env, ""))


def make_device(profile: Profile, wires: int, *, retries: int = 4, offline: bool = False):
    """The plugin device of ``profile`` on ``wires`` qubits; remote ones retry with backoff.

    ``offline`` (resource reports, tests) puts stand-ins for remote backends, does not retry, and
    silences the plugins' "no analytic mode" warning, since nothing is executed.
    """
    options, transforms = plugin_kwargs(profile, wires, offline=offline)
    with warnings.catch_warnings():
        if offline:
            warnings.simplefilter("ignore", UserWarning)
        device = qml.device(profile.device, wires=wires, **options)
    for transform in transforms:
        device = transform(device)
    if profile.device in REMOTE and retries and not offline:
        device.execute = with_retries(device.execute, attempts=retries + 1)
    return device


def with_retries(
    fn: Callable,
    *,
    attempts: int = 5,
    base_s: float = 2.0,
    max_s: float = 120.0,
    retry_on: tuple[type[BaseException], ...] = (Exception,),
    never: tuple[type[BaseException], ...] = (ValueError, TypeError, NotImplementedError),
    sleep: Callable[[float], None] = time.sleep,
) -> Callable:
    """``fn`` retried up to ``attempts`` times, waiting base_s * 2^k (capped) between tries.

    Remote jobs fail transiently (queue time-outs, dropped connections); an epoch's work is not
    thrown away for one of them. The last error is raised when every attempt fails, and the
    training loop's per-epoch checkpoint lets ``--resume`` continue from there.
    """
    if attempts < 1:
        raise ValueError("attempts must be >= 1")

    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        for k in range(attempts):
            try:
                return fn(*args, **kwargs)
            except never:
                raise  # a bad circuit or argument fails the same way every time
            except retry_on as err:
                if k == attempts - 1:
                    raise
                delay = min(max_s, base_s * 2**k)
                print(
                    f"hybrid: {type(err).__name__}: {err}; retry {k + 1}/{attempts - 1} in "
                    f"{delay:.0f} s",
                    file=sys.stderr,
                )
                sleep(delay)
        raise AssertionError("unreachable")

    return wrapped


# -- resources -----------------------------------------------------------------------------------


def _qiskit_compiled(profile: Profile, tape: qml.tape.QuantumScript, wires: int):
    """The circuit exactly as the Qiskit device would submit it (native gates, routed); the
    transpiler is seeded (the profile's seed, else 0) so that a report can be reproduced."""
    from pennylane_qiskit.converter import circuit_to_qiskit

    seeded = replace(profile, options={"seed": 0, **profile.options})
    device = make_device(seeded, wires, offline=True)
    (tapes, _) = device.preprocess_transforms()((tape,))
    (tape,) = tapes
    inner = _unwrapped(device)
    if profile.device == "qiskit.remote":
        return inner.compile_circuits([circuit_to_qiskit(tape, wires, True, True)])[0], inner
    return inner.compile_circuits([tape])[0], inner


def _unwrapped(device):
    """The plugin's own device under PennyLane's wrappers (device transforms, legacy facade)."""
    for wrapper in ("original_device", "target_device"):
        device = getattr(device, wrapper, device)
    return device


def circuit_resources(profile: Profile, tape: qml.tape.QuantumScript, wires: int) -> dict:
    """Qubits, gate counts by type, two-qubit gates and depth after the device's decomposition.

    Qiskit profiles: the transpiled circuit (native gates of the backend, routed). Other plugins:
    the PennyLane decomposition to the operations the device accepts; a Braket QPU compiles that
    further on AWS, which no offline tool reproduces.
    """
    if profile.device.startswith("qiskit."):
        qc, device = _qiskit_compiled(profile, tape, wires)
        ops = {k: int(v) for k, v in qc.count_ops().items() if k not in ("barrier", "measure")}
        two = sum(1 for inst in qc.data if inst.operation.num_qubits == 2)
        out = {
            "qubits": wires,
            "physical_qubits": len({qc.find_bit(q).index for i in qc.data for q in i.qubits}),
            "gates": sum(ops.values()),
            "two_qubit_gates": two,
            "depth": int(qc.depth(lambda i: i.operation.name not in ("barrier", "measure"))),
            "gate_types": dict(sorted(ops.items())),
            "compiled_for": getattr(device, "backend_name", None) or device.backend.name,
        }
        target = getattr(getattr(device, "compile_backend", None), "target", None)
        target = target or getattr(device.backend, "target", None)
        if target is not None and getattr(target, "dt", None):
            try:
                out["duration_s"] = float(qc.estimate_duration(target, unit="s"))
            except Exception as err:  # durations missing for some gate of an ideal target
                out["duration_note"] = f"no duration: {type(err).__name__}"
        return out
    if profile.device == "braket.aws.qubit":  # the same operations, no AWS account needed
        accepts = qml.device("braket.local.qubit", wires=wires)
    else:
        accepts = make_device(profile, wires, offline=True)
    (tapes, _) = accepts.preprocess_transforms()((tape,))
    specs = tapes[0].specs["resources"]
    types = {str(k): int(v) for k, v in dict(specs.gate_types).items()}
    return {
        "qubits": wires,
        "gates": int(specs.num_gates),
        "two_qubit_gates": int(dict(specs.gate_sizes).get(2, 0)),
        "depth": int(specs.depth),
        "gate_types": dict(sorted(types.items())),
        "compiled_for": f"{accepts.name} operations (PennyLane decomposition)",
    }


def price(profile: Profile, executions: int, shots: int, duration_s: float | None) -> dict:
    """Estimated QPU time and USD for ``executions`` circuits of ``shots`` each, where documented.

    IBM: QPU time ~ executions * shots * (circuit duration + repetition delay 250 us, the fake
    backends' default_rep_delay), billed at the pay-as-you-go rate. Braket: task fee + shot fee.
    """
    out: dict[str, Any] = {"executions": executions, "shots_total": executions * shots}
    if profile.device.startswith("qiskit.") and duration_s is not None:
        rep_delay = 250e-6
        seconds = executions * shots * (duration_s + rep_delay)
        out |= {"qpu_seconds": seconds, "source": "IBM pay-as-you-go USD 96/min"}
        if profile.device == "qiskit.remote":
            out["usd"] = seconds * IBM_PER_SECOND
    elif profile.device == "braket.aws.qubit":
        arn = braket_arn(profile)
        if "quantum-simulator/amazon/sv1" in arn:
            out["note"] = "SV1 bills simulation minutes (USD 0.075/min, 3 s minimum per task)"
            out["usd_minimum"] = executions * BRAKET_SV1_MIN_S / 60 * BRAKET_SV1_PER_MINUTE
        else:
            family = next((k for k in BRAKET_SHOT_FEE if k.lower() in arn.lower()), None)
            if family:
                fee = BRAKET_SHOT_FEE[family]
                out |= {"usd": executions * (BRAKET_TASK_FEE + shots * fee), "family": family}
            else:
                out["note"] = "set the ARN environment variable to price a Braket QPU"
    return out


def executions_per_step(gradient: str, n_params: int) -> int:
    """Circuit runs for one value-and-gradient of a QNode with ``n_params`` trainable angles."""
    if gradient == "parameter-shift":
        return 1 + 2 * n_params
    if gradient == "spsa":
        return 1 + 2  # one random direction, two evaluations (PennyLane's default)
    return 1  # backprop / adjoint on simulators: one forward, derivative without re-execution


def qnn_tape(n_qubits: int, depth: int, seed: int = 0) -> qml.tape.QuantumScript:
    """The Quantum-Train QNN circuit with random angles, measuring all probabilities."""
    from hybrid import qnn

    angles = np.random.default_rng(seed).uniform(0, 2 * np.pi, (depth, n_qubits))
    ops = qml.tape.make_qscript(qnn.circuit)(angles, list(range(n_qubits))).operations
    return qml.tape.QuantumScript(ops, [qml.probs(wires=range(n_qubits))])


def inner_product_tape(d: int, seed: int = 0) -> qml.tape.QuantumScript:
    """The Hadamard-test circuit of ``hybrid.inner_product`` for one random pair of length d."""
    from hybrid import inner_product

    rng = np.random.default_rng(seed)
    x, y = inner_product.validate(rng.random(d), rng.random(d))
    states, _ = inner_product.encode(x, y)
    wires = inner_product.n_qubits(d)
    ops = [qml.StatePrep(states[0], wires=range(wires)), qml.Hadamard(0)]
    return qml.tape.QuantumScript(ops, [qml.expval(qml.PauliZ(0))])


def shots_for_error(eps: float, z: float = 0.0, scale: float = 1.0) -> int:
    """Shots for standard error eps of <x,y> = scale * <Z> / 2 (binomial, worst case z = 0)."""
    return math.ceil((scale / 2) ** 2 * (1 - z**2) / eps**2)


def quantum_train_report(
    profile: Profile,
    n_qubits: int,
    depth: int,
    *,
    n_train: int,
    batch_size: int,
    n_test: int | None = None,
    eval_batch_size: int = 1000,
    shots: int | None = None,
) -> dict:
    """Resources of a Quantum-Train model on ``profile``: circuit, shots per step, epoch cost.

    Each epoch ends with ``training.accuracy`` on the train and the test set, one QNN execution
    per evaluation batch of ``eval_batch_size`` (``TrainConfig.eval_batch_size``). ``n_test``
    None (callers that do not know it, such as ``quantum_train.run``) counts one test batch.
    """
    shots = shots or profile.shots or 1024
    circuit = circuit_resources(profile, qnn_tape(n_qubits, depth), n_qubits)
    steps = max(1, n_train // batch_size)
    per_step = executions_per_step(profile.gradient, n_qubits * depth)
    evaluation = math.ceil(n_train / eval_batch_size) + math.ceil((n_test or 1) / eval_batch_size)
    executions = steps * per_step + evaluation
    return {
        "model": "quantum-train",
        "device": profile.name,
        "n_qubits": n_qubits,
        "depth": depth,
        "circuit": circuit,
        "gradient": profile.gradient,
        "shots": shots,
        "executions_per_step": per_step,
        "shots_per_step": per_step * shots,
        "steps_per_epoch": steps,
        "evaluation_executions_per_epoch": evaluation,
        "executions_per_epoch": executions,
        "per_epoch": price(profile, executions, shots, circuit.get("duration_s")),
    }


def inner_product_report(profile: Profile, d: int, eps: float = 0.01) -> dict:
    """Resources of one inner product of length-d vectors (Hadamard test, StatePrep included)."""
    from hybrid import inner_product

    wires = inner_product.n_qubits(d)
    circuit = circuit_resources(profile, inner_product_tape(d), wires)
    shots = shots_for_error(eps)
    return {
        "model": "inner-product",
        "device": profile.name,
        "d": d,
        "circuit": circuit,
        "shots_for_eps": {"eps_relative_to_norms": eps, "shots": shots},
        "per_inner_product": price(profile, 1, shots, circuit.get("duration_s")),
    }


def qsvt_report(n: int = 4, seed: int = 0) -> dict:
    """The QSVT linear solve's own resource figures (``hybrid.qsvt.solve``, lightning level)."""
    from hybrid import qsvt

    rng = np.random.default_rng(seed)
    m = rng.normal(size=(n, n))
    a = m @ m.T + n * np.eye(n)
    out = qsvt.solve(a, rng.normal(size=n))
    keep = ("n", "qubits", "degree", "block_encoding_queries", "gates", "depth", "gate_types")
    return {"model": "qsvt", **{k: out[k] for k in keep}, "level": "PennyLane (lightning)"}


def run_dir_report(run_dir: str | os.PathLike, profile: Profile) -> dict:
    """Resources of an exported Quantum-Train run directory on ``profile``."""
    spec = json.loads((Path(run_dir) / export.SPEC).read_text())
    model = spec.get("model", {})
    if model.get("type") != "quantum-train":
        raise ValueError(f"{run_dir} is a {model.get('type')!r} run; only quantum-train has a QNN")
    training = spec.get("training", {})
    n_train = spec.get("dataset", {}).get("n_train")
    if n_train is None:
        raise ValueError(f"{run_dir}/{export.SPEC} records no training-set size (dataset.n_train)")
    return quantum_train_report(
        profile,
        int(model["n_qubits"]),
        int(model["depth"]),
        n_train=int(n_train),
        batch_size=int(training.get("batch_size", 64)),
        n_test=spec["dataset"].get("n_test"),
        eval_batch_size=int(training.get("eval_batch_size", 1000)),
    )


def load_quantum_train(
    run_dir: str | os.PathLike,
    profile: Profile | str,
    mapping_hidden: tuple[int, ...] | None = None,
):
    """A Quantum-Train run's model on ``profile`` and its trained parameters (from the checkpoint).

    The exported weights suffice for inference; the QNN angles and the mapping model, needed to
    regenerate the weights from a device's probabilities, live in the run's checkpoint.
    ``mapping_hidden`` defaults to the one recorded in model.json (runs older than that record
    used the reference (4, 20, 4)).
    """
    import jax

    from hybrid import quantum_train, training

    run_dir = Path(run_dir)
    spec = json.loads((run_dir / export.SPEC).read_text())
    arch, about = spec["architecture"], spec["model"]
    model = quantum_train.QuantumTrain(
        tuple(arch["layers"]),
        tuple(arch["input_shape"]),
        depth=int(about["depth"]),
        profile=profile,
        mapping_hidden=tuple(mapping_hidden or about.get("mapping_hidden", (4, 20, 4))),
    )
    config = training.TrainConfig(**spec.get("training", {}))
    like = model.init(jax.random.key(config.seed))
    state = (like, config.make_optimizer(1).init(like))
    (params, _), _ = training.load_checkpoint(run_dir / training.CHECKPOINT, state)
    return model, params


def on_device(model, profile: Profile | str):
    """The same Quantum-Train model with its probabilities measured on ``profile``."""
    from hybrid import devices

    return replace(model, profile=devices.get(profile, quiet=True), probs_fn=None)


MODELS = {
    "mnist-qt": lambda p: quantum_train_report(
        p, 13, 40, n_train=60000, batch_size=64, n_test=10000
    ),
    "iris-qt": lambda p: quantum_train_report(p, 9, 2, n_train=120, batch_size=16, n_test=30),
    "ripe-784": lambda p: inner_product_report(p, 784),
    "qsvt": lambda p: qsvt_report(),
}


def report(target: str, profile: Profile | str) -> dict:
    """Resource report for a run directory or a named model (``MODELS``) on a profile."""
    from hybrid import devices

    profile = devices.get(profile, quiet=True)
    if Path(target).is_dir():
        return run_dir_report(target, profile)
    if target not in MODELS:
        raise ValueError(f"{target!r} is neither a run directory nor one of {sorted(MODELS)}")
    return MODELS[target](profile)


def _resources(args) -> int:
    out = report(args.target, args.device)
    text = json.dumps(out, indent=2)
    print(text)
    if args.write and Path(args.target).is_dir():
        (Path(args.target) / f"resources-{out['device']}.json").write_text(text + "\n")
    return 0


def add_cli(subparsers) -> None:
    """``hybrid resources RUN_DIR|MODEL --device PROFILE``."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "resources", help="qubits, native gates, depth, shots and QPU cost of a model on a device"
    )
    parser.add_argument("target", help=f"a run directory or one of {', '.join(MODELS)}")
    parser.add_argument("--device", default="qiskit.aer-noisy", help="device profile name or .toml")
    parser.add_argument("--write", action="store_true", help="save the report in RUN_DIR")
    parser.set_defaults(func=_resources)
