"""barpo_jax.envs: the batched wrapper keeps termination and time-limit truncation apart,
auto-resets on either, and reports the observation reached before the reset.

A counting fake task stands in for Brax (no physics to compile): its observation is the
step count, its reward the step count, and an action > 0 terminates the episode."""
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from barpo_jax import envs


class _State(NamedTuple):
    obs: jnp.ndarray
    reward: jnp.ndarray
    done: jnp.ndarray
    t: jnp.ndarray


class _Counter:
    observation_size, action_size = 1, 1

    def reset(self, key):
        return _State(jnp.zeros(1), jnp.zeros(()), jnp.zeros(()), jnp.zeros(()))

    def step(self, s, action):
        t = s.t + 1
        return _State(t[None], t, (action[0] > 0).astype(jnp.float32), t)


@pytest.fixture
def vec_env(monkeypatch):
    monkeypatch.setattr(envs, "make_brax_env", lambda name, backend: _Counter())
    return envs.VecEnv("counter", "none", num_envs=2, episode_length=3)


def _run(env, actions):
    """Step through `actions` ([T, n]); the StepOuts stacked over time, and the last state."""
    state, outs = env.reset(jax.random.PRNGKey(0)), []
    for a in actions:
        state, out = env.step(state, jnp.asarray(a, jnp.float32)[:, None])
        outs.append(out)
    return jax.tree.map(lambda *x: np.stack(x), *outs), state


def test_time_limit_truncates_bootstrappably_and_auto_resets(vec_env):
    out, state = _run(vec_env, np.zeros((4, 2)))
    np.testing.assert_array_equal(out.truncated[:, 0], [0, 0, 1, 0])      # episode_length = 3
    np.testing.assert_array_equal(out.terminated, np.zeros((4, 2)))
    np.testing.assert_array_equal(out.final_obs[2, :, 0], [3, 3])        # reached before the reset
    np.testing.assert_array_equal(out.obs[2, :, 0], [0, 0])              # auto-reset to the initial state
    np.testing.assert_array_equal(out.episode_return[:, 0], [0, 0, 1 + 2 + 3, 0])
    np.testing.assert_array_equal(np.asarray(state.steps), [1, 1])      # counting again after the reset
    np.testing.assert_array_equal(np.asarray(state.ep_return), [1, 1])


def test_termination_is_not_truncation_even_at_the_time_limit(vec_env):
    # env 0 terminates at step 1; env 1 terminates exactly at the time limit (step 3)
    out, _ = _run(vec_env, [[1, 0], [0, 0], [0, 1], [0, 0]])
    np.testing.assert_array_equal(out.terminated, [[1, 0], [0, 0], [0, 1], [0, 0]])
    np.testing.assert_array_equal(out.truncated, [[0, 0], [0, 0], [0, 0], [1, 0]])  # env 0: 3 steps after its reset
    np.testing.assert_array_equal(out.episode_return[0], [1, 0])
    np.testing.assert_array_equal(out.episode_return[3], [1 + 2 + 3, 0])
