"""Handlers of ``hybrid devices`` and ``hybrid resources``: what this machine can run, and what a
model would cost on a device."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def devices(args: argparse.Namespace) -> int:
    from hybrid import devices

    print(f"{'usable':<10} {'profile':<22} {'gradient':<16} {'shots':<9} description")
    unavailable = []
    for name, profile in devices.profiles().items():
        if profile.device in devices.REMOTE:
            reason = "not probed: a remote service, needs an account (see description)"
            mark = "remote"
        else:
            reason = devices.unavailable_reason(profile.device)
            mark = "yes" if reason is None else "no"
        shots = profile.shots or "analytic"
        print(f"{mark:<10} {name:<22} {profile.gradient:<16} {shots!s:<9} {profile.description}")
        if reason is not None:
            unavailable.append(f"  {name}: {reason}")
    if unavailable:
        print("\nwhy not available:")
        print("\n".join(unavailable))
    print()
    for n in (devices.CPU_CROSSOVER - 1, devices.CPU_CROSSOVER):
        route = devices.resolve("auto", n)
        print(f"auto, circuit of {n} qubits -> {route.profile.name} ({route.reason})")
    return 0


def resources(args: argparse.Namespace) -> int:
    if args.target == "plan":
        return plan(args)
    from hybrid import reports

    out = reports.report(args.target, args.device)
    text = json.dumps(out, indent=2)
    print(text)
    if args.write and Path(args.target).is_dir():
        (Path(args.target) / f"resources-{out['device']}.json").write_text(text + "\n")
    return 0


def plan(args: argparse.Namespace) -> int:
    """``hybrid resources plan``: on a CPU this process gets ``--devices`` CPU devices (set before
    JAX starts), so the sharded program compiles here for small ``--qubits``."""
    import jax

    jax.config.update("jax_num_cpu_devices", args.devices)
    jax.config.update("jax_enable_x64", args.precision == "double")
    from hybrid.quantum_train import plan

    report = plan.plan(args.qubits, args.devices, args.precision, args.depth)
    print(json.dumps(report, indent=2))
    return 0
