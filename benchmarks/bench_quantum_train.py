"""Time one Quantum-Train training step on several devices, side by side, as ratios.

The same model at each size: a dense target net whose weight count M needs n qubits, a QNN of
``--depth`` blocks, the reference mapping model, cross-entropy on a batch of 32, one Adam update.
Each (device, n) is compiled once, warmed up, then timed ``--repeats`` times; the median is kept.

    python benchmarks/bench_quantum_train.py                      # CPU: 10, 13, 16 qubits
    python benchmarks/bench_quantum_train.py --qubits 16 20 24 \\
        --profiles lightning.gpu default.qubit                    # on a GPU machine
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax
from timing import time_calls

from hybrid import architecture, devices
from hybrid.quantum_train import QuantumTrain
from hybrid.training import cross_entropy


def target_net(n_qubits: int) -> tuple[list, tuple]:
    """A 16-input MLP with about 0.75 * 2^n weights, so that it needs exactly n qubits."""
    hidden = max(1, round((0.75 * 2**n_qubits - 10) / 27))  # 16*h + h + 10*h + 10 weights
    return architecture.mlp([hidden], 10), (16,)


def time_step(profile: str, n_qubits: int, depth: int, repeats: int) -> dict:
    layers, shape = target_net(n_qubits)
    model = QuantumTrain(tuple(layers), shape, depth=depth, profile=profile)
    assert model.n_qubits == n_qubits, (model.n_qubits, n_qubits)
    optimizer = optax.adam(1e-2)
    params = model.init(jax.random.key(0))
    state = (params, optimizer.init(params))
    x = jnp.asarray(np.random.default_rng(0).normal(size=(32, 16)))
    y = jnp.asarray(np.random.default_rng(1).integers(0, 10, 32))

    @jax.jit
    def step(state):
        params, opt_state = state
        loss, grads = jax.value_and_grad(lambda p: cross_entropy(model.apply(p, x), y))(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), loss

    first, times = time_calls(lambda: step(state), repeats)
    return {
        "profile": profile,
        "n_qubits": n_qubits,
        "depth": depth,
        "angles": n_qubits * depth,
        "M": model.n_weights,
        "step_s": statistics.median(times),
        "first_call_s": first,
    }


def main(argv=None) -> int:
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("--qubits", type=int, nargs="+", default=[10, 13, 16])
    cli.add_argument(
        "--profiles", nargs="+", default=["default.qubit", "lightning.qubit", "lightning.qubit-ps"]
    )
    cli.add_argument("--depth", type=int, default=10)
    cli.add_argument("--repeats", type=int, default=5)
    cli.add_argument("--json", help="also write the rows to this file")
    args = cli.parse_args(argv)
    jax.config.update("jax_enable_x64", True)
    rows = []
    for n in args.qubits:
        for name in args.profiles:
            if not devices.is_available(devices.get(name).device):
                print(f"skip {name}: not available here", file=sys.stderr)
                continue
            rows.append(time_step(name, n, args.depth, args.repeats))
            print(
                f"  {name:<20} n={n:<3} {rows[-1]['step_s'] * 1e3:10.1f} ms/step "
                f"(first call {rows[-1]['first_call_s']:.1f} s)",
                file=sys.stderr,
            )
    base = args.profiles[1] if len(args.profiles) > 1 else args.profiles[0]
    print(
        f"\nmachine: {platform.processor() or platform.machine()}, "
        f"jax {jax.__version__} on {jax.default_backend()}, depth L = {args.depth}"
    )
    print(f"ms per step, and the ratio to {base}")
    print(f"{'profile':<22}" + "".join(f"{f'n={n}':>14}{'ratio':>10}" for n in args.qubits))
    for name in args.profiles:
        line = f"{name:<22}"
        for n in args.qubits:
            row = next((r for r in rows if r["profile"] == name and r["n_qubits"] == n), None)
            ref = next((r for r in rows if r["profile"] == base and r["n_qubits"] == n), None)
            if row is None:
                line += f"{'-':>14}{'-':>10}"
                continue
            ratio = row["step_s"] / ref["step_s"] if ref else float("nan")
            line += f"{row['step_s'] * 1e3:>14.1f}{ratio:>9.2f}x"
        print(line)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {"depth": args.depth, "backend": jax.default_backend(), "rows": rows}, f, indent=2
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
