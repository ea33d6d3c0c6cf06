import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hybrid import devices, qnn

N, L = 7, 3


@pytest.fixture(scope="module")
def angles():
    return jnp.asarray(np.random.default_rng(0).uniform(0, 2 * np.pi, (L, N)))


def _loss_and_grad(profile, angles):
    probs = qnn.probabilities(N, L, profile)
    weights = jnp.asarray(np.random.default_rng(1).normal(size=2**N))
    return jax.jit(jax.value_and_grad(lambda a: jnp.sum(weights * probs(a) ** 2)))(angles)


def test_backprop_adjoint_and_parameter_shift_give_the_same_gradient(angles):
    """The issue's check: all three gradient routes agree to 1e-6 relative (here on 7 qubits)."""
    value, reference = _loss_and_grad("default.qubit", angles)
    for profile in ("lightning.qubit", "lightning.qubit-ps"):
        v, grad = _loss_and_grad(profile, angles)
        assert v == pytest.approx(float(value), rel=1e-10)
        rel = jnp.linalg.norm(grad - reference) / jnp.linalg.norm(reference)
        assert rel < 1e-6, profile


def test_probabilities_form_a_distribution_and_match_across_devices(angles):
    p_dq = qnn.probabilities(N, L, "default.qubit")(angles)
    p_lq = qnn.probabilities(N, L, "lightning.qubit")(angles)
    assert p_dq.shape == (2**N,) and float(jnp.sum(p_dq)) == pytest.approx(1.0)
    np.testing.assert_allclose(p_dq, p_lq, atol=1e-12)


def test_zero_angles_leave_the_register_in_zero():
    """RY(0) is the identity and CNOTs fix |0...0>: a check on wiring, not only on agreement."""
    p = qnn.probabilities(4, 2, "default.qubit")(jnp.zeros((2, 4)))
    np.testing.assert_allclose(p, np.eye(16)[0], atol=1e-12)


def test_a_single_ry_gives_the_textbook_distribution():
    theta = 0.7
    angles = jnp.zeros((1, 3)).at[0, 2].set(theta)  # RY on the last (least significant) wire
    p = qnn.probabilities(3, 1, "lightning.qubit")(angles)
    # The CNOT ring maps |001> to |001> (wire 2 controls wire 0 last: |101>): follow it through.
    expected = np.zeros(8)
    expected[0], expected[0b101] = np.cos(theta / 2) ** 2, np.sin(theta / 2) ** 2
    np.testing.assert_allclose(p, expected, atol=1e-12)


def test_shots_estimate_the_probabilities_within_shot_noise(angles, tmp_path):
    path = tmp_path / "sampled.toml"
    path.write_text(
        'device = "default.qubit"\ngradient = "parameter-shift"\nshots = 20000\n'
        "[options]\nseed = 7\n"  # fixed seed: the 5-sigma band on 128 outcomes is checked once
    )
    exact = np.asarray(qnn.probabilities(N, L, "default.qubit")(angles))
    sampled = np.asarray(qnn.probabilities(N, L, devices.get(str(path)))(angles))
    # binomial standard error, floored at one count: tiny p_i are Poisson, not Gaussian
    stderr = np.maximum(np.sqrt(exact * (1 - exact) / 20000), 1 / 20000)
    assert np.all(np.abs(sampled - exact) <= 5 * stderr)
    assert not np.allclose(sampled, exact)  # it really sampled


def test_bad_sizes_are_refused():
    with pytest.raises(ValueError, match="n_qubits >= 1"):
        qnn.probabilities(0, 1, "default.qubit")
