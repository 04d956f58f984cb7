"""The two rates every speed benchmark measures, one way: raw Brax stepping (random
actions, auto-reset, one jitted scan) and training (the learner's chunk program).

Both are AOT-compiled first (`lower().compile()`, reported apart as compile_s), run
once untimed, then timed over `repeats` calls, so no timed call contains compilation.
"""
from __future__ import annotations

import math
import statistics
import time

import jax
import jax.numpy as jnp


def summary(steps_per_call: int, times: list) -> dict:
    """Steps/s of each timed call, their median (the headline) and best."""
    sps = [steps_per_call / t for t in times]
    return {"steps_per_call": steps_per_call, "call_seconds": times, "sps_each": sps,
            "sps_median": statistics.median(sps), "sps_best": max(sps)}


def _timed(compiled, carry, args, repeats):
    """One untimed call, then `repeats` timed calls threading the carry; (times, carry, out)."""
    carry, out = jax.block_until_ready(compiled(carry, *args(0)))
    times = []
    for r in range(repeats):
        t = time.perf_counter()
        carry, out = jax.block_until_ready(compiled(carry, *args(r + 1)))
        times.append(time.perf_counter() - t)
    return times, carry, out


def raw_stepping(env_name: str, backend: str, num_envs: int, episode_length: int, target_steps: int,
                 repeats: int = 1, seed: int = 0) -> dict:
    """Env steps/s of `VecEnv.step` with uniform random actions in [-1, 1] (the ceiling:
    physics + auto-reset, no learning). The final env state is returned by the program, so
    no physics can be dead-code eliminated."""
    from barpo_jax.envs import VecEnv

    env = VecEnv(env_name, backend, num_envs, episode_length)
    length = max(1, math.ceil(target_steps / num_envs))

    def run(state, key):
        def body(carry, k):
            s, total = carry
            a = jax.random.uniform(k, (num_envs, env.action_size), minval=-1.0, maxval=1.0)
            s, out = env.step(s, a)
            return (s, total + jnp.sum(out.reward)), None
        (state, total), _ = jax.lax.scan(body, (state, jnp.zeros((), jnp.float32)), jax.random.split(key, length))
        return state, total

    key = jax.random.PRNGKey(seed)
    state = jax.block_until_ready(jax.jit(env.reset)(key))
    t = time.perf_counter()
    compiled = jax.jit(run).lower(state, key).compile()
    compile_s = time.perf_counter() - t
    times, _, total = _timed(compiled, state, lambda i: (jax.random.PRNGKey(seed + 1 + i),), repeats)
    steps = length * num_envs
    return {"scan_length": length, "compile_s": compile_s, **summary(steps, times),
            "mean_reward_per_step_last_call": float(total) / steps}


def training(cfg, iterations: int, repeats: int = 1, seeds=None) -> dict:
    """Env steps/s (all runs together) of `Trainer.chunk_fn(iterations)` for `cfg`, runs
    `seeds` (default cfg.seed, cfg.seed + 1, ...). Also returns the final learner `state`
    and the last call's `metrics`."""
    from barpo_jax.config import hyperparams
    from barpo_jax.learner import Trainer

    seeds = list(seeds) if seeds is not None else [cfg.seed + i for i in range(cfg.num_seeds)]
    tr = Trainer(cfg)
    state = jax.block_until_ready(tr.init_runs(seeds))
    hp = hyperparams(cfg, len(seeds))
    t = time.perf_counter()
    compiled = tr.chunk_fn(iterations).lower(state, hp).compile()
    compile_s = time.perf_counter() - t
    times, state, metrics = _timed(compiled, state, lambda i: (hp,), repeats)
    steps = iterations * cfg.batch_size * len(seeds)
    return {"iterations_per_call": iterations, "compile_s": compile_s, **summary(steps, times),
            "sps_per_seed_median": statistics.median(steps / t / len(seeds) for t in times),
            "state": state, "metrics": metrics}
