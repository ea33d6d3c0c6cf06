"""FC NTK Gram matrix: time and peak memory of the analytic and the empirical path, as ratios.

Synthetic unit vectors of d = 784 (MNIST's input size; the offline split holds fewer than 8,192
digits of two classes). The analytic path is ``hybrid.ntk.fc_kernel`` (closed-form recursion,
jit-compiled, blocks of 2,048); the empirical path is ``hybrid.ntk.empirical_ntk`` of a finite
network of the same depth and activation in NTK parameterisation (per-example gradients,
contracted in blocks). Every case runs in its own process, so the peak resident memory
(ru_maxrss) is that case's; the resident memory after importing JAX and compiling on a small
input is reported beside it. Times exclude compilation (a warm-up call on one block first);
wall-clock and CPU seconds (all threads) are both given, since on a shared machine the first
includes waiting for a core.

    nice -n 10 python benchmarks/bench_ntk.py --out docs/results/ntk/bench_cpu.json \
        --note "shared 2-core machine, other jobs running"
    python benchmarks/bench_ntk.py --sizes 1024 8192 --empirical-sizes 1024 8192   # big machine

Empirical sizes that do not fit are not run: their Jacobian (n x parameters x 8 bytes) is
reported, and the time is extrapolated as n^2 from the largest measured size, marked as such.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shlex
import subprocess
import sys
import time


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_case(path: str, n: int, depth: int, width: int, seed: int = 0) -> dict:
    """Time one Gram matrix in this process (call through ``--case``)."""
    import jax
    import numpy as np

    from hybrid import ntk

    x = ntk.unit_rows(np.random.default_rng(seed).normal(size=(n, 784)))
    cfg = ntk.FCKernel("erf", depth=depth)
    if path == "analytic":
        block = 2048
        warm = x[: min(n, block)]
        ntk.fc_kernel(warm, None, cfg, block=block)  # compile the block shape
        base = _rss_mb()
        t0, c0 = time.perf_counter(), time.process_time()
        _, gram = ntk.fc_kernel(x, None, cfg, block=block)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        params = None
    else:
        net = ntk.fc_network(784, width, depth, cfg)
        theta = net.init(jax.random.key(seed))
        ntk.empirical_ntk(net, theta, x[:128], block=128)  # compile the block shape
        base = _rss_mb()
        t0, c0 = time.perf_counter(), time.process_time()
        gram = ntk.empirical_ntk(net, theta, x, block=128)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        params = net.n_params
    return {
        "path": path,
        "n": n,
        "depth": depth,
        "width": width if path == "empirical" else None,
        "parameters": params,
        "seconds": seconds,
        "cpu_seconds": cpu,
        "peak_rss_mb": _rss_mb(),
        "rss_before_mb": base,
        "gram_mb": gram.nbytes / 2**20,
        "measured": True,
    }


def _subprocess(path: str, n: int, depth: int, width: int) -> dict:
    cmd = [sys.executable, __file__, "--case", path, str(n), str(depth), str(width)]
    print("running", " ".join(cmd[2:]), file=sys.stderr, flush=True)
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--case", nargs=4, metavar=("PATH", "N", "DEPTH", "WIDTH"), help=argparse.SUPPRESS
    )
    p.add_argument("--sizes", type=int, nargs="+", default=[1024, 8192])
    p.add_argument("--empirical-sizes", type=int, nargs="+", default=[256, 512, 1024])
    p.add_argument("--depth", type=int, default=3, help="hidden layers of both paths")
    p.add_argument("--study-depth", type=int, default=96, help="also time the analytic path here")
    p.add_argument("--study-depth-sizes", type=int, nargs="*", default=[1024], help="at these n")
    p.add_argument("--width", type=int, default=256, help="width of the empirical network")
    p.add_argument("--out", help="write the JSON here")
    p.add_argument("--note", default="", help="about the machine, e.g. other jobs running")
    args = p.parse_args(argv)
    if args.case:
        path, n, depth, width = args.case
        print(json.dumps(run_case(path, int(n), int(depth), int(width))))
        return 0

    rows = []
    for n in args.sizes:
        rows.append(_subprocess("analytic", n, args.depth, 0))
        if n in args.study_depth_sizes and args.study_depth != args.depth:
            rows.append(_subprocess("analytic", n, args.study_depth, 0))
    for n in args.empirical_sizes:
        rows.append(_subprocess("empirical", n, args.depth, args.width))
    measured = [r for r in rows if r["path"] == "empirical"]
    largest = max(measured, key=lambda r: r["n"])
    params = largest["parameters"]
    for n in args.sizes:
        if not any(r["path"] == "empirical" and r["n"] == n for r in rows):
            rows.append(
                {
                    "path": "empirical",
                    "n": n,
                    "depth": args.depth,
                    "width": args.width,
                    "parameters": params,
                    "seconds": largest["seconds"] * (n / largest["n"]) ** 2,
                    "cpu_seconds": largest["cpu_seconds"] * (n / largest["n"]) ** 2,
                    "jacobian_mb": n * params * 8 / 2**20,
                    "measured": False,
                    "note": f"extrapolated as n^2 from n = {largest['n']}; not run here",
                }
            )
    ratios = {}
    for n in args.sizes:
        a = next(
            r for r in rows if r["path"] == "analytic" and r["n"] == n and r["depth"] == args.depth
        )
        e = next(r for r in rows if r["path"] == "empirical" and r["n"] == n)
        ratios[str(n)] = {
            "time_empirical_over_analytic": e["seconds"] / a["seconds"],
            "cpu_time_empirical_over_analytic": e["cpu_seconds"] / a["cpu_seconds"],
            "peak_rss_empirical_over_analytic": (
                e["peak_rss_mb"] / a["peak_rss_mb"] if e["measured"] else None
            ),
            "empirical_measured": e["measured"],
        }
    report = {
        "benchmark": "FC NTK Gram, analytic recursion vs empirical J J^T (hybrid.ntk)",
        "command": "python benchmarks/bench_ntk.py " + shlex.join(argv or sys.argv[1:]),
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "note": args.note,
        },
        "rows": rows,
        "ratios": ratios,
    }
    text = json.dumps(report, indent=1)
    print(text)
    if args.out:
        from hybrid.deploy.runs import atomic_write

        atomic_write(args.out, (text + "\n").encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
