"""Per-device memory (XLA's plan) and bytes exchanged of the state-sharded QNN gradient, against
one device's figure divided by D and the ideal exchange (half a shard per exchanging gate), for
the explicit exchange route and XLA's partitioner side by side.

    python benchmarks/bench_distributed.py --qubits 22 --devices 1 2 4 8 \
        --json docs/results/quantum_train/bench_distributed_cpu_22.json

It compiles one QNN block's probabilities VJP (``hybrid.quantum_train.plan.compiled``) on CPU
devices that this process makes for itself, with the chunking ``qnn.probabilities`` picks for the
size on CPU (``--chunk`` overrides it, 0 for whole-state passes); nothing is run, so the figures
are XLA's plan.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

ROUTES = {"exchange": True, "partitioner": False}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--qubits", type=int, nargs="+", default=[18])
    parser.add_argument("--devices", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--precision", default="double", choices=("single", "double"))
    parser.add_argument("--routes", nargs="+", default=list(ROUTES), choices=list(ROUTES))
    parser.add_argument("--chunk", type=int, help="chunk qubits of the lean form (0: whole)")
    parser.add_argument(
        "--exchange-split", type=int, help="send half a shard in 2^K pieces (qnn.EXCHANGE_SPLIT)"
    )
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args(argv)

    import jax

    jax.config.update("jax_num_cpu_devices", max(args.devices))
    jax.config.update("jax_enable_x64", args.precision == "double")
    from hybrid.quantum_train import plan, qnn

    if args.exchange_split is not None:
        qnn.EXCHANGE_SPLIT = args.exchange_split  # read when the exchange is traced
    rows = []
    for n in args.qubits:
        lean = n >= qnn.IN_PLACE_QUBITS
        chunk = (qnn.CHUNK_QUBITS if lean else None) if args.chunk is None else args.chunk or None
        for route in args.routes:
            one = None
            for d in args.devices:
                got = plan.compiled(
                    n, d, args.precision, exchange=ROUTES[route], chunk_qubits=chunk
                )
                one = one or got["peak_GiB"]
                ideal = plan.formula(n, d, args.precision, lean=chunk is not None)
                sent = sum(got["collective_GiB_per_block"].values())
                row = {
                    "route": route,
                    "n_qubits": n,
                    "devices": d,
                    "chunk_qubits": chunk,
                    "exchange_split": qnn.EXCHANGE_SPLIT,
                    "per_device_peak_MiB": got["peak_GiB"] * 1024,
                    "ratio_to_one_device_over_D": got["peak_GiB"] / (one / d),
                    "sent_per_device_per_block_MiB": sent * 1024,
                    "by_collective_MiB": {
                        k: v * 1024 for k, v in got["collective_GiB_per_block"].items()
                    },
                    "ideal_per_block_MiB": ideal["ideal_sent_per_device_per_step_GiB"] * 1024,
                }
                rows.append(row)
                print(json.dumps(row), flush=True)
    if args.json:
        command = "python benchmarks/bench_distributed.py " + shlex.join(argv or sys.argv[1:])
        machine = "2-core x86-64 CPU, CPU devices of one process; XLA's plan (nothing run)"
        out = {"command": command, "machine": machine, "rows": rows}
        args.json.write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
