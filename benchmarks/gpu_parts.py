"""Small rate-measuring helpers for benchmarks/gpu_suite.py.

Each returns a JSON-able dict. Programs are compiled (and run once) before timing, and
compile time is reported apart; timed calls block until the device is done. Kept
apart from benchmarks/speed/throughput.py so both can change independently.
"""
from __future__ import annotations

import math
import statistics
import time
import traceback

import jax

import barpo_jax as bj
from benchmarks import rates
from barpo_jax.config import hyperparams
from barpo_jax.learner import Trainer


def _timed(fn, args, repeats):
    """(compile + first call seconds, [seconds per later call]) of `fn(*args)`."""
    t = time.perf_counter()
    jax.block_until_ready(fn(*args))
    first = time.perf_counter() - t
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - t)
    return first, times


def raw_sps(env_name, backend, num_envs, steps_per_call, repeats=3, episode_length=1000) -> dict:
    """Physics alone (`rates.raw_stepping`), in this module's result keys."""
    r = rates.raw_stepping(env_name, backend, num_envs, episode_length, steps_per_call, repeats)
    return {"steps_per_call": r["steps_per_call"], "compile_s": r["compile_s"],
            "call_s": r["call_seconds"], "sps": r["sps_median"]}


def train_sps(cfg: bj.TrainConfig, num_runs: int, iterations: int, repeats=2) -> dict:
    """Training steps/s of `num_runs` runs in one `Trainer.chunk_fn(iterations)` program
    (all runs counted); `sps_per_run` divides by the runs."""
    trainer = Trainer.cached(cfg)  # parts measuring the same config share one compiled program
    state, hp = trainer.init_runs(range(num_runs)), hyperparams(cfg, num_runs)
    first, times = _timed(trainer.chunk_fn(iterations), (state, hp), repeats)
    steps = iterations * cfg.batch_size * num_runs
    sps = steps / statistics.median(times)
    return {"steps_per_call": steps, "compile_plus_first_s": first, "call_s": times, "sps": sps,
            "sps_per_run": sps / num_runs}


def brax_ppo_sps(cfg: bj.TrainConfig, epochs: int = 3) -> dict:
    """Brax's own PPO on the same task, backend, envs and PPO settings, timed by its
    `training/sps` metric on evaluation epochs after the first (the first compiles).
    Failures are recorded, not raised: the suite must go on without Brax."""
    try:
        from benchmarks import brax_compat
        shim = brax_compat.install()
        from brax import envs as brax_envs
        from brax.training.agents.ppo import networks as ppo_networks
        from brax.training.agents.ppo import train as ppo_train
        from flax import linen
        import functools

        factory = functools.partial(ppo_networks.make_ppo_networks, policy_hidden_layer_sizes=cfg.policy_hidden,
                                    value_hidden_layer_sizes=cfg.value_hidden, activation=linen.tanh)
        per_epoch = cfg.batch_size * 4  # 4 Brax training steps (num_envs * unroll env steps each) per epoch
        records = []
        t0 = time.perf_counter()
        ppo_train.train(environment=brax_envs.get_environment(cfg.env, backend=cfg.backend),
                        num_timesteps=per_epoch * epochs, num_evals=epochs + 1, run_evals=False, seed=0,
                        progress_fn=lambda step, m: records.append((time.perf_counter(), int(step),
                                                                    float(m.get("training/sps", float("nan"))))),
                        num_envs=cfg.num_envs, episode_length=cfg.episode_length, unroll_length=cfg.unroll_length,
                        batch_size=cfg.num_envs // cfg.num_minibatches, num_minibatches=cfg.num_minibatches,
                        num_updates_per_batch=cfg.num_epochs, normalize_observations=cfg.normalize_observations,
                        learning_rate=cfg.learning_rate, entropy_cost=cfg.entropy_coef, discounting=cfg.gamma,
                        gae_lambda=cfg.gae_lambda, clipping_epsilon=cfg.clip_eps, reward_scaling=cfg.reward_scaling,
                        max_grad_norm=cfg.max_grad_norm or None, network_factory=factory)
        later = [r[2] for r in records[1:] if math.isfinite(r[2])]  # the first epoch includes the compile
        return {"ok": True, "sps": statistics.median(later) if later else None, "records": records,
                "wall_s_incl_compile": time.perf_counter() - t0, "shim_installed": shim,
                "sps_source": "median Brax training/sps over epochs after the first (compile excluded)"}
    except Exception as e:  # noqa: BLE001 - recorded in the result file instead
        return {"ok": False, "sps": None, "error": f"{type(e).__name__}: {e}",
                "traceback": traceback.format_exc()[-3000:]}


def ratio(a, b):
    return a / b if a and b else None


def verdict(value, target) -> str:
    """'PASS'/'FAIL' of value >= target, or 'n/a' when not measured."""
    if value is None:
        return "n/a"
    return "PASS" if value >= target else "FAIL"
