"""barpo_jax.adversary: the inner solver stays in the ball, raises its objective, and passes
no gradient through its argmax."""
import jax
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
