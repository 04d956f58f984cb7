"""barpo_jax.networks: the Gaussian helpers."""
import jax.numpy as jnp
import numpy as np
import pytest

from barpo_jax import networks


def test_gaussian_helpers():
    m, s = jnp.array([[0.3, -1.0]]), jnp.array([[0.5, 2.0]])
    x = jnp.array([[0.1, 0.4]])
    ref = sum(-0.5 * ((x[0, i] - m[0, i]) / s[0, i]) ** 2 - np.log(s[0, i]) - 0.5 * np.log(2 * np.pi)
              for i in range(2))
    np.testing.assert_allclose(networks.log_prob(m, s, x)[0], ref, rtol=1e-5)
    assert float(networks.kl(m, s, m, s)[0]) == pytest.approx(0.0, abs=1e-7)
    # KL with equal std = 0.5 * sum((dm/s)^2)
    np.testing.assert_allclose(networks.kl(m, s, m + 0.1, s)[0], 0.5 * np.sum((0.1 / s[0]) ** 2), rtol=1e-5)
