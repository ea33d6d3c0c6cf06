"""The spread of p_i 2^n at the start: the mps control's start against plain Gaussian MPS sites
(its former start) and a random circuit's Porter-Thomas distribution (issue 22).

    python benchmarks/mps_start.py --qubits 13 --depth 96 --seeds 0 1 2 \
        --json docs/results/quantum_train/mps_start.json
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--qubits", type=int, default=13)
    parser.add_argument("--depth", type=int, default=96, help="QT's L: the MPS matches its angles")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    import jax
    import numpy as np

    from hybrid.deploy import architecture
    from hybrid.quantum_train import controls

    n = args.qubits
    layers = architecture.mlp((), 2 ** (n - 1))  # one dense layer on 1 input: M = 2^n weights
    mps = controls.build("mps", layers, (1,), depth=args.depth)
    assert mps.n_qubits == n, mps.n_qubits

    def spread(p) -> dict:
        p = np.asarray(p) * 2**n
        return {"std": float(np.std(p)), "max": float(np.max(p))}

    rows = []
    for seed in args.seeds:
        key = jax.random.key(seed)
        gaussian = [
            jax.random.normal(k, s) / math.sqrt(2 * s[0])
            for k, s in zip(
                jax.random.split(key, len(mps.site_shapes)), mps.site_shapes, strict=True
            )
        ]
        amplitudes = np.random.default_rng(seed).normal(size=(2, 2**n))
        porter_thomas = (amplitudes**2).sum(0) / (amplitudes**2).sum()
        rows.append(
            {
                "seed": seed,
                "mps_start": spread(mps.born(mps.init(key)["sites"])),
                "gaussian_sites": spread(mps.born(gaussian)),
                "porter_thomas": spread(porter_thomas),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    if args.json:
        command = "python benchmarks/mps_start.py " + shlex.join(argv or sys.argv[1:])
        out = {"command": command, "n_qubits": n, "bonds": list(mps.bonds), "rows": rows}
        args.json.write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
