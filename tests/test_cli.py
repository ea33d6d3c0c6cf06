import json

import numpy as np
import pytest

from hybrid import cli, data
from hybrid.classifier import NumpyClassifier


def test_train_then_predict_on_iris(tmp_path, capsys):
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


def test_paper_cnn_trains_on_the_bundled_mnist_sample(tmp_path, capsys):
    """The MNIST Quantum-Train path end to end on real digits, kept tiny for CI."""
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
    assert "auto, QNN of 14 qubits -> " in out and "auto, QNN of 15 qubits -> " in out  # and why


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
                "default.qubit",
                "--qnn-depth",
                "2",
                "--mapping-hidden",
                "4",
                "--epochs",
                "3",
                "--batch-size",
                "8",
                "--lr",
                "0.05",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert NumpyClassifier.load(out).class_names == ["no", "yes"]
