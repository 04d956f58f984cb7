"""The standard PPO details that the locomotion presets switch on: reward normalisation
by the return's running std, value clipping, learning-rate annealing, backend-aware presets."""
import jax
import jax.numpy as jnp
import numpy as np

import barpo_jax as bj
from barpo_jax import normalize as nz, ppo

from helpers import tiny


def test_return_scale_matches_numpy_discounted_returns():
    rng = np.random.default_rng(0)
    T, N, gamma = 6, 3, 0.9
    reward = rng.normal(1.0, 2.0, size=(2 * T, N)).astype(np.float32)
    done = (rng.random((2 * T, N)) < 0.2).astype(np.float32)
    rs = nz.init_return_scale(N)
    seen = []
    for half in (slice(0, T), slice(T, 2 * T)):
        rs, scaled = nz.scale_rewards(rs, jnp.asarray(reward[half]), jnp.asarray(done[half]), gamma)
    acc = np.zeros(N)
    for t in range(2 * T):
        acc = gamma * acc + reward[t]
        seen.append(acc.copy())
        acc = acc * (1 - done[t])
    seen = np.stack(seen)
    np.testing.assert_allclose(rs.acc, acc, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(nz.std(rs.stats)[0], seen.std(), rtol=1e-4)
    np.testing.assert_allclose(scaled, reward[T:] / np.sqrt(seen.var() + 1e-8), rtol=1e-4)


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


def test_presets_depend_on_the_backend():
    cpu = bj.TrainConfig(env="hopper", backend="positional")
    gpu = bj.TrainConfig(env="hopper", backend="mjx")
    assert cpu.reward_normalization and cpu.lr_schedule == "linear" and cpu.num_envs == 32
    assert not gpu.reward_normalization and gpu.num_envs == 2048
    assert bj.TrainConfig(env="hopper", backend="positional", num_envs=64).num_envs == 64  # user wins
    assert bj.TrainConfig(env="hopper").backend in bj.BACKENDS  # auto-resolved and recorded
