import json
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hybrid import data, training
from hybrid.deploy import architecture, preprocessing, runs
from hybrid.deploy.classifier import NumpyClassifier
from hybrid.deploy.runs import RunFormatError
from hybrid.quantum_train import QuantumTrain

BLOCK_HEAVY_IMPORTS = textwrap.dedent("""
    import sys
    class Refuse:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("jax", "jaxlib", "pennylane", "optax", "scipy"):
                raise ImportError(f"{name} is blocked: the classifier must need numpy only")
    sys.meta_path.insert(0, Refuse())
""")


@pytest.fixture(scope="module")
def iris_run(tmp_path_factory):
    """A short Quantum-Train run on Iris, exported like any user's run."""
    out = tmp_path_factory.mktemp("iris")
    train, test = data.load("iris", "train"), data.load("iris", "test")
    model = QuantumTrain(
        tuple(architecture.mlp([8], 3)), (4,), depth=2, profile="default.qubit", mapping_hidden=(4,)
    )
    config = training.TrainConfig(epochs=3, batch_size=16, learning_rate=0.05)
    params, history = training.fit(
        model, (train.x, train.y), (test.x, test.y), config, progress=False
    )
    runs.save_network(
        out,
        model.layers,
        model.input_shape,
        np.asarray(model.weights(params)),
        preprocessing=train.preprocessing,
        class_names=train.class_names,
    )
    return out, model, params, test


def test_numpy_classifier_equals_the_jax_model(iris_run):
    out, model, params, test = iris_run
    clf = NumpyClassifier.load(out)
    jax_proba = np.asarray(jax.nn.softmax(model.apply(params, jnp.asarray(test.x))))
    np.testing.assert_array_equal(clf.predict(test.raw), jax_proba.argmax(1))
    np.testing.assert_allclose(clf.predict_proba(test.raw), jax_proba, atol=1e-5)
    assert clf.score(test.raw, test.y) == pytest.approx(np.mean(jax_proba.argmax(1) == test.y))
    assert clf.class_names == ["setosa", "versicolor", "virginica"]


def test_paper_cnn_numpy_and_jax_agree_on_the_whole_offline_test_set(offline_mnist, tmp_path):
    test = data.load("mnist", "test", source="idx")
    layers = architecture.QT_MNIST_CNN
    weights = np.concatenate(
        [p.ravel() for p in architecture.init_params(np.random.default_rng(0), layers, (28, 28, 1))]
    )
    runs.save_network(
        tmp_path,
        layers,
        (28, 28, 1),
        weights,
        preprocessing=test.preprocessing,
        class_names=test.class_names,
    )
    params = architecture.unflatten(jnp.asarray(weights), layers, (28, 28, 1))
    logits = jax.jit(lambda x: architecture.apply(layers, params, x, xp=jnp))(test.x)
    clf = NumpyClassifier.load(tmp_path)
    assert len(test.y) == 2000
    np.testing.assert_array_equal(clf.predict(test.raw), np.asarray(logits).argmax(1))
    np.testing.assert_allclose(clf.predict_proba(test.raw), jax.nn.softmax(logits), atol=1e-5)


def test_classifier_runs_where_jax_and_pennylane_cannot_be_imported(iris_run, tmp_path):
    out, _, _, test = iris_run
    np.save(tmp_path / "raw.npy", test.raw)
    script = BLOCK_HEAVY_IMPORTS + textwrap.dedent(f"""
        import json, numpy as np
        from hybrid.deploy.classifier import NumpyClassifier
        clf = NumpyClassifier.load({str(out)!r})
        pred = clf.predict(np.load({str(tmp_path / "raw.npy")!r}))
        heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("jax", "pennylane"))
        print(json.dumps({{"pred": pred.tolist(), "heavy": heavy}}))
    """)
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    result = json.loads(done.stdout)
    assert result["heavy"] == []
    np.testing.assert_array_equal(result["pred"], NumpyClassifier.load(out).predict(test.raw))


def test_new_layers_run_where_jax_and_scipy_cannot_be_imported(tmp_path):
    """GELU's erf, the norms, residual blocks and pooling need NumPy alone in the deployed path."""
    layers = architecture.parse(
        "conv:3:3:same,batchnorm,gelu,residual(conv:3:3:same,layernorm,relu),dropout:0.2,"
        "globalavgpool,dense:2"
    )
    shape = (5, 5, 2)
    weights = np.random.default_rng(0).normal(size=architecture.param_count(layers, shape))
    x = np.random.default_rng(1).normal(size=(9, *shape))
    runs.save_network(
        tmp_path / "run",
        layers,
        shape,
        weights,
        preprocessing=preprocessing.make_spec(shape),
        class_names=["no", "yes"],
    )
    np.save(tmp_path / "x.npy", x)
    script = BLOCK_HEAVY_IMPORTS + textwrap.dedent(f"""
        import json, numpy as np
        from hybrid.deploy.classifier import NumpyClassifier
        clf = NumpyClassifier.load({str(tmp_path / "run")!r})
        print(json.dumps(clf.decision_function(np.load({str(tmp_path / "x.npy")!r})).tolist()))
    """)
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    params = architecture.unflatten(jnp.asarray(weights), layers, shape)
    logits = architecture.apply(layers, params, jnp.asarray(x), xp=jnp)
    np.testing.assert_allclose(json.loads(done.stdout), logits, rtol=1e-9, atol=1e-9)


def test_the_import_blocker_really_blocks():
    """Guards the test above: were the blocker broken, that test would prove nothing."""
    script = BLOCK_HEAVY_IMPORTS + "import jax\n"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode != 0 and "blocked" in done.stderr


def test_tampered_runs_and_unknown_kinds_are_refused(iris_run, tmp_path):
    out, *_ = iris_run
    spec, arrays = runs.load_run(out)
    runs.save_run(tmp_path, arrays, spec | {"kind": "hologram"})
    with pytest.raises(RunFormatError, match="unknown"):
        NumpyClassifier.load(tmp_path)
    weights = tmp_path / "weights.npz"
    weights.write_bytes(weights.read_bytes()[:-10])
    with pytest.raises(RunFormatError, match="sha256"):
        NumpyClassifier.load(tmp_path)


def test_inputs_of_the_wrong_trailing_shape_are_refused(iris_run):
    out, _, _, test = iris_run
    clf = NumpyClassifier.load(out)
    doubled = np.concatenate([test.raw, test.raw], axis=1)  # 8 columns for a 4-feature model
    for raw in (doubled, test.raw[:, :2], test.raw.ravel()):
        with pytest.raises(ValueError, match="do not fit this model"):
            clf.predict(raw)
    assert clf.predict(test.raw[0]).shape == (1,)  # one example alone is fine


def test_score_compares_label_names_not_positions(iris_run):
    out, _, _, test = iris_run
    clf = NumpyClassifier.load(out)
    names = np.asarray(test.class_names)[test.y]
    assert clf.score(test.raw, names) == clf.score(test.raw, test.y)
    with pytest.raises(ValueError, match="not classes of this model"):
        clf.score(test.raw, np.where(names == "setosa", "Setosa", names))


def test_edited_model_json_is_refused_by_the_classifier(iris_run, tmp_path):
    out, *_ = iris_run
    for name in ("model.json", "weights.npz"):
        (tmp_path / name).write_bytes((out / name).read_bytes())
    spec = json.loads((tmp_path / "model.json").read_text())
    spec["class_names"].reverse()
    (tmp_path / "model.json").write_text(json.dumps(spec, indent=2))
    with pytest.raises(RunFormatError, match="edited after export"):
        NumpyClassifier.load(tmp_path)
