"""Hadamard-test inner products of amplitude-encoded vectors (PennyLane QNodes)."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from hybrid.ripe.inner_product import (
    CircuitInnerProducts,
    encode,
    inner_products,
    n_qubits,
    validate,
)

HAS_LIGHTNING = importlib.util.find_spec("pennylane_lightning") is not None


def _pairs(n: int, d: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)) * 3, rng.normal(size=(n, d))


@pytest.mark.parametrize("d", [1, 2, 3, 5, 8, 13])
def test_analytic_circuit_equals_the_exact_inner_product(d):
    x, y = _pairs(16, d, seed=d)
    ips = CircuitInnerProducts("default.qubit")
    np.testing.assert_allclose(ips(x, y), np.sum(x * y, axis=1), atol=1e-10)
    assert ips.calls == 16  # one circuit per pair, all in one broadcast QNode call


@pytest.mark.skipif(not HAS_LIGHTNING, reason="pennylane-lightning not installed")
def test_lightning_qubit_analytic():
    x, y = _pairs(32, 6)
    np.testing.assert_allclose(
        inner_products(x, y, "lightning.qubit"), np.sum(x * y, axis=1), atol=1e-10
    )


def test_shots_give_binomial_noise_around_the_inner_product():
    """With S shots, <Z> has standard deviation sqrt((1 - <Z>^2) / S); the standardised errors
    should look like N(0, 1): mean within 4/sqrt(n), variance within 30 %, no |z| > 5."""
    n, shots = 200, 2000
    x, y = _pairs(n, 4, seed=1)
    ip = np.sum(x * y, axis=1)
    total = np.sum(x * x, 1) + np.sum(y * y, 1)
    z_exact = 2 * ip / total
    sd = total / 2 * np.sqrt((1 - z_exact**2) / shots)
    est = inner_products(x, y, "default.qubit", shots=shots, seed=5)
    z = (est - ip) / sd
    assert np.all(est != ip)
    assert abs(z.mean()) < 4 / np.sqrt(n)
    assert 0.7 < z.var() < 1.3
    assert np.max(np.abs(z)) < 5


def test_padding_to_a_power_of_two():
    assert [n_qubits(d) for d in (1, 2, 3, 4, 5, 8, 9)] == [2, 2, 3, 3, 4, 4, 5]
    x, y = validate(np.arange(1.0, 4.0), np.ones(3))
    states, total = encode(x, y)
    assert states.shape == (1, 8) and total[0] == 14 + 3
    np.testing.assert_allclose(states[0] * np.sqrt(17), [1, 2, 3, 0, 1, 1, 1, 0])
    np.testing.assert_allclose(np.sum(states**2, axis=1), 1)


def test_zero_pairs_are_skipped_when_allowed():
    x = np.array([[0.0, 0.0], [1.0, 2.0]])
    y = np.array([[0.0, 0.0], [3.0, -1.0]])
    ips = CircuitInnerProducts("default.qubit")
    np.testing.assert_allclose(ips(x, y, zero="allow"), [0.0, 1.0], atol=1e-12)
    assert ips.calls == 1


@pytest.mark.parametrize(
    ("x", "y", "match"),
    [
        (np.zeros(3), np.ones(3), "zero vectors"),
        (np.ones(3), np.array([1.0, np.nan, 2.0]), "NaN"),
        (np.ones(3), np.array([1.0, np.inf, 2.0]), "NaN or infinite"),
        (np.ones(3), np.ones(4), "different lengths"),
        (np.float64(1.0), np.ones(1), "scalar"),
        (np.ones((2, 2, 2)), np.ones(2), "batch"),
    ],
)
def test_invalid_inputs_raise_clear_errors(x, y, match):
    with pytest.raises(ValueError, match=match):
        inner_products(x, y)
