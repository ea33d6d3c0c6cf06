"""Device profiles and the construction of every device, plugins included.

Profiles are small TOML files in ``devices/`` (``device``, ``gradient``, optional ``shots``,
``options``, ``description``); any path to such a file works too.

``resolve(name, n_qubits)`` is the one place a user's device string becomes the ``Route`` that will
run, with its reason; entry points call it once and pass the route down. ``auto`` means one thing:
the fastest route present for a circuit of n qubits (``auto_route``): lightning.gpu where it is
installed and a GPU is present; the reversible JAX route (profile ``jax``) on a GPU JAX sees; on a
CPU, ``jax`` below ``CPU_CROSSOVER`` qubits and the lightning adjoint from there
(docs/quantum_train.md). A named profile that cannot run here is refused with the reason.

``make(profile, wires)`` builds the PennyLane device. For plugin profiles (Qiskit, Amazon Braket) a
few ``options`` keys become plugin arguments before ``qml.device`` sees them:

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

This is the bottom of the house: it imports no algorithm (docs/architecture.md).
"""

from __future__ import annotations

import dataclasses
import functools
import os
import sys
import time
import tomllib
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pennylane as qml


def _qml():
    """PennyLane, imported when a device is made: listing profiles (``hybrid devices``) and
    reading them never pay for it."""
    import pennylane

    return pennylane


PLUGINS = ("qiskit.", "braket.")
# profile options read by plugin_kwargs, never passed to qml.device (module docstring)
PLUGIN_KEYS = ("fake_backend", "noise", "stand_in", "backend_env", "arn_env", "seed")
REMOTE = ("qiskit.remote", "braket.aws.qubit")
GRADIENTS = ("backprop", "reversible", "adjoint", "parameter-shift", "spsa")
# On CPU the reversible JAX route is faster below this many qubits, lightning.qubit's adjoint from
# here on. Near the crossover the two are within noise of each other, so a qubit either way costs
# little; re-measure it with `python benchmarks/bench_quantum_train.py --qubits 14 15 16 17 18
# --profiles jax lightning.qubit` (docs/quantum_train.md).
CPU_CROSSOVER = 16
_HERE = Path(__file__).resolve().parents[1]  # the hybrid package
# An installed wheel carries the profiles inside the package; a source checkout has them beside it.
PROFILE_DIRS = (_HERE / "_profiles", _HERE.parent / "devices")


@dataclass(frozen=True)
class Profile:
    name: str
    device: str
    gradient: str
    shots: int | None = None
    options: dict[str, Any] = field(default_factory=dict)
    description: str = ""

    @property
    def plugin(self) -> bool:
        """A Qiskit or Braket device: built through ``plugin_kwargs``, costed by resources."""
        return self.device.startswith(PLUGINS)

    def __post_init__(self):
        if self.gradient not in GRADIENTS:
            raise ValueError(f"profile {self.name}: gradient must be one of {GRADIENTS}")
        if self.gradient in ("backprop", "reversible", "adjoint") and self.shots:
            raise ValueError(f"profile {self.name}: {self.gradient} needs analytic (shots = None)")
        if self.shots is not None and self.shots < 1:
            raise ValueError(f"profile {self.name}: shots must be a positive integer")


def _read(path: Path) -> Profile:
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"{path} is not valid TOML: {err}") from err
    unknown = set(data) - {"device", "gradient", "shots", "options", "description"}
    if unknown or "device" not in data or "gradient" not in data:
        raise ValueError(f"{path}: a profile needs 'device' and 'gradient'; unknown keys {unknown}")
    return Profile(name=path.name.removesuffix(".toml"), **data)


def profiles() -> dict[str, Profile]:
    """Every shipped profile, by name."""
    found: dict[str, Profile] = {}
    for folder in PROFILE_DIRS:
        for path in sorted(folder.glob("*.toml")):
            found.setdefault(path.name.removesuffix(".toml"), _read(path))
    return found


# Installed is not usable for these: they also need hardware (a GPU and its CUDA libraries), so
# their availability is a real creation of the device, never the package metadata alone.
NEEDS_HARDWARE = ("lightning.gpu",)


@functools.cache
def unavailable_reason(device: str) -> str | None:
    """None if a PennyLane plugin providing ``device`` is installed (and, for ``NEEDS_HARDWARE``,
    the device can be created), else why not. Package metadata (entry points) answers for the
    rest, so nothing is imported. ``creation_problem`` goes further for every device."""
    try:
        names = {ep.name for ep in metadata.entry_points(group="pennylane.plugins")}
    except Exception as err:  # a broken installation's metadata
        return f"{type(err).__name__}: {err}"
    if device not in names:
        return f"not installed: no PennyLane plugin provides {device!r} (see the description)"
    return creation_problem(device) if device in NEEDS_HARDWARE else None


# The CUDA-12 libraries lightning.gpu's wheel links against, and the packages that provide them
# (its own dependencies; the ``gpu`` extra installs them). Without one, the plugin says only that
# its "pre-compiled binaries are not available"; the missing file is named in an import warning.
CUDA_LIBRARIES = {
    "libcustatevec": "custatevec-cu12",
    "libcudart": "nvidia-cuda-runtime-cu12",
    "libcublas": "nvidia-cublas-cu12",
    "libcusparse": "nvidia-cusparse-cu12",
    "libnvJitLink": "nvidia-nvjitlink-cu12",
}


def missing_library(messages: list[str]) -> str | None:
    """The first CUDA library that ``messages`` (a failed import's warnings) say cannot be
    opened, with the package that provides it, as one line; None if none is named."""
    for message in messages:
        if "cannot open shared object file" not in message:
            continue
        library = message.split(":", 1)[0].strip()
        package = next((p for k, p in CUDA_LIBRARIES.items() if library.startswith(k)), None)
        fix = f"pip install {package}" if package else "install the library that provides it"
        return f"{library} is missing: {fix} (or pip install -e '.[gpu]')"
    return None


@functools.cache
def creation_problem(device: str) -> str | None:
    """None if ``device`` can be created here, else the first line of why not (an installed
    plugin may still lack its GPU or CUDA: then the missing library and its package)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            _qml().device(device, wires=1)
        except Exception as err:  # plugins fail in many ways (missing package, no GPU, no CUDA)
            if named := missing_library([str(w.message) for w in caught]):
                return f"{type(err).__name__}: {named}"
            lines = str(err).strip().splitlines()
            return f"{type(err).__name__}: {lines[0] if lines else 'no message'}"
    return None


def is_available(device: str) -> bool:
    """Whether ``device`` can be created here (plugin installed, and a GPU for lightning.gpu)."""
    return unavailable_reason(device) is None and creation_problem(device) is None


_JAX_GPU_PLUGINS = ("jax-cuda", "jax_cuda", "jax-rocm", "jax_rocm")


def jax_gpu_plugin() -> bool:
    """Whether a JAX GPU plugin is installed (package metadata): without one JAX runs on CPU,
    and ``auto`` need not import JAX to know it."""
    names = (dist.metadata["Name"] or "" for dist in metadata.distributions())
    return any(name.lower().startswith(_JAX_GPU_PLUGINS) for name in names)


def jax_gpu() -> str | None:
    """The GPU JAX runs on by default (its name), or None on a CPU-only JAX."""
    import jax  # already imported by pennylane; kept local so the profile code stays JAX-free

    device = jax.devices()[0]
    return None if device.platform == "cpu" else f"{device.platform}: {device.device_kind}"


def auto_route(n_qubits: int) -> tuple[Profile, str]:
    """The QNN route ``auto`` takes for ``n_qubits`` here, and why (for logs and model.json)."""
    known = profiles()
    if is_available("lightning.gpu"):
        return known["lightning.gpu"], "lightning.gpu is installed and a GPU is present"
    if jax_gpu_plugin() and (gpu := jax_gpu()):
        return known["jax"], f"JAX sees a GPU ({gpu}): the reversible JAX route runs on it"
    if n_qubits < CPU_CROSSOVER:
        why = f"CPU, {n_qubits} < {CPU_CROSSOVER} qubits: the reversible JAX route is fastest"
        return known["jax"], why
    why = f"CPU, {n_qubits} >= {CPU_CROSSOVER} qubits: lightning.qubit's adjoint is fastest"
    return known["lightning.qubit"], why


@dataclass(frozen=True)
class Route:
    """Where a circuit runs and why: what ``resolve`` answers once per run, passed down."""

    profile: Profile
    reason: str


def resolve(name_or_path: str | Profile | Route, n_qubits: int) -> Route:
    """The route a circuit of ``n_qubits`` will run on: ``auto`` by size and machine, a profile
    name or TOML path as given. A local device that cannot be created here is refused in one line
    (remote services are not probed: they need an account)."""
    if isinstance(name_or_path, Route):
        return name_or_path
    if name_or_path == "auto":
        return Route(*auto_route(n_qubits))
    profile = get(name_or_path)
    if profile.device not in REMOTE and (
        reason := unavailable_reason(profile.device) or creation_problem(profile.device)
    ):
        raise ValueError(
            f"device {profile.device} is not available here ({reason}); "
            "`hybrid devices` lists the profiles this machine can run"
        )
    return Route(profile, f"profile {profile.name} asked for")


def get(name_or_path: str | Profile | Route) -> Profile:
    """A profile by name or by TOML path (``auto`` depends on the circuit: see ``resolve``)."""
    if isinstance(name_or_path, Route):
        return name_or_path.profile
    if isinstance(name_or_path, Profile):
        return name_or_path
    if name_or_path == "auto":
        raise ValueError("'auto' picks by circuit size: use devices.resolve('auto', n_qubits)")
    path = Path(name_or_path)
    if path.suffix == ".toml":
        if not path.is_file():
            raise FileNotFoundError(f"device profile {path} not found")
        return _read(path)
    known = profiles()
    if name_or_path not in known:
        raise ValueError(f"unknown device profile {name_or_path!r}; known: {sorted(known)}")
    return known[name_or_path]


def with_shots(
    profile: Profile, shots: int, gradient: str = "parameter-shift", seed: int | None = None
) -> Profile:
    """``profile`` sampled with ``shots`` (and a gradient that works with shots); ``seed`` fixes
    the shot noise on devices that take one."""
    options = profile.options if seed is None else {**profile.options, "seed": seed}
    return dataclasses.replace(profile, shots=shots, gradient=gradient, options=options)


def make(profile: Profile, wires: int, *, retries: int = 4, offline: bool = False):
    """The PennyLane device of ``profile`` on ``wires`` qubits; remote ones retry with backoff.

    ``offline`` (resource reports, tests) puts stand-ins for remote backends, does not retry, and
    silences the plugins' "no analytic mode" warning, since nothing is executed.
    """
    if not profile.plugin:
        return _qml().device(profile.device, wires=wires, **profile.options)
    options, transforms = plugin_kwargs(profile, wires, offline=offline)
    with warnings.catch_warnings():
        if offline:
            warnings.simplefilter("ignore", UserWarning)
        device = _qml().device(profile.device, wires=wires, **options)
    for transform in transforms:
        device = transform(device)
    if profile.device in REMOTE and retries and not offline:
        device.execute = with_retries(device.execute, attempts=retries + 1)
    return device


# -- plugins ------------------------------------------------------------------------------------


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
    return kwargs, functools.partial(_route_transform(), n=wires)


@functools.cache
def _route_transform():
    """``route`` as a PennyLane transform, built when first needed (PennyLane imported then)."""
    return _qml().transform(_route)


def __getattr__(name: str):
    if name == "route":  # the public transform, without importing PennyLane at module import
        return _route_transform()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _route(tape: qml.tape.QuantumScript, n: int, seed: int = 0):
    """Route ``tape`` (wires 0..n-1) onto a line of n qubits with Qiskit's transpiler (SABRE).

    pennylane-qiskit's ``qiskit.aer`` transpiles with routing off, so this does it first: the
    circuit goes to Qiskit, is laid out on the line and routed, comes back as PennyLane gates, and
    each measurement is moved to the physical wire where its logical qubit ends up.
    """
    from pennylane_qiskit.converter import circuit_to_qiskit
    from qiskit import transpile
    from qiskit.transpiler import CouplingMap

    qml = _qml()
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

    Qiskit's transpiler reads ``backend.target`` many times per circuit and Aer rebuilds it
    each time (an AerSimulator made from a backend keeps its target; a plain one does not), so
    without the cache rebuilding the target is most of a parameter-shift step on qiskit.aer
    (``benchmarks/hardware_aer_overhead.py`` measures it). ``set_options`` drops the cache, since
    the method option changes the target's gate set.
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
    """The noise model of fake backend ``name``, built once: building it costs far more than a
    simulation with it."""
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


def unwrapped(device):
    """The plugin's own device under PennyLane's wrappers (device transforms, legacy facade)."""
    for wrapper in ("original_device", "target_device"):
        device = getattr(device, wrapper, device)
    return device
