"""Environment factory and the batched episode wrapper.

Three kinds of env name reach `make_brax_env` (docs/envs.md; `config.resolve_env` checks them):
  * a name in Brax's registry: the built-in `TASKS` and any class registered with
    `brax.envs.register_environment`;
  * ``object:<Class>-<n>``: an Env object passed as `TrainConfig(env=obj)`, kept in this
    process's `config.ENV_OBJECTS` (a config holds a string: it is JSON and a cache key);
  * ``playground:<Name>``: a MuJoCo Playground env, seen through `PlaygroundEnv`.

`VecEnv` steps a batch of environments with auto-reset and keeps
*termination* (the task ended: no bootstrap) apart from *truncation* (the time
limit hit: bootstrap from the final observation). It returns the final
observation before the reset, so GAE can bootstrap correctly on truncation.

Auto-reset (training) starts every new episode from a fresh draw of the env's reset
distribution (`fresh_starts=True`, the default of `TrainConfig`): each env carries its
own PRNG key, split whenever one of its episodes ends, so the draws are deterministic by
seed and are saved and restored with the checkpoint. A reset is computed for every env
at every step and kept only where an episode ended (JAX has no per-env branch); its cost
is measured in benchmarks/speed/fresh_starts.py. With `fresh_starts=False` (the
behaviour of runs saved before this option existed, and of Brax's own training wrapper)
an env returns to the one state it was first reset to, so a seed trains from
`num_envs` start states for its whole life.
"""
from __future__ import annotations

import functools
import inspect
from collections.abc import Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from .config import (BACKENDS, ENV_OBJECTS, OBJECT_PREFIX, PLAYGROUND_PREFIX, ConfigError, lost_object_error,
                     playground_registry, unknown_env_error)

PLAYGROUND_OBS_KEY = "state"  # the policy's entry of a dict observation (Playground's convention)


def _takes_backend(cls) -> bool:
    """Does a registered Env class accept `backend=`? A custom one without physics may not."""
    try:
        params = inspect.signature(cls).parameters.values()
    except (TypeError, ValueError):
        return True
    return any(p.name == "backend" or p.kind is p.VAR_KEYWORD for p in params)


def make_brax_env(name: str, backend: str):
    """The env a config names (see the module docstring)."""
    if name.startswith(OBJECT_PREFIX):
        if name not in ENV_OBJECTS:
            raise lost_object_error(name)
        return ENV_OBJECTS[name]
    return _build_env(name, backend)


@functools.lru_cache(maxsize=None)
def _build_env(name: str, backend: str):
    """A Brax or Playground env, built once per process: building parses the model, and
    every Trainer, evaluation and policy of a run asks for it."""
    if name.startswith(PLAYGROUND_PREFIX):
        return PlaygroundEnv(name[len(PLAYGROUND_PREFIX):])
    if backend not in BACKENDS:
        raise ConfigError(f"unknown backend {backend!r}: choose one of {', '.join(BACKENDS)}")
    from brax import envs  # deferred: importing brax takes seconds
    if name not in envs._envs:
        raise unknown_env_error(name)
    cls = envs._envs[name]
    return cls(backend=backend) if _takes_backend(cls) else cls()


class PlaygroundState(NamedTuple):
    inner: Any          # the Playground State (its obs may be a dict)
    obs: jnp.ndarray    # the policy's observation: a flat vector
    reward: jnp.ndarray
    done: jnp.ndarray


class PlaygroundEnv:
    """A MuJoCo Playground env behind the interface `VecEnv` uses: reset(key) and
    step(state, action) return states with a flat `.obs`, `.reward` and `.done`.

    It runs MJX's pure-JAX implementation (impl='jax'), which needs no GPU; Playground's
    default for many envs is MuJoCo Warp. A dict observation gives the policy its
    `PLAYGROUND_OBS_KEY` entry; the whole Playground state steps on unchanged."""

    def __init__(self, task: str):
        registry = playground_registry(PLAYGROUND_PREFIX + task)
        config = registry.get_default_config(task)
        overrides = {"impl": "jax"} if "impl" in config else {}
        self.env = registry.load(task, config=config, config_overrides=overrides)
        self.episode_length = int(config.episode_length)
        self.action_size = int(self.env.action_size)
        obs = jax.eval_shape(self.env.reset, jax.random.PRNGKey(0)).obs
        if isinstance(obs, Mapping):
            if PLAYGROUND_OBS_KEY not in obs:
                raise ConfigError(f"playground:{task} observes a dict without a {PLAYGROUND_OBS_KEY!r} entry "
                                  f"(keys: {', '.join(obs)}): not supported")
            obs = obs[PLAYGROUND_OBS_KEY]
        if len(obs.shape) != 1:
            raise ConfigError(f"playground:{task} observes shape {obs.shape}, not a vector (a vision env?): "
                              "not supported")
        self.observation_size = int(obs.shape[0])

    @staticmethod
    def _wrap(s) -> PlaygroundState:
        obs = s.obs[PLAYGROUND_OBS_KEY] if isinstance(s.obs, Mapping) else s.obs
        return PlaygroundState(s, obs, s.reward, s.done)

    def reset(self, key) -> PlaygroundState:
        return self._wrap(self.env.reset(key))

    def step(self, state: PlaygroundState, action) -> PlaygroundState:
        return self._wrap(self.env.step(state.inner, action))


class EnvState(NamedTuple):
    inner: Any         # batched env state (brax State, PlaygroundState, ...)
    first: Any         # batched brax State to reset to (None in a checkpoint: see `VecEnv.portable`)
    steps: jnp.ndarray  # int32 [n]
    ep_return: jnp.ndarray  # float32 [n], running undiscounted return
    reset_key: Any = None  # the key `first` was drawn with, so it can be recomputed instead of stored
    episode_keys: Any = None  # fresh starts: [n] per-env keys of the next episode's start (None: return to `first`)


class StepOut(NamedTuple):
    obs: jnp.ndarray          # next observation (after auto-reset)
    final_obs: jnp.ndarray    # observation reached by the action (before any reset)
    reward: jnp.ndarray
    terminated: jnp.ndarray   # float 0/1: true end, no bootstrap
    truncated: jnp.ndarray    # float 0/1: time limit, bootstrap
    episode_return: jnp.ndarray  # return of the episode that just ended (0 where none ended)


class VecEnv:
    """A batch of `num_envs` copies of one env (any `make_brax_env` name); pure reset/step."""

    def __init__(self, name: str, backend: str, num_envs: int, episode_length: int, fresh_starts: bool = False):
        """`fresh_starts`: auto-reset to a fresh draw of the reset distribution (training);
        False returns each env to its first state (evaluation, where every env runs one
        episode, and runs saved before fresh starts existed)."""
        self.env = make_brax_env(name, backend)
        self.num_envs, self.episode_length, self.fresh_starts = num_envs, episode_length, fresh_starts
        self.obs_size, self.action_size = self.env.observation_size, self.env.action_size

    def initial_states(self, key):
        """The batch of initial states drawn with `key` (deterministic)."""
        return jax.vmap(self.env.reset)(jax.random.split(key, self.num_envs))

    def reset(self, key) -> EnvState:
        s = self.initial_states(key)
        zeros = jnp.zeros((self.num_envs,), jnp.float32)
        steps = jnp.zeros((self.num_envs,), jnp.int32)
        if self.fresh_starts:  # the first episodes are the same draws as without fresh starts
            keys = jax.random.split(jax.random.fold_in(key, 1), self.num_envs)
            return EnvState(s, None, steps, zeros, key, keys)
        return EnvState(s, s, steps, zeros, key)

    def portable(self, state: EnvState) -> EnvState:
        """The state without `first`: what a checkpoint stores (the env state once, not
        twice; on MJX it is most of the checkpoint)."""
        return state._replace(first=None)

    def restored(self, state: EnvState) -> EnvState:
        """Inverse of `portable`: recompute `first` from its key (fresh starts keep none)."""
        if state.episode_keys is not None:
            return state
        return state._replace(first=self.initial_states(state.reset_key))

    def _restarts(self, state: EnvState, done):
        """(the states episodes that just ended restart from, the next episode keys)."""
        if state.episode_keys is None:
            return state.first, None
        split = jax.vmap(jax.random.split)(state.episode_keys)  # [n, 2, 2]: (next key, this start's key)
        fresh = jax.vmap(self.env.reset)(split[:, 1])
        return fresh, jnp.where(done[:, None] > 0, split[:, 0], state.episode_keys)

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

        def restart(ns):
            """Ended episodes replaced by their restart states (fresh draws, or `first`)."""
            starts, keys = self._restarts(state, done)
            pick = lambda start, now: jnp.where(done.reshape(done.shape + (1,) * (now.ndim - 1)) > 0, start, now)
            return jax.tree.map(pick, starts, ns), keys

        if state.episode_keys is None:
            inner, episode_keys = restart(ns)
        else:
            # Fresh starts draw resets only on a step where some episode ended (a reset costs a good
            # part of a physics step, and late in training most steps end none). Outside a vmap
            # this is a real branch: the training rollout steps one flat [runs * envs] batch.
            inner, episode_keys = jax.lax.cond(jnp.any(done > 0), restart, lambda ns: (ns, state.episode_keys), ns)
        out = StepOut(inner.obs, ns.obs, ns.reward, terminated, truncated, ep_return * done)
        new = EnvState(inner, state.first, jnp.where(done > 0, 0, steps).astype(jnp.int32),
                       ep_return * (1.0 - done), state.reset_key, episode_keys)
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
