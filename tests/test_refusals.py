"""Right or refused (issue 26): every bad value, file or fault is one line naming it (exit 2), a
diverging run stops before anything non-finite is saved, every writer claims its output, and a
Ctrl-C at any moment ends with status 130."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hybrid import cli
from hybrid.deploy import runs
from hybrid.deploy.classifier import NumpyClassifier

TINY = ["--dataset", "iris", "--layers", "dense:3", "--qnn-depth", "1", "--mapping-hidden", "2"]
TINY += ["--epochs", "1", "--batch-size", "16"]
QT = ["train", "quantum-train"]
RIPE = ["train", "ripe", "--steps", "10"]
STUDY = ["ntk", "study", "--sizes", "4", "--trials", "1", "--test-size", "4", "--no-finite"]


def _fake_run(run_dir: Path) -> Path:
    prep = {"scale": 1.0, "mean": None, "std": None, "input_shape": [4]}
    weights = np.random.default_rng(0).normal(size=15)
    layers = [{"type": "dense", "units": 3}]
    runs.save_network(run_dir, layers, [4], weights, preprocessing=prep, class_names=list("abc"))
    return run_dir


def _refused(argv: list[str], capsys, progress: bool = False) -> str:
    """Run the CLI; it must refuse with status 2 and one stderr line, no traceback (with
    ``progress``: the refusal is the last line, after the run's progress lines)."""
    try:
        code = cli.main(argv)
    except SystemExit as exit_:  # argparse's refusals
        code = exit_.code
    err = capsys.readouterr().err
    assert code == 2, (argv, err)
    assert "Traceback" not in err, err
    if progress:
        return err.strip().splitlines()[-1]
    assert err.count("\n") == 1, err
    return err


# option values: refused by the parser, before anything is read or written
PARSE_CASES = [
    ([*QT, *TINY, "--lr", "nan"], "--lr", "'nan'"),
    ([*QT, *TINY, "--lr", "inf"], "--lr", "'inf'"),
    ([*RIPE, "--lr", "nan"], "--lr", "'nan'"),
    ([*RIPE, "--lr=-inf"], "--lr", "'-inf'"),
    ([*RIPE, "--lr", "0"], "--lr", "'0'"),
    ([*RIPE, "--gamma", "2"], "--gamma", "'2'"),
    ([*RIPE, "--hidden", "0"], "--hidden", "0"),
    ([*STUDY, "--finite-epochs", "0"], "--finite-epochs", "0"),
    ([*STUDY, "--cnn-width", "0"], "--cnn-width", "0"),
    ([*STUDY, "--test-size", "0"], "--test-size", "0"),
    ([*STUDY, "--estimators", "ripe@x"], "--estimators", "'ripe@x'"),
    ([*STUDY, "--estimators", "bogus"], "--estimators", "'bogus'"),
    ([*STUDY, "--finite-lr", "nan"], "--finite-lr", "'nan'"),
]


@pytest.mark.parametrize(("argv", "option", "value"), PARSE_CASES)
def test_option_values_are_refused_in_one_line_naming_them(tmp_path, capsys, argv, option, value):
    out = tmp_path / "out"
    err = _refused([*argv, "--out", str(out)], capsys)
    assert option in err and value in err
    assert not out.exists()


def test_bad_layer_widths_name_the_layer(tmp_path, capsys):
    for layers in ("dense:0,relu,dense:3", "dense:-4"):
        for extra in ([], ["--classical"]):
            out = tmp_path / "out"
            err = _refused([*QT, *TINY, "--layers", layers, *extra, "--out", str(out)], capsys)
            assert f"--layers {layers!r}" in err and "must be an integer >= 1" in err
            assert not out.exists()


def test_study_config_refuses_what_the_cli_refuses():
    from hybrid.ntk.study import StudyConfig

    for bad in ({"finite_epochs": 0}, {"cnn_width": 0}, {"test_size": 0}, {"estimators": ("x@1",)}):
        name, value = next(iter(bad.items()))
        shown = "'x@1'" if name == "estimators" else f"{name} must be"
        with pytest.raises(ValueError, match=shown):
            StudyConfig(**bad)


# files: empty, truncated, unreadable, of the wrong kind


def test_predict_refuses_bad_inputs_and_outputs_naming_them(tmp_path, capsys):
    run = _fake_run(tmp_path / "run")
    empty = tmp_path / "empty.npy"
    empty.write_bytes(b"")
    none = tmp_path / "none.npy"
    np.save(none, np.zeros((0, 4)))
    big = tmp_path / "big.csv"
    big.write_text("1,2,a\n3,4,b\n1e308,-1e308,a\n2,2,b\n5,1,a\n1,1,b\n")
    good = tmp_path / "good.npy"
    np.save(good, np.ones((2, 4)))
    (tmp_path / "taken.txt").write_text("mine")
    cases = [
        (["--data", str(empty)], str(empty), "empty or truncated"),
        (["--data", str(none)], str(none), "no examples"),
        (["--data", str(big)], str(big), "1e+308"),
        (["--data", str(good), "--output", str(tmp_path)], str(tmp_path), "is a directory"),
        (["--data", str(good), "--output", str(tmp_path / "taken.txt")], "taken.txt", "exists"),
    ]
    for argv, name, why in cases:
        err = _refused(["predict", str(run), *argv], capsys)
        assert name in err and why in err, err
    assert (tmp_path / "taken.txt").read_text() == "mine"


def test_unreadable_run_files_are_one_line_naming_the_file(tmp_path, capsys, monkeypatch):
    run = _fake_run(tmp_path / "run")
    real = Path.read_bytes

    def denied(self):
        if self.name == runs.WEIGHTS:
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", denied)
    err = _refused(["predict", str(run), "--data", "iris"], capsys)
    assert str(run / runs.WEIGHTS) in err and "Permission denied" in err


def test_resources_reads_the_run_through_the_checked_loader(tmp_path, capsys):
    run = _fake_run(tmp_path / "run")
    spec = json.loads((run / runs.SPEC).read_text())
    spec["model"] = {"type": "quantum-train", "n_qubits": 24, "depth": 1}
    (run / runs.SPEC).write_text(json.dumps(spec))
    err = _refused(["resources", str(run), "--device", "default.qubit"], capsys)
    assert "edited after export" in err


def test_study_out_is_claimed_like_a_run_directory(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    err = _refused([*STUDY, "--out", str(tmp_path / "file")], capsys)
    assert "is a file" in err
    qt_run = _fake_run(tmp_path / "qt")
    before = sorted(p.name for p in qt_run.iterdir())
    assert "already holds a run" in _refused([*STUDY, "--out", str(qt_run)], capsys)
    assert "holds no study.json" in _refused([*STUDY, "--out", str(qt_run), "--resume"], capsys)
    assert sorted(p.name for p in qt_run.iterdir()) == before
    study = tmp_path / "study"
    study.mkdir()
    (study / "study.json").write_text("{}")
    assert "already holds a run" in _refused([*STUDY, "--out", str(study)], capsys)
    assert "cannot be read as a study record" in _refused(
        [*STUDY, "--out", str(study), "--resume"], capsys
    )


def test_resume_never_adopts_a_directory_of_other_files(tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "metrics.json").write_text('{"my": "numbers"}')
    (out / "notes.txt").write_text("mine")
    for argv in ([*QT, *TINY], [*RIPE, "--dataset", "iris"]):
        _refused([*argv, "--out", str(out), "--resume"], capsys)
        (out / "notes.txt").unlink()
        err = _refused([*argv, "--out", str(out), "--resume"], capsys)
        assert "holds no checkpoint.npz" in err
        (out / "notes.txt").write_text("mine")
    assert (out / "metrics.json").read_text() == '{"my": "numbers"}'


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 truncated"])
def test_resume_from_an_empty_or_truncated_checkpoint_is_one_line(tmp_path, capsys, content):
    out = tmp_path / "run"
    out.mkdir()
    (out / runs.CHECKPOINT).write_bytes(content)
    argv = [*QT, *TINY, "--device", "default.qubit", "--out", str(out), "--resume"]
    err = _refused(argv, capsys, progress=True)
    assert f"{out / runs.CHECKPOINT} cannot be read as a checkpoint" in err
    assert sorted(p.name for p in out.iterdir() if p.name != runs.LOCK) == [runs.CHECKPOINT]


# non-finite: stopped, never saved or exported, refused on load


def test_a_diverging_run_stops_and_exports_nothing(tmp_path, capsys):
    out = tmp_path / "run"
    argv = [*QT, "--dataset", "iris", "--classical", "--epochs", "3", "--batch-size", "16"]
    err = _refused([*argv, "--lr", "1e300", "--out", str(out)], capsys, progress=True)
    assert "training stopped at epoch 1, step " in err and "lower --lr" in err
    assert not (out / runs.WEIGHTS).exists() and not (out / runs.CHECKPOINT).exists()


def test_the_ripe_loop_stops_at_the_first_non_finite_iteration(tmp_path):
    from hybrid.ripe import feedforward
    from hybrid.training import Diverged, TrainConfig

    x = np.random.default_rng(0).normal(size=(20, 4))
    x[7] = np.nan  # reaches the loss through the inner products, as a diverged step would
    y = np.arange(20) % 2
    config = TrainConfig(steps=6, batch_size=5, learning_rate=0.1, optimizer="sgd", eval_every=3)
    net = feedforward.NetConfig(sizes=(4, 3, 2))
    with pytest.raises(Diverged, match=r"iteration \d of 6"):
        feedforward.train(x, y, net=net, config=config, run_dir=tmp_path, verbose=False)
    assert not (tmp_path / runs.CHECKPOINT).exists()


def test_non_finite_weights_are_refused_on_export_and_on_load(tmp_path, monkeypatch):
    prep = {"scale": 1.0, "mean": None, "std": None, "input_shape": [4]}
    weights = np.full(15, np.nan)
    layers = [{"type": "dense", "units": 3}]
    with pytest.raises(ValueError, match="NaN or inf"):
        runs.save_network(
            tmp_path, layers, [4], weights, preprocessing=prep, class_names=["a", "b"]
        )
    monkeypatch.setattr(runs, "non_finite", lambda arrays: [])
    runs.save_network(tmp_path, layers, [4], weights, preprocessing=prep, class_names=["a", "b"])
    monkeypatch.undo()
    with pytest.raises(runs.RunFormatError, match="NaN or inf"):
        runs.load_run(tmp_path)
    spec = {"kind": "network", "architecture": {"layers": layers, "input_shape": [4]}}
    spec |= {"preprocessing": prep, "class_names": ["a", "b"]}
    with pytest.raises(runs.RunFormatError, match="NaN or inf"):
        NumpyClassifier(spec, {"w0": np.full((4, 3), np.inf), "w1": np.zeros(3)})


# Ctrl-C


def test_a_swallowed_ctrl_c_during_start_up_still_ends_with_130(monkeypatch, capsys):
    from hybrid.cli import info

    def swallowing(args):
        with contextlib.suppress(KeyboardInterrupt):  # as where Python says "Exception ignored"
            signal.raise_signal(signal.SIGINT)
        return 0

    monkeypatch.setattr(info, "devices", swallowing)
    assert cli.main(["devices"]) == 130
    assert "interrupted" in capsys.readouterr().err


def test_ctrl_c_after_the_final_checkpoint_says_it_is_there(tmp_path, monkeypatch, capsys):
    from hybrid.cli import train

    out = tmp_path / "run"

    def export_interrupted(args):
        out.mkdir()
        (out / runs.CHECKPOINT).write_bytes(b"final")
        raise KeyboardInterrupt

    monkeypatch.setattr(train, "quantum_train", export_interrupted)
    assert cli.main([*QT, "--out", str(out)]) == 130
    err = capsys.readouterr().err
    assert "wrote no checkpoint" not in err and f"{out} holds a checkpoint" in err


def test_ctrl_c_while_starting_exits_130():
    code = "import sys, signal, os; from hybrid import cli; "
    code += "signal.signal(signal.SIGALRM, lambda *a: os.kill(os.getpid(), signal.SIGINT)); "
    code += "signal.setitimer(signal.ITIMER_REAL, 0.05); "
    code += "sys.exit(cli.main(['resources', 'iris-qt', '--device', 'default.qubit']))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 130, done.stderr[-2000:]
    assert "Traceback" not in done.stderr


# fast listing, every row, defaults sized to the net


def test_devices_lists_without_importing_pennylane_or_jax():
    code = "import sys; from hybrid import cli; assert cli.main(['devices']) == 0; "
    code += "print(sorted(m for m in ('pennylane', 'jax') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_predict_all_rows_of_a_labelled_csv(tmp_path, capsys):
    from hybrid import data

    run = tmp_path / "run"
    assert cli.main([*QT, *TINY, "--classical", "--out", str(run)]) == 0
    capsys.readouterr()
    rows = data.load("iris", "all")
    assert len(rows) == 150
    assert cli.main(["predict", str(run), "--data", "iris", "--all-rows"]) == 0
    assert "on 150 examples" in capsys.readouterr().out


def test_default_sizing_keeps_trainable_below_m():
    from hybrid.deploy import architecture
    from hybrid.quantum_train.model import TRAINABLE_FRACTION, size_to_net
    from hybrid.quantum_train.run import default_layers

    nets = [
        (default_layers("iris", (4,), 3), (4,)),  # iris
        (default_layers("csv", (13,), 3), (13,)),  # a 13-feature, 3-class CSV
        (default_layers("mnist", (28, 28, 1), 10), (28, 28, 1)),  # the paper's CNN
        (default_layers("x", (8, 8, 1), 2), (8, 8, 1)),  # small images
        (architecture.parse("dense:16,relu,dense:16,relu,dense:3"), (4,)),  # README's iris
    ]
    for layers, shape in nets:
        m = architecture.param_count(layers, shape)
        sizing = size_to_net(m)
        assert sizing.n_trainable <= TRAINABLE_FRACTION * m and sizing.warning is None, m
        assert f"M = {m}" in sizing.why
    assert size_to_net(6690).depth == 40  # the paper's depth where it fits
    assert "trainable >= M" in size_to_net(403, depth=60).warning


def test_sizing_counts_a_chunks_qubits_and_bits():
    from hybrid.deploy import architecture
    from hybrid.quantum_train import QuantumTrain
    from hybrid.quantum_train.model import size_to_net

    layers = architecture.parse("conv:4:3,maxpool:2,flatten,dense:10")
    m = architecture.param_count(layers, (12, 12, 1))  # 1,010 weights
    for chunks in (1, 4):
        sizing = size_to_net(m, chunks=chunks)
        model = QuantumTrain(
            tuple(layers),
            (12, 12, 1),
            depth=sizing.depth,
            mapping_hidden=sizing.mapping_hidden,
            chunks=chunks,
            mapping_activation="relu",
            profile="default.qubit",
        )
        assert sizing.n_trainable == model.n_trainable()  # the formula, against init's leaves
    assert size_to_net(m, chunks=4).n_trainable != size_to_net(m).n_trainable
