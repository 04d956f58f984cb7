"""barpo_jax.adversary: the inner solver stays in the ball, raises its objective, and passes
no gradient through its argmax."""
import jax
import numpy as np
import jax.numpy as jnp

from barpo_jax import adversary

from helpers import random_policy as _random_policy


def test_inner_solver_increases_kl_over_random_start():
    ac, params = _random_policy()
    s = jax.random.normal(jax.random.PRNGKey(1), (256, 6))
    obj = adversary.kl_objective(lambda x: ac.dist(params, x), s)
    key = jax.random.PRNGKey(2)
    start = adversary.uniform_in_ball(jax.random.split(key)[0], s, 0.1)  # the solver's own random start
    solved = adversary.solve(obj, s, key, 0.1, 10)
    assert float(jnp.mean(obj(solved))) > 2 * float(jnp.mean(obj(start)))
    assert float(jnp.max(jnp.abs(solved - s))) <= 0.1 + 1e-6


def test_no_gradient_flows_through_the_inner_argmax():
    ac, params = _random_policy()
    s = jax.random.normal(jax.random.PRNGKey(1), (16, 6))

    def perturbation(p):
        obj = adversary.kl_objective(lambda x: ac.dist(p, x), s)
        return jnp.sum(adversary.solve(obj, s, jax.random.PRNGKey(3), 0.1, 5) ** 2)

    g = jax.grad(perturbation)(params)
    assert all(float(jnp.abs(x).max()) == 0.0 for x in jax.tree.leaves(g))
    # ...while the outer loss at nu(s) still has a gradient wrt the parameters
    def outer(p):
        obj = adversary.kl_objective(lambda x: ac.dist(p, x), s)
        nu = adversary.solve(obj, s, jax.random.PRNGKey(3), 0.1, 5)
        return jnp.sum(ac.dist(p, nu)[0])
    assert any(float(jnp.abs(x).max()) > 0 for x in jax.tree.leaves(jax.grad(outer)(params)))


def _counting_steps(x, s, step):
    """How many steps of size `step` each coordinate of x - s is (the lineage's SGLD moves
    every coordinate by exactly +-step per step, before projection)."""
    k = (x - s) / step
    return k, jnp.abs(k - jnp.round(k))


def test_sgld_starts_one_step_away_and_moves_every_coordinate_by_a_full_step():
    ac, params = _random_policy()
    s = jax.random.normal(jax.random.PRNGKey(1), (64, 6))
    obj = adversary.kl_objective(lambda x: ac.dist(params, x), s)
    step, eps = 0.01, 1.0  # a ball wide enough that no step is projected
    start = adversary.solve(obj, s, jax.random.PRNGKey(4), eps, 0, step, noise=1.0)
    np.testing.assert_allclose(jnp.abs(start - s), step, rtol=1e-4)       # a random corner, one step out
    for k in (1, 3):
        x = adversary.solve(obj, s, jax.random.PRNGKey(4), eps, k, step, noise=1.0)
        n, off = _counting_steps(x, s, step)
        assert float(off.max()) < 1e-2                                    # whole steps only (noise inside the sign)
        assert set(np.unique(np.abs(np.round(n))).tolist()) <= set(range(k + 2))
        assert np.all(np.round(n) % 2 == (k + 1) % 2)                     # k + 1 moves of +-1 each


def test_sgld_noise_decays_and_a_hot_solver_is_a_random_walk():
    """beta sets the noise against the gradient: beta = 0 follows sign(grad) exactly from the
    corner start; a huge beta makes the walk ignore the objective."""
    ac, params = _random_policy()
    s = jax.random.normal(jax.random.PRNGKey(1), (256, 6))
    obj = adversary.kl_objective(lambda x: ac.dist(params, x), s)
    key = jax.random.PRNGKey(2)
    cold = adversary.solve(obj, s, key, 0.1, 10, noise=jnp.float32(0.0))
    hot = adversary.solve(obj, s, key, 0.1, 10, noise=1e12)
    assert float(jnp.mean(obj(cold))) > 2 * float(jnp.mean(obj(hot)))
    assert float(jnp.max(jnp.abs(hot - s))) <= 0.1 + 1e-6


def test_pgd_mode_is_unchanged_uniform_start_and_sign_steps():
    """noise = 0 (a Python zero) is plain PGD from a uniform start in the whole ball."""
    ac, params = _random_policy()
    s = jax.random.normal(jax.random.PRNGKey(1), (512, 6))
    obj = adversary.kl_objective(lambda x: ac.dist(params, x), s)
    start = adversary.solve(obj, s, jax.random.PRNGKey(5), 0.1, 0, 0.01)
    np.testing.assert_array_equal(start, adversary.uniform_in_ball(jax.random.split(jax.random.PRNGKey(5))[0], s, 0.1))


def test_lineage_mad_objective_is_a_rescaled_kl_for_a_state_independent_std():
    ac, params = _random_policy()
    s = jax.random.normal(jax.random.PRNGKey(1), (32, 6))
    x = s + 3.0 * jax.random.normal(jax.random.PRNGKey(2), s.shape)
    dist = lambda o: ac.dist(params, o)
    (m0, std), m1 = dist(s), dist(x)[0]
    kl = jnp.sum(jnp.square(m1 - m0) / (2 * jnp.square(std)), -1)  # KL for equal stds, no cancellation
    change = adversary.action_change_objective(dist, s)(x)
    np.testing.assert_allclose(change, 2 * jnp.mean(std, -1) ** 2 * kl, rtol=1e-4)
    np.testing.assert_allclose(adversary.kl_objective(dist, s)(x), kl, rtol=1e-2, atol=1e-7)
