import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hybrid import cli, data, devices
from hybrid.deploy import runs
from hybrid.deploy.classifier import NumpyClassifier


def test_train_then_predict_on_iris(tmp_path, capsys, monkeypatch):
    from hybrid import training

    plots, plot = [], training.plot_history
    monkeypatch.setattr(
        training, "plot_history", lambda h, path: plots.append((sorted(h), path)) or plot(h, path)
    )
    out = tmp_path / "run"
    code = cli.main(
        [
            "train",
            "quantum-train",
            "--dataset",
            "iris",
            "--device",
            "default.qubit",
            "--qnn-depth",
            "2",
            "--layers",
            "dense:8,relu,dense:3",
            "--mapping-hidden",
            "4",
            "--epochs",
            "2",
            "--batch-size",
            "16",
            "--baseline",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report["runs"]) == {"quantum-train", "classical"}
    qt = report["runs"]["quantum-train"]
    assert qt["n_trainable"] < qt["n_weights"] == 67 and qt["n_qubits"] == 7
    assert (qt["device"], qt["route"]) == ("default.qubit", "profile default.qubit asked for")
    for name in ("model.json", "weights.npz", "metrics.json", "checkpoint.npz"):
        assert (out / name).is_file() and (out / "baseline" / name).is_file()
    # one learning curve per run, and the main run's shows Quantum-Train beside its baseline
    assert plots[-1] == (["classical", "quantum-train"], out / "learning_curve.png")
    assert {str(p) for _, p in plots} == {
        str(out / "learning_curve.png"),
        str(out / "baseline" / "learning_curve.png"),
    }

    assert (
        cli.main(["predict", str(out), "--data", "iris", "--output", str(tmp_path / "pred.txt")])
        == 0
    )
    printed = capsys.readouterr().out
    accuracy = float(printed.split("accuracy ")[1].split()[0])
    test = data.load("iris", "test")
    assert accuracy == pytest.approx(NumpyClassifier.load(out).score(test.raw, test.y), abs=1e-4)
    names = (tmp_path / "pred.txt").read_text().split()
    assert len(names) == 30 and set(names) <= {"setosa", "versicolor", "virginica"}


def test_predict_reads_raw_npy_inputs(tmp_path, capsys):
    out = tmp_path / "run"
    cli.main(
        [
            "train",
            "quantum-train",
            "--dataset",
            "iris",
            "--classical",
            "--epochs",
            "1",
            "--out",
            str(out),
        ]
    )
    capsys.readouterr()
    np.save(tmp_path / "x.npy", data.load("iris", "test").raw[:3])
    assert cli.main(["predict", str(out), "--data", str(tmp_path / "x.npy")]) == 0
    assert len(capsys.readouterr().out.split()) == 3


def test_the_paper_cnn_on_mnist_is_13_qubits_for_6690_weights():
    """The small version of the end-to-end run below: the default net for MNIST and its QNN."""
    from hybrid.quantum_train import QuantumTrain, default_layers

    with pytest.warns(UserWarning, match="sample"):
        sample = data.load("mnist", "train", source="sample", limit=8)
    layers = default_layers(sample.name, sample.x.shape[1:], len(sample.class_names))
    model = QuantumTrain(tuple(layers), sample.x.shape[1:], depth=1)
    assert (model.n_weights, model.n_qubits) == (6690, 13)
    assert list(sample.class_names) == [str(d) for d in range(10)]


@pytest.mark.e2e
def test_paper_cnn_trains_on_the_bundled_mnist_sample(tmp_path, capsys):
    """The MNIST Quantum-Train path end to end on real digits."""
    with pytest.warns(UserWarning, match="sample"):
        code = cli.main(
            [
                "train",
                "quantum-train",
                "--dataset",
                "mnist",
                "--source",
                "sample",
                "--limit",
                "128",
                "--qnn-depth",
                "1",
                "--epochs",
                "1",
                "--device",
                "default.qubit",
                "--out",
                str(tmp_path),
            ]
        )
    assert code == 0
    report = json.loads(capsys.readouterr().out)["runs"]["quantum-train"]
    assert (report["n_weights"], report["n_qubits"]) == (6690, 13)
    assert NumpyClassifier.load(tmp_path).class_names == [str(d) for d in range(10)]


def test_errors_are_reported_without_a_traceback(tmp_path, capsys):
    code = cli.main(
        [
            "train",
            "quantum-train",
            "--dataset",
            "iris",
            "--layers",
            "dense:4",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 2 and "3 classes" in capsys.readouterr().err
    assert cli.main(["predict", str(tmp_path / "nothing"), "--data", "iris"]) == 2
    assert "not found" in capsys.readouterr().err


def test_devices_lists_profiles(capsys):
    assert cli.main(["devices"]) == 0
    out = capsys.readouterr().out
    assert "lightning.qubit" in out
    below, at = devices.CPU_CROSSOVER - 1, devices.CPU_CROSSOVER  # the two sides, and why
    assert f"auto, circuit of {below} qubits -> " in out
    assert f"auto, circuit of {at} qubits -> " in out


def test_a_users_csv_trains_and_predicts(tmp_path, capsys):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 80)
    x = rng.normal(size=(80, 3)) + 2 * y[:, None]
    rows = [
        ",".join(f"{v:.5f}" for v in xi) + f",{'yes' if yi else 'no'}"
        for xi, yi in zip(x, y, strict=True)
    ]
    (tmp_path / "mine.csv").write_text("a,b,c,label\n" + "\n".join(rows) + "\n")
    out = tmp_path / "run"
    assert (
        cli.main(
            [
                "train",
                "quantum-train",
                "--dataset",
                str(tmp_path / "mine.csv"),
                "--device",
                "lightning.qubit",
                "--layers",
                "dense:2",
                "--qnn-depth",
                "1",
                "--mapping-hidden",
                "2",
                "--epochs",
                "1",
                "--batch-size",
                "8",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert NumpyClassifier.load(out).class_names == ["no", "yes"]


# --------------------------------------------------------------------------- run directories

TINY_QT = ["--dataset", "iris", "--layers", "dense:3", "--qnn-depth", "1", "--mapping-hidden", "2"]
TINY_QT += ["--epochs", "2", "--batch-size", "16", "--lr", "0.05"]


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _fake_run(run_dir: Path, names=("a", "b", "c")) -> Path:
    """A real exported run (NumPy only) with a baseline/ inside, as a previous run leaves it."""
    rng = np.random.default_rng(0)
    prep = {"scale": 1.0, "mean": None, "std": None, "input_shape": [4]}
    for where in (run_dir, run_dir / "baseline"):
        runs.save_network(
            where,
            [{"type": "dense", "units": 3}],
            [4],
            rng.normal(size=15),
            preprocessing=prep,
            class_names=list(names),
        )
        (where / "metrics.json").write_text("{}")
    return run_dir


def test_bad_inputs_get_one_line_and_leave_the_run_byte_identical(tmp_path, capsys):
    run = _fake_run(tmp_path / "run")
    before = _snapshot(tmp_path)
    (tmp_path / "file").write_text("not a directory")
    (tmp_path / "bad.npz").write_bytes(b"")
    train = ["train", "quantum-train", *TINY_QT]
    cases = [
        ([*train, "--out", str(run)], "already holds a run"),
        ([*train, "--out", str(tmp_path / "file")], "is a file"),
        ([*train, "--out", str(run), "--resume", "--overwrite"], "choose one"),
        ([*train, "--out", str(run), "--optimizer", "softmax_cross_entropy"], "not an optimizer"),
        ([*train, "--out", str(tmp_path / "new"), "--dataset", str(tmp_path / "bad.npz")], "empty"),
        (["predict", str(run), "--data", "iris"], "not classes of this model"),
    ]
    for argv, message in cases:
        assert cli.main(argv) == 2, argv
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1 and "Traceback" not in err, err
    with pytest.raises(SystemExit) as exit_:
        cli.main([*train, "--out", str(run), "--mapping-hidden", "0"])
    assert exit_.value.code == 2 and "must be at least 1" in capsys.readouterr().err
    (tmp_path / "file").unlink()
    (tmp_path / "bad.npz").unlink()
    assert _snapshot(tmp_path) == before and not (tmp_path / "new").exists()


def test_a_directory_with_foreign_files_is_never_cleared(tmp_path, capsys):
    (tmp_path / "thesis.tex").write_text("years of work")
    code = cli.main(["train", "quantum-train", *TINY_QT, "--out", str(tmp_path), "--overwrite"])
    assert code == 2 and "did not write (thesis.tex)" in capsys.readouterr().err
    assert (tmp_path / "thesis.tex").read_text() == "years of work"


@pytest.mark.skipif(
    __import__("hybrid.devices").devices.is_available("lightning.gpu"), reason="it is available"
)
def test_an_unavailable_device_is_refused_before_the_run_directory_exists(tmp_path, capsys):
    out = tmp_path / "run"
    code = cli.main(
        ["train", "quantum-train", *TINY_QT, "--device", "lightning.gpu", "--out", str(out)]
    )
    err = capsys.readouterr().err
    assert code == 2 and "lightning.gpu is not available here" in err and err.count("\n") == 1
    assert not out.exists()


def test_a_second_run_into_a_locked_directory_is_refused(tmp_path, capsys):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from hybrid.deploy import runs; "
            f"lock = runs.lock({str(tmp_path)!r}); print('locked', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        code = cli.main(["train", "quantum-train", *TINY_QT, "--out", str(tmp_path)])
        err = capsys.readouterr().err
        assert code == 2 and f"(pid {holder.pid}) is writing to" in err
    finally:
        holder.kill()
        holder.wait()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".lock"]


def test_overwrite_replaces_the_old_run_and_its_baseline(tmp_path, capsys):
    run = _fake_run(tmp_path / "run")
    argv = ["train", "quantum-train", *TINY_QT, "--classical", "--out", str(run), "--overwrite"]
    assert cli.main(argv) == 0
    capsys.readouterr()
    assert not (run / "baseline").exists()
    assert NumpyClassifier.load(run).class_names == ["setosa", "versicolor", "virginica"]


def test_seed_reaches_the_split_of_a_users_file(tmp_path, monkeypatch):
    seen = []

    def load(name, split="train", **kwargs):
        seen.append(kwargs.get("seed"))
        raise ValueError("stop here")

    monkeypatch.setattr(data, "load", load)
    argv = ["train", "quantum-train", *TINY_QT, "--seed", "7", "--out", str(tmp_path / "r")]
    assert cli.main(argv) == 2
    assert seen == [7]


def test_predict_compares_labels_by_name(tmp_path, capsys):
    train = data.load("iris", "train")
    x = train.x
    centroids = np.stack([x[train.y == k].mean(0) for k in range(3)])
    order = [2, 0, 1]  # the model's class k is the data's class order[k]
    c = centroids[order]
    weights = np.concatenate([c.T.ravel(), -0.5 * (c**2).sum(1)])  # nearest centroid, linear
    names = [train.class_names[k] for k in order]
    runs.save_network(
        tmp_path,
        [{"type": "dense", "units": 3}],
        [4],
        weights,
        preprocessing=train.preprocessing,
        class_names=names,
    )
    assert cli.main(["predict", str(tmp_path), "--data", "iris"]) == 0
    accuracy = float(capsys.readouterr().out.split("accuracy ")[1].split()[0])
    assert accuracy > 0.8  # by index it would be about 1/3


BLOCK_HEAVY = """
import sys
class Refuse:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("jax", "jaxlib", "pennylane", "optax", "scipy"):
            raise ImportError(f"{name} is blocked: predict and --help must need numpy only")
sys.meta_path.insert(0, Refuse())
from hybrid import cli
"""


def test_predict_and_help_run_where_jax_pennylane_and_optax_cannot_be_imported(tmp_path):
    _fake_run(tmp_path / "run", names=("setosa", "versicolor", "virginica"))
    script = BLOCK_HEAVY + (
        f"assert cli.main(['predict', {str(tmp_path / 'run')!r}, '--data', 'iris']) == 0\n"
        "for argv in (['--help'], ['train', '--help'], ['train', 'quantum-train', '--help']):\n"
        "    try:\n"
        "        cli.main(argv)\n"
        "    except SystemExit as done:\n"
        "        assert done.code == 0\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in ('jax', 'pennylane', 'optax')]\n"
        "print('heavy', heavy)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "accuracy" in done.stdout and "heavy []" in done.stdout
    blocked = subprocess.run(
        [sys.executable, "-c", BLOCK_HEAVY + "import jax"], capture_output=True, text=True
    )
    assert blocked.returncode != 0 and "blocked" in blocked.stderr  # the blocker works


def _parsers(parser, path=("hybrid",)):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, (*path, name))


def test_every_option_has_help_showing_its_default_and_no_markup():
    for path, parser in _parsers(cli.parser()):
        text = parser.format_help()
        assert "``" not in text and ":func:" not in text, path
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction | argparse._HelpAction):
                continue
            assert action.help, (path, action.dest)
            if action.default not in (None, argparse.SUPPRESS):
                assert "%(default)" in parser._get_formatter()._get_help_string(action), (
                    path,
                    action.dest,
                )


def test_devices_has_a_header_and_says_why(capsys, monkeypatch):
    from hybrid import devices

    monkeypatch.setattr(
        devices,
        "unavailable_reason",
        lambda d: "ImportError: no GPU" if d == "lightning.gpu" else None,
    )
    assert cli.main(["devices"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[:3] == ["usable", "profile", "gradient"]
    assert "lightning.gpu: ImportError: no GPU" in out


def test_ntk_study_without_enough_data_says_what_to_change(tmp_path, capsys):
    with pytest.warns(UserWarning, match="sample"):
        code = cli.main(
            [
                "ntk",
                "study",
                "--sizes",
                "16",
                "--trials",
                "1",
                "--source",
                "sample",
                "--out",
                str(tmp_path),
            ]
        )
    err = capsys.readouterr().err
    assert code == 2 and "lower --test-size" in err and "HYBRID_DATA_DIR" in err


CTRL_C_IN_CALLBACK = """
import os, signal, sys
import jax
import scipy.sparse
from hybrid.quantum_train import qnn

jax.config.update("jax_enable_x64", True)  # as in this process (conftest.py)

class SigintInTheTenthBackwardPass:  # lands inside lightning's jax.pure_callback
    calls = 0
    def __getattr__(self, name):
        return getattr(scipy.sparse, name)
    def diags(self, *args, **kwargs):
        type(self).calls += 1
        if self.calls == 10:
            os.kill(os.getpid(), signal.SIGINT)
        return scipy.sparse.diags(*args, **kwargs)

qnn.sp = SigintInTheTenthBackwardPass()
from hybrid import cli
sys.exit(cli.main(sys.argv[1:]))
"""


def test_ctrl_c_inside_lightning_leaves_a_checkpoint_that_resumes_exactly(tmp_path, capsys):
    argv = ["train", "quantum-train", *TINY_QT, "--device", "lightning.qubit"]
    done = subprocess.run(
        [sys.executable, "-c", CTRL_C_IN_CALLBACK, *argv, "--out", str(tmp_path / "cut")],
        capture_output=True,
        text=True,
    )
    last = done.stderr.strip().splitlines()[-1]
    assert done.returncode == 130, done.stderr
    assert "Traceback" not in done.stderr and "CpuCallback" not in done.stderr
    assert last == (
        f"hybrid: interrupted at epoch 2, step 3: checkpoint saved in {tmp_path / 'cut'}; "
        "rerun the same command with --resume to continue"
    )
    assert cli.main([*argv, "--out", str(tmp_path / "cut"), "--resume"]) == 0
    assert cli.main([*argv, "--out", str(tmp_path / "whole")]) == 0
    capsys.readouterr()
    cut, whole = (np.load(tmp_path / d / "weights.npz") for d in ("cut", "whole"))
    for name in whole.files:
        np.testing.assert_array_equal(cut[name], whole[name])
    histories = [
        json.loads((tmp_path / d / "metrics.json").read_text())["history"] for d in ("cut", "whole")
    ]
    assert [r["loss"] for r in histories[0]] == [r["loss"] for r in histories[1]]


def test_ctrl_c_before_any_checkpoint_says_nothing_was_saved(monkeypatch, capsys):
    def interrupted(args):
        raise KeyboardInterrupt

    from hybrid.cli import info

    monkeypatch.setattr(info, "devices", interrupted)
    assert cli.main(["devices"]) == 130
    err = capsys.readouterr().err.strip()
    assert err == "hybrid: interrupted; this interruption wrote no checkpoint"


def test_control_names_and_val_fraction_reach_the_run(tmp_path, monkeypatch, capsys):
    from hybrid import quantum_train

    seen = {}
    monkeypatch.setattr(quantum_train, "run", lambda *a, **k: seen.update(k) or {"runs": {}})
    argv = ["train", "quantum-train", *TINY_QT, "--out", str(tmp_path / "r")]
    assert cli.main([*argv, "--control", "mps", "bits-only", "--val-fraction", "0.2"]) == 0
    assert seen["models"] == ("mps", "bits-only") and seen["val_fraction"] == 0.2
    assert cli.main([*argv, "--baseline"]) == 0
    assert seen["models"] == ("quantum-train", "classical") and seen["val_fraction"] is None
    assert cli.main([*argv, "--control"]) == 0  # bare, as before it took names
    assert seen["models"] == ("random-features",)
    for bad in (["--control", "nonsense"], ["--val-fraction", "1"]):
        with pytest.raises(SystemExit) as exit_:
            cli.main([*argv, *bad])
        assert exit_.value.code == 2
    capsys.readouterr()


def test_generator_options_reach_the_run(tmp_path, monkeypatch, capsys):
    from hybrid import quantum_train
    from hybrid.deploy import architecture
    from hybrid.quantum_train.generator import SCALES

    assert (None, *cli.SCALES) == SCALES
    assert cli.ACTIVATIONS == architecture.ACTIVATIONS
    seen = {}
    monkeypatch.setattr(quantum_train, "run", lambda *a, **k: seen.update(k) or {"runs": {}})
    argv = ["train", "quantum-train", *TINY_QT, "--out", str(tmp_path / "r")]
    assert cli.main(argv) == 0
    assert (seen["chunks"], seen["scale"], seen["mapping_activation"]) == (1, None, None)
    extra = ["--chunks", "4", "--scale", "he", "--mapping-activation", "relu"]
    assert cli.main([*argv, *extra]) == 0
    assert (seen["chunks"], seen["scale"], seen["mapping_activation"]) == (4, "he", "relu")
    for bad in (["--chunks", "0"], ["--scale", "lecun"], ["--mapping-activation", "swish"]):
        with pytest.raises(SystemExit) as exit_:
            cli.main([*argv, *bad])
        assert exit_.value.code == 2
    capsys.readouterr()
