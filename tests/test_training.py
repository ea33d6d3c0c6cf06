import json
import os
import signal

import jax
import numpy as np
import pytest

from hybrid import training
from hybrid.deploy import architecture
from hybrid.quantum_train import Classical, QuantumTrain


def blobs(n=240, seed=0):
    """Three separable Gaussian blobs in 4-d: easy, so a short run must learn them."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = rng.normal(size=(n, 4)) * 0.5 + np.eye(3, 4)[y] * 3
    return x, y


LAYERS = tuple(architecture.mlp([8], 3))
CONFIG = training.TrainConfig(epochs=3, batch_size=32, learning_rate=0.05, seed=3)


def same_tree(a, b):
    return all(
        np.array_equal(x, y)
        for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b), strict=True)
    )


def test_fit_learns_and_records_metrics(tmp_path):
    model = Classical(LAYERS, (4,))
    params, history = training.fit(
        model, blobs(), blobs(90, 1), CONFIG, run_dir=tmp_path, progress=False
    )
    assert [row["epoch"] for row in history] == [1, 2, 3]
    assert history[-1]["loss"] < history[0]["loss"]
    assert history[-1]["test_accuracy"] > 0.9
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["history"] == history and saved["config"]["seed"] == 3
    assert (tmp_path / "checkpoint.npz").is_file()


def test_fixed_seeds_give_identical_runs():
    model = QuantumTrain(LAYERS, (4,), depth=2, profile="default.qubit", mapping_hidden=(4,))
    a, hist_a = training.fit(model, blobs(), blobs(60, 1), CONFIG, progress=False)
    b, hist_b = training.fit(model, blobs(), blobs(60, 1), CONFIG, progress=False)
    assert same_tree(a, b)
    assert [r["loss"] for r in hist_a] == [r["loss"] for r in hist_b]


@pytest.mark.parametrize("how", ["signal", "raise"])
def test_resume_after_ctrl_c_continues_exactly(tmp_path, monkeypatch, how):
    """A real SIGINT is taken after the step it lands in; a KeyboardInterrupt raised between
    steps too. Either way the checkpoint resumes to the uninterrupted weights and history."""
    model = Classical(LAYERS, (4,))
    reference, ref_history = training.fit(model, blobs(), blobs(60, 1), CONFIG, progress=False)

    calls = {"n": 0}
    original = training._Progress.update

    def interrupt_midway(self, done, loss):
        calls["n"] += 1
        original(self, done, loss)
        if calls["n"] == 10:  # inside epoch 2 (7 steps an epoch), after its step 3
            if how == "signal":
                os.kill(os.getpid(), signal.SIGINT)
            else:
                raise KeyboardInterrupt

    monkeypatch.setattr(training._Progress, "update", interrupt_midway)
    with pytest.raises(training.Interrupted, match="epoch 2, step 3: checkpoint saved"):
        training.fit(model, blobs(), blobs(60, 1), CONFIG, run_dir=tmp_path, progress=False)
    monkeypatch.setattr(training._Progress, "update", original)
    meta = json.loads(str(np.load(tmp_path / "checkpoint.npz")["meta"]))
    assert (meta["epoch"], meta["step"], len(meta["partial"]["losses"])) == (1, 3, 3)

    resumed, history = training.fit(
        model, blobs(), blobs(60, 1), CONFIG, run_dir=tmp_path, resume=True, progress=False
    )
    assert same_tree(resumed, reference)
    # the resumed epoch's loss averages all 7 of its steps, not the 4 run after the resume
    keys = ("epoch", "loss", "train_accuracy", "test_accuracy")
    assert [[r.get(k) for k in keys] for r in history] == [
        [r.get(k) for k in keys] for r in ref_history
    ]
    assert all(r["wall_s"] >= r["train_loop_s"] > 0 for r in history)


def test_resume_of_another_run_is_refused_and_changes_nothing(tmp_path):
    model = Classical(LAYERS, (4,))
    short = training.TrainConfig(epochs=1, batch_size=32, learning_rate=0.05, seed=3)
    training.fit(model, blobs(), blobs(60, 1), short, run_dir=tmp_path, progress=False)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    others = [
        (short.__class__(epochs=1, batch_size=32, learning_rate=0.01, seed=3), blobs(), None),
        (short.__class__(epochs=1, batch_size=32, learning_rate=0.05, seed=4), blobs(), None),
        (short, blobs(240, 7), None),  # same shapes, other data
        (short, blobs(), {"model": {"depth": 3}}),
    ]
    reasons = [
        "learning_rate (0.05 recorded, 0.01 now)",
        "seed (3 recorded, 4 now)",
        "data (",
        "depth",
    ]
    for (config, train, identity), reason in zip(others, reasons, strict=True):
        with pytest.raises(ValueError, match="--resume refused") as refused:
            training.fit(
                model,
                train,
                blobs(60, 1),
                config,
                run_dir=tmp_path,
                resume=True,
                progress=False,
                identity=identity,
            )
        assert reason in str(refused.value)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_a_checkpoint_of_another_model_is_refused(tmp_path):
    training.fit(
        Classical(LAYERS, (4,)), blobs(), blobs(60, 1), CONFIG, run_dir=tmp_path, progress=False
    )
    other = Classical(tuple(architecture.mlp([5], 3)), (4,))
    with pytest.raises(ValueError, match="does not fit this model"):
        training.fit(
            other, blobs(), blobs(60, 1), CONFIG, run_dir=tmp_path, resume=True, progress=False
        )


def test_bad_configuration_is_refused():
    with pytest.raises(ValueError, match="positive"):
        training.TrainConfig(epochs=0)
    with pytest.raises(ValueError, match="no optimizer"):
        training.TrainConfig(optimizer="adamm")
    for not_an_optimizer in ("softmax_cross_entropy", "cosine_decay_schedule", "tree_utils"):
        with pytest.raises(ValueError, match="not an optimizer"):
            training.TrainConfig(optimizer=not_an_optimizer)
    with pytest.raises(ValueError, match="labels"):
        training.fit(Classical(LAYERS, (4,)), (np.ones((3, 4)), np.ones(2)), blobs(9), CONFIG)


def test_learning_curve_plot_is_written(tmp_path):
    pytest.importorskip("matplotlib")
    history = [
        {"epoch": 1, "loss": 1.0, "test_accuracy": 0.5},
        {"epoch": 2, "loss": 0.5, "test_accuracy": 0.8},
    ]
    path = training.plot_history({"run": history}, tmp_path / "curve.png")
    assert path.stat().st_size > 1000


def test_cosine_schedule_decays_the_step_to_zero():
    optimizer = training.TrainConfig(
        learning_rate=1.0, optimizer="sgd", schedule="cosine"
    ).make_optimizer(4)
    state, steps = optimizer.init(np.zeros(1)), []
    for _ in range(5):
        update, state = optimizer.update(np.ones(1), state)
        steps.append(-float(update[0]))
    np.testing.assert_allclose(steps, [1.0, 0.8535534, 0.5, 0.1464466, 0.0], atol=1e-6)
    with pytest.raises(ValueError, match="schedule"):
        training.TrainConfig(schedule="linear")


def test_fit_scores_validation_every_epoch_and_test_once_at_the_end(tmp_path, monkeypatch):
    seen, evaluate = [], training.evaluate

    def counting(apply, params, x, y, batch=1000):
        seen.append(len(x))
        return evaluate(apply, params, x, y, batch)

    monkeypatch.setattr(training, "evaluate", counting)
    train, val, test = blobs(), blobs(45, 2), blobs(60, 1)
    _, history = training.fit(
        Classical(LAYERS, (4,)), train, test, CONFIG, val=val, run_dir=tmp_path, progress=False
    )
    assert seen.count(45) == 3 and seen.count(60) == 1
    assert all({"val_accuracy", "val_loss", "train_loss"} <= set(r) for r in history)
    assert ["test_accuracy" in r for r in history] == [False, False, True]
    with pytest.raises(ValueError, match="data"):  # the validation set is part of the run
        training.fit(
            Classical(LAYERS, (4,)),
            train,
            test,
            CONFIG,
            val=blobs(45, 3),
            run_dir=tmp_path,
            resume=True,
            progress=False,
        )


def test_unset_epochs_and_batch_are_sized_to_the_data():
    """A sixteenth of the data a batch (8 to 64), and enough epochs for MIN_STEPS steps."""
    unset = training.TrainConfig(epochs=None, batch_size=None)
    small = unset.sized_to(120)  # Iris: 120 // 16 = 7 -> 8; 15 steps an epoch -> 67 epochs
    assert (small.batch_size, small.epochs) == (8, -(-training.MIN_STEPS // 15))
    large = unset.sized_to(60000)  # MNIST keeps 10 epochs of 64
    assert (large.batch_size, large.epochs) == (64, 10)
    given = training.TrainConfig(epochs=3, batch_size=5)
    assert given.sized_to(120) == given
    with pytest.raises(ValueError, match="sized_to"):
        training.fit(
            None, (np.ones((4, 2)), np.zeros(4, int)), (np.ones((2, 2)), np.zeros(2)), unset
        )
