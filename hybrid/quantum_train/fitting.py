"""Quantum-Train of a user's own model: a ``Generator`` and the user's ``apply(weights, x)``
trained through ``training.fit`` (progress, checkpoints, resume, the run directory's lock), then
exported: weights.safetensors keyed by the model's own key paths always, and the NumPy
classifier's network where the model is also spelled as an ``architecture`` stack.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jax
import numpy as np

from hybrid import devices, training
from hybrid.deploy import architecture, runs
from hybrid.quantum_train.generator import Generator, leaf_name

if TYPE_CHECKING:
    from hybrid.data import Dataset

Apply = Callable[[Any, jax.Array], jax.Array]


@dataclass(frozen=True)
class GeneratedModel:
    """``training.fit``'s model: params are the generator's, logits ``apply(weights, x)``."""

    generator: Generator
    apply_fn: Apply

    @property
    def n_weights(self) -> int:
        return self.generator.n_weights

    @property
    def n_qubits(self) -> int:
        return self.generator.n_qubits

    def n_trainable(self) -> int:
        return self.generator.n_trainable

    def init(self, key: jax.Array) -> dict:
        return self.generator.init(key)

    def weights(self, params: dict) -> Any:
        return self.generator.weights(params)

    def apply(self, params: dict, x: jax.Array) -> jax.Array:
        return self.apply_fn(self.weights(params), x)


def describe(gen: Generator) -> dict:
    """The generator as model.json records it (and as a resume must find it again)."""
    return {
        "type": "quantum-train",
        "n_weights": gen.n_weights,
        "n_qubits": gen.n_qubits,
        "chunks": gen.n_chunks,
        "n_trainable": gen.n_trainable,
        "depth": gen.depth,
        "ansatz": gen.ansatz,
        "scale": gen.scale,
        "layout": gen.layout,
        "mapping_hidden": list(gen.mapping_hidden),
        "leaves": {name: list(s) for name, s in zip(gen.names, gen.shapes, strict=True)},
    }


def _layer_arrays(gen: Generator, weights: Any, to_layers: Callable | None) -> list[np.ndarray]:
    arrays = to_layers(weights) if to_layers else gen.named(weights).values()
    return [np.asarray(a, np.float64) for a in arrays]


def check_layers(
    layers: Sequence[dict], arrays: list[np.ndarray], apply: Apply, weights: Any, x: np.ndarray
) -> None:
    """Refuse a layer stack that does not compute what ``apply`` computes on ``x``."""
    shapes = architecture.param_shapes(layers, x.shape[1:])
    if [tuple(a.shape) for a in arrays] != shapes:
        raise ValueError(
            f"to_layers gives arrays of shapes {[a.shape for a in arrays]}, the layer stack "
            f"needs {shapes}"
        )
    ours = architecture.apply(layers, arrays, np.asarray(x, np.float64))
    theirs = np.asarray(apply(weights, jax.numpy.asarray(x)), np.float64)
    gap = float(np.max(np.abs(ours - theirs)))
    if ours.shape != theirs.shape or gap > 1e-4 * (1 + float(np.max(np.abs(theirs)))):
        raise ValueError(
            f"the layer stack's logits differ from apply's by {gap:.3g} on {len(x)} inputs: "
            "check padding, weight layout and activations, or export weights only (layers=None)"
        )


def fit_generator(
    gen: Generator,
    apply: Apply,
    train: Dataset,
    test: Dataset,
    config: training.TrainConfig = training.TrainConfig(),
    *,
    out: str | os.PathLike,
    framework: str = "jax",
    layers: Sequence[dict] | None = None,
    to_layers: Callable[[Any], Sequence] | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
) -> tuple[dict, Any, list[dict]]:
    """Train the angles and mapping model of ``gen`` on ``apply(weights, x)``; write ``out``.

    ``out`` gets model.json, weights.npz and weights.safetensors (keyed by the template's key
    paths), metrics.json, the checkpoint and the learning curve, under the run directory's lock.
    With ``layers`` (the same network as an ``architecture`` stack) and ``to_layers`` (generated
    weights -> that stack's arrays; default the leaves in the generator's ``order``) the run is a
    "network" that ``hybrid predict`` and ``NumpyClassifier`` run with NumPy alone, after a check
    that its logits are ``apply``'s; without, it is "weights" only.

    Returns (params, generated weights, history).
    """
    runs.check_out(out, resume=resume, overwrite=overwrite)
    if gen.probs_fn is None:
        route = devices.resolve(gen.profile, gen.n_qubits)
        gen, device = replace(gen, profile=route), {"device": route.profile.name}
        device["route"] = route.reason
    else:
        device = {"device": "custom", "route": None}
    model = GeneratedModel(gen, apply)
    about = {**describe(gen), "framework": framework, **device}
    print(
        f"hybrid: quantum-train of a {framework} model on {train.name} ({len(train)} train / "
        f"{len(test)} test): M = {gen.n_weights} weights, {gen.n_qubits} qubits x "
        f"{gen.n_chunks} chunks, {gen.n_trainable} trainable; device {device['device']}",
        file=sys.stderr,
    )
    dataset = {"name": train.name, "source": train.source, "n_train": len(train)}
    dataset["n_test"] = len(test)
    with runs.claim(out, resume=resume, overwrite=overwrite):
        params, history = training.fit(
            model,
            (train.x, train.y),
            (test.x, test.y),
            config,
            run_dir=out,
            resume=resume,
            progress=progress,
            identity={"model": about, "dataset": train.name},
        )
        weights = jax.device_get(model.weights(params))
        step = jax.jit(model.apply)
        final = {
            f"{part}_{key}": value
            for part, data in (("train", train), ("test", test))
            for key, value in training.evaluate(
                step, params, data.x, data.y, config.eval_batch_size
            ).items()
        }
        labels = {"preprocessing": train.preprocessing, "class_names": list(train.class_names)}
        record = {"model": about, "training": asdict(config), "dataset": dataset}
        record["metrics"] = history[-1] | final
        named = gen.named(weights)
        if layers is None:
            runs.save_run(out, named, {"kind": "weights", **labels, **record})
        else:
            arrays = _layer_arrays(gen, weights, to_layers)
            check_layers(layers, arrays, apply, weights, test.x[:16])
            flat = np.concatenate([a.ravel() for a in arrays])
            shape = list(train.x.shape[1:])
            runs.save_network(out, list(layers), shape, flat, tensors=named, **labels, **record)
        training.plot_history({"quantum-train": history}, Path(out) / runs.CURVE)
    return params, weights, history


def load_weights(run_dir: str | os.PathLike, template: Any) -> Any:
    """A run's weights.safetensors as the pytree of ``template`` (the model's structure and
    dtypes): e.g. ``nnx.merge(graphdef, load_weights(run, params), rest)``."""
    from safetensors.numpy import load_file

    tensors = load_file(Path(run_dir) / runs.SAFETENSORS)
    flat, treedef = jax.tree_util.tree_flatten_with_path(template)
    names = [leaf_name(path) for path, _ in flat]
    missing = sorted(set(names) - set(tensors))
    if missing:
        raise ValueError(f"{run_dir}/{runs.SAFETENSORS} has no {missing[:3]}: another model's")
    leaves = [
        np.asarray(tensors[name], dtype=getattr(leaf, "dtype", None))
        for name, (_, leaf) in zip(names, flat, strict=True)
    ]
    return jax.tree_util.tree_unflatten(treedef, leaves)
