"""Plugin devices with shots agree with lightning; routing, retries, resources and credentials.

Statistical checks compare a finite-shot estimate with the analytic value within 4 standard errors
(binomial). Qiskit Aer is seeded; Braket's local simulator takes no seed, so its checks use fresh
shot noise each run (a 4-standard-error miss has probability ~6e-5 per compared number, ~2e-4
for the smallest QNN probability, 8e-4, whose counts are Poisson-like).
"""

from __future__ import annotations

import dataclasses
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hybrid import cli, devices, quantum_train, reports
from hybrid.deploy import runs
from hybrid.devices import resources
from hybrid.ntk import qsvt
from hybrid.quantum_train import qnn
from hybrid.ripe import inner_product

SHOTS = 4000
PLUGINS = {"qiskit.aer": "pennylane_qiskit", "braket.local.qubit": "braket.pennylane_plugin"}


def _profile(name: str, shots: int = SHOTS, **options) -> devices.Profile:
    pytest.importorskip(PLUGINS.get(name, "pennylane_qiskit"))
    profile = devices.get(name)
    return dataclasses.replace(profile, shots=shots, options={**profile.options, **options})


def _pairs(d: int = 6, batch: int = 4):
    rng = np.random.default_rng(7)
    return rng.normal(size=(batch, d)), rng.normal(size=(batch, d))


def _within(estimate, exact, standard_error, k: float = 4.0) -> None:
    gap = np.abs(np.asarray(estimate) - np.asarray(exact))
    assert np.all(gap <= k * np.asarray(standard_error) + 1e-12), (gap, standard_error)


@pytest.mark.parametrize("name", ["qiskit.aer", "braket.local.qubit"])
def test_inner_product_agrees_with_lightning(name):
    x, y = _pairs()
    exact = inner_product.inner_products(x, y, "lightning.qubit")
    np.testing.assert_allclose(exact, np.sum(x * y, axis=1), atol=1e-10)
    estimate = inner_product.inner_products(x, y, _profile(name), seed=11)
    total = np.sum(x * x + y * y, axis=1)
    z = 2 * exact / total  # <Z>, binomial standard error sqrt(1 - z^2) / sqrt(shots)
    _within(estimate, exact, total / 2 * np.sqrt(1 - z**2) / np.sqrt(SHOTS))
    assert not np.allclose(estimate, exact, atol=1e-9), "a sampler must show shot noise"


@pytest.mark.parametrize("name", ["qiskit.aer", "braket.local.qubit"])
def test_qsvt_solve_sampled_on_a_plugin_matches_its_state_vector(name):
    """The QSVT circuit, compiled to CNOT + rotations, post-selected from counts on the device."""
    a, b = np.array([[1.0, 0.3], [0.3, 0.6]]), np.array([0.6, 0.8])
    exact = qsvt.solve(a, b, eps=0.05)
    sampled = qsvt.sample(a, b, _profile(name, shots=20000, seed=5), eps=0.05)
    p, success = np.square(exact["x_quantum"]), exact["success_probability"]
    _within(sampled["success_probability"], success, np.sqrt(success * (1 - success) / 20000))
    kept = sampled["post_selected_shots"]
    _within(sampled["distribution"], p, np.sqrt(p * (1 - p) / kept))
    # against the classical solution, the polynomial's own error adds to the shot noise
    assert sampled["total_variation"] <= exact["solution_error"] + 4 * np.sqrt(p[0] / kept)


def _angles(n: int = 3, depth: int = 2):
    return jnp.asarray(np.random.default_rng(3).uniform(0, 2 * np.pi, (depth, n)))


@pytest.mark.parametrize("name", ["qiskit.aer", "braket.local.qubit"])
def test_qnn_probabilities_and_gradient_agree_with_lightning(name):
    angles = _angles()
    exact_fn = qnn.probabilities(3, 2, "lightning.qubit")
    shots_fn = qnn.probabilities(3, 2, _profile(name, seed=5))
    p, p_hat = np.asarray(exact_fn(angles)), np.asarray(shots_fn(angles))
    _within(p_hat, p, np.sqrt(p * (1 - p) / SHOTS))
    # parameter-shift: d p_0 / d theta = (p_0(+) - p_0(-)) / 2, two independent estimates
    g = np.asarray(jax.grad(lambda a: exact_fn(a)[0])(angles))
    g_hat = np.asarray(jax.grad(lambda a: shots_fn(a)[0])(angles))
    _within(g_hat, g, np.sqrt(2 * 0.25 / SHOTS) / 2)


def test_routing_on_a_fake_backend_is_exact_without_noise():
    """The CNOT ring routed onto a chain of FakeKolkataV2 qubits still gives the ideal p."""
    profile = _profile("qiskit.aer-noisy", seed=2, noise=False)
    angles = _angles(4, 2)
    p = np.asarray(qnn.probabilities(4, 2, "lightning.qubit")(angles))
    p_hat = np.asarray(qnn.probabilities(4, 2, profile)(angles))
    _within(p_hat, p, np.sqrt(p * (1 - p) / SHOTS))
    x, y = _pairs(d=4, batch=2)  # StatePrep decomposed, then routed
    exact = np.sum(x * y, axis=1)
    total = np.sum(x * x + y * y, axis=1)
    z = 2 * exact / total
    estimate = inner_product.inner_products(x, y, profile, seed=4)
    _within(estimate, exact, total / 2 * np.sqrt(1 - z**2) / np.sqrt(SHOTS))


def test_noisy_fake_backend_runs_and_is_worse_than_ideal():
    angles = _angles(3, 2)
    p = np.asarray(qnn.probabilities(3, 2, "lightning.qubit")(angles))
    noisy = np.asarray(qnn.probabilities(3, 2, _profile("qiskit.aer-noisy", 8000, seed=1))(angles))
    ideal = np.asarray(
        qnn.probabilities(3, 2, _profile("qiskit.aer-noisy", 8000, seed=1, noise=False))(angles)
    )
    assert noisy.shape == (8,) and abs(noisy.sum() - 1) < 1e-9
    tv_noisy, tv_ideal = 0.5 * np.abs(noisy - p).sum(), 0.5 * np.abs(ideal - p).sum()
    assert tv_ideal < tv_noisy < 0.5, (tv_ideal, tv_noisy)


def test_ideal_aer_builds_its_target_once():
    """Qiskit's transpiler reads ``backend.target`` ~150 times per circuit; ideal Aer rebuilt it
    on every read. The profile's backend keeps it until its options change."""
    device = devices.make(_profile("qiskit.aer"), 3)
    backend = device.backend
    first = backend.target
    assert backend.target is first and "cx" in first.operation_names
    backend.set_options(method="statevector")
    assert backend.target is not first


def test_noisy_devices_do_not_share_their_simulator():
    """The plugin sets options on its backend: two devices of one profile get two simulators."""
    pytest.importorskip("qiskit_ibm_runtime")
    profile = _profile("qiskit.aer-noisy")
    first, second = (devices.unwrapped(devices.make(profile, 3)).backend for _ in range(2))
    first.set_options(shots=7)
    assert second is not first and second.options.shots != 7
    assert first.options.noise_model is not None


def test_epoch_cost_counts_one_evaluation_per_batch():
    """``training.accuracy`` runs the QNN once per evaluation batch, on train and on test."""
    report = quantum_train.resources_report(
        devices.get("default.qubit"), 3, 1, n_train=2500, batch_size=100, n_test=1000
    )
    assert report["evaluation_executions_per_epoch"] == 3 + 1
    assert report["executions_per_epoch"] == 25 * 1 + 3 + 1


def test_chain_is_a_path_of_coupled_qubits():
    edges = [(0, 1), (1, 2), (2, 3), (1, 4), (4, 5)]
    path = devices.chain(edges, 5)
    assert len(set(path)) == 5
    coupled = {frozenset(e) for e in edges}
    assert all(frozenset(pair) in coupled for pair in zip(path, path[1:], strict=False))
    with pytest.raises(ValueError, match="no chain"):
        devices.chain(edges, 6)


def test_retries_back_off_then_succeed_or_raise():
    calls, sleeps = [], []

    def flaky(x):
        calls.append(x)
        if len(calls) < 3:
            raise TimeoutError("queue timed out")
        return 2 * x

    assert devices.with_retries(flaky, attempts=4, sleep=sleeps.append)(5) == 10
    assert sleeps == [2.0, 4.0] and len(calls) == 3
    calls.clear()
    sleeps.clear()
    with pytest.raises(TimeoutError):
        devices.with_retries(lambda: flaky(0) and 1 / 0, attempts=2, sleep=sleeps.append)()
    assert len(calls) == 2 and sleeps == [2.0]
    sleeps.clear()
    with pytest.raises(ValueError):  # a bad argument is not retried
        devices.with_retries(lambda: int("x"), attempts=3, sleep=sleeps.append)()
    assert sleeps == []


def test_resources_use_the_backends_native_gates():
    pytest.importorskip("qiskit_ibm_runtime")
    noisy = reports.report("iris-qt", "qiskit.aer-noisy")
    native = set(devices.fake_backend("FakeKolkataV2").operation_names)
    assert set(noisy["circuit"]["gate_types"]) <= native
    assert noisy["circuit"]["two_qubit_gates"] >= 2 * 9  # at least the ring's CNOTs
    assert noisy["executions_per_step"] == 1 + 2 * 9 * 2  # parameter-shift, 18 angles
    assert noisy["executions_per_epoch"] == 7 * noisy["executions_per_step"] + 2
    remote = inner_product.resources_report(devices.get("qiskit.remote"), 8)
    assert set(remote["circuit"]["gate_types"]) <= set(
        devices.fake_backend("FakeTorino").operation_names
    )
    assert remote["per_inner_product"]["usd"] > 0


def test_braket_qpu_price_and_missing_arn(monkeypatch):
    pytest.importorskip("braket.pennylane_plugin")
    qpu = devices.get("braket.aws.qpu")
    monkeypatch.delenv("BRAKET_DEVICE_ARN", raising=False)
    with pytest.raises(ValueError, match="BRAKET_DEVICE_ARN"):
        devices.make(qpu, 2)
    monkeypatch.setenv("BRAKET_DEVICE_ARN", "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1")
    cost = resources.price(qpu, executions=10, shots=100, duration_s=None)
    assert cost["usd"] == pytest.approx(10 * (0.30 + 100 * 0.08))


def test_cli_report_holds_no_credentials(monkeypatch, tmp_path, capsys):
    pytest.importorskip("qiskit_ibm_runtime")
    secret = "tok-3f9a1c-not-a-real-token"
    monkeypatch.setenv("QISKIT_IBM_TOKEN", secret)
    run = tmp_path / "run"
    runs.save_network(  # a real export: resources reads runs through the checked loader
        run,
        [{"type": "dense", "units": 3}],
        [4],
        np.zeros(15),
        preprocessing={"scale": 1.0, "mean": None, "std": None, "input_shape": [4]},
        class_names=["a", "b", "c"],
        model={"type": "quantum-train", "n_qubits": 3, "depth": 2},
        training={"batch_size": 8},
        dataset={"name": "iris", "n_train": 120},
    )
    args = cli.parser().parse_args(["resources", str(run), "--device", "qiskit.remote", "--write"])
    assert cli.handler(args)(args) == 0
    written = (run / "resources-qiskit.remote.json").read_text()
    assert json.loads(written)["circuit"]["qubits"] == 3
    assert secret not in written and secret not in capsys.readouterr().out
