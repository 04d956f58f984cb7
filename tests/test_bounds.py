"""Interval bound propagation: soundness on sampled points and corners of the box,
exactness on one affine layer, the point value at eps = 0, jit + vmap."""
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from barpo_jax import bounds, networks


def _mlp(key, in_size, hidden, out):
    m = networks.MLP(tuple(hidden), out)
    return m, m.init(key, jnp.zeros((1, in_size)))


def _corners(x, eps):
    """Every corner of the box around x [B, d] (d small): [2^d, B, d]."""
    signs = np.array(list(itertools.product((-1.0, 1.0), repeat=x.shape[-1])), np.float32)
    return x[None] + eps * signs[:, None, :]


@pytest.mark.parametrize("in_size,hidden,out,eps", [
    (3, (), 2, 0.3),            # one affine layer
    (4, (8,), 1, 0.05),
    (5, (16, 16), 3, 0.1),
    (3, (64, 64), 2, 1.0),      # a wide box: tanh saturates
    (6, (32, 8, 32), 4, 0.01),
])
def test_bounds_contain_the_outputs_at_sampled_points_and_corners(in_size, hidden, out, eps):
    key = jax.random.PRNGKey(in_size * 7 + len(hidden))
    k_net, k_x, k_u = jax.random.split(key, 3)
    m, p = _mlp(k_net, in_size, hidden, out)
    x = jax.random.normal(k_x, (16, in_size))
    lo, hi = jax.jit(bounds.mlp)(p, *bounds.box(x, eps))
    assert lo.shape == hi.shape == (16, out)
    inside = x[None] + eps * jax.random.uniform(k_u, (512,) + x.shape, minval=-1.0, maxval=1.0)
    points = jnp.concatenate([inside, _corners(x, eps)])
    y = jax.vmap(lambda z: m.apply(p, z))(points)
    tol = 1e-5 * (1.0 + jnp.abs(y))
    assert bool(jnp.all(y >= lo - tol)) and bool(jnp.all(y <= hi + tol))
    # and the box is not vacuous: its width is of the order of the spread it must cover
    spread = y.max(0) - y.min(0)
    assert bool(jnp.all(hi - lo >= spread - 1e-5))


def test_exact_on_a_single_affine_layer():
    """For one Dense layer the box is the exact image: each output's extremes are attained
    at the corner picked by the signs of its weights."""
    m, p = _mlp(jax.random.PRNGKey(1), 4, (), 3)
    x = jax.random.normal(jax.random.PRNGKey(2), (5, 4))
    eps = 0.2
    lo, hi = bounds.mlp(p, *bounds.box(x, eps))
    y = jax.vmap(lambda z: m.apply(p, z))(_corners(x, eps))  # [16, 5, 3]
    np.testing.assert_allclose(lo, y.min(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(hi, y.max(0), rtol=1e-5, atol=1e-6)


def test_eps_zero_gives_the_point_value_of_the_policy_mean_and_the_value():
    ac = networks.ActorCritic(6, 3)
    params = ac.init(jax.random.PRNGKey(0))
    obs = jax.random.normal(jax.random.PRNGKey(1), (7, 6))
    lo, hi = bounds.policy_mean(params, obs, 0.0)
    mean, _ = ac.dist(params, obs)
    np.testing.assert_allclose(lo, mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(hi, mean, rtol=1e-5, atol=1e-6)
    vlo, vhi = bounds.value(params, obs, 0.0)
    np.testing.assert_allclose(vlo, ac.value(params, obs), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(vhi, ac.value(params, obs), rtol=1e-5, atol=1e-6)


def test_policy_and_value_bounds_are_sound_and_grow_with_eps():
    ac = networks.ActorCritic(5, 2)
    params = ac.init(jax.random.PRNGKey(3))
    # a trained-looking policy: scale the output layer up so the mean moves visibly
    params["policy"]["params"]["MLP_0"]["Dense_2"]["kernel"] *= 100.0
    obs = jax.random.normal(jax.random.PRNGKey(4), (9, 5))
    widths = []
    for eps in (0.01, 0.1, 0.3):
        lo, hi = bounds.policy_mean(params, obs, eps)
        vlo, vhi = bounds.value(params, obs, eps)
        pts = obs[None] + eps * jax.random.uniform(jax.random.PRNGKey(5), (256,) + obs.shape, minval=-1, maxval=1)
        mean = jax.vmap(lambda z: ac.dist(params, z)[0])(pts)
        v = jax.vmap(lambda z: ac.value(params, z))(pts)
        assert bool(jnp.all(mean >= lo - 1e-5)) and bool(jnp.all(mean <= hi + 1e-5))
        assert bool(jnp.all(v >= vlo - 1e-5)) and bool(jnp.all(v <= vhi + 1e-5))
        widths.append(float(jnp.mean(hi - lo)))
    assert widths[0] < widths[1] < widths[2]


def test_jit_vmap_and_gradients():
    """vmapped over networks (a seed axis) and over eps, jitted, differentiable in the params."""
    ac = networks.ActorCritic(4, 2)
    params = jax.vmap(ac.init)(jax.random.split(jax.random.PRNGKey(0), 3))
    obs = jax.random.normal(jax.random.PRNGKey(1), (3, 8, 4))
    eps = jnp.array([0.0, 0.05, 0.2])
    lo, hi = jax.jit(jax.vmap(bounds.policy_mean))(params, obs, eps)
    assert lo.shape == (3, 8, 2)
    for i in range(3):
        one = bounds.policy_mean(jax.tree.map(lambda x: x[i], params), obs[i], eps[i])
        np.testing.assert_allclose(lo[i], one[0], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(hi[i], one[1], rtol=1e-5, atol=1e-6)
    width = lambda p: jnp.sum(jnp.subtract(*bounds.policy_mean(p, obs[0], 0.1)[::-1]))
    g = jax.grad(width)(jax.tree.map(lambda x: x[0], params))
    assert all(np.isfinite(np.asarray(x)).all() for x in jax.tree.leaves(g))
    assert float(jnp.abs(g["policy"]["params"]["MLP_0"]["Dense_0"]["kernel"]).sum()) > 0
