"""The spread of a generated network's logits before any training: what tells a weight scale
that compounds layer after layer (``scale="he"``, ``generator.he_standardised``) from one that
keeps the signal at order one. The Flax ResNet of examples/quantum_train_flax.py (130,314
weights, 13 qubits x 16 chunks, L = 40, ReLU mapping) on 256 Fashion-MNIST test images.

    HYBRID_DATA_DIR=../shared/data python benchmarks/initial_logits.py --seeds 0 1
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    cli.add_argument("--images", type=int, default=256)
    args = cli.parse_args(argv)

    import jax
    import jax.numpy as jnp

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
    from quantum_train_flax import build

    from hybrid import data, quantum_train

    params, apply, _, _ = build("resnet", 32)
    x = jnp.asarray(data.load("fashion_mnist", "test", limit=args.images).x)
    for scale in (None, "he"):
        gen = quantum_train.generator(
            params, depth=40, chunks=16, scale=scale, mapping_activation="relu"
        )
        for seed in args.seeds:
            logits = apply(gen.weights(gen.init(jax.random.PRNGKey(seed))), x)
            row = {"scale": scale, "seed": seed, "logit_std": float(jnp.std(logits))}
            print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
