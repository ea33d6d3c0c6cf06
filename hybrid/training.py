"""One Optax training loop, one ``TrainConfig`` and one run-directory record for every
gradient-trained model in hybrid.

A model is anything with ``init(key)``, ``apply(params, x) -> logits``; ``fit`` adds mini-batches,
a progress line, per-epoch metrics (``metrics.json``), a checkpoint after every epoch and on Ctrl-C,
``resume``, and the learning-curve plot. A trainer with its own compiled step (the
(eps, gamma)-network of ``hybrid.ripe.feedforward``) uses the same pieces: ``RunRecord`` for
checkpoints, metrics and the same-run check, ``ctrl_c_between_steps`` for a clean stop. Fixed
seeds give identical runs, so a resumed run continues exactly where the interrupted one stopped.

Ctrl-C is taken between steps, never inside one: a KeyboardInterrupt raised inside a
``jax.pure_callback`` (the lightning route of ``hybrid.quantum_train.qnn``) would surface as an
XLA error with no checkpoint. A resume is refused unless the checkpoint was written by the same
run: the same configuration, the same identity (the caller's model description) and the same data
fingerprint.

Model selection reads the validation set only: ``fit`` scores ``val`` after every epoch and the
test set once, after the last epoch, so no per-epoch test figure can steer a choice.

Two clocks are recorded per epoch, cumulative over resumed sessions: ``train_loop_s``, the
training steps alone, and ``wall_s``, the whole of ``fit`` (compilation, evaluation, checkpoints).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import signal
import sys
import time
import zipfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from hybrid import jaxcheck  # noqa: F401  (one clear line if JAX is too new)
from hybrid.deploy import runs
from hybrid.devices import mesh as meshes

CHECKPOINT = runs.CHECKPOINT
METRICS = runs.METRICS


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during training; the message says what was saved and how to continue."""


class Diverged(ValueError):
    """Training reached a NaN or inf loss or parameter: stopped before it is saved or exported."""


def all_finite(tree) -> jax.Array:
    """One traced boolean: every leaf of ``tree`` is finite."""
    leaves = [jnp.all(jnp.isfinite(leaf)) for leaf in jax.tree_util.tree_leaves(tree)]
    return functools.reduce(jnp.logical_and, leaves, jnp.asarray(True))


def diverged(where: str, loss: float, config: TrainConfig, run_dir: Path | None) -> Diverged:
    """The one line a non-finite step ends training with: where, and what to change."""
    kept = (
        f"the last finite checkpoint stays in {run_dir}"
        if run_dir is not None and (run_dir / CHECKPOINT).is_file()
        else "no checkpoint was written"
    )
    return Diverged(
        f"training stopped at {where}: the loss or a parameter became non-finite (loss {loss}) "
        f"at learning rate {config.learning_rate:g}; lower --lr (or normalise the inputs) and "
        f"rerun with --overwrite; {kept}, nothing was exported"
    )


MIN_STEPS = 1000  # the fewest optimizer steps a run sized to its data (``sized_to``) takes


@dataclass(frozen=True)
class TrainConfig:
    """How a model is trained. ``epochs`` counts passes over the data; ``steps``, when given,
    counts optimizer steps instead (the (eps, gamma)-network's T). ``eval_every`` is the number of
    steps between a step-counted trainer's evaluations; ``fit`` evaluates after every epoch."""

    epochs: int | None = 10
    batch_size: int | None = 64
    learning_rate: float = 1e-2
    optimizer: str = "adam"
    schedule: str = "constant"  # or "cosine": decay to zero over the run, settling noisy angles
    seed: int = 0
    eval_batch_size: int = 1000
    steps: int | None = None
    eval_every: int | None = None

    def __post_init__(self):
        positive = (self.epochs, self.batch_size, self.eval_batch_size, self.steps, self.eval_every)
        rate = self.learning_rate
        if any(v is not None and v < 1 for v in positive) or not 0 < rate < float("inf"):
            raise ValueError(
                f"epochs, steps, batch_size, eval_every and learning_rate must be positive: {self}"
            )
        if not hasattr(optax, self.optimizer):
            raise ValueError(f"optax has no optimizer {self.optimizer!r}")
        try:
            made = getattr(optax, self.optimizer)(self.learning_rate)
        except Exception:  # not callable with a learning rate: a loss, a schedule, a module
            made = None
        if not isinstance(made, optax.GradientTransformation):
            raise ValueError(
                f"optax.{self.optimizer} is not an optimizer taking a learning rate "
                "(try adam, sgd, adamw, rmsprop)"
            )
        if self.schedule not in ("constant", "cosine"):
            raise ValueError(f"schedule must be 'constant' or 'cosine', got {self.schedule!r}")

    def sized_to(self, n_train: int) -> TrainConfig:
        """This configuration with what it leaves unset (None) sized to ``n_train`` examples: a
        batch of a sixteenth of the data (8 to 64), and as many epochs as give at least
        ``MIN_STEPS`` optimizer steps (10 at least). A small data set then gets enough steps to
        train, where 10 epochs of 64 would be a handful; a large one keeps 10 epochs of 64."""
        batch = self.batch_size or min(64, max(8, n_train // 16))
        epochs = self.epochs
        if epochs is None and self.steps is None:
            per_epoch = max(1, n_train // batch)
            epochs = max(10, -(-MIN_STEPS // per_epoch))
        return replace(self, batch_size=batch, epochs=epochs)

    def make_optimizer(self, total_steps: int) -> optax.GradientTransformation:
        rate = self.learning_rate
        if self.schedule == "cosine":
            rate = optax.cosine_decay_schedule(self.learning_rate, max(1, total_steps))
        return getattr(optax, self.optimizer)(rate)


def cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


def evaluate(apply: Callable, params, x: np.ndarray, y: np.ndarray, batch: int = 1000) -> dict:
    """Mean cross-entropy and accuracy of ``apply(params, x)`` on (x, y), in batches to bound
    memory (a Quantum-Train model runs its QNN once per batch, as in training)."""
    loss, correct = 0.0, 0
    for start in range(0, len(x), batch):
        logits = jnp.asarray(apply(params, jnp.asarray(x[start : start + batch])))
        labels = jnp.asarray(y[start : start + batch])
        loss += float(cross_entropy(logits, labels)) * len(labels)
        correct += int(jnp.sum(jnp.argmax(logits, -1) == labels))
    return {"loss": loss / len(x), "accuracy": correct / len(x)}


def accuracy(apply: Callable, params, x: np.ndarray, y: np.ndarray, batch: int = 1000) -> float:
    """Fraction of correct argmax predictions (``evaluate``'s accuracy)."""
    return evaluate(apply, params, x, y, batch)["accuracy"]


def fingerprint(*arrays: np.ndarray) -> str:
    """sha256 over the dtypes, shapes and bytes of ``arrays``: the data a run was trained on."""
    digest = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        digest.update(f"{a.dtype.str}{a.shape}".encode())
        digest.update(a.tobytes())
    return digest.hexdigest()


def save_checkpoint(path: Path, state: Any, meta: dict) -> None:
    """Write the state's leaves and ``meta`` atomically under a unique temporary name."""
    leaves = jax.tree_util.tree_leaves(state)
    arrays = {f"leaf{i}": np.asarray(v) for i, v in enumerate(leaves)}
    runs.atomic_write(path, runs.npz_bytes({"meta": np.asarray(json.dumps(meta)), **arrays}))


def _read_checkpoint(path: Path) -> tuple[list[np.ndarray], dict]:
    """The stored leaves and meta of a checkpoint, or one line naming the file (empty,
    truncated, unreadable, not a checkpoint, or holding NaN/inf)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            stored = [data[f"leaf{i}"] for i in range(len(data.files) - 1)]
            meta = json.loads(str(data["meta"]))
    except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile) as err:
        why = getattr(err, "strerror", None) or str(err) or type(err).__name__
        raise ValueError(
            f"{path} cannot be read as a checkpoint ({why}); it is empty, truncated or not "
            "hybrid's: rerun with --overwrite or choose another --out"
        ) from None
    if not isinstance(meta, dict):
        raise ValueError(f"{path} is not a hybrid checkpoint (its meta is not a record)")
    if bad := runs.non_finite({f"leaf{i}": a for i, a in enumerate(stored)}):
        raise ValueError(f"{path} holds NaN or inf ({', '.join(bad[:3])}); rerun with --overwrite")
    return stored, meta


def load_checkpoint(path: Path, like: Any) -> tuple[Any, dict]:
    """Restore a state with the structure of ``like`` (a freshly initialised state)."""
    leaves, treedef = jax.tree_util.tree_flatten(like)
    stored, meta = _read_checkpoint(path)
    shapes = [np.shape(v) for v in leaves]
    if [s.shape for s in stored] != shapes:
        raise ValueError(
            f"{path} does not fit this model (leaf shapes {[s.shape for s in stored]} vs "
            f"{shapes}); was it written with other options?"
        )
    restored = [
        jnp.asarray(s, dtype=jnp.asarray(v).dtype) for s, v in zip(stored, leaves, strict=True)
    ]
    return jax.tree_util.tree_unflatten(treedef, restored), meta


def _differences(recorded: dict, now: dict, prefix: str = "") -> list[str]:
    """Keys whose values differ between two records, as dotted names."""
    out = []
    for key in sorted(set(recorded) | set(now)):
        a, b = recorded.get(key), now.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += _differences(a, b, f"{prefix}{key}.")
        elif a != b and f"{prefix}{key}" == "data":
            out.append("data (other examples, split, seed or limit: the fingerprint differs)")
        elif a != b:
            out.append(f"{prefix}{key} ({a!r} recorded, {b!r} now)")
    return out


def check_same_run(path: Path, meta: dict, config: dict, identity: dict) -> None:
    """Refuse to resume a checkpoint written with other settings, model or data."""
    if "identity" not in meta:
        raise ValueError(
            f"{path} records no run identity (written by an older hybrid), so it cannot be "
            "checked to be this run; start afresh in another --out"
        )
    recorded = {"config": meta.get("config", {}), **meta["identity"]}
    differ = _differences(
        json.loads(json.dumps(recorded)), json.loads(json.dumps({"config": config, **identity}))
    )
    if differ:
        raise ValueError(
            f"--resume refused: {path} belongs to another run ({'; '.join(differ[:3])}"
            f"{'; ...' if len(differ) > 3 else ''}); rerun with the recorded settings or "
            "choose another --out"
        )


@dataclass
class RunRecord:
    """A run's checkpoint and metrics in ``run_dir`` (nothing is written when it is None).

    ``identity`` is what makes two runs the same besides ``config`` (the model's description and
    the data's fingerprint); ``resume`` refuses a checkpoint whose record differs. Of the
    processes of a multi-process run only the ``writer`` saves; every process resumes.
    """

    run_dir: Path | None
    config: TrainConfig
    identity: dict
    writer: bool = True

    def resume(self, like: Any) -> tuple[Any, dict] | None:
        """The saved state and its meta if ``run_dir`` holds this run's checkpoint, else None."""
        if self.run_dir is None or not (self.run_dir / CHECKPOINT).is_file():
            if self.run_dir is not None:
                print(f"hybrid: no checkpoint in {self.run_dir}; starting afresh", file=sys.stderr)
            return None
        state, meta = load_checkpoint(self.run_dir / CHECKPOINT, like)
        check_same_run(self.run_dir / CHECKPOINT, meta, asdict(self.config), self.identity)
        return state, meta

    def save(self, state: Any, progress: dict, history: Any) -> None:
        """Checkpoint ``state`` with ``progress`` (where the run is) and write metrics.json."""
        if self.run_dir is None or not self.writer:
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        record = {"config": asdict(self.config), "identity": self.identity, "history": history}
        save_checkpoint(self.run_dir / CHECKPOINT, state, {**record, **progress})
        runs.atomic_write(self.run_dir / METRICS, json.dumps(record, indent=2).encode())

    def interrupted(self, where: str) -> Interrupted:
        if self.run_dir is None:
            return Interrupted(f"interrupted at {where}; no run directory, nothing saved")
        return Interrupted(
            f"interrupted at {where}: checkpoint saved in {self.run_dir}; "
            "rerun the same command with --resume to continue"
        )


@contextlib.contextmanager
def ctrl_c_between_steps():
    """Yield a list that Ctrl-C appends to instead of raising where it lands (a second Ctrl-C
    raises at once). Outside the main thread signals cannot be caught; nothing changes there.
    A handler installed before (the CLI's) may record presses in its ``pressed`` list: one
    recorded there stops the run at the first step boundary too."""
    pressed: list[bool] = []

    def handler(signum, frame):
        if pressed:
            raise KeyboardInterrupt
        pressed.append(True)

    try:
        previous = signal.signal(signal.SIGINT, handler)
    except ValueError:
        yield pressed
        return
    if getattr(previous, "pressed", None):  # a Ctrl-C during start-up that was swallowed
        pressed.append(True)
    try:
        yield pressed
    finally:
        signal.signal(signal.SIGINT, previous)


class _Progress:
    """A one-line progress bar on stderr; redrawn in place on a terminal, printed per epoch else."""

    def __init__(self, total: int, label: str, enabled: bool):
        self.total, self.label, self.enabled = total, label, enabled
        self.tty, self.last = sys.stderr.isatty(), 0.0

    def update(self, done: int, loss: float) -> None:
        now = time.monotonic()
        if self.enabled and self.tty and (now - self.last > 0.2 or done == self.total):
            bar = "#" * (20 * done // self.total)
            print(
                f"\r{self.label} [{bar:<20}] {done}/{self.total} loss {loss:.4f}",
                end="",
                file=sys.stderr,
                flush=True,
            )
            self.last = now

    def close(self, summary: str) -> None:
        if self.enabled:
            print(
                ("\r" if self.tty else "") + f"{self.label} {summary}" + " " * 20,
                file=sys.stderr,
                flush=True,
            )


def optimizer_for(model, config: TrainConfig, total_steps: int) -> optax.GradientTransformation:
    """``config``'s optimizer; a model with ``trainable_mask(params)`` (a pytree of bools) has its
    frozen leaves' updates set to zero, so they stay bit-identical whatever the optimizer."""
    optimizer = config.make_optimizer(total_steps)
    mask = getattr(model, "trainable_mask", None)
    if mask is None:
        return optimizer

    def labels(params):
        return jax.tree.map(lambda trains: "train" if trains else "frozen", mask(params))

    return optax.multi_transform({"train": optimizer, "frozen": optax.set_to_zero()}, labels)


def _scores(apply: Callable, params, part: str, data, batch: int) -> dict:
    """``evaluate`` on ``data`` as {part_loss, part_accuracy}; nothing when ``data`` is None."""
    if data is None:
        return {}
    return {f"{part}_{k}": v for k, v in evaluate(apply, params, *data, batch).items()}


def _train_step(model, optimizer: optax.GradientTransformation, loss_fn: Callable, mesh=None):
    """One compiled optimizer step. With a ``mesh`` the batch comes sharded over its ``data``
    axis and the state replicated, so XLA splits the batch's work and sums the gradients."""

    def step(state, xb, yb):
        params, opt_state = state
        loss, grads = jax.value_and_grad(lambda p: loss_fn(model.apply(p, xb), yb))(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        return (params, opt_state), loss, jnp.isfinite(loss) & all_finite(params)

    if mesh is None:
        return jax.jit(step)
    same, batch = meshes.replicated(mesh), meshes.batch_sharding(mesh)
    return jax.jit(step, in_shardings=(same, batch, batch), out_shardings=(same, same, same))


class _NonFinite(Exception):
    def __init__(self, step: int, loss: float):
        super().__init__(step, loss)
        self.step, self.loss = step, loss


def placement(mesh) -> tuple[Callable, Callable]:
    """(batch -> device array, state -> device state): as they are on one device, or as global
    arrays on the mesh (batch over ``data``, state replicated), which a multi-process run needs."""
    if mesh is None:
        return jnp.asarray, lambda state: state
    batch, same = meshes.batch_sharding(mesh), meshes.replicated(mesh)
    return (lambda x: meshes.put(x, batch)), (lambda state: meshes.put(state, same))


def _steps(
    step,
    state,
    data,
    batches,
    done: int,
    losses: list,
    loop_s: float,
    bar,
    pressed,
    put=jnp.asarray,
):
    """Run ``step`` over ``batches`` (index arrays into ``data``, placed by ``put``), appending
    to ``losses``; stop after a whole step on Ctrl-C. Returns (state, loop seconds, steps done,
    stopped). A step whose loss or parameters are not finite is not taken: ``_NonFinite``
    carries where."""
    x, y = data
    try:
        for idx in batches:
            t0 = time.perf_counter()
            new, loss, finite = step(state, put(x[idx]), put(y[idx]))
            if not bool(finite):
                raise _NonFinite(done + 1, float(loss))
            state = new
            done += 1
            losses.append(float(loss))
            loop_s += time.perf_counter() - t0
            bar.update(done, losses[-1])
            if pressed:
                raise KeyboardInterrupt
    except KeyboardInterrupt:  # after a whole step: ``state`` and ``losses`` agree
        return state, loop_s, done, True
    return state, loop_s, done, False


def fit(
    model,
    train: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    config: TrainConfig = TrainConfig(),
    *,
    val: tuple[np.ndarray, np.ndarray] | None = None,
    run_dir: str | os.PathLike | None = None,
    resume: bool = False,
    progress: bool = True,
    loss_fn: Callable = cross_entropy,
    identity: dict | None = None,
    mesh=None,
) -> tuple[Any, list[dict]]:
    """Train ``model`` with Optax; returns the final params and the per-epoch history.

    Each epoch's row holds the training set's loss and accuracy and, given ``val``, the
    validation set's; the last row also holds the test set's, evaluated there only.
    ``identity`` (JSON-able, e.g. the model's description) is recorded with the checkpoint beside
    the configuration and a fingerprint of the data (validation set included); ``resume``
    refuses a checkpoint whose record differs. Batch order comes from (seed, epoch) alone, and
    the ragged last batch is dropped so that every step has one shape.

    ``mesh`` (``hybrid.devices.mesh.make_mesh``) trains data-parallel: each batch is sharded over
    its ``data`` axis (the batch size must divide evenly), and with several processes
    (``hybrid.devices.mesh.initialize``) only process 0 writes ``run_dir``. The params returned
    are this process's own copy.
    """
    wall0 = time.perf_counter()
    x_train, y_train = np.asarray(train[0]), np.asarray(train[1])
    if len(x_train) != len(y_train) or len(x_train) == 0:
        raise ValueError(f"train has {len(x_train)} inputs and {len(y_train)} labels")
    if config.batch_size is None or (config.epochs is None and config.steps is None):
        raise ValueError("fit needs a batch size and epochs or steps: see TrainConfig.sized_to")
    if config.eval_every is not None:
        raise ValueError("fit evaluates after every epoch; eval_every is for step-counted trainers")
    if config.batch_size % (data_size := meshes.sizes(mesh)[meshes.DATA]):
        raise ValueError(
            f"batch size {config.batch_size} does not split over {data_size} data-parallel devices"
        )
    per_epoch = max(1, len(x_train) // config.batch_size)
    total = config.steps or per_epoch * config.epochs
    epochs = -(-total // per_epoch)
    optimizer = optimizer_for(model, config, total)
    params = model.init(jax.random.key(config.seed))
    state = (params, optimizer.init(params))
    val = None if val is None else (np.asarray(val[0]), np.asarray(val[1]))
    data = fingerprint(x_train, y_train, *map(np.asarray, test), *(val or ()))
    record = RunRecord(
        Path(run_dir) if run_dir is not None else None,
        config,
        {"data": data, **(identity or {})},
        writer=meshes.is_writer(),
    )
    history: list[dict] = []
    at = {"epoch": 0, "step": 0, "partial": {"losses": [], "train_loop_s": 0.0}, "wall_s": 0.0}
    if resume and (restored := record.resume(state)) is not None:
        state, meta = restored
        history = meta["history"]
        at = {k: meta.get(k, at[k]) for k in at}
        print(
            f"hybrid: resumed {run_dir} at epoch {at['epoch'] + 1}, step {at['step']}",
            file=sys.stderr,
        )
    put, put_state = placement(mesh)
    state = put_state(state)
    step, apply = _train_step(model, optimizer, loss_fn, mesh), evaluator(model, mesh)
    loop_s = history[-1]["train_loop_s"] if history else 0.0

    def save(epoch: int, step_: int, losses: list[float], epoch_loop_s: float) -> None:
        partial = {"losses": losses, "train_loop_s": epoch_loop_s}
        wall = at["wall_s"] + time.perf_counter() - wall0
        record.save(
            state, {"epoch": epoch, "step": step_, "partial": partial, "wall_s": wall}, history
        )

    with ctrl_c_between_steps() as pressed:
        for epoch in range(at["epoch"], epochs):
            order = np.random.default_rng([config.seed, epoch]).permutation(len(x_train))
            last = min(per_epoch, total - epoch * per_epoch)
            bar = _Progress(last, f"epoch {epoch + 1}/{epochs}", progress)
            first = at["step"] if epoch == at["epoch"] else 0
            # the steps of this epoch run before a resume count in its loss and its loop time
            losses = list(at["partial"]["losses"]) if first else []
            epoch_loop_s = at["partial"]["train_loop_s"] if first else 0.0
            batches = (
                order[i * config.batch_size : (i + 1) * config.batch_size]
                for i in range(first, last)
            )
            try:
                state, epoch_loop_s, done, stopped = _steps(
                    step,
                    state,
                    (x_train, y_train),
                    batches,
                    first,
                    losses,
                    epoch_loop_s,
                    bar,
                    pressed,
                    put,
                )
            except _NonFinite as bad:
                bar.close("stopped: non-finite")
                where = f"epoch {epoch + 1}, step {bad.step}"
                raise diverged(where, bad.loss, config, record.run_dir) from None
            if stopped:
                bar.close("interrupted")
                save(epoch, done, losses, epoch_loop_s)
                raise record.interrupted(f"epoch {epoch + 1}, step {done}") from None
            loop_s += epoch_loop_s
            batch = config.eval_batch_size
            last_epoch = epoch + 1 == epochs
            row = {
                "epoch": epoch + 1,
                "loss": float(np.mean(losses)) if losses else float("nan"),
                **_scores(apply, state[0], "train", (x_train, y_train), batch),
                **_scores(apply, state[0], "val", val, batch),
                **_scores(apply, state[0], "test", test if last_epoch else None, batch),
                "train_loop_s": loop_s,
                "wall_s": at["wall_s"] + time.perf_counter() - wall0,
            }
            history.append(row)
            shown = [k for k in ("val_accuracy", "test_accuracy") if k in row]
            bar.close(
                f"loss {row['loss']:.4f}  train {row['train_accuracy']:.4f}  "
                + "".join(f"{k.split('_')[0]} {row[k]:.4f}  " for k in shown)
                + f"(training loop {loop_s:.1f} s, wall {row['wall_s']:.1f} s)"
            )
            save(epoch + 1, 0, [], 0.0)
            if pressed and epoch + 1 < epochs:
                raise record.interrupted(f"the end of epoch {epoch + 1}")
    return (state[0] if mesh is None else meshes.local(state[0])), history


def evaluator(model, mesh) -> Callable:
    """``(params, x) -> logits`` for ``evaluate``: compiled; with a mesh, x replicated on it and
    the logits brought back to this process."""
    if mesh is None:
        return jax.jit(model.apply)
    same = meshes.replicated(mesh)
    apply = jax.jit(model.apply, out_shardings=same)
    return lambda params, x: np.asarray(apply(params, meshes.put(x, same)))


def pyplot():
    """matplotlib.pyplot on the file-only Agg backend, or None (with a hint) when not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(
            "hybrid: matplotlib not installed (pip install 'hybrid[plots]'); no plot",
            file=sys.stderr,
        )
        return None
    return plt


def _curve_key(history: list[dict]) -> str:
    """The per-epoch accuracy a learning curve shows: validation, else training (the test set is
    scored once; histories written before that scored it every epoch)."""
    for key in ("val_accuracy", "train_accuracy", "test_accuracy"):
        if all(key in r for r in history):
            return key
    return "test_accuracy"


def plot_history(histories: dict[str, list[dict]], path: str | os.PathLike) -> Path | None:
    """Learning curves (loss and validation accuracy per epoch; the test accuracy as one point
    at the end) for one or more runs, as a PNG."""
    if (plt := pyplot()) is None:
        return None
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    for label, history in histories.items():
        epochs = [r["epoch"] for r in history]
        key = _curve_key(history)
        ax_loss.plot(epochs, [r["loss"] for r in history], label=label)
        line = ax_acc.plot(epochs, [r.get(key) for r in history], label=f"{label}, {key}")[0]
        if key != "test_accuracy" and "test_accuracy" in history[-1]:
            ax_acc.plot(epochs[-1], history[-1]["test_accuracy"], "*", color=line.get_color())
    ax_loss.set(xlabel="epoch", ylabel="training loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (star: test, once)")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)
