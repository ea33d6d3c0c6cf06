"""A Quantum-Train run: data in, the model trained through ``hybrid.training.fit``, a run
directory out (``hybrid.deploy.runs``), plus the resources its QNN would need on hardware."""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import asdict, replace
from pathlib import Path

import jax
import numpy as np
from jax.sharding import Mesh

import hybrid.quantum_train.controls as controls
import hybrid.quantum_train.qnn as qnn
from hybrid import devices, training
from hybrid.deploy import architecture, runs
from hybrid.devices import Profile, resources
from hybrid.devices import mesh as meshes
from hybrid.quantum_train.model import Classical, QuantumTrain, size_to_net


def default_layers(dataset_name: str, input_shape: tuple, n_classes: int) -> list:
    """The paper's CNN for (Fashion-)MNIST images, a small MLP for tabular data such as Iris."""
    if (
        dataset_name in ("mnist", "fashion_mnist")
        and tuple(input_shape) == (28, 28, 1)
        and n_classes == 10
    ):
        return architecture.QT_MNIST_CNN
    if len(input_shape) == 3:
        return [
            {"type": "conv", "filters": 8, "kernel": 3},
            {"type": "maxpool", "size": 2},
            {"type": "flatten"},
            {"type": "dense", "units": n_classes},
        ]
    return architecture.mlp((16, 16), n_classes, "relu")


MODELS = ("quantum-train", *controls.CONTROLS, "classical")


def run(
    dataset: str = "mnist",
    out: str | os.PathLike = "runs/quantum-train",
    *,
    models: tuple[str, ...] = ("quantum-train",),
    layers: list | None = None,
    depth: int | None = None,
    ansatz: str = "ry-cnot",
    mapping_hidden: tuple[int, ...] | None = None,
    chunks: int = 1,
    scale: str | None = None,
    mapping_activation: str | None = None,
    device: Profile | devices.Route | str = "auto",
    config: training.TrainConfig = training.TrainConfig(),
    source: str = "auto",
    limit: int | None = None,
    val_fraction: float | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    mesh: Mesh | None = None,
) -> dict:
    """Load data, train each of ``models`` on the target net ``layers``, export, report.

    ``models`` names what is trained: ``quantum-train``, any of its controls
    (``controls.CONTROLS``: QT with one part replaced, at QT's trainable count) and the
    ``classical`` net itself. ``depth`` and ``mapping_hidden`` left None are sized to the net
    (``model.size_to_net``); ``chunks``, ``scale`` and ``mapping_activation`` are the generator's
    (``hybrid.quantum_train.generator``). ``val_fraction`` of the training set (stratified, cut
    by the config's seed; default ``data.default_val_fraction``: on where the test set is fixed)
    is held out for validation, scored every epoch; the test set is scored once, at the end. The
    first model goes to ``out``, a classical net trained beside it to ``out/baseline``, a control
    to ``out/NAME``. Each is
    an ordinary run directory that ``hybrid.classifier.NumpyClassifier`` evaluates with NumPy
    alone. ``out`` must be new or empty unless ``resume`` (the same run only) or ``overwrite``;
    it is locked while this run writes. Everything that can be refused (the directory, the
    device, the data, the network) is checked before anything is written; the device is resolved
    once, here, and its route recorded in model.json.

    ``mesh`` (``hybrid.devices.mesh.make_mesh``) trains data-parallel over its ``data`` axis and
    shards the QNN's state over its ``state`` axis (``auto`` then takes the reversible ``jax``
    route, the one that runs sharded). In a multi-process run only process 0 checks and writes
    ``out``; the others train alongside it and write nothing.
    """
    unknown = set(models) - set(MODELS)
    if unknown or not models:
        raise ValueError(f"models must be some of {MODELS}, got {models}")
    writer = meshes.is_writer()
    meshes.on_writer(lambda: runs.check_out(out, resume=resume, overwrite=overwrite))
    train, val, test, layers = _data_and_net(
        dataset, layers, source, limit, config.seed, val_fraction
    )
    sized = config.sized_to(len(train.y))
    if sized != config:
        print(
            f"hybrid: training sized to {len(train.y)} examples: batch {sized.batch_size}, "
            f"{sized.epochs} epochs (--batch-size and --epochs set them)",
            file=sys.stderr,
        )
        config = sized
    input_shape = tuple(train.x.shape[1:])
    sizing = size_to_net(
        architecture.param_count(layers, input_shape),
        ansatz,
        depth,
        tuple(mapping_hidden) if mapping_hidden is not None else None,
        chunks,
    )
    settings = {"depth": sizing.depth, "ansatz": ansatz, "mapping_hidden": sizing.mapping_hidden}
    # recorded only when set, so that runs from before these options resume as they were
    settings |= {"chunks": chunks} if chunks != 1 else {}
    settings |= {"scale": scale} if scale is not None else {}
    settings |= {"mapping_activation": mapping_activation} if mapping_activation else {}
    if meshes.state_qubits(mesh) and device == "auto":
        device = "jax"
    jobs = [
        _build(kind, layers, input_shape, settings, device, config.seed, sizing.why, mesh)
        for kind in models
    ]
    if set(models) != {"classical"}:  # said once nothing more can be refused
        if depth is None or mapping_hidden is None:
            print(f"hybrid: {sizing.why}", file=sys.stderr)
        if sizing.warning:
            print(f"hybrid: warning: {sizing.warning}", file=sys.stderr)
    out = Path(out)
    report: dict = {
        "dataset": dataset,
        "source": train.source,
        "n_train": len(train.y),
        "n_val": 0 if val is None else len(val.y),
        "n_test": len(test.y),
        "runs": {},
    }
    if mesh is not None:
        report["mesh"] = meshes.sizes(mesh) | {"processes": jax.process_count()}
    histories: dict[str, list[dict]] = {}
    claim = runs.claim if writer else _no_claim
    with claim(out, resume=resume, overwrite=overwrite):
        for i, (kind, model, about) in enumerate(jobs):
            run_dir = out if i == 0 else out / ("baseline" if kind == "classical" else kind)
            if kind == "quantum-train" and devices.get(about["device"]).plugin:
                about["resources"] = resources_report(
                    devices.get(about["device"]),
                    model.n_qubits,
                    sizing.depth,
                    n_train=len(train.y),
                    batch_size=config.batch_size,
                    n_test=len(test.y),
                    eval_batch_size=config.eval_batch_size,
                    ansatz=ansatz,
                )
            histories[kind], report["runs"][kind] = _train_and_export(
                model,
                about,
                run_dir,
                (train, val, test),
                layers,
                dataset,
                config,
                resume,
                progress,
                mesh,
            )
        if len(histories) > 1 and writer:  # every model of the run on one plot, in the main run
            training.plot_history(histories, out / runs.CURVE)
    return report


def _data_and_net(
    dataset: str, layers, source: str, limit: int | None, seed: int, val_fraction: float | None
):
    """The train, validation (None when off) and test sets, and the target net
    (``default_layers`` unless given), checked to end in one output per class."""
    from hybrid import data

    if val_fraction is None:
        val_fraction = data.default_val_fraction(dataset)
    train = data.load(dataset, "train", source=source, limit=limit, seed=seed)
    train, val = data.split_validation(train, val_fraction, seed)
    test = data.load(dataset, "test", source=source, seed=seed)
    input_shape = tuple(train.x.shape[1:])
    layers = list(layers or default_layers(train.name, input_shape, len(train.class_names)))
    out_units = architecture.output_shape(layers, input_shape)
    if out_units != (len(train.class_names),):
        raise ValueError(
            f"the network ends in {out_units} outputs but {dataset} has "
            f"{len(train.class_names)} classes; make the last dense layer that wide"
        )
    return train, val, test, layers


@contextlib.contextmanager
def _no_claim(out, *, resume: bool, overwrite: bool):
    """A process other than 0 of a multi-process run: process 0 holds the claim."""
    yield None


def _build(
    kind: str,
    layers: list,
    input_shape: tuple,
    settings: dict,
    device,
    seed: int,
    why: str = "",
    mesh=None,
):
    """(kind, model, its description for model.json, with ``why`` its depth and mapping
    widths were chosen); ``seed`` (the run's) draws a control's fixed random parts; a QNN's
    device resolved here, once."""
    if kind == "classical":
        model = Classical(tuple(layers), input_shape)
        return kind, model, {"type": kind, **_counts(model)}
    if kind == "quantum-train":
        model = QuantumTrain(tuple(layers), input_shape, **settings)
    else:
        model = controls.build(kind, layers, input_shape, seed=seed, **settings)
    about = {"type": kind, "n_qubits": model.n_qubits, **settings}
    about |= {"sizing": why} if why else {}
    about["mapping_hidden"] = list(settings["mapping_hidden"])
    if kind != "quantum-train":
        about |= controls.describe(model)
    if kind in controls.QNN_MODELS:
        route = devices.resolve(device, model.n_qubits)
        model = replace(model, profile=route, mesh=mesh)
        about |= {"device": route.profile.name, "route": route.reason}
    else:
        about |= {"device": "classical", "route": None}
    return kind, model, about | _counts(model)


def _counts(model) -> dict:
    return {"n_weights": model.n_weights, "n_trainable": model.n_trainable()}


def _train_and_export(
    model, about, run_dir, sets, layers, dataset, config, resume, progress, mesh=None
):
    """Train one model through ``training.fit`` on ``sets`` = (train, val or None, test) and
    write its run directory (process 0 only); its history and its report row (the last epoch's
    metrics: loss and accuracy on the training and validation sets, and on the test set, scored
    there once)."""
    train, val, test = sets
    input_shape = list(train.x.shape[1:])
    n_val = 0 if val is None else len(val.y)
    print(
        f"hybrid: {about['type']} on {train.name} ({len(train.y)} train / {n_val} val / "
        f"{len(test.y)} test, {train.source}): M = {about['n_weights']} weights, "
        f"{about['n_trainable']} trainable"
        + (f"; device {about['device']} ({about['route']})" if about.get("route") else ""),
        file=sys.stderr,
    )
    params, history = training.fit(
        model,
        (train.x, train.y),
        (test.x, test.y),
        config,
        val=None if val is None else (val.x, val.y),
        run_dir=run_dir,
        resume=resume,
        progress=progress,
        identity={
            "model": {k: v for k, v in about.items() if k != "resources"},
            "architecture": {"layers": list(layers), "input_shape": input_shape},
            "dataset": str(dataset),
            "n_val": n_val,
        },
        mesh=mesh,
    )
    weights = np.asarray(model.weights(params))
    row = {"run_dir": str(run_dir), **about, **history[-1], "epochs_run": len(history)}
    if not meshes.is_writer():
        return history, row
    runs.save_network(
        run_dir,
        layers,
        input_shape,
        weights,
        preprocessing=train.preprocessing,
        class_names=train.class_names,
        model=about,
        training=asdict(config),
        dataset={
            "name": dataset,
            "source": train.source,
            "n_train": len(train.y),
            "n_val": n_val,
            "n_test": len(test.y),
        },
        metrics=history[-1],
    )
    training.plot_history({about["type"]: history}, Path(run_dir) / runs.CURVE)
    return history, row


def resources_report(
    profile: Profile,
    n_qubits: int,
    depth: int,
    *,
    n_train: int,
    batch_size: int,
    n_test: int | None = None,
    eval_batch_size: int = 1000,
    shots: int | None = None,
    ansatz: str = "ry-cnot",
) -> dict:
    """Resources of a Quantum-Train model on ``profile``: its QNN circuit, shots per step and the
    executions of an epoch (``resources.training_cost``)."""
    cost = resources.training_cost(
        profile,
        qnn.tape(n_qubits, depth, ansatz),
        n_train=n_train,
        batch_size=batch_size,
        n_test=n_test,
        eval_batch_size=eval_batch_size,
        shots=shots,
    )
    return {
        "model": "quantum-train",
        "n_qubits": n_qubits,
        "depth": depth,
        "ansatz": ansatz,
        **cost,
    }


def run_resources_report(run_dir: str | os.PathLike, profile: Profile) -> dict:
    """Resources of an exported Quantum-Train run directory on ``profile``; the run is read
    through the checked loader, so an edited or damaged record is refused, never reported."""
    spec, _ = runs.load_run(run_dir)
    model = spec.get("model", {})
    if model.get("type") != "quantum-train":
        raise ValueError(f"{run_dir} is a {model.get('type')!r} run; only quantum-train has a QNN")
    config = spec.get("training", {})
    n_train = spec.get("dataset", {}).get("n_train")
    missing = [k for k in ("n_qubits", "depth") if k not in model]
    if n_train is None or missing:
        raise ValueError(
            f"{run_dir}/{runs.SPEC} records no {', '.join(missing or ['dataset.n_train'])}"
        )
    return resources_report(
        profile,
        int(model["n_qubits"]),
        int(model["depth"]),
        n_train=int(n_train),
        batch_size=int(config.get("batch_size", 64)),
        n_test=spec["dataset"].get("n_test"),
        eval_batch_size=int(config.get("eval_batch_size", 1000)),
        ansatz=model.get("ansatz", "ry-cnot"),
    )


def load(
    run_dir: str | os.PathLike,
    profile: Profile | str,
    mapping_hidden: tuple[int, ...] | None = None,
):
    """A Quantum-Train run's model on ``profile`` and its trained parameters (from the checkpoint).

    The exported weights suffice for inference; the QNN angles and the mapping model, needed to
    regenerate the weights from a device's probabilities, live in the run's checkpoint.
    ``mapping_hidden`` defaults to the one recorded in model.json (runs older than that record
    used the reference (4, 20, 4)); the ansatz is the recorded one (older runs: ry-cnot).
    """
    run_dir = Path(run_dir)
    spec, _ = runs.load_run(run_dir)
    arch, about = spec["architecture"], spec["model"]
    settings = {
        "depth": int(about["depth"]),
        "profile": profile,
        "ansatz": about.get("ansatz", "ry-cnot"),
        "mapping_hidden": tuple(mapping_hidden or about.get("mapping_hidden", (4, 20, 4))),
        "chunks": int(about.get("chunks", 1)),
        "scale": about.get("scale"),
    }
    shape = (tuple(arch["layers"]), tuple(arch["input_shape"]))
    kind = {"control": "random-features"}.get(about.get("type"), about.get("type"))
    if kind in controls.CONTROLS:
        seed = about.get("feature_seed", about.get("input_seed", 0))
        model = controls.build(kind, *shape, seed=int(seed), **settings)
    else:
        model = QuantumTrain(*shape, **settings)
    config = training.TrainConfig(**spec.get("training", {}))
    like = model.init(jax.random.key(config.seed))
    state = (like, training.optimizer_for(model, config, 1).init(like))
    (params, _), _ = training.load_checkpoint(run_dir / training.CHECKPOINT, state)
    return model, params


def on_device(model, profile: Profile | devices.Route | str):
    """The same Quantum-Train model with its probabilities measured on ``profile``."""
    return replace(model, profile=devices.resolve(profile, model.n_qubits), probs_fn=None)
