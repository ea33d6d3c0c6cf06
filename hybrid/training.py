"""One Optax training loop for every gradient-trained model in hybrid.

A model is anything with ``init(key)``, ``apply(params, x) -> logits``; the loop adds mini-batches,
a progress line, per-epoch metrics (``metrics.json``), a checkpoint after every epoch and on Ctrl-C,
``resume``, and the learning-curve plot. Fixed seeds give identical runs: batch order comes from
(seed, epoch) alone, so a resumed run continues exactly where the interrupted one stopped.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from hybrid import jaxcheck  # noqa: F401  (one clear line if JAX is too new)

CHECKPOINT = "checkpoint.npz"
METRICS = "metrics.json"


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 10
    batch_size: int = 64
    learning_rate: float = 1e-2
    optimizer: str = "adam"
    schedule: str = "constant"  # or "cosine": decay to zero over the run, settling noisy angles
    seed: int = 0
    eval_batch_size: int = 1000

    def __post_init__(self):
        if self.epochs < 1 or self.batch_size < 1 or self.learning_rate <= 0:
            raise ValueError(f"epochs, batch_size and learning_rate must be positive: {self}")
        if not hasattr(optax, self.optimizer):
            raise ValueError(f"optax has no optimizer {self.optimizer!r}")
        if self.schedule not in ("constant", "cosine"):
            raise ValueError(f"schedule must be 'constant' or 'cosine', got {self.schedule!r}")

    def make_optimizer(self, total_steps: int) -> optax.GradientTransformation:
        rate = self.learning_rate
        if self.schedule == "cosine":
            rate = optax.cosine_decay_schedule(self.learning_rate, max(1, total_steps))
        return getattr(optax, self.optimizer)(rate)


def cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


def accuracy(apply: Callable, params, x: np.ndarray, y: np.ndarray, batch: int = 1000) -> float:
    """Fraction of correct argmax predictions, evaluated in batches to bound memory."""
    correct = 0
    for start in range(0, len(x), batch):
        logits = apply(params, jnp.asarray(x[start : start + batch]))
        correct += int(jnp.sum(jnp.argmax(logits, -1) == jnp.asarray(y[start : start + batch])))
    return correct / len(x)


def save_checkpoint(path: Path, state: Any, meta: dict) -> None:
    """Write the state's leaves and ``meta`` atomically: an interrupted write never leaves junk."""
    leaves = jax.tree_util.tree_leaves(state)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(
        tmp,
        meta=np.asarray(json.dumps(meta)),
        **{f"leaf{i}": np.asarray(v) for i, v in enumerate(leaves)},
    )
    os.replace(tmp, path)


def load_checkpoint(path: Path, like: Any) -> tuple[Any, dict]:
    """Restore a state with the structure of ``like`` (a freshly initialised state)."""
    leaves, treedef = jax.tree_util.tree_flatten(like)
    with np.load(path, allow_pickle=False) as data:
        stored = [data[f"leaf{i}"] for i in range(len(data.files) - 1)]
        meta = json.loads(str(data["meta"]))
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


def fit(
    model,
    train: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    config: TrainConfig = TrainConfig(),
    *,
    run_dir: str | os.PathLike | None = None,
    resume: bool = False,
    progress: bool = True,
    loss_fn: Callable = cross_entropy,
) -> tuple[Any, list[dict]]:
    """Train ``model`` with Optax; returns the final params and the per-epoch history."""
    x_train, y_train = np.asarray(train[0]), np.asarray(train[1])
    if len(x_train) != len(y_train) or len(x_train) == 0:
        raise ValueError(f"train has {len(x_train)} inputs and {len(y_train)} labels")
    steps = max(1, len(x_train) // config.batch_size)  # drop the ragged last batch: one shape
    optimizer = config.make_optimizer(steps * config.epochs)
    params = model.init(jax.random.key(config.seed))
    state = (params, optimizer.init(params))
    history: list[dict] = []
    start_epoch, start_step = 0, 0
    run_dir = Path(run_dir) if run_dir is not None else None
    if run_dir is not None:
        run_dir.mkdir(parents=True, exist_ok=True)
        if resume and (run_dir / CHECKPOINT).is_file():
            state, meta = load_checkpoint(run_dir / CHECKPOINT, state)
            start_epoch, start_step, history = meta["epoch"], meta["step"], meta["history"]
            print(
                f"hybrid: resumed {run_dir} at epoch {start_epoch + 1}, step {start_step}",
                file=sys.stderr,
            )
        elif resume:
            print(f"hybrid: no checkpoint in {run_dir}; starting afresh", file=sys.stderr)

    @jax.jit
    def step(state, xb, yb):
        params, opt_state = state
        loss, grads = jax.value_and_grad(lambda p: loss_fn(model.apply(p, xb), yb))(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), loss

    apply = jax.jit(model.apply)
    elapsed = history[-1]["wall_time_s"] if history else 0.0

    def checkpoint(epoch: int, step_: int) -> None:
        if run_dir is not None:
            meta = {"epoch": epoch, "step": step_, "history": history, "config": asdict(config)}
            save_checkpoint(run_dir / CHECKPOINT, state, meta)
            (run_dir / METRICS).write_text(
                json.dumps({"config": asdict(config), "history": history}, indent=2)
            )

    for epoch in range(start_epoch, config.epochs):
        order = np.random.default_rng([config.seed, epoch]).permutation(len(x_train))
        bar = _Progress(steps, f"epoch {epoch + 1}/{config.epochs}", progress)
        t0, losses = time.perf_counter(), []
        first = start_step if epoch == start_epoch else 0
        try:
            for i in range(first, steps):
                idx = order[i * config.batch_size : (i + 1) * config.batch_size]
                state, loss = step(state, jnp.asarray(x_train[idx]), jnp.asarray(y_train[idx]))
                losses.append(float(loss))
                bar.update(i + 1, losses[-1])
        except KeyboardInterrupt:
            checkpoint(epoch, first + len(losses))
            bar.close(f"interrupted; checkpoint saved{f' in {run_dir}' if run_dir else ''}")
            raise
        elapsed += time.perf_counter() - t0
        row = {
            "epoch": epoch + 1,
            "loss": float(np.mean(losses)) if losses else float("nan"),
            "train_accuracy": accuracy(apply, state[0], x_train, y_train, config.eval_batch_size),
            "test_accuracy": accuracy(apply, state[0], *test, config.eval_batch_size),
            "wall_time_s": elapsed,
        }
        history.append(row)
        bar.close(
            f"loss {row['loss']:.4f}  train {row['train_accuracy']:.4f}  "
            f"test {row['test_accuracy']:.4f}  ({elapsed:.1f} s)"
        )
        checkpoint(epoch + 1, 0)
    return state[0], history


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


def plot_history(histories: dict[str, list[dict]], path: str | os.PathLike) -> Path | None:
    """Learning curves (loss and test accuracy per epoch) for one or more runs, as a PNG."""
    if (plt := pyplot()) is None:
        return None
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    for label, history in histories.items():
        epochs = [r["epoch"] for r in history]
        ax_loss.plot(epochs, [r["loss"] for r in history], label=label)
        ax_acc.plot(epochs, [r["test_accuracy"] for r in history], label=label)
    ax_loss.set(xlabel="epoch", ylabel="training loss")
    ax_acc.set(xlabel="epoch", ylabel="test accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)
