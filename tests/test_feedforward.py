"""(eps, gamma)-feedforward networks: backprop, R terms, export, circuit mode and CLI."""

from __future__ import annotations

import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hybrid import cli, data, training
from hybrid.deploy.classifier import NumpyClassifier
from hybrid.ripe import feedforward
from hybrid.ripe.estimators import Estimator
from hybrid.ripe.inner_product import CircuitInnerProducts
from hybrid.training import TrainConfig

EXACT = feedforward.estimator_products(Estimator())
# Compiled once per (products, net): eager JAX dispatch is what makes small tests slow.
GRADIENTS = jax.jit(feedforward.gradients, static_argnums=(3, 5))


def _batch(sizes, m=6, seed=0):
    rng = np.random.default_rng(seed)
    x = jnp.asarray(rng.normal(size=(m, sizes[0])))
    targets = jnp.asarray(np.eye(sizes[-1])[rng.integers(0, sizes[-1], m)])
    return x, targets


@pytest.mark.parametrize("loss", ["mse", "softmax_ce"])
@pytest.mark.parametrize("init", ["standard", "low_rank"])
def test_backprop_with_exact_estimator_equals_jax_grad(loss, init):
    net = feedforward.NetConfig((5, 7, 4, 3), loss=loss, init=init, rank=2)
    params = feedforward.init(jax.random.key(1), net)["params"]
    x, targets = _batch(net.sizes)
    grads, aux = GRADIENTS(params, x, targets, EXACT, jax.random.key(0), net)

    def loss_fn(p):
        return feedforward.loss_value(feedforward.predict_scores(p, x, net), targets, net)

    expected = jax.jit(jax.grad(loss_fn))(params)
    for got, want in zip(jax.tree.leaves(grads), jax.tree.leaves(expected), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(aux["loss"], loss_fn(params), rtol=1e-12)


def test_noisy_backprop_is_close_to_exact_but_not_equal():
    net = feedforward.NetConfig((5, 7, 3))
    params = feedforward.init(jax.random.key(1), net)["params"]
    x, targets = _batch(net.sizes)
    exact, _ = GRADIENTS(params, x, targets, EXACT, jax.random.key(0), net)
    products = feedforward.estimator_products(Estimator("ripe", 0.01))
    noisy, aux = GRADIENTS(params, x, targets, products, jax.random.key(0), net)
    diff = [
        float(jnp.max(jnp.abs(a - b)))
        for a, b in zip(jax.tree.leaves(noisy), jax.tree.leaves(exact), strict=True)
    ]
    assert 0 < max(diff) < 0.05
    assert float(aux["cost"]) > 0


def _per_example_deltas(params, x, targets, net):
    """delta^{x,l} = d loss_x / d b^l for each example, by jax.grad (independent of backprop)."""

    def one(xi, ti):
        def loss_b(biases):
            p = [{"w": layer["w"], "b": b} for layer, b in zip(params, biases, strict=True)]
            out = feedforward.predict_scores(p, xi[None], net)
            return feedforward.loss_value(out, ti[None], net)

        return jax.grad(loss_b)([layer["b"] for layer in params])

    return jax.vmap(one)(x, targets)


def test_r_terms_match_explicit_implicit_storage():
    """Run 3 steps; rebuild X^[t,l,j] (rows) and Y^[t,l,k] (columns) vector by vector and
    compare the paper's R_a, R_delta, R_W (means over m, 1/(N - n_1), 1/M) and the maxima."""
    net = feedforward.NetConfig((4, 6, 3))
    lr, m = 0.3, 5
    neurons = 6 + 3
    state = feedforward.initial_state(jax.random.key(2), net, lr)
    step = jax.jit(feedforward.make_step(net, EXACT, lr))
    # Stored vectors per row j (and column i) of each W^l: W_0's row (column), then updates.
    rows = [
        [[np.asarray(layer["w"][j])] for j in range(layer["w"].shape[0])]
        for layer in state["params"]
    ]
    cols = [
        [[np.asarray(layer["w"][:, i])] for i in range(layer["w"].shape[1])]
        for layer in state["params"]
    ]
    for t in range(3):
        x, targets = _batch(net.sizes, m=m, seed=10 + t)
        params = state["params"]
        acts = [np.asarray(x)]
        for layer in params:
            acts.append(np.tanh(acts[-1] @ np.asarray(layer["w"]).T + np.asarray(layer["b"])))
        deltas = [np.asarray(d) for d in _per_example_deltas(params, x, targets, net)]
        r_a, r_d, r_w, weight_a = np.zeros(m), np.zeros(m), 0.0, []
        for l_, (layer, a) in enumerate(zip(params, acts[:-1], strict=True)):
            w = np.asarray(layer["w"])
            for b in range(m):
                for j in range(w.shape[0]):
                    den = max(1, abs(w[j] @ a[b]))
                    r_a[b] += np.linalg.norm(rows[l_][j]) * np.linalg.norm(a[b]) / den
                    weight_a.append(np.linalg.norm(w[j]) * np.linalg.norm(a[b]) / den)
            r_w += sum(np.linalg.norm(rows[l_][j]) / np.linalg.norm(w[j]) for j in range(len(w)))
        w2, d2 = np.asarray(params[1]["w"]), deltas[1]
        for b in range(m):
            for k in range(w2.shape[1]):
                den = max(1, abs(w2[:, k] @ d2[b]))
                r_d[b] += np.linalg.norm(cols[1][k]) * np.linalg.norm(d2[b]) / den
        state, log = step(state, (jax.random.key(t), x, targets))
        np.testing.assert_allclose(log["R_a"], r_a.mean() / neurons, rtol=1e-10)
        np.testing.assert_allclose(log["R_delta"], r_d.mean() / neurons, rtol=1e-10)
        np.testing.assert_allclose(log["R_W"], r_w / (m * neurons), rtol=1e-10)
        np.testing.assert_allclose(log["Ra_weightnorm_max"], max(weight_a), rtol=1e-10)
        for l_, (d, a) in enumerate(zip(deltas, acts[:-1], strict=True)):
            for b in range(m):
                for j in range(d.shape[1]):
                    rows[l_][j].append(-lr / m * d[b, j] * a[b])
                for i in range(a.shape[1]):
                    cols[l_][i].append(-lr / m * a[b, i] * d[b])
        after = []
        for l_, layer in enumerate(state["params"]):
            w = np.asarray(layer["w"])
            # The stored vectors really sum to W (implicit storage is exact).
            np.testing.assert_allclose([np.sum(v, axis=0) for v in rows[l_]], w, atol=1e-12)
            after += [np.linalg.norm(v) / np.linalg.norm(w[j]) for j, v in enumerate(rows[l_])]
            after += [np.linalg.norm(v) / np.linalg.norm(w[:, i]) for i, v in enumerate(cols[l_])]
        np.testing.assert_allclose(log["storage_ratio_max"], max(after), rtol=1e-10)


def test_r_terms_by_hand_on_a_2_1_1_network():
    """W^1 = (3, 4), W^2 = (2), b = 0, one example x = (1, 0), target 0, eta = 0.5; N - n_1 = 2.

    t = 1 (storage = the initial rows): <W^1, x> = 3, |W^1| |x| = 5 -> 5/3; a^1 = tanh 3,
    <W^2, a^1> = 2 tanh 3 > 1 -> 2 tanh 3 / (2 tanh 3) = 1. R_a = (5/3 + 1)/2 = 4/3.
    Backward: delta^2 = out (1 - out^2), out = tanh(2 tanh 3); |Y^[1,2,1]| = |column 1 of W^2|
    = 2, <W^2, delta^2> = 2 delta^2 (< 1) -> R_delta = 2 |delta^2| / 2 = |delta^2|.
    R_W = (5/5 + 2/2)/(M * 2) = 1. t = 2: row 1 of W^1 stores (3, 4) and -eta delta^1 x, so
    |X|_F = sqrt(25 + eta^2 delta1^2) while |W^1| = |(3 - eta delta1, 4)|.
    """
    net = feedforward.NetConfig((2, 1, 1))
    lr = 0.5
    params = [
        {"w": jnp.array([[3.0, 4.0]]), "b": jnp.zeros(1)},
        {"w": jnp.array([[2.0]]), "b": jnp.zeros(1)},
    ]
    state = {
        "params": params,
        "rows": [jnp.array([25.0]), jnp.array([4.0])],
        "cols": [jnp.array([9.0, 16.0]), jnp.array([4.0])],
        "opt": feedforward.optax.sgd(lr).init(params),
    }
    step = jax.jit(feedforward.make_step(net, EXACT, lr))
    batch = (jax.random.key(0), jnp.array([[1.0, 0.0]]), jnp.array([[0.0]]))
    state2, log = step(state, batch)
    a1 = math.tanh(3)
    out = math.tanh(2 * a1)
    delta2 = out * (1 - out**2)
    delta1 = 2 * delta2 * (1 - a1**2)
    assert 2 * delta2 < 1
    np.testing.assert_allclose(log["R_a"], 4 / 3, rtol=1e-12)
    np.testing.assert_allclose(log["R_delta"], delta2, rtol=1e-12)
    np.testing.assert_allclose(log["R_W"], 1.0, rtol=1e-12)
    _, log2 = step(state2, batch)
    x_row1 = math.sqrt(25 + (lr * delta1) ** 2)
    x_row2 = math.sqrt(4 + (lr * delta2 * a1) ** 2)
    w_row1 = math.hypot(3 - lr * delta1, 4)
    w_row2 = 2 - lr * delta2 * a1
    np.testing.assert_allclose(log2["R_W"], (x_row1 / w_row1 + x_row2 / w_row2) / 2, rtol=1e-12)


def test_step_without_r_terms_trains_the_same():
    """``r_terms=False`` (timing) changes only what is logged, not the update."""
    net = feedforward.NetConfig((4, 6, 3))
    state = feedforward.initial_state(jax.random.key(2), net, 0.3)
    x, targets = _batch(net.sizes, m=5)
    batch = (jax.random.key(0), x, targets)
    plain = jax.jit(feedforward.make_step(net, EXACT, 0.3, r_terms=False))
    with_r, log = jax.jit(feedforward.make_step(net, EXACT, 0.3))(state, batch)
    without, log_plain = plain(state, batch)
    assert set(log_plain) == {"loss", "cost"} and "R_a" in log
    leaves = zip(jax.tree.leaves(with_r["params"]), jax.tree.leaves(without["params"]), strict=True)
    for a, b in leaves:
        np.testing.assert_array_equal(a, b)


def test_low_rank_initialisation():
    net = feedforward.NetConfig((300, 200, 3), init="low_rank", rank=6)
    state = jax.jit(feedforward.init, static_argnums=1)(jax.random.key(0), net)
    w = np.asarray(state["params"][0]["w"])
    assert np.linalg.matrix_rank(w) == 6
    assert 0.8 / 300 < w.var() < 1.2 / 300  # the same variance as the standard 1/fan_in
    # R_W at t = 0 is sqrt(sum_k |U_jk V_k|^2) / |sum_k U_jk V_k| >= 1/sqrt(r).
    assert np.all(np.sqrt(state["rows"][0]) / np.linalg.norm(w, axis=1) >= 1 / np.sqrt(6))


@pytest.fixture(scope="module")
def iris():
    return data.load("iris", "train"), data.load("iris", "test")


def test_training_export_and_numpy_classifier_agree(iris, tmp_path):
    train, test = iris
    net = feedforward.NetConfig((4, 10, 3))
    config = TrainConfig(
        optimizer="sgd", steps=300, batch_size=10, learning_rate=0.07, eval_every=150
    )
    params, history = feedforward.train(
        train.x,
        train.y,
        test.x,
        test.y,
        net=net,
        config=config,
        estimator=Estimator("gaussian", 0.1),
        run_dir=tmp_path,
        verbose=False,
    )
    assert history.evals[-1]["test_acc"] >= 0.8
    assert len(history.step["R_W"]) == 300 and np.all(np.isfinite(history.step["R_a"]))
    feedforward.export(
        tmp_path, params, net, preprocessing=train.preprocessing, class_names=train.class_names
    )
    spec = json.loads((tmp_path / "model.json").read_text())
    assert spec["kind"] == "network"
    clf = NumpyClassifier.load(tmp_path)
    jax_scores = np.asarray(feedforward.predict_scores(params, jnp.asarray(test.x), net))
    np.testing.assert_allclose(clf.decision_function(test.raw), jax_scores, atol=1e-6)
    np.testing.assert_array_equal(clf.predict(test.raw), np.argmax(jax_scores, axis=1))
    feedforward.plot_history(history, tmp_path / "ripe.png")
    assert (tmp_path / "ripe.png").stat().st_size > 0


def test_circuit_mode_trains_through_qnodes(iris):
    """Analytic circuits reproduce exact-inner-product training step for step."""
    train, test = iris
    net = feedforward.NetConfig((4, 3, 3))
    config = TrainConfig(optimizer="sgd", steps=40, batch_size=4, learning_rate=0.2, eval_every=20)
    ips = CircuitInnerProducts("default.qubit")
    p_circ, h_circ = feedforward.train(
        train.x, train.y, test.x, test.y, net=net, config=config, circuit=ips, verbose=False
    )
    p_exact, _ = feedforward.train(
        train.x, train.y, test.x, test.y, net=net, config=config, verbose=False
    )
    # 40 steps x (4x3 + 4x3 forward + 4x3 backward) pairs, plus 2 noisy evaluations of 30 x 6.
    assert ips.calls == 40 * 36 + 2 * 30 * 6
    for a, b in zip(jax.tree.leaves(p_circ), jax.tree.leaves(p_exact), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-8)
    loss = np.asarray(h_circ.step["loss"])
    assert loss[-10:].mean() < loss[:10].mean()


def ripe_cli(argv: list[str], capsys) -> dict:
    """Run ``hybrid train ripe ARGV`` through the parser and its handler; its printed summary."""
    args = cli.parser().parse_args(["train", "ripe", *argv])
    assert cli.handler(args)(args) == 0
    return json.loads(capsys.readouterr().out)


def test_cli_trains_and_exports(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["--dataset", "iris", "--estimator", "gaussian", "--eps", "0.3", "--steps", "20"]
    result = ripe_cli([*argv, "--eval-every", "10", "--out", str(out)], capsys)
    assert {"test_acc", "R_a", "R_delta", "R_W", "storage_ratio_max", "cost_total"} <= set(result)
    assert result["cost_total"] > 0
    clf = NumpyClassifier.load(out)
    assert clf.class_names == list(data.load("iris", "test").class_names)
    metrics = json.loads((out / "metrics.json").read_text())
    assert len(metrics["history"]["step"]["loss"]) == 20
    # The same directory is another run's now: refused before any work, files untouched.
    before = {f.name: f.read_bytes() for f in out.iterdir()}
    with pytest.raises(ValueError, match="already holds a run"):
        ripe_cli(["--steps", "10", "--out", str(out)], capsys)
    assert {f.name: f.read_bytes() for f in out.iterdir()} == before
    ripe_cli(["--steps", "10", "--eval-every", "5", "--out", str(out), "--overwrite"], capsys)
    metrics = json.loads((out / "metrics.json").read_text())
    assert len(metrics["history"]["step"]["loss"]) == 10


def test_the_network_takes_the_papers_sgd_steps():
    with pytest.raises(ValueError, match="counts iterations"):
        feedforward.check_config(TrainConfig(epochs=3, optimizer="sgd"))
    with pytest.raises(ValueError, match="plain SGD"):
        feedforward.check_config(TrainConfig(steps=3, optimizer="adam"))
    feedforward.check_config(feedforward.PAPER)


def test_bad_configurations():
    with pytest.raises(ValueError, match="tanh"):
        feedforward.NetConfig(activation="relu")
    with pytest.raises(ValueError, match="loss"):
        feedforward.NetConfig(loss="hinge")
    with pytest.raises(ValueError, match="sizes"):
        feedforward.NetConfig(sizes=(4,))
    with pytest.raises(ValueError, match="positive"):
        TrainConfig(steps=0)
    with pytest.raises(ValueError, match="features"):
        feedforward.train(
            np.ones((5, 3)),
            np.zeros(5, int),
            net=feedforward.NetConfig(),
            config=TrainConfig(optimizer="sgd", steps=1),
            verbose=False,
        )


def test_interrupted_run_resumes_to_the_uninterrupted_result(iris, tmp_path, monkeypatch):
    """A run stopped after its first checkpoint and resumed ends exactly where an uninterrupted
    run ends (same batches, keys and R terms); another setup is refused."""
    train, test = iris
    net = feedforward.NetConfig((4, 10, 3))
    config = TrainConfig(
        optimizer="sgd", steps=60, batch_size=10, learning_rate=0.07, eval_every=20
    )
    kwargs = dict(net=net, config=config, estimator=Estimator("ripe", 0.3), verbose=False)
    full, full_history = feedforward.train(train.x, train.y, test.x, test.y, **kwargs)

    save = training.save_checkpoint
    calls = []

    def save_then_stop(*args):
        if calls:  # the second checkpoint never comes: the run is killed after the first
            raise KeyboardInterrupt
        calls.append(save(*args))

    monkeypatch.setattr(training, "save_checkpoint", save_then_stop)
    with pytest.raises(KeyboardInterrupt):
        feedforward.train(train.x, train.y, test.x, test.y, run_dir=tmp_path, **kwargs)
    monkeypatch.setattr(training, "save_checkpoint", save)
    assert len(json.loads((tmp_path / "metrics.json").read_text())["history"]["evals"]) == 1

    resumed, history = feedforward.train(
        train.x, train.y, test.x, test.y, run_dir=tmp_path, resume=True, **kwargs
    )
    for a, b in zip(
        jax.tree_util.tree_leaves(full), jax.tree_util.tree_leaves(resumed), strict=True
    ):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert history.step == full_history.step and history.evals == full_history.evals
    assert len(history.step["loss"]) == 60

    with pytest.raises(ValueError, match="another run"):
        feedforward.train(
            train.x, train.y, run_dir=tmp_path, resume=True, **{**kwargs, "estimator": Estimator()}
        )
