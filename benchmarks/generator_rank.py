"""How many independent directions each model can move the generated weights in: the numerical
rank of the Jacobian of the M weights with respect to the trainable parameters, at a model's
initial parameters. The trainable count is an upper bound; a mapping model without activations
(the reference's, and so QT's and its controls' here) is one affine map of its inputs, so
widening it adds parameters but no directions.

    python benchmarks/generator_rank.py --depth 96 --seeds 0 1 \
        --json docs/results/quantum_train/generator_rank.json

The reference CNN (M = 6,690, 13 qubits), the ansatz ry-cnot; float64 on the ``jax`` route;
singular values above 1e-9 of the largest count.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time

MODELS = ("quantum-train", "random-features", "random-input", "bits-only", "mps", "frozen-qnn")


def rank(model, key, tol: float = 1e-9) -> tuple[int, int]:
    """(numerical rank of d weights / d params, the model's trainable count) at
    ``model.init(key)``. Frozen leaves need no mask: the model stops their gradient (frozen-qnn's
    angles), so their columns are zero and add no rank."""
    import jax
    import jax.numpy as jnp
    from jax.flatten_util import ravel_pytree

    flat, unravel = ravel_pytree(model.init(key))
    # rows by reverse mode, a batch of one-hot cotangents at a time: the QNN's adjoint is a
    # custom VJP, which forward mode cannot enter
    out, pullback = jax.vjp(lambda v: model.weights(unravel(v)), flat)
    row = jax.jit(lambda i: pullback(jax.nn.one_hot(i, out.size, dtype=out.dtype))[0])
    jacobian = jax.lax.map(row, jnp.arange(out.size), batch_size=256)
    s = jnp.linalg.svd(jacobian, compute_uv=False)
    return int(jnp.sum(s > tol * s[0])), model.n_trainable()


def main(argv: list[str] | None = None) -> int:
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("--depth", type=int, default=96, help="QNN blocks L (96: 1,497 trainable)")
    cli.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    cli.add_argument("--seeds", type=int, nargs="+", default=[0])
    cli.add_argument("--json", help="write the rows here too")
    args = cli.parse_args(argv)

    import jax

    jax.config.update("jax_enable_x64", True)
    from hybrid.deploy import architecture
    from hybrid.quantum_train import QuantumTrain, controls

    shape, rows = (28, 28, 1), []
    settings = {"depth": args.depth, "ansatz": "ry-cnot", "profile": "jax"}
    for seed in args.seeds:
        for name in args.models:
            layers = tuple(architecture.QT_MNIST_CNN)
            model = (
                QuantumTrain(layers, shape, **settings)
                if name == "quantum-train"
                else controls.build(name, layers, shape, seed=seed, **settings)
            )
            t0 = time.perf_counter()
            r, count = rank(model, jax.random.key(seed))
            row = {"model": name, "depth": args.depth, "seed": seed, "n_trainable": count}
            row |= {"jacobian_rank": r, "n_weights": 6690, "seconds": time.perf_counter() - t0}
            print(json.dumps(row), flush=True)
            rows.append(row)
    if args.json:
        with open(args.json, "w") as f:
            about = {"command": " ".join(["python", *sys.argv]), "machine": platform.platform()}
            json.dump(about | {"rows": rows}, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
