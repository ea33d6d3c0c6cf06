"""Device profiles: which PennyLane device to run, with what shots and which gradient method.

Profiles are small TOML files in ``devices/`` (``device``, ``gradient``, optional ``shots``,
``options``, ``description``); any path to such a file works too. ``get("auto")`` picks the fastest
simulator present: lightning.gpu, then lightning.kokkos, then lightning.qubit, then default.qubit.
"""

from __future__ import annotations

import dataclasses
import functools
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pennylane as qml

PLUGINS = ("qiskit.", "braket.")
GRADIENTS = ("backprop", "adjoint", "parameter-shift", "spsa")
AUTO_ORDER = ("lightning.gpu", "lightning.kokkos", "lightning.qubit", "default.qubit")
_HERE = Path(__file__).resolve().parent
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
        """A Qiskit or Braket device: built by ``hybrid.hardware``, costed in resource reports."""
        return self.device.startswith(PLUGINS)

    def __post_init__(self):
        if self.gradient not in GRADIENTS:
            raise ValueError(f"profile {self.name}: gradient must be one of {GRADIENTS}")
        if self.gradient in ("backprop", "adjoint") and self.shots:
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


@functools.cache
def is_available(device: str) -> bool:
    """Whether ``device`` can be created here (plugin installed, and a GPU for lightning.gpu)."""
    try:
        qml.device(device, wires=1)
    except Exception:  # plugins fail in many ways (missing package, no GPU, no CUDA runtime)
        return False
    return True


def get(name_or_path: str | Profile = "auto", *, quiet: bool = False) -> Profile:
    """A profile by name, by TOML path, or ``"auto"``: the best simulator installed here."""
    if isinstance(name_or_path, Profile):
        return name_or_path
    if name_or_path == "auto":
        known = profiles()
        for device in AUTO_ORDER:
            if is_available(device):
                if not quiet:
                    skipped = AUTO_ORDER[: AUTO_ORDER.index(device)]
                    why = f" ({', '.join(skipped)} not available here)" if skipped else ""
                    print(f"hybrid: device auto -> {device}{why}", file=sys.stderr)
                return known[device]
        raise RuntimeError("no simulator found; is pennylane installed?")
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


def make(profile: Profile, wires: int):
    """The PennyLane device of ``profile`` on ``wires`` qubits.

    Plugin devices (Qiskit, Braket) go through ``hybrid.hardware``, which turns profile keys such
    as ``fake_backend`` or ``arn_env`` into plugin arguments.
    """
    if profile.plugin:
        from hybrid import hardware

        return hardware.make_device(profile, wires)
    return qml.device(profile.device, wires=wires, **profile.options)
