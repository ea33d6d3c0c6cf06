"""How long the ``hybrid`` command takes to answer: --help and predict, each in a fresh process.

Every call is a new ``python -m hybrid.cli`` process, as a user's shell runs it, so interpreter
start and every import are counted. Wall-clock and CPU seconds (user + system of the child) are
both given: on a shared machine the first includes waiting for a core, the second does not. Each
row also lists which of jax, pennylane and optax the command imported (``-X importtime``); predict
and --help should import none of them.

    nice -n 5 python benchmarks/bench_cli.py --out docs/results/cli/bench_cli.json \
        --note "shared machine, other jobs running"

The run directory predicted with is a real export (``hybrid.deploy.runs.save_network``) of a small
Iris network with random weights: prediction time does not depend on how the weights were found.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HEAVY = ("jax", "pennylane", "optax")


def _run_dir(where: Path) -> Path:
    from hybrid import data
    from hybrid.deploy import runs

    train = data.load("iris", "train")
    runs.save_network(
        where,
        [{"type": "dense", "units": 16}, {"type": "relu"}, {"type": "dense", "units": 3}],
        [4],
        np.random.default_rng(0).normal(size=4 * 16 + 16 + 16 * 3 + 3),
        preprocessing=train.preprocessing,
        class_names=list(train.class_names),
    )
    return where


def _once(args: list[str]) -> tuple[float, float, list[str]]:
    """Wall seconds, CPU seconds and the heavy top-level modules of one fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "hybrid.cli", *args],
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"hybrid {' '.join(args)} failed: {done.stderr.strip().splitlines()[-1]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    imported = {
        line.split("|")[-1].strip().split(".")[0]
        for line in done.stderr.splitlines()
        if line.startswith("import time:")
    }
    return wall, cpu, sorted(imported & set(HEAVY))


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("--repeats", type=int, default=5, help="fresh processes per command")
    cli.add_argument("--out", help="also write the figures as JSON here")
    cli.add_argument("--note", default="", help="what else the machine was doing")
    args = cli.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        run = _run_dir(Path(tmp) / "run")
        np.save(Path(tmp) / "x.npy", np.random.default_rng(1).normal(size=(100, 4)))
        commands = {
            "hybrid --help": ["--help"],
            "hybrid train --help": ["train", "--help"],
            "hybrid train quantum-train --help": ["train", "quantum-train", "--help"],
            "hybrid predict RUN --data iris": ["predict", str(run), "--data", "iris"],
            "hybrid predict RUN --data x.npy": ["predict", str(run), "--data", f"{tmp}/x.npy"],
        }
        rows = {}
        print(f"{'command':<36}{'wall s (median)':>16}{'CPU s (median)':>16}  heavy imports")
        for name, argv in commands.items():
            runs = [_once(argv) for _ in range(args.repeats)]
            wall = statistics.median(r[0] for r in runs)
            cpu = statistics.median(r[1] for r in runs)
            heavy = sorted({m for r in runs for m in r[2]})
            rows[name] = {"wall_s": wall, "cpu_s": cpu, "heavy_imports": heavy}
            print(f"{name:<36}{wall:>16.3f}{cpu:>16.3f}  {', '.join(heavy) or 'none'}")

    if args.out:
        record = {
            "command": " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.platform()}",
            "python": platform.python_version(),
            "load_average": os.getloadavg(),
            "note": args.note,
            "repeats": args.repeats,
            "results": rows,
        }
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
