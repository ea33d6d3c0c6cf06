"""Time one Quantum-Train training step on several routes, side by side, as ratios.

The same model at each size: a dense target net whose weight count M needs n qubits, a QNN of
``--depth`` blocks, the reference mapping model, cross-entropy on a batch of 32, one Adam update.
At each n every route is compiled and warmed up first, then the timed steps go round-robin over
the routes (``--repeats`` rounds), so load on a shared machine hits all routes alike; the median is
kept. ``auto`` is the route ``devices.resolve("auto", n)`` picks, timed as its own entry.

``--memory`` instead runs each route at each n in a fresh process: the step is compiled ahead of
time, the peak-RSS counter is reset (Linux ``/proc/self/clear_refs``) and the first step is run;
the peak beyond the resident size before it is reported in state vectors (2^n complex128, or
complex64 with ``--precision float32``), beside XLA's own plan of the step's temporaries. (A
second step would understate it: allocators keep the first step's freed memory resident.) On a
GPU the allocator's peak bytes stand in for RSS.
``--qnn-only`` times (or measures) the QNN's gradient alone, without the mapping model.

    python benchmarks/bench_quantum_train.py                          # CPU: 10, 13, 16 qubits
    python benchmarks/bench_quantum_train.py --memory --qubits 20     # peak memory of one step
    python benchmarks/bench_quantum_train.py --memory --qnn-only --qubits 20   # its QNN part
    python benchmarks/bench_quantum_train.py --qubits 20 24 26 --profiles auto jax default.qubit
    python benchmarks/bench_quantum_train.py --qubits 24 26 --profiles auto --precision float32
    python benchmarks/bench_quantum_train.py --qnn-only --qubits 18 20 \
        --profiles jax@whole jax@in-place         # the reversible route lean or not
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from hybrid import devices
from hybrid.deploy import architecture
from hybrid.quantum_train import QuantumTrain, qnn
from hybrid.training import cross_entropy

ROUTES = ["auto", "jax", "default.qubit", "lightning.qubit", "lightning.kokkos"]


def target_net(n_qubits: int) -> tuple[list, tuple]:
    """A 16-input MLP with about 0.75 * 2^n weights, so that it needs exactly n qubits."""
    hidden = max(1, round((0.75 * 2**n_qubits - 10) / 27))  # 16*h + h + 10*h + 10 weights
    return architecture.mlp([hidden], 10), (16,)


# The reversible route forced whole-state or lean (backward pass in place, final state recomputed;
# qnn.IN_PLACE_QUBITS picks one by size): timing both places that threshold.
VARIANTS = {"jax@whole": None, "jax@in-place": qnn.CHUNK_QUBITS}


def resolve(profile: str, n_qubits: int, probs_fn=None) -> tuple:
    """The profile and probabilities function a route name stands for."""
    if profile == "auto":
        return devices.resolve("auto", n_qubits).profile, probs_fn
    if profile in VARIANTS:
        spec = qnn.ansatze.get("ry-cnot")
        return "jax", qnn._reversible(n_qubits, spec, VARIANTS[profile])
    return profile, probs_fn


def make_step(profile: str, n_qubits: int, depth: int, probs_fn=None):
    """A jit-compiled QT training step on ``profile`` (or on ``probs_fn``) and its first state."""
    layers, shape = target_net(n_qubits)
    profile, probs_fn = resolve(profile, n_qubits, probs_fn)
    model = QuantumTrain(tuple(layers), shape, depth=depth, profile=profile, probs_fn=probs_fn)
    assert model.n_qubits == n_qubits, (model.n_qubits, n_qubits)
    optimizer = optax.adam(1e-2)
    params = model.init(jax.random.key(0))
    x = jnp.asarray(np.random.default_rng(0).normal(size=(32, 16)))
    y = jnp.asarray(np.random.default_rng(1).integers(0, 10, 32))

    @jax.jit
    def step(state):
        params, opt_state = state
        loss, grads = jax.value_and_grad(lambda p: cross_entropy(model.apply(p, x), y))(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), loss

    return step, (params, optimizer.init(params)), model


def interleaved(steps: dict, repeats: int) -> tuple[dict, dict]:
    """First-call seconds per route, then ``repeats`` round-robin rounds of timed steps.

    Each round starts one route later than the one before, so no route always follows the
    same one: in a fixed order a route's time depends on which route ran just before it, enough
    to set two names for the same route (``auto`` and ``jax`` below the crossover) far apart."""
    first, times = {}, {name: [] for name in steps}
    for name, (step, state) in steps.items():
        t0 = time.perf_counter()
        jax.block_until_ready(step(state))
        first[name] = time.perf_counter() - t0
    names = list(steps)
    for r in range(repeats):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            step, state = steps[name]
            t0 = time.perf_counter()
            jax.block_until_ready(step(state))
            times[name].append(time.perf_counter() - t0)
    return first, times


def available(name: str) -> bool:
    return name == "auto" or name in VARIANTS or devices.is_available(devices.get(name).device)


def _rss(key: str) -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(key))


def qnn_gradient(profile: str, n_qubits: int, depth: int):
    """The QNN's part of a step alone: the gradient of <w, p(theta)> for a fixed w."""
    profile, probs = resolve(profile, n_qubits)
    probs = probs or qnn.probabilities(n_qubits, depth, profile)
    w = jnp.asarray(np.random.default_rng(1).normal(size=2**n_qubits))
    angles = jnp.asarray(np.random.default_rng(0).uniform(0, 2 * np.pi, (depth, n_qubits)))
    return jax.jit(jax.grad(lambda a: jnp.sum(w * probs(a)))), angles, None


def _gpu_bytes(key: str) -> int:
    return jax.devices()[0].memory_stats()[key]


def first_step_peak(step, state) -> tuple[float, int, str]:
    """Seconds and peak memory (bytes beyond what the process held before) of the first run of
    the compiled ``step``: resident memory on CPU, the allocator's bytes on a GPU (its peak since
    the process started, so an upper bound: compilation's scratch counts too). A second run
    would understate it: allocators keep the first run's freed memory resident."""
    on_gpu = jax.default_backend() != "cpu"
    if on_gpu:
        before = _gpu_bytes("bytes_in_use")
    else:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset VmHWM to the current RSS
        before = _rss("VmRSS")
    t0 = time.perf_counter()
    jax.block_until_ready(step(state))
    seconds = time.perf_counter() - t0
    peak = (_gpu_bytes("peak_bytes_in_use") if on_gpu else _rss("VmHWM")) - before
    return seconds, peak, "GPU allocator" if on_gpu else "resident (CPU)"


def state_bytes(n_qubits: int) -> int:
    """One state vector's bytes; its dtype follows the default float (jnp.zeros, not a weakly
    typed Python float, which would give complex64 under x64)."""
    return 2**n_qubits * jnp.result_type(jnp.zeros(()), jnp.complex64).itemsize


def peak_memory(profile: str, n_qubits: int, depth: int, qnn_only: bool = False) -> dict:
    """Peak memory of one QT step (or of its QNN gradient alone), ``first_step_peak``."""
    build = qnn_gradient if qnn_only else make_step
    step, state, _ = build(profile, n_qubits, depth)
    step = step.lower(state).compile()  # compiled, not yet run: its buffers are not resident
    plan = step.memory_analysis().temp_size_in_bytes  # XLA's own buffer plan of the step
    seconds, peak, where = first_step_peak(step, state)
    return {
        "profile": profile,
        "n_qubits": n_qubits,
        "depth": depth,
        "part": "QNN gradient" if qnn_only else "QT step",
        "memory": where,
        "step_s": seconds,
        "peak_beyond_baseline_bytes": peak,
        "peak_in_states": peak / state_bytes(n_qubits),
        "xla_plan_in_states": plan / state_bytes(n_qubits),
    }


def machine() -> str:
    load = os.getloadavg()
    return (
        f"{platform.machine()}, {os.cpu_count()} CPUs, load average {load[0]:.1f} at start, "
        f"jax {jax.__version__} on {jax.default_backend()} ({jax.devices()[0].device_kind})"
    )


def main(argv=None) -> int:
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("--qubits", type=int, nargs="+", default=[10, 13, 16])
    cli.add_argument("--profiles", nargs="+", default=ROUTES)
    cli.add_argument("--depth", type=int, default=10)
    cli.add_argument("--repeats", type=int, default=5)
    cli.add_argument("--memory", action="store_true", help="peak memory per route instead")
    cli.add_argument("--qnn-only", action="store_true", help="the QNN gradient alone")
    cli.add_argument(
        "--precision",
        choices=["float64", "float32"],
        default="float64",
        help="angles and weights (complex128 or complex64 states)",
    )
    cli.add_argument("--json", help="also write the rows to this file")
    args = cli.parse_args(argv)
    x64 = args.precision == "float64"
    jax.config.update("jax_enable_x64", x64)
    names = [p for p in args.profiles if available(p)]
    for skipped in set(args.profiles) - set(names):
        print(f"skip {skipped}: not available here", file=sys.stderr)
    print(f"machine: {machine()}, depth L = {args.depth}, {args.precision}")
    rows = []
    if args.memory:
        for n in args.qubits:
            for name in names:
                code = (
                    "import json, sys, jax; sys.path.insert(0, 'benchmarks');"
                    f"jax.config.update('jax_enable_x64', {x64});"
                    "from bench_quantum_train import peak_memory;"
                    f"print(json.dumps(peak_memory({name!r}, {n}, {args.depth}, {args.qnn_only})))"
                )
                done = subprocess.run(
                    [sys.executable, "-c", code], capture_output=True, text=True, check=False
                )
                if done.returncode:
                    print(f"  {name} n={n} failed: {done.stderr[-500:]}", file=sys.stderr)
                    continue
                rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
                r = rows[-1]
                print(
                    f"  {r['part']:<12} {name:<18} n={n:<3} peak "
                    f"{r['peak_beyond_baseline_bytes'] / 2**20:9.1f} MiB beyond baseline = "
                    f"{r['peak_in_states']:5.2f} states "
                    f"(XLA's plan {r['xla_plan_in_states']:.2f}; step {r['step_s']:.1f} s)"
                )
    else:
        base = names[0]
        print(f"ms per step (median of {args.repeats} interleaved rounds), ratio to {base}")
        for n in args.qubits:
            steps = {}
            for name in names:
                step, state, _ = (qnn_gradient if args.qnn_only else make_step)(name, n, args.depth)
                steps[name] = (step, state)
            first, times = interleaved(steps, args.repeats)
            ref = statistics.median(times[base])
            picked = devices.resolve("auto", n).profile.name
            for name in names:
                median = statistics.median(times[name])
                rows.append(
                    {
                        "profile": name if name != "auto" else f"auto ({picked})",
                        "n_qubits": n,
                        "depth": args.depth,
                        "part": "QNN gradient" if args.qnn_only else "QT step",
                        "step_s": median,
                        "first_call_s": first[name],
                        "ratio": median / ref,
                    }
                )
                print(
                    f"  n={n:<3} {rows[-1]['profile']:<24} {median * 1e3:10.1f} ms "
                    f"{median / ref:6.2f}x  (first call {first[name]:.1f} s)",
                    flush=True,
                )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {
                    "machine": machine(),
                    "command": sys.argv,
                    "depth": args.depth,
                    "precision": args.precision,
                    "rows": rows,
                },
                f,
                indent=2,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
