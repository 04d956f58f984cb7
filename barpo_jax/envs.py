"""Brax task factory and the batched episode wrapper.

`VecEnv` steps a batch of Brax environments with auto-reset and keeps
*termination* (the task ended: no bootstrap) apart from *truncation* (the time
limit hit: bootstrap from the final observation). It returns the final
observation before the reset, so GAE can bootstrap correctly on truncation.

Auto-reset returns an environment to the initial state it was reset to at the
start (Brax's own training wrapper does the same): a fresh reset every step would
cost as much as a physics step. Diversity comes from the thousands of envs.
"""
from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from .config import BACKENDS, TASKS, ConfigError


class EnvState(NamedTuple):
    inner: Any         # batched brax State
    first: Any         # batched brax State to reset to (None in a checkpoint: see `VecEnv.portable`)
    steps: jnp.ndarray  # int32 [n]
    ep_return: jnp.ndarray  # float32 [n], running undiscounted return
    reset_key: Any = None  # the key `first` was drawn with, so it can be recomputed instead of stored


class StepOut(NamedTuple):
    obs: jnp.ndarray          # next observation (after auto-reset)
    final_obs: jnp.ndarray    # observation reached by the action (before any reset)
    reward: jnp.ndarray
    terminated: jnp.ndarray   # float 0/1: true end, no bootstrap
    truncated: jnp.ndarray    # float 0/1: time limit, bootstrap
    episode_return: jnp.ndarray  # return of the episode that just ended (0 where none ended)


@functools.lru_cache(maxsize=None)
def make_brax_env(name: str, backend: str):
    if name not in TASKS:
        raise ConfigError(f"unknown env {name!r}: choose one of {', '.join(TASKS)}")
    if backend not in BACKENDS:
        raise ConfigError(f"unknown backend {backend!r}: choose one of {', '.join(BACKENDS)}")
    from brax import envs  # deferred: importing brax takes seconds
    return envs.get_environment(name, backend=backend)


class VecEnv:
    """A batch of `num_envs` copies of one Brax task; pure reset/step."""

    def __init__(self, name: str, backend: str, num_envs: int, episode_length: int):
        self.env = make_brax_env(name, backend)
        self.num_envs, self.episode_length = num_envs, episode_length
        self.obs_size, self.action_size = self.env.observation_size, self.env.action_size

    def initial_states(self, key):
        """The batch of initial states drawn with `key` (deterministic)."""
        return jax.vmap(self.env.reset)(jax.random.split(key, self.num_envs))

    def reset(self, key) -> EnvState:
        s = self.initial_states(key)
        zeros = jnp.zeros((self.num_envs,), jnp.float32)
        return EnvState(s, s, jnp.zeros((self.num_envs,), jnp.int32), zeros, key)

    def portable(self, state: EnvState) -> EnvState:
        """The state without `first`: what a checkpoint stores (the env state once, not
        twice; on MJX it is most of the checkpoint)."""
        return state._replace(first=None)

    def restored(self, state: EnvState) -> EnvState:
        """Inverse of `portable`: recompute `first` from its key."""
        return state._replace(first=self.initial_states(state.reset_key))

    def peek(self, state: EnvState, action) -> tuple[jnp.ndarray, jnp.ndarray, jnp.ndarray]:
        """One step without auto-reset or bookkeeping: (next obs, reward, terminated).

        Differentiable in `action` on every backend; model-based attacks look one step
        ahead with it."""
        ns = jax.vmap(self.env.step)(state.inner, action)
        return ns.obs, ns.reward, ns.done.astype(jnp.float32)

    def step(self, state: EnvState, action) -> tuple[EnvState, StepOut]:
        ns = jax.vmap(self.env.step)(state.inner, action)
        steps = state.steps + 1
        terminated = ns.done.astype(jnp.float32)
        truncated = jnp.where(steps >= self.episode_length, 1.0 - terminated, 0.0)
        done = terminated + truncated
        ep_return = state.ep_return + ns.reward

        def pick(first, now):
            mask = done.reshape(done.shape + (1,) * (now.ndim - 1)) > 0
            return jnp.where(mask, first, now)

        inner = jax.tree.map(pick, state.first, ns)
        out = StepOut(inner.obs, ns.obs, ns.reward, terminated, truncated, ep_return * done)
        new = EnvState(inner, state.first, jnp.where(done > 0, 0, steps).astype(jnp.int32),
                       ep_return * (1.0 - done), state.reset_key)
        return new, out

    def step_runs(self, state: EnvState, action) -> tuple[EnvState, StepOut]:
        """`step` for a state with a leading run axis ([runs, envs, ...]; reset_key [runs, 2]):
        the physics runs once on the flattened [runs * envs] batch. MJX stepped under a
        vmap over runs (even a run axis of one) is several times slower on a CPU
        than the same step on one flat batch (benchmarks/results/mjx_scaling_cpu.md)."""
        runs, n = action.shape[:2]
        flat = lambda x: x.reshape((runs * n,) + x.shape[2:])
        new, out = self.step(jax.tree.map(flat, state._replace(reset_key=None)), flat(action))
        back = lambda x: x.reshape((runs, n) + x.shape[1:])
        return jax.tree.map(back, new)._replace(reset_key=state.reset_key), jax.tree.map(back, out)
