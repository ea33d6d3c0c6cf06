"""Handlers of ``hybrid train``: each turns the parsed options into typed configurations and
calls the library, which never sees an ``argparse.Namespace``."""

from __future__ import annotations

import argparse
import json

from hybrid.cli import CONTROLS
from hybrid.training import TrainConfig


def train_config(args: argparse.Namespace, **fixed) -> TrainConfig:
    """The one ``TrainConfig`` from the options every ``hybrid train`` command spells alike."""
    options = {
        "epochs": getattr(args, "epochs", None),
        "steps": args.steps,
        "batch_size": args.batch_size,
        "learning_rate": args.lr,
        "optimizer": getattr(args, "optimizer", None),
        "schedule": getattr(args, "schedule", None),
        "seed": args.seed,
        "eval_every": getattr(args, "eval_every", None),
    }
    # None is passed on for epochs and batch size: the run then sizes them to its data
    given = {k: v for k, v in options.items() if v is not None or k in ("epochs", "batch_size")}
    return TrainConfig(**(given | fixed))


def _layers(text: str | None) -> list | None:
    """``--layers`` read, or refused in one line that quotes it."""
    from hybrid.deploy import architecture

    if not text:
        return None
    try:
        return architecture.parse(text)
    except ValueError as err:
        raise ValueError(f"--layers {text!r}: {err}") from None


def mesh_of(args: argparse.Namespace):
    """The mesh ``--devices``/``--mesh`` ask for (None: one device), after joining a
    multi-process run when ``--coordinator`` is given or Slurm/Open MPI started this one."""
    from hybrid.devices import mesh as meshes

    meshes.initialize(args.coordinator, args.num_processes, args.process_id)
    if args.devices is None and args.mesh is None:
        return None
    sizes = meshes.parse(args.mesh or "")
    state = sizes.get(meshes.STATE, 1)
    return meshes.make_mesh(args.devices, data=sizes.get(meshes.DATA), state=state)


def quantum_train(args: argparse.Namespace) -> int:
    from hybrid import quantum_train
    from hybrid.devices import mesh as meshes

    mesh = mesh_of(args)

    if args.classical:
        models = ("classical",)
    else:
        controls = CONTROLS[:1] if args.control == [] else args.control  # a bare --control
        models = tuple(controls or ("quantum-train",))
        models += ("classical",) if args.baseline else ()
    report = quantum_train.run(
        args.dataset,
        args.out,
        models=models,
        layers=_layers(args.layers),
        depth=args.qnn_depth,
        ansatz=args.ansatz,
        mapping_hidden=tuple(args.mapping_hidden) if args.mapping_hidden else None,
        chunks=args.chunks,
        scale=args.scale,
        mapping_activation=args.mapping_activation,
        device=args.device,
        config=train_config(args),
        source=args.source,
        limit=args.limit,
        val_fraction=args.val_fraction,
        resume=args.resume,
        overwrite=args.overwrite,
        mesh=mesh,
    )
    if meshes.is_writer():
        print(json.dumps(report, indent=2))
    return 0


def ripe(args: argparse.Namespace) -> int:
    from hybrid.ripe import feedforward
    from hybrid.ripe.estimators import Estimator

    circuit = args.estimator == "circuit"
    estimator = None
    if not circuit:
        estimator = Estimator(
            args.estimator, eps=args.eps, gamma=args.gamma, shots=args.shots, norms=args.norms
        )
    result = feedforward.run(
        args.dataset,
        args.out,
        hidden=tuple(args.hidden),
        loss=args.loss,
        init=args.init,
        rank=args.rank,
        config=train_config(args, optimizer="sgd", schedule="constant"),
        estimator=estimator,
        device=args.device if circuit else None,
        shots=args.shots if circuit else None,
        source=args.source,
        limit=args.limit,
        resume=args.resume,
        overwrite=args.overwrite,
    )
    print(json.dumps(result, indent=2))
    return 0
