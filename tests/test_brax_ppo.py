"""Brax's PPO in the parity and throughput benchmarks gets the same episode starts as SPO:
with `fresh_starts`, every episode of an env begins from a new reset draw."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import barpo_jax as bj
from benchmarks import brax_compat, brax_ppo


def _starts_of_env_0(wrap, steps=24):
    brax_compat.install()
    from brax import envs
    env = wrap(envs.get_environment("inverted_pendulum", backend="spring"), episode_length=3)
    state = jax.jit(env.reset)(jax.random.split(jax.random.PRNGKey(0), 4))
    step = jax.jit(env.step)
    starts = [np.asarray(state.obs[0])]
    for _ in range(steps):
        state = step(state, jnp.zeros((4, env.action_size)))
        if bool(state.done[0]):  # an auto-reset env shows its next episode's first observation
            starts.append(np.asarray(state.obs[0]))
    return starts


@pytest.mark.slow
def test_fresh_start_wrap_draws_a_new_start_for_every_episode():
    from brax.envs.wrappers import training
    fresh, fixed = _starts_of_env_0(brax_ppo.fresh_start_wrap), _starts_of_env_0(training.wrap)
    assert len(fresh) == len(fixed) == 9
    assert len({s.tobytes() for s in fresh}) == 9
    assert len({s.tobytes() for s in fixed}) == 1   # Brax's own wrapper: the first state again
    assert np.array_equal(fresh[0], fixed[0])       # the same first draw


def test_kwargs_give_brax_ppo_fresh_starts_when_the_config_has_them():
    cfg = bj.TrainConfig(env="inverted_pendulum", algo="spo", backend="spring", num_envs=8, num_minibatches=2)
    assert brax_ppo.kwargs(cfg, 8)["wrap_env_fn"] is brax_ppo.fresh_start_wrap
    assert brax_ppo.kwargs(cfg.replace(fresh_starts=False), 8)["wrap_env_fn"] is None
    assert "fresh" in brax_ppo.describe(brax_ppo.kwargs(cfg, 8))["wrap_env_fn"]
