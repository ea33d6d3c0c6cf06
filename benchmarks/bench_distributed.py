"""Per-device memory (XLA's plan) and bytes exchanged of the state-sharded QNN gradient, against
one device's figure divided by D and the ideal exchange (half a shard per exchanging gate).

    python benchmarks/bench_distributed.py --qubits 18 --devices 1 2 4 8 \
        --json docs/results/quantum_train/bench_distributed_cpu_18.json

It compiles one QNN block's probabilities VJP (``hybrid.quantum_train.plan.compiled``) on CPU
devices that this process makes for itself; nothing is run, so the figures are XLA's plan.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--qubits", type=int, nargs="+", default=[18])
    parser.add_argument("--devices", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--precision", default="double", choices=("single", "double"))
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args(argv)

    import jax

    jax.config.update("jax_num_cpu_devices", max(args.devices))
    jax.config.update("jax_enable_x64", args.precision == "double")
    from hybrid.quantum_train import plan

    rows = []
    for n in args.qubits:
        one = None
        for d in args.devices:
            got = plan.compiled(n, d, args.precision)
            one = one or got["peak_GiB"]
            ideal = plan.formula(n, d, args.precision)["ideal_sent_per_device_per_step_GiB"]
            sent = sum(got["collective_GiB_per_block"].values())
            row = {
                "n_qubits": n,
                "devices": d,
                "per_device_peak_MiB": got["peak_GiB"] * 1024,
                "ratio_to_one_device_over_D": got["peak_GiB"] / (one / d),
                "sent_per_device_per_block_MiB": sent * 1024,
                "by_collective_MiB": {
                    k: v * 1024 for k, v in got["collective_GiB_per_block"].items()
                },
                "ideal_per_block_MiB": ideal * 1024,
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    if args.json:
        command = "python benchmarks/bench_distributed.py " + shlex.join(argv or sys.argv[1:])
        out = {"command": command, "machine": "CPU devices of one process", "rows": rows}
        args.json.write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
