"""The ``hybrid`` command line: train, predict, study, report.

DESCRIPTION below is what ``hybrid --help`` shows (plain text: no reST markup in help).

The parsers below import nothing but argparse. Every command names its handler, a function in a
module of this package (``train``, ``predict``, ``ntk``, ``data``, ``info``), as
``"hybrid.cli.module:function"``; the module is imported only when that command runs. So
``--help`` answers at once, ``hybrid predict`` runs on NumPy alone, and each handler turns the
options into the library's typed configurations (docs/architecture.md).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import math
import os
import signal
import sys

# Choices the library defines; tests/test_imports.py checks they equal its own constants.
ESTIMATORS = ("exact", "shots", "ripe", "gaussian", "gaussian_absolute", "l2_sampling")
NORMS = ("exact", "approx")
LOSSES = ("mse", "softmax_ce")
INITS = ("standard", "low_rank")
MNIST_SOURCES = ("auto", "tfds", "idx", "sample")
RESOURCE_MODELS = ("mnist-qt", "iris-qt", "ripe-784", "qsvt")
# ``ntk_study.OPTIONS``, the reference's choice first (it is the default).
NTK_STUDY_OPTIONS = {
    "statistics": (
        ("pooled", "per_trial"),
        "pooled over trials, patterns, test points (reference) or per trial",
    ),
    "sparsity": (("pattern", "matrix"), "row sparsity s of the pattern (reference) or of K~"),
    "cnn_thresholds": (
        ("two_sets", "one_set"),
        "CNN k_thresh and percentiles from two n = 16 sets (reference) or one",
    ),
    "precondition": (
        ("current", "initial"),
        "f = c (log n)^0.9 with c = 0.76 (current reference) or 0.66 (initial)",
    ),
}


OVERWRITE_HELP = "replace the run already in OUT (all its files)"

DESCRIPTION = (
    "hybrid: train classical neural networks with quantum subroutines (Quantum-Train, "
    "(eps, gamma)-networks, quantum NTK) and predict with the exported network on NumPy alone."
)


class _Help(argparse.ArgumentDefaultsHelpFormatter):
    """Every option's help ends with its default (when it has one)."""


class _Parser(argparse.ArgumentParser):
    """An argparse parser whose refusals are one line naming the option and the value."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _at_least(low: int):
    """An argparse type: an integer >= ``low``, refused in one line otherwise."""

    def integer(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
        return value

    return integer


_positive, _natural = _at_least(1), _at_least(0)


def _fraction(text: str) -> float:
    """An argparse type: a number in [0, 1), refused in one line otherwise."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {value}")
    return value


def _rate(text: str) -> float:
    """An argparse type: a finite number > 0 (learning rates, errors), so that no NaN or inf
    reaches training and nothing is written for a value that cannot work."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text!r}")
    return value


def _probability(text: str) -> float:
    """An argparse type: a number strictly between 0 and 1 (a failure probability)."""
    value = _rate(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text!r}")
    return value


def _estimator_name(text: str) -> str:
    """An argparse type: ``exact``, ``shots:N`` or ``KIND@EPS`` (``hybrid.ntk.study``'s
    ``parse_estimator``), checked here so a typo is refused before a long study starts."""
    kind, _, shots = text.partition(":")
    if kind == "shots" and shots:
        _positive(shots)
        return text
    kind, at, eps = text.partition("@")
    if kind not in ESTIMATORS or (at and not eps) or (not at and kind != "exact"):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an estimator: write exact, shots:N or KIND@EPS with KIND one of "
            f"{', '.join(ESTIMATORS)} (e.g. ripe@0.1)"
        )
    if eps:
        try:
            _rate(eps)
        except argparse.ArgumentTypeError as err:
            raise argparse.ArgumentTypeError(f"{text!r}: eps {err}") from None
    return text


ANSATZE = ("ry-cnot", "u3-cu3")
# hybrid.quantum_train.controls.CONTROLS, spelled here so that the parser imports argparse only
# (tests/test_controls.py checks that the two agree)
CONTROLS = ("random-features", "random-input", "bits-only", "mps", "frozen-qnn")
# hybrid.quantum_train.generator.SCALES and hybrid.deploy.architecture.ACTIVATIONS, likewise
# (tests/test_generator.py)
SCALES = ("fan_in", "he")
ACTIVATIONS = ("relu", "tanh", "sigmoid", "erf", "gelu")


def _add_training_options(
    parser: argparse.ArgumentParser, *, steps=None, batch_size=None, lr=1e-2, optimizer=True
) -> None:
    """The options every ``hybrid train`` command spells alike."""
    if optimizer:
        parser.add_argument(
            "--epochs", type=_positive, help="training epochs (default: 10, more for small data)"
        )
        parser.add_argument("--optimizer", default="adam", help="any optax optimizer name")
        parser.add_argument(
            "--schedule", default="cosine", choices=["constant", "cosine"], help="learning rate"
        )
    steps_help = "optimizer steps in all" + (", in place of --epochs" if optimizer else " (T)")
    parser.add_argument("--steps", type=_positive, default=steps, help=steps_help)
    size_help = "mini-batch size" + ("" if batch_size else " (default: n/16, 8 to 64)")
    parser.add_argument("--batch-size", type=_positive, default=batch_size, help=size_help)
    parser.add_argument("--lr", type=_rate, default=lr, help="learning rate")
    parser.add_argument("--seed", type=int, default=0, help="initial weights, batch order, split")
    parser.add_argument(
        "--resume", action="store_true", help="continue OUT's checkpoint (the same run only)"
    )
    parser.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)


def _add_quantum_train(train) -> None:
    qt = train.add_parser("quantum-train", help="Quantum-Train (Liu et al., arXiv:2402.16465)")
    qt.add_argument(
        "--dataset", default="mnist", help="mnist, fashion_mnist, iris, or a .npz/.csv path"
    )
    qt.add_argument("--source", default="auto", help="image source: auto, tfds, idx (or sample)")
    qt.add_argument("--limit", type=_positive, help="use only the first LIMIT training examples")
    qt.add_argument("--device", default="auto", help="device profile name or .toml path")
    qt.add_argument(
        "--qnn-depth",
        type=_positive,
        help="QNN blocks L (default: sized so the trainable count stays a fraction of M)",
    )
    qt.add_argument(
        "--ansatz",
        default="ry-cnot",
        choices=ANSATZE,
        help="QNN block: ry-cnot (n angles) or u3-cu3, the reference's (6n angles)",
    )
    qt.add_argument("--layers", help="target network, e.g. 'dense:16,relu,dense:3'")
    qt.add_argument(
        "--mapping-hidden",
        type=_positive,
        nargs="+",
        help="hidden widths of the mapping model (default: (4, 20, 4), narrower for small nets)",
    )
    qt.add_argument(
        "--chunks",
        type=_positive,
        default=1,
        help="generate the weights in up to CHUNKS chunks of 2^n from one QNN of n qubits",
    )
    qt.add_argument(
        "--scale",
        choices=SCALES,
        help="per-matrix weight scale: he standardises each to He's sqrt(2/fan_in) (deep or "
        "large nets); default off, the reference's",
    )
    qt.add_argument(
        "--mapping-activation",
        choices=ACTIVATIONS,
        help="activation between the mapping model's layers (default none, the reference's)",
    )
    qt.add_argument("--baseline", action="store_true", help="also train the classical net")
    qt.add_argument("--classical", action="store_true", help="train only the classical net")
    qt.add_argument(
        "--control",
        nargs="*",
        choices=CONTROLS,
        metavar="NAME",
        help=f"train these controls in place of Quantum-Train ({', '.join(CONTROLS)}; none "
        f"named: {CONTROLS[0]}; docs/quantum_train.md)",
    )
    qt.add_argument(
        "--val-fraction",
        type=_fraction,
        help="share of the training set held out for validation, stratified, cut by --seed "
        "(default: 0.1 for mnist and fashion_mnist, 0 for iris and files)",
    )
    qt.add_argument("--out", default="runs/quantum-train", help="run directory")
    _add_mesh_options(qt)
    _add_training_options(qt)
    qt.set_defaults(func="hybrid.cli.train:quantum_train")


def _add_mesh_options(parser) -> None:
    """Several devices (docs/distributed.md): the mesh, and joining a multi-process run."""
    group = parser.add_argument_group("more than one device")
    group.add_argument(
        "--devices", type=_positive, help="devices to train on (data-parallel unless --mesh)"
    )
    group.add_argument("--mesh", help="data=D,state=S: batch over D, QNN state over S devices")
    group.add_argument("--coordinator", help="HOST:PORT of process 0 (Slurm, mpirun: automatic)")
    group.add_argument("--num-processes", type=_positive, help="processes in the run")
    group.add_argument("--process-id", type=int, help="this process's index, 0 ... P-1")


def _add_ripe(train) -> None:
    p = train.add_parser("ripe", help="(eps, gamma)-feedforward network (arXiv:1812.03089)")
    p.add_argument("--dataset", default="iris", help="iris, mnist, or a .npz/.csv path")
    p.add_argument("--source", default="auto", help="mnist source: auto, tfds, idx or sample")
    p.add_argument("--limit", type=_positive, help="use only the first LIMIT training examples")
    p.add_argument("--hidden", type=_positive, nargs="*", default=[10], help="hidden widths")
    p.add_argument(
        "--estimator",
        default="ripe",
        choices=[*ESTIMATORS, "circuit"],
        help="how inner products are estimated (circuit: the Hadamard-test circuit on --device)",
    )
    p.add_argument("--eps", type=_rate, default=0.1, help="relative error epsilon of estimates")
    p.add_argument("--gamma", type=_probability, default=0.05, help="failure probability gamma")
    p.add_argument("--shots", type=_positive, help="shots (estimator shots, or circuit mode)")
    p.add_argument(
        "--norms", default="exact", choices=NORMS, help="vector norms, exact or estimated"
    )
    p.add_argument("--device", default="lightning.qubit", help="profile for --estimator circuit")
    p.add_argument("--loss", default="mse", choices=LOSSES, help="training loss")
    p.add_argument("--init", default="standard", choices=INITS, help="weight initialisation")
    p.add_argument("--rank", type=_positive, default=6, help="rank of the low_rank initialisation")
    p.add_argument("--eval-every", type=_positive, default=100, help="steps between evaluations")
    p.add_argument("--out", default="runs/ripe", help="run directory")
    _add_training_options(p, steps=1200, batch_size=10, lr=0.07, optimizer=False)
    p.set_defaults(func="hybrid.cli.train:ripe")


def _add_ntk(commands) -> None:
    ntk = commands.add_parser("ntk", help="quantum NTK training (Zlokapa et al., 2107.09200)")
    sub = ntk.add_subparsers(dest="ntk_command", required=True)

    def data_options(p):
        p.add_argument("--dataset", default="mnist", help="mnist, or a .npz/.csv path")
        p.add_argument("--source", default="auto", help="mnist source: auto, tfds, idx, sample")
        p.add_argument("--classes", type=int, nargs=2, help="two labels (fc: 8 9, cnn: 1 0)")
        p.add_argument("--seed", type=int, default=0, help="draws of training and test points")

    s = sub.add_parser("study", help="exact/sparsified/diagonal NTK, kappa, measurements vs n")
    s.add_argument("--arch", choices=("fc", "cnn"), default="fc", help="network family")
    s.add_argument(
        "--sizes",
        type=_positive,
        nargs="+",
        default=[16, 32, 64, 128, 256, 512, 1024],
        help="training-set sizes n (balanced, even)",
    )
    s.add_argument("--trials", type=_positive, default=5, help="random training sets per size")
    s.add_argument(
        "--test-size",
        type=_positive,
        default=256,
        help="balanced test points (half from each class)",
    )
    s.add_argument("--bootstraps", type=_positive, default=3, help="sparsity patterns per trial")
    s.add_argument("--no-finite", action="store_true", help="skip the finite network")
    s.add_argument("--finite-trials", type=_positive, help="trials with a finite net (fc 5, cnn 1)")
    s.add_argument("--finite-epochs", type=_positive, help="default fc 100, cnn 20")
    s.add_argument("--finite-lr", type=_rate, help="SGD learning rate (fc 4.0, cnn 1.0)")
    s.add_argument("--cnn-stage-depth", type=_positive, default=3, help="conv layers per CNN stage")
    s.add_argument("--cnn-width", type=_positive, default=32, help="CNN channels")
    s.add_argument(
        "--estimators",
        type=_estimator_name,
        nargs="*",
        default=[],
        help="FC kernels from estimated inner products, e.g. ripe@0.1 shots:1000",
    )
    for name, (choices, text) in NTK_STUDY_OPTIONS.items():
        s.add_argument(
            "--" + name.replace("_", "-"), choices=choices, default=choices[0], help=text
        )
    s.add_argument("--out", default="runs/ntk-study", help="directory for study.json and plot")
    s.add_argument("--resume", action="store_true", help="continue OUT/study.json")
    s.add_argument("--overwrite", action="store_true", help="replace the study already in OUT")
    data_options(s)
    s.set_defaults(func="hybrid.cli.ntk:study")

    t = sub.add_parser("train", help="train the FC NTK classifier and export it (NumPy runnable)")
    t.add_argument("--n", type=_positive, default=512, help="balanced training set size")
    t.add_argument(
        "--approx", choices=("exact", "sparse", "diag"), default="exact", help="NTK approximation"
    )
    t.add_argument("--out", default="runs/ntk-fc", help="run directory")
    t.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)
    data_options(t)
    t.set_defaults(func="hybrid.cli.ntk:train", classes=[8, 9])

    q = sub.add_parser("qsvt", help="solve a small sparsified NTK system with QSVT")
    q.add_argument("--n", type=_positive, default=16, help="training points (a power of two <= 16)")
    q.add_argument(
        "--eps", type=_rate, nargs="+", default=[1e-2], help="polynomial approximation error(s)"
    )
    q.add_argument("--device", default="lightning.qubit", help="device profile name or .toml")
    q.add_argument(
        "--depths", type=_natural, nargs="+", default=[0, 10], help="hidden layers; 0: 0.1 L_conv"
    )
    q.add_argument("--out", help="also write the JSON report (with its command) to this file")
    data_options(q)
    q.set_defaults(func="hybrid.cli.ntk:qsvt")


def _add_data(commands) -> None:
    p = commands.add_parser("data", help="load a data set and summarise it")
    p.add_argument("name", help="mnist, fashion_mnist, iris, or a path to an .npz/.csv file")
    p.add_argument("--split", default="train", choices=["train", "test"], help="which split")
    p.add_argument("--source", default="auto", choices=MNIST_SOURCES, help="image source")
    p.add_argument("--data-dir", help="(Fashion-)MNIST IDX directory (default: $HYBRID_DATA_DIR)")
    p.add_argument("--classes", nargs="+", help="keep these classes, e.g. --classes 8 9")
    p.add_argument("--limit", type=_positive, help="keep the first LIMIT examples")
    p.add_argument("--seed", type=int, default=0, help="80/20 split of user files")
    p.set_defaults(func="hybrid.cli.data:describe")


def _add_resources(commands) -> None:
    p = commands.add_parser(
        "resources", help="qubits, native gates, depth, shots and QPU cost of a model on a device"
    )
    p.add_argument(
        "target",
        help=f"a run directory, one of {', '.join(RESOURCE_MODELS)}, or plan (memory and "
        "exchange of a state over --devices)",
    )
    p.add_argument("--device", default="qiskit.aer-noisy", help="device profile name or .toml")
    p.add_argument("--write", action="store_true", help="save the report in RUN_DIR")
    p.add_argument("--qubits", type=_positive, default=20, help="plan: QNN qubits")
    p.add_argument("--devices", type=_positive, default=1, help="plan: devices holding the state")
    p.add_argument("--precision", default="double", choices=("single", "double"), help="plan")
    p.add_argument("--depth", type=_positive, default=1, help="plan: QNN blocks L")
    p.set_defaults(func="hybrid.cli.info:resources")


def parser() -> argparse.ArgumentParser:
    root = _Parser(prog="hybrid", description=DESCRIPTION, formatter_class=_Help)
    commands = root.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train a model and export it").add_subparsers(
        dest="model", required=True
    )
    _add_quantum_train(train)
    _add_ripe(train)

    predict = commands.add_parser("predict", help="predict with an exported run (NumPy only)")
    predict.add_argument("run_dir", help="a run directory written by hybrid train")
    predict.add_argument("--data", required=True, help="a .npy of raw inputs, or a data set")
    predict.add_argument("--split", default="test", choices=["train", "test"], help="data split")
    predict.add_argument("--source", default="auto", choices=MNIST_SOURCES, help="mnist source")
    predict.add_argument("--output", help="write one predicted class name per line")
    predict.add_argument("--overwrite", action="store_true", help="replace an existing --output")
    predict.add_argument(
        "--all-rows",
        action="store_true",
        help="predict every row of a labelled .csv/.npz (or iris), not only its test part",
    )
    predict.add_argument(
        "--seed",
        type=int,
        help="seed of the 80/20 split of a user file without test arrays "
        "(default: the seed the run was trained with)",
    )
    predict.set_defaults(func="hybrid.cli.predict:predict")

    commands.add_parser("devices", help="list device profiles").set_defaults(
        func="hybrid.cli.info:devices"
    )
    _add_data(commands)
    _add_ntk(commands)
    _add_resources(commands)
    _every_parser_shows_defaults(root)
    return root


def _every_parser_shows_defaults(parser: argparse.ArgumentParser) -> None:
    """Give every (sub)parser the formatter that appends defaults to option help."""
    parser.formatter_class = _Help
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _every_parser_shows_defaults(sub)


def handler(args: argparse.Namespace):
    """The function that runs ``args``' command, imported from its ``"module:function"``."""
    module, name = args.func.split(":")
    return getattr(importlib.import_module(module), name)


def _on_ctrl_c(signum, frame) -> None:
    """Until a trainer installs its own handler, Ctrl-C stops the program; remembered in
    ``PRESSED`` too, so a press that lands where Python swallows the exception (a destructor, a
    callback during start-up) still ends the run with status 130."""
    PRESSED.append(signum)
    raise KeyboardInterrupt


PRESSED: list[int] = []
_on_ctrl_c.pressed = PRESSED  # read by hybrid.training.ctrl_c_between_steps
_NO_CHECKPOINT = "interrupted; this interruption wrote no checkpoint"


def _interrupted(args: argparse.Namespace | None, said: str) -> str:
    """What to print on Ctrl-C: the trainer's own words, else whether OUT holds a checkpoint."""
    if said:
        return said
    out = getattr(args, "out", None)
    if out and os.path.isfile(os.path.join(out, "checkpoint.npz")):
        return f"interrupted; {out} holds a checkpoint: rerun the same command with --resume"
    return _NO_CHECKPOINT


def main(argv: list[str] | None = None) -> int:
    """Run one ``hybrid`` command; Ctrl-C is handled from the first line (status 130)."""
    previous = None
    PRESSED.clear()
    try:
        with contextlib.suppress(ValueError):  # not the main thread: signals cannot be caught
            previous = signal.signal(signal.SIGINT, _on_ctrl_c)
        return _run(argv)
    except KeyboardInterrupt:  # before _run's own handling began
        print(f"\nhybrid: {_NO_CHECKPOINT}", file=sys.stderr)
        return 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


def _run(argv: list[str] | None) -> int:
    args = None
    try:
        args = parser().parse_args(argv)
        code = handler(args)(args)
    except KeyboardInterrupt as err:
        # hybrid.training.Interrupted says what it saved; any other Ctrl-C is checked here
        print(f"\nhybrid: {_interrupted(args, str(err))}", file=sys.stderr)
        return 130
    except (ValueError, OSError) as err:
        print(f"hybrid: error: {_one_line(err)}", file=sys.stderr)
        return 2
    if PRESSED:
        print(f"\nhybrid: {_interrupted(args, '')}", file=sys.stderr)
        return 130
    return code


def _one_line(err: Exception) -> str:
    """An error as one line; an OSError names its file."""
    if isinstance(err, OSError) and err.filename and err.strerror:
        return f"{err.filename}: {err.strerror}"
    return " ".join(str(err).split()) or type(err).__name__


if __name__ == "__main__":
    sys.exit(main())
