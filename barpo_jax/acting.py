"""Acting in the environment: training rollouts and evaluation episodes."""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable, NamedTuple

import jax
import jax.numpy as jnp

from . import networks
from . import normalize as nz
if TYPE_CHECKING:   # annotations only: methods.py (which config.py reads) imports this module,
    from .envs import EnvState, VecEnv   # and envs.py imports config.py


class Transition(NamedTuple):
    obs: jnp.ndarray        # raw observation
    delta: jnp.ndarray      # perturbation applied to the normalised obs when acting
    action: jnp.ndarray
    logp: jnp.ndarray
    adv_action: jnp.ndarray  # learned adversary's raw action (zeros when none)
    adv_logp: jnp.ndarray
    reward: jnp.ndarray
    final_obs: jnp.ndarray
    terminated: jnp.ndarray
    done: jnp.ndarray
    episode_return: jnp.ndarray


def act(policy: Callable, perturber: Callable, stats, key, obs, *, clip: float):
    """One acting step of one run on raw `obs` [N, obs]: normalise (clipping at `clip`),
    perturb, sample. Returns (action, (delta, logp, adv_action, adv_logp))."""
    ka, kp = jax.random.split(key)
    obs_n = nz.normalize(stats, obs, clip)
    seen, adv_a, adv_logp = perturber(kp, obs_n)
    mean, std = policy(seen)
    a = networks.sample(ka, mean, std)
    return a, (seen - obs_n, networks.log_prob(mean, std, a), adv_a, adv_logp)


def _transition(obs, a, extras, out) -> Transition:
    delta, logp, adv_a, adv_logp = extras
    return Transition(obs, delta, a, logp, adv_a, adv_logp, out.reward, out.final_obs, out.terminated,
                      out.terminated + out.truncated, out.episode_return)


def rollout(env: VecEnv, env_state: EnvState, policy: Callable, perturber: Callable, stats,
            key, length: int, *, clip: float):
    """`length` steps of every env. `policy(obs_norm) -> (mean, std)`;
    `perturber(key, obs_norm) -> (obs_seen, adv_action, adv_logp)`; observations are
    normalised with `stats` and clipped at `clip`."""

    def step(state, k):
        obs = state.inner.obs
        a, extras = act(policy, perturber, stats, k, obs, clip=clip)
        state, out = env.step(state, networks.to_env_action(a))
        return state, _transition(obs, a, extras, out)

    return jax.lax.scan(step, env_state, jax.random.split(key, length))


def rollout_runs(env: VecEnv, env_state: EnvState, act_runs: Callable, keys, length: int):
    """`rollout` for several runs at once: the same keys and numbers as `vmap(rollout)`,
    but the physics steps one flat [runs * envs] batch (`VecEnv.step_runs`) and only
    the acting is vmapped over runs. `act_runs(keys [R], obs [R, N, obs])` is `act`
    vmapped over runs. Returns (env state, Transition [T, R, N, ...]): time-major, the
    layout `vmap(rollout)` has inside a vmapped program, so what consumes it under
    `vmap(..., in_axes=1)` compiles to the same numbers as before."""
    step_keys = jnp.swapaxes(jax.vmap(lambda k: jax.random.split(k, length))(keys), 0, 1)  # [T, R, ...]

    def step(state, k):
        obs = state.inner.obs
        a, extras = act_runs(k, obs)
        state, out = env.step_runs(state, networks.to_env_action(a))
        return state, _transition(obs, a, extras, out)

    return jax.lax.scan(step, env_state, step_keys)


def no_perturbation(key, obs_n):
    """The clean perturber: the policy sees obs_n; no adversary action."""
    return obs_n, jnp.zeros_like(obs_n), jnp.zeros(obs_n.shape[:-1])


def episode_returns(env: VecEnv, act: Callable, key) -> jnp.ndarray:
    """One episode in each of env.num_envs envs; undiscounted return of each.

    `act(key, obs) -> env action` sees raw observations. Rewards after the first
    done are ignored, so auto-reset does not leak into the return.
    """
    return episode_outcomes(env, lambda k, state: (act(k, state.inner.obs), jnp.zeros(env.num_envs)), key)[0]


def episode_outcomes(env: VecEnv, act: Callable, key, act_key=None) -> tuple[jnp.ndarray, jnp.ndarray]:
    """Like `episode_returns`, for an `act(key, env_state) -> (env action, aux [N])` that
    sees the whole env state (model-based attacks look ahead from it) and reports a
    per-step quantity; returns (return [N], max over the episode of aux [N]). `key`
    starts the episodes; `act_key`, when given, drives `act` instead of a split of `key`,
    so that several actors (attacks) play the same episodes with their own randomness."""
    kr, ks = jax.random.split(key)
    ks = ks if act_key is None else act_key
    state = env.reset(kr)

    def step(carry, k):
        state, alive, ret, aux_max = carry
        action, aux = act(k, state)
        state, out = env.step(state, action)
        ret = ret + alive * out.reward
        aux_max = jnp.maximum(aux_max, jnp.where(alive > 0, aux, -jnp.inf))
        alive = alive * (1.0 - out.terminated - out.truncated)
        return (state, alive, ret, aux_max), None

    ones = jnp.ones((env.num_envs,), jnp.float32)
    init = (state, ones, 0.0 * ones, jnp.full((env.num_envs,), -jnp.inf))
    (_, _, ret, aux_max), _ = jax.lax.scan(step, init, jax.random.split(ks, env.episode_length))
    return ret, aux_max
