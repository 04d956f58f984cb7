"""barpo_jax.ppo: GAE, the PPO loss terms, and the PPO details the locomotion presets switch
on (value clipping, learning-rate annealing, reward normalisation by the return's running std)."""
import jax
import jax.numpy as jnp
import numpy as np

import barpo_jax as bj
from barpo_jax import networks, ppo

from helpers import tiny


def test_gae_hand_computed_with_termination_and_truncation():
    # One env, 4 steps. Step 1 ends by truncation (bootstrap from V(final)=10),
    # step 3 by termination (no bootstrap). gamma=0.5, lambda=1 keeps numbers simple.
    r = jnp.array([[1.0], [2.0], [3.0], [4.0]])
    v = jnp.array([[0.5], [1.0], [2.0], [3.0]])
    nv = jnp.array([[1.0], [10.0], [3.0], [99.0]])   # V of the obs each action reached
    term = jnp.array([[0.0], [0.0], [0.0], [1.0]])
    done = jnp.array([[0.0], [1.0], [0.0], [1.0]])
    adv, ret = ppo.gae(r, v, nv, term, done, 0.5, 1.0)
    d0 = 1 + 0.5 * 1.0 - 0.5          # 1.0
    d1 = 2 + 0.5 * 10.0 - 1.0         # 6.0  (bootstraps through truncation)
    d2 = 3 + 0.5 * 3.0 - 2.0          # 2.5
    d3 = 4 + 0.0 - 3.0                # 1.0  (terminated: no bootstrap from 99)
    a3 = d3
    a2 = d2 + 0.5 * a3
    a1 = d1                           # trace cut at the episode end
    a0 = d0 + 0.5 * a1
    np.testing.assert_allclose(adv[:, 0], [a0, a1, a2, a3], rtol=1e-6)
    np.testing.assert_allclose(ret, adv + v, rtol=1e-6)


def test_gae_lambda_zero_is_one_step_td():
    key = jax.random.PRNGKey(0)
    r, v, nv = (jax.random.normal(k, (5, 3)) for k in jax.random.split(key, 3))
    z = jnp.zeros((5, 3))
    adv, _ = ppo.gae(r, v, nv, z, z, 0.9, 0.0)
    np.testing.assert_allclose(adv, r + 0.9 * nv - v, rtol=1e-5, atol=1e-6)


def test_ppo_surrogate_known_values():
    """A fake 'network' whose mean is the observation lets us set ratios by hand."""
    class Ident:
        def dist(self, params, obs):
            return obs, jnp.ones_like(obs)

        def value(self, params, obs):
            return obs[..., 0]

    ac = Ident()
    obs = jnp.array([[0.0], [0.0], [0.0]])
    action = jnp.array([[0.0], [0.0], [0.0]])
    logp_now = networks.log_prob(obs, jnp.ones_like(obs), action)
    # behaviour log-probs chosen so that ratio = 2, 0.5, 1
    logp_old = logp_now - jnp.log(jnp.array([2.0, 0.5, 1.0]))
    adv = jnp.array([1.0, 1.0, -2.0])
    batch = ppo.Batch(obs, obs, action, logp_old, adv, jnp.array([1.0, 0.0, 0.0]))
    surr = ppo.surrogate_loss(ac, None, obs, batch, 0.2)
    # -min(rA, clip(r)A): ratio 2 -> clipped to 1.2; ratio 0.5 -> min is 0.5; ratio 1 -> -(-2)
    np.testing.assert_allclose(surr, [-1.2, -0.5, 2.0], rtol=1e-5)
    vl = ppo.value_loss(ac, None, batch)
    np.testing.assert_allclose(vl, [0.5, 0.0, 0.0], atol=1e-7)


def test_value_clipping_takes_the_larger_error():
    class Fixed:
        def value(self, params, obs):
            return obs[..., 0]

    obs = jnp.array([[2.0], [0.1]])  # current predictions
    batch = ppo.Batch(obs, obs, obs, jnp.zeros(2), jnp.zeros(2), jnp.array([2.0, 0.0]), jnp.array([0.0, 0.0]))
    plain = ppo.value_loss(Fixed(), None, batch, 0.0)
    clipped = ppo.value_loss(Fixed(), None, batch, 0.2)
    np.testing.assert_allclose(plain, [0.0, 0.005], atol=1e-6)
    # sample 0 moved 2.0 from the old value 0: its clipped prediction 0.2 misses the target by 1.8
    np.testing.assert_allclose(clipped, [0.5 * 1.8 ** 2, 0.005], rtol=1e-5)


def test_linear_lr_schedule_is_the_constant_rate_at_iteration_zero_only():
    const = bj.train(tiny(), progress=False)
    linear = bj.train(tiny(lr_schedule="linear"), progress=False)
    # iteration 0 runs at the full rate under both schedules: identical updates and losses
    np.testing.assert_array_equal(const.metrics["loss"][:, 0], linear.metrics["loss"][:, 0])
    assert not np.allclose(const.metrics["loss"][:, 1:], linear.metrics["loss"][:, 1:])
    assert any(not np.allclose(np.asarray(x), np.asarray(y))
               for x, y in zip(jax.tree.leaves(const.params), jax.tree.leaves(linear.params)))


def test_reward_normalisation_trains_and_changes_the_update():
    a = bj.train(tiny(reward_normalization=True, value_clip=0.2), progress=False)
    assert np.all(np.isfinite(a.metrics["loss"]))
    assert float(a.state.returns.stats.count[0]) == 4 * 32 * 16  # every transition seen once
    b = bj.train(tiny(), progress=False).params
    assert any(not np.allclose(np.asarray(x), np.asarray(y))
               for x, y in zip(jax.tree.leaves(a.params), jax.tree.leaves(b)))
