"""Unit tests of the SPO core: GAE, normaliser, PPO loss, config validation."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import barpo_jax as bj
from barpo_jax import networks, normalize as nz, ppo


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


def test_normalizer_matches_numpy():
    rng = np.random.default_rng(0)
    chunks = [rng.normal(3.0, 2.0, size=(n, 5)).astype(np.float32) for n in (7, 100, 33)]
    stats = nz.init(5)
    for c in chunks:
        stats = nz.update(stats, jnp.asarray(c))
    allx = np.concatenate(chunks)
    np.testing.assert_allclose(stats.mean, allx.mean(0), rtol=1e-5)
    np.testing.assert_allclose(nz.std(stats), allx.std(0), rtol=1e-4)
    x = rng.normal(size=(4, 5)).astype(np.float32)
    expect = np.clip((x - allx.mean(0)) / np.sqrt(allx.var(0) + 1e-8), -10, 10)
    np.testing.assert_allclose(nz.normalize(stats, x), expect, rtol=1e-4, atol=1e-5)


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


def test_gaussian_helpers():
    m, s = jnp.array([[0.3, -1.0]]), jnp.array([[0.5, 2.0]])
    x = jnp.array([[0.1, 0.4]])
    ref = sum(-0.5 * ((x[0, i] - m[0, i]) / s[0, i]) ** 2 - np.log(s[0, i]) - 0.5 * np.log(2 * np.pi)
              for i in range(2))
    np.testing.assert_allclose(networks.log_prob(m, s, x)[0], ref, rtol=1e-5)
    assert float(networks.kl(m, s, m, s)[0]) == pytest.approx(0.0, abs=1e-7)
    # KL with equal std = 0.5 * sum((dm/s)^2)
    np.testing.assert_allclose(networks.kl(m, s, m + 0.1, s)[0], 0.5 * np.sum((0.1 / s[0]) ** 2), rtol=1e-5)


@pytest.mark.parametrize("kw, fragment", [
    (dict(env="nope"), "unknown env"),
    (dict(algo="nope"), "unknown algo"),
    (dict(backend="nope"), "unknown backend"),
    (dict(num_timesteps=0), "num_timesteps must be a positive integer"),
    (dict(num_seeds=0), "num_seeds"),
    (dict(eps=-0.1), "eps must be >= 0"),
    (dict(num_envs=30, unroll_length=1, num_minibatches=4), "does not divide"),
])
def test_config_rejects_bad_input(kw, fragment):
    with pytest.raises(bj.ConfigError, match=fragment):
        bj.TrainConfig(**{"env": "hopper", **kw})


def test_config_presets_and_roundtrip():
    cfg = bj.TrainConfig(env="walker2d", algo="barpo", backend="mjx")  # the accelerator preset
    assert cfg.eps == 0.05 and cfg.kappa == 1.0 and cfg.num_envs == 2048
    assert bj.TrainConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.diff(cfg.replace(eps=0.1)) == {"eps": (0.05, 0.1)}
