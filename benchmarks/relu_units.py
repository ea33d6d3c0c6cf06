"""Which ReLU units of an exported network ever fire, and how much its logits vary over images:
what tells a dead layer or a collapsed output from a net that learned (issue 25's runs).

    HYBRID_DATA_DIR=../shared/data python benchmarks/relu_units.py runs/issue25/default-s0 \
        runs/issue25/he-relu-s0 --data fashion_mnist --limit 1000
"""

from __future__ import annotations

import argparse
import json
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="run directories of networks")
    parser.add_argument("--data", default="fashion_mnist")
    parser.add_argument("--limit", type=int, default=1000, help="first LIMIT test examples")
    args = parser.parse_args(argv)

    import numpy as np

    from hybrid import data
    from hybrid.deploy import architecture, preprocessing
    from hybrid.deploy.classifier import NumpyClassifier

    test = data.load(args.data, "test", limit=args.limit)
    for run in args.runs:
        clf = NumpyClassifier.load(run)
        spec = clf.spec["architecture"]
        layers, shape = spec["layers"], tuple(spec["input_shape"])
        params = [clf.arrays[f"w{i}"] for i in range(len(clf.arrays))]
        x = preprocessing.apply(clf.spec["preprocessing"], test.raw)
        units = []
        for depth, layer in enumerate(layers):
            if layer["type"] != "relu":
                continue
            used = len(architecture.param_shapes(layers[: depth + 1], shape))
            h = architecture.apply(layers[: depth + 1], params[:used], x).reshape(len(x), -1)
            units.append({"layer": depth, "firing": int((h > 0).any(0).sum()), "of": h.shape[1]})
        logits = clf.decision_function(test.raw)
        row = {
            "run": run,
            "relu_units": units,
            "logit_std_over_images": float(np.mean(np.std(logits, axis=0))),
            "accuracy": clf.score(test.raw, test.y),
        }
        print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
