#!/usr/bin/env python3
"""Throughput (and learning-parity) benchmark: raw Brax stepping vs barpo_jax SPO vs Brax PPO.

Throughput mode (default), all on one device in one process:
  (a) raw    -- `VecEnv.step` with uniform random actions in [-1, 1] inside one jitted
                `lax.scan` (the ceiling: physics + auto-reset, no learning);
  (b) SPO    -- `Trainer.chunk_fn(n)` (rollout + GAE + epochs x minibatch SGD), AOT-compiled
                first so the timed calls contain no compilation; compile time is reported apart;
  (c) Brax   -- `brax.training.agents.ppo.train` at matched num_envs / unroll_length /
                num_minibatches / num_updates_per_batch (= num_epochs) / 64-64 tanh networks /
                batch_size = num_envs // num_minibatches (one unroll per training step),
                observation normalisation on, no evaluation runs. Its steps/s is Brax's own
                `training/sps` metric (per training epoch, timed by Brax around its pmapped
                epoch), taken over epochs during which no XLA compilation happened.
  then scaling of SPO with num_envs (1 seed; raw alongside) and with num_seeds (fixed num_envs).

Parity mode (--parity): SPO and Brax PPO trained with matched settings on one task, both
evaluated at identical env-step counts with deterministic policies (the Gaussian mean),
`--eval-episodes` episodes per point; a PNG of return vs env steps is written.

Every measurement records os.getloadavg() before and after it: on a shared 2-core machine the
numbers are only as good as the load they ran under.

Examples (from the repository root):
  PYTHONPATH=. python3 benchmarks/throughput.py --out benchmarks/results/throughput_cpu
  PYTHONPATH=. python3 benchmarks/throughput.py --parity --out benchmarks/results/parity_cpu
  PYTHONPATH=. python3 benchmarks/throughput.py --device-label gpu      # hopper, larger lists
"""
from __future__ import annotations

import argparse
import functools
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import _provenance  # noqa: E402

# ----------------------------------------------------------------------------------------
# Defaults per device label. CPU lists are sized for a 2-core machine (non-quick run well
# under ~12 min); GPU lists follow the brief.
DEFAULTS = {
    "cpu": dict(env="inverted_pendulum", num_envs=256, target_steps=131_072, repeats=3, scale_repeats=2,
                scale_envs=(256, 1024, 4096, 8192), scale_seeds=(1, 2, 4, 8, 16),
                brax_epochs=5, timeout_s=420,
                parity_env="inverted_double_pendulum", parity_num_envs=256, parity_steps=1_200_000,
                parity_points=6, parity_seeds=2, parity_timeout_s=600),
    "gpu": dict(env="hopper", num_envs=2048, target_steps=4_194_304, repeats=3, scale_repeats=3,
                scale_envs=(256, 1024, 4096, 8192), scale_seeds=(1, 2, 4, 8, 16),
                brax_epochs=4, timeout_s=600,
                parity_env="hopper", parity_num_envs=2048, parity_steps=20_000_000,
                parity_points=11, parity_seeds=3, parity_timeout_s=1800),
}
QUICK = dict(target_steps=16_384, repeats=1, scale_repeats=1, scale_envs=(256, 1024), scale_seeds=(1, 2),
             brax_epochs=3, parity_steps=51_200, parity_points=3, parity_seeds=1)

# ----------------------------------------------------------------------------------------
# Compilation watch: lets us tell which Brax epochs contained a (re)compilation.
_COMPILE_EVENTS = ("/jax/core/compile/backend_compile_duration",
                   "/jax/core/compile/jaxpr_trace_duration",
                   "/jax/core/compile/jaxpr_to_mlir_module_duration")
_compile_log: list = []


def _on_duration(event, duration, **_):
    if event in _COMPILE_EVENTS:
        _compile_log.append((time.perf_counter(), event, float(duration)))


jax.monitoring.register_event_duration_secs_listener(_on_duration)


def compile_seconds_between(t0: float, t1: float) -> float:
    return sum(d for t, _, d in _compile_log if t0 <= t < t1)


def load() -> list:
    return _provenance.load_averages()


def _clean(x):
    """JSON-safe: NaN/inf -> None, numpy -> python."""
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if isinstance(x, (np.floating, float)):
        x = float(x)
        return x if math.isfinite(x) else None
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.ndarray):
        return _clean(x.tolist())
    return x


def _summary(steps_per_call: int, times: list) -> dict:
    sps = [steps_per_call / t for t in times]
    return {"steps_per_call": steps_per_call, "call_seconds": times, "sps_each": sps,
            "sps_median": statistics.median(sps), "sps_best": max(sps)}


# ----------------------------------------------------------------------------------------
# (a) raw Brax stepping

def bench_raw(env_name, backend, num_envs, episode_length, target_steps, repeats, seed=0) -> dict:
    from barpo_jax.envs import VecEnv

    env = VecEnv(env_name, backend, num_envs, episode_length)
    length = max(1, math.ceil(target_steps / num_envs))
    act_size = env.action_size

    def run(state, key):
        def body(carry, k):
            s, total = carry
            a = jax.random.uniform(k, (num_envs, act_size), minval=-1.0, maxval=1.0)
            s, out = env.step(s, a)
            return (s, total + jnp.sum(out.reward)), None
        # The final env state is returned, so no physics can be dead-code eliminated.
        (state, total), _ = jax.lax.scan(body, (state, jnp.zeros((), jnp.float32)),
                                         jax.random.split(key, length))
        return state, total

    lb = load()
    key = jax.random.PRNGKey(seed)
    state = jax.jit(env.reset)(key)
    jax.block_until_ready(state)
    t = time.perf_counter()
    compiled = jax.jit(run).lower(state, key).compile()
    compile_s = time.perf_counter() - t
    state, total = compiled(state, jax.random.PRNGKey(seed + 1))  # warm-up (not timed)
    jax.block_until_ready((state, total))
    times = []
    for r in range(repeats):
        t = time.perf_counter()
        state, total = compiled(state, jax.random.PRNGKey(seed + 2 + r))
        jax.block_until_ready((state, total))
        times.append(time.perf_counter() - t)
    steps = length * num_envs
    return {"what": "raw", "env": env_name, "backend": backend, "num_envs": num_envs, "scan_length": length,
            "compile_s": compile_s, **_summary(steps, times),
            "mean_reward_per_step_last_call": float(total) / steps, "load_before": lb, "load_after": load()}


# ----------------------------------------------------------------------------------------
# (b) our SPO

def spo_config(env_name, backend, num_envs, num_seeds, unroll, minibatches, epochs, episode_length,
               num_timesteps=100_000_000, chunk_iterations=10):
    import barpo_jax as bj
    return bj.TrainConfig(env=env_name, algo="spo", backend=backend, num_timesteps=num_timesteps,
                          num_envs=num_envs, unroll_length=unroll, num_minibatches=minibatches,
                          num_epochs=epochs, episode_length=episode_length, num_seeds=num_seeds,
                          chunk_iterations=chunk_iterations)


def bench_spo(env_name, backend, num_envs, num_seeds, unroll, minibatches, epochs, episode_length,
              target_steps, repeats) -> dict:
    from barpo_jax.config import hyperparams
    from barpo_jax.learner import Trainer

    per_iter = num_envs * unroll * num_seeds
    n_iter = max(1, math.ceil(target_steps / per_iter))
    cfg = spo_config(env_name, backend, num_envs, num_seeds, unroll, minibatches, epochs, episode_length,
                     chunk_iterations=n_iter)
    lb = load()
    tr = Trainer(cfg)
    seeds = list(range(num_seeds))
    state = tr.init_runs(seeds)
    hp = hyperparams(cfg, num_seeds)
    jax.block_until_ready(state)
    t = time.perf_counter()
    compiled = tr.chunk_fn(n_iter).lower(state, hp).compile()
    compile_s = time.perf_counter() - t
    state, metrics = compiled(state, hp)  # warm-up (not timed)
    jax.block_until_ready((state, metrics))
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        state, metrics = compiled(state, hp)
        jax.block_until_ready((state, metrics))
        times.append(time.perf_counter() - t)
    ret = np.asarray(metrics["episode_return"])
    finite_params = all(bool(np.all(np.isfinite(np.asarray(x)))) for x in jax.tree.leaves(state.agent.params))
    return {"what": "spo", "env": env_name, "backend": backend, "num_envs": num_envs, "num_seeds": num_seeds,
            "iterations_per_call": n_iter, "compile_s": compile_s, **_summary(n_iter * per_iter, times),
            "sps_per_seed_median": statistics.median(n_iter * per_iter / t / num_seeds for t in times),
            "train_episode_return_last_call": float(np.nanmean(ret)) if np.isfinite(ret).any() else None,
            "params_finite": finite_params, "load_before": lb, "load_after": load()}


# ----------------------------------------------------------------------------------------
# (c) Brax's PPO

def _brax_ppo_kwargs(cfg, num_envs):
    """Brax PPO keyword arguments matched to a barpo TrainConfig."""
    from brax.training.agents.ppo import networks as ppo_networks
    from flax import linen

    if num_envs % cfg.num_minibatches:
        raise SystemExit(f"num_envs={num_envs} must be a multiple of num_minibatches={cfg.num_minibatches}")
    factory = functools.partial(ppo_networks.make_ppo_networks,
                                policy_hidden_layer_sizes=tuple(cfg.policy_hidden),
                                value_hidden_layer_sizes=tuple(cfg.value_hidden),
                                activation=linen.tanh)
    return dict(num_envs=num_envs, episode_length=cfg.episode_length, unroll_length=cfg.unroll_length,
                batch_size=num_envs // cfg.num_minibatches, num_minibatches=cfg.num_minibatches,
                num_updates_per_batch=cfg.num_epochs, normalize_observations=cfg.normalize_observations,
                normalize_advantage=cfg.normalize_advantages, learning_rate=cfg.learning_rate,
                entropy_cost=cfg.entropy_coef, discounting=cfg.gamma, gae_lambda=cfg.gae_lambda,
                clipping_epsilon=cfg.clip_eps, vf_loss_coefficient=cfg.value_coef,
                reward_scaling=cfg.reward_scaling, max_grad_norm=cfg.max_grad_norm, network_factory=factory)


def _brax_env(env_name, backend):
    from brax import envs as brax_envs
    return brax_envs.get_environment(env_name, backend=backend)


def bench_brax_ppo(env_name, backend, num_envs, unroll, minibatches, epochs, episode_length, target_steps,
                   n_epochs) -> dict:
    import brax_compat
    shim = brax_compat.install()
    from brax.training.agents.ppo import train as ppo_train

    cfg = spo_config(env_name, backend, num_envs, 1, unroll, minibatches, epochs, episode_length)
    kw = _brax_ppo_kwargs(cfg, num_envs)
    per_train_step = kw["batch_size"] * kw["num_minibatches"] * unroll  # == num_envs * unroll
    k = max(1, math.ceil(target_steps / per_train_step))
    num_timesteps = k * per_train_step * n_epochs
    records = []
    lb = load()
    t_start = time.perf_counter()

    def progress(step, metrics):
        records.append({"t": time.perf_counter(), "step": int(step),
                        "training_sps": float(metrics.get("training/sps", float("nan"))),
                        "training_walltime": float(metrics.get("training/walltime", float("nan")))})

    ppo_train.train(environment=_brax_env(env_name, backend), num_timesteps=num_timesteps,
                    num_evals=n_epochs + 1, run_evals=False, progress_fn=progress, seed=0, **kw)
    total_s = time.perf_counter() - t_start
    epochs_out, prev_t, prev_step = [], t_start, 0
    for i, r in enumerate(records):
        comp = compile_seconds_between(prev_t, r["t"])
        span = r["t"] - prev_t
        epochs_out.append({"epoch": i, "step": r["step"], "training_sps": r["training_sps"],
                           "progress_interval_s": span,
                           "progress_interval_sps": (r["step"] - prev_step) / span,
                           "compile_s_in_interval": comp, "clean": comp < 0.01 * span})
        prev_t, prev_step = r["t"], r["step"]
    clean = [e for e in epochs_out if e["clean"]]
    used = clean or epochs_out[-1:]
    sps = statistics.median(e["training_sps"] for e in used)
    return {"what": "brax_ppo", "env": env_name, "backend": backend, "num_envs": num_envs,
            "training_steps_per_epoch": k, "env_steps_per_epoch": k * per_train_step, "epochs": n_epochs,
            "sps_median": sps, "sps_best": max(e["training_sps"] for e in used),
            "sps_source": ("median of Brax's own `training/sps` metric over epochs with no XLA compilation "
                           f"({len(clean)} of {len(epochs_out)} epochs clean)" if clean else
                           "Brax `training/sps` of the LAST epoch: every epoch contained compilation (suspect)"),
            "progress_interval_sps_median_clean": (statistics.median(e["progress_interval_sps"] for e in clean)
                                                   if clean else None),
            "per_epoch": epochs_out, "total_wall_s_incl_compile": total_s,
            "shim_device_put_replicated_installed": shim,
            "brax_kwargs": {k_: (v if not callable(v) else "make_ppo_networks(64-64, tanh)") for k_, v in kw.items()},
            "load_before": lb, "load_after": load()}


# ----------------------------------------------------------------------------------------
# Process isolation. Each measurement runs in a fresh child process (this file with
# --_worker) under a timeout, retried once. Reason: on this jax 0.10.2 / 2-core CPU setup one
# long in-process sequence deadlocked inside XLA's CPU runtime (all threads idle in futex waits
# while block_until_ready waited forever); a fresh process per measurement also gives every
# measurement the same clean start (heap, thread pools, compile caches).

def _parity_spo(cfg: dict, seeds: list, k: int, n_points: int, episodes: int) -> dict:
    """SPO side of the parity run: chunk_fn(k) between evaluation points, deterministic evaluation."""
    import barpo_jax as bj
    from barpo_jax import acting, networks
    from barpo_jax import normalize as nz
    from barpo_jax.envs import VecEnv
    from barpo_jax.config import hyperparams
    from barpo_jax.learner import Trainer

    cfg = bj.TrainConfig.from_dict(cfg)
    per_iter = cfg.batch_size
    lb = load()
    t0 = time.perf_counter()
    tr = Trainer(cfg)
    state = tr.init_runs(seeds)
    hp = hyperparams(cfg, len(seeds))
    chunk = tr.chunk_fn(k)
    eval_env = VecEnv(cfg.env, cfg.backend, episodes, cfg.episode_length)
    ac = tr.ac

    def eval_one(params, stats, key):
        # The policy of TrainResult.policy(seed): clipped Gaussian mean on normalised obs.
        act = lambda _k, obs: networks.to_env_action(ac.dist(params, nz.normalize(stats, obs))[0])  # noqa: E731
        return acting.episode_returns(eval_env, act, key)

    eval_all = jax.jit(jax.vmap(eval_one, in_axes=(0, 0, None)))
    points, t_train, t_eval, history = [], 0.0, 0.0, []
    for i in range(n_points):
        if i > 0:
            t = time.perf_counter()
            state, m = chunk(state, hp)
            m = jax.device_get(m)
            t_train += time.perf_counter() - t
            history.append(np.asarray(m["episode_return"]))
        t = time.perf_counter()
        rets = np.asarray(eval_all(state.agent.params, state.stats, jax.random.PRNGKey(1000 + i)))
        t_eval += time.perf_counter() - t
        tr_ret = (np.nanmean(history[-1], axis=1) if history and np.isfinite(history[-1]).any()
                  else np.full(len(seeds), np.nan))
        points.append({"env_steps": i * k * per_iter, "eval_mean_per_seed": rets.mean(1).tolist(),
                       "eval_std_per_seed": rets.std(1).tolist(), "eval_mean": float(rets.mean()),
                       "train_episode_return_per_seed": tr_ret.tolist()})
        tr_show = np.nanmean(tr_ret) if np.isfinite(tr_ret).any() else float("nan")
        print(f"  SPO  step {i * k * per_iter:>9,}: eval return {rets.mean():9.1f} +- {rets.std():7.1f}"
              f"   (training-episode return {tr_show:8.1f})  [{time.perf_counter() - t0:.0f}s]", flush=True)
    return {"points": points, "wall_s": time.perf_counter() - t0, "train_s_incl_first_compile": t_train,
            "eval_s_incl_compile": t_eval, "load_before": lb, "load_after": load()}


def _parity_brax(cfg: dict, seed: int, total: int, n_points: int, episodes: int) -> dict:
    import barpo_jax as bj
    import brax_compat
    brax_compat.install()
    from brax.training.agents.ppo import train as ppo_train

    cfg = bj.TrainConfig.from_dict(cfg)
    kw = _brax_ppo_kwargs(cfg, cfg.num_envs)
    lb = load()
    recs = []
    t0 = time.perf_counter()

    def progress(step, metrics):
        recs.append({"env_steps": int(step), "eval_mean": float(metrics.get("eval/episode_reward", np.nan)),
                     "eval_std": float(metrics.get("eval/episode_reward_std", np.nan)),
                     "training_sps": float(metrics.get("training/sps", np.nan)),
                     "wall_s": time.perf_counter() - t0})
        print(f"  Brax step {int(step):>9,}: eval return {recs[-1]['eval_mean']:9.1f} +- "
              f"{recs[-1]['eval_std']:7.1f}  [{recs[-1]['wall_s']:.0f}s]", flush=True)

    ppo_train.train(environment=_brax_env(cfg.env, cfg.backend), num_timesteps=total, num_evals=n_points,
                    num_eval_envs=episodes, deterministic_eval=True, run_evals=True, progress_fn=progress,
                    seed=seed, **kw)
    return {"seed": seed, "points": recs, "wall_s": time.perf_counter() - t0, "load_before": lb,
            "load_after": load(),
            "brax_kwargs": {k_: (v if not callable(v) else "make_ppo_networks(64-64, tanh)") for k_, v in kw.items()}}


WORKERS = {"raw": bench_raw, "spo": bench_spo, "brax_ppo": bench_brax_ppo,
           "parity_spo": _parity_spo, "parity_brax": _parity_brax}


def _worker_main(spec: str, out: str) -> None:
    job = json.loads(spec)
    res = WORKERS[job["kind"]](**job["kwargs"])
    with open(out, "w") as f:
        json.dump(_clean(res), f)


def isolated(kind: str, timeout: float, retries: int = 1, **kwargs) -> dict:
    """Run WORKERS[kind](**kwargs) in a child process; {'error': ...} if every attempt fails."""
    failures = []
    for attempt in range(1, retries + 2):
        fd, out = tempfile.mkstemp(prefix=f"bench_{kind}_", suffix=".json")
        os.close(fd)
        cmd = [sys.executable, os.path.abspath(__file__), "--_worker", json.dumps({"kind": kind, "kwargs": kwargs}),
               "--_worker-out", out]
        t = time.perf_counter()
        lb = load()
        try:
            # stdout streams through; stderr (Brax/JAX warnings) is kept for the error report only.
            proc = subprocess.run(cmd, timeout=timeout, stderr=subprocess.PIPE, text=True)
            if proc.returncode == 0 and os.path.getsize(out) > 0:
                with open(out) as f:
                    res = json.load(f)
                res.update(process_wall_s=time.perf_counter() - t, attempts=attempt, failed_attempts=failures)
                return res
            failures.append({"attempt": attempt, "error": f"exit code {proc.returncode}",
                             "stderr_tail": proc.stderr[-2000:], "load_before": lb, "load_after": load()})
        except subprocess.TimeoutExpired:  # subprocess.run has killed the child it started
            failures.append({"attempt": attempt, "error": f"timed out after {timeout:.0f}s (hung or too slow)",
                             "load_before": lb, "load_after": load()})
        finally:
            if os.path.exists(out):
                os.remove(out)
        print(f"  !! {kind} attempt {attempt} failed: {failures[-1]['error']}", flush=True)
    return {"what": kind, "error": failures[-1]["error"], "failed_attempts": failures,
            "sps_median": float("nan"), "sps_best": float("nan"), "compile_s": float("nan")}


def _sps(r, key="sps_median"):
    return float("nan") if r is None or r.get(key) is None else float(r[key])


def _ratio(a, b):
    return a / b if b and math.isfinite(a) and math.isfinite(b) else float("nan")


def _lo(r):
    if r and r.get("load_before") and r.get("load_after"):
        return f"{r['load_before'][0]:.2f} -> {r['load_after'][0]:.2f}"
    return "-"


# ----------------------------------------------------------------------------------------
# Throughput driver

def run_throughput(args, d) -> tuple[dict, list, list]:
    env, backend = args.env, args.backend
    unroll, mbs, epochs = args.unroll_length or 5, args.num_minibatches or 32, args.num_epochs or 4
    common = dict(env_name=env, backend=backend, episode_length=args.episode_length)
    train_kw = dict(unroll=unroll, minibatches=mbs, epochs=epochs)
    t0 = time.perf_counter()
    phases = {}
    spo_cache = {}
    timeout = d["timeout_s"]

    def spo(ne, seeds, repeats):
        if (ne, seeds) not in spo_cache:
            r = isolated("spo", timeout, num_envs=ne, num_seeds=seeds, target_steps=d["target_steps"],
                         repeats=repeats, **common, **train_kw)
            spo_cache[(ne, seeds)] = r
            print(f"  SPO  num_envs={ne:>5} seeds={seeds:>2}: {_sps(r):>11,.0f} steps/s "
                  f"(best {_sps(r, 'sps_best'):,.0f}; compile {_sps(r, 'compile_s'):.1f}s; "
                  f"process {_sps(r, 'process_wall_s'):.0f}s; load {_lo(r)})", flush=True)
        return spo_cache[(ne, seeds)]

    def raw(ne, repeats):
        r = isolated("raw", timeout, num_envs=ne, target_steps=d["target_steps"], repeats=repeats, **common)
        print(f"  raw  num_envs={ne:>5}:          {_sps(r):>11,.0f} steps/s (best {_sps(r, 'sps_best'):,.0f}; "
              f"compile {_sps(r, 'compile_s'):.1f}s; process {_sps(r, 'process_wall_s'):.0f}s; load {_lo(r)})",
              flush=True)
        return r

    ne = args.num_envs
    print(f"[main] env={env} backend={backend} num_envs={ne} unroll={unroll} minibatches={mbs} epochs={epochs}",
          flush=True)
    t = time.perf_counter()
    raw_main = raw(ne, d["repeats"])
    phases["raw"] = time.perf_counter() - t
    t = time.perf_counter()
    spo_main = spo(ne, 1, d["repeats"])
    phases["spo"] = time.perf_counter() - t
    t = time.perf_counter()
    brax = isolated("brax_ppo", timeout, num_envs=ne, target_steps=d["target_steps"], n_epochs=d["brax_epochs"],
                    **common, **train_kw)
    phases["brax_ppo"] = time.perf_counter() - t
    print(f"  Brax PPO num_envs={ne:>5}:      {_sps(brax):>11,.0f} steps/s ({brax.get('sps_source', brax.get('error'))}; "
          f"process {phases['brax_ppo']:.0f}s incl. compile; load {_lo(brax)})", flush=True)
    for e in brax.get("per_epoch", []):
        print(f"    epoch {e['epoch']}: training/sps {e['training_sps']:,.0f}  compile in interval "
              f"{e['compile_s_in_interval']:.1f}s  used={e['clean']}")
    ratios = {"spo_over_brax_ppo": _ratio(_sps(spo_main), _sps(brax)),
              "spo_over_raw": _ratio(_sps(spo_main), _sps(raw_main)),
              "brax_ppo_over_raw": _ratio(_sps(brax), _sps(raw_main)),
              "best_spo_over_brax_ppo": _ratio(_sps(spo_main, "sps_best"), _sps(brax, "sps_best")),
              "best_spo_over_raw": _ratio(_sps(spo_main, "sps_best"), _sps(raw_main, "sps_best"))}
    print(f"  ratios: SPO/BraxPPO = {ratios['spo_over_brax_ppo']:.2f}x   SPO/raw = {ratios['spo_over_raw']:.2f}x   "
          f"BraxPPO/raw = {ratios['brax_ppo_over_raw']:.2f}x   (best-of: SPO/BraxPPO "
          f"{ratios['best_spo_over_brax_ppo']:.2f}x, SPO/raw {ratios['best_spo_over_raw']:.2f}x)", flush=True)

    print(f"[scaling num_envs, 1 seed] {list(d['scale_envs'])}", flush=True)
    t = time.perf_counter()
    env_rows = []
    for n in d["scale_envs"]:
        s = spo(n, 1, d["scale_repeats"])
        r = raw_main if n == ne else (raw(n, d["scale_repeats"]) if not args.no_scaling_raw else None)
        env_rows.append({"num_envs": n, "spo": s, "raw": r})
    phases["scale_envs"] = time.perf_counter() - t
    print(f"[scaling num_seeds, num_envs={ne}] {list(d['scale_seeds'])}", flush=True)
    t = time.perf_counter()
    seed_rows = [{"num_seeds": s, "spo": spo(ne, s, d["scale_repeats"])} for s in d["scale_seeds"]]
    phases["scale_seeds"] = time.perf_counter() - t
    phases["total"] = time.perf_counter() - t0

    base1 = _sps(spo_cache.get((ne, 1)))
    failed = [f"{r.get('what')}" for r in [raw_main, spo_main, brax] + [x["spo"] for x in env_rows + seed_rows]
              + [x["raw"] for x in env_rows if x["raw"]] if r.get("error")]
    hung = sum(len(r.get("failed_attempts") or []) for r in
               [raw_main, spo_main, brax] + list(spo_cache.values()) + [x["raw"] for x in env_rows if x["raw"]])
    results = {
        "mode": "throughput", "device_label": args.device_label, "env": env, "backend": backend,
        "settings": {"num_envs": ne, "unroll_length": unroll, "num_minibatches": mbs, "num_epochs": epochs,
                     "episode_length": args.episode_length, "target_env_steps_per_timed_call": d["target_steps"],
                     "timed_repeats_main": d["repeats"], "timed_repeats_scaling": d["scale_repeats"],
                     "quick": args.quick, "scale_envs": list(d["scale_envs"]), "scale_seeds": list(d["scale_seeds"]),
                     "brax_epochs": d["brax_epochs"], "timeout_s_per_measurement": timeout},
        "raw": raw_main, "spo": spo_main, "brax_ppo": brax, "ratios": ratios,
        "targets": {"spo_ge_1.0x_brax_ppo": bool(ratios["spo_over_brax_ppo"] >= 1.0),
                    "spo_ge_0.6x_raw": bool(ratios["spo_over_raw"] >= 0.6)},
        "scaling_num_envs": env_rows, "scaling_num_seeds": seed_rows, "phase_seconds": phases,
        "failed_measurements": failed, "failed_attempts_total": hung,
    }

    print("\n== summary ==")
    print(f"raw {_sps(raw_main):,.0f} | SPO {_sps(spo_main):,.0f} | Brax PPO {_sps(brax):,.0f} steps/s  ->  "
          f"SPO/BraxPPO {ratios['spo_over_brax_ppo']:.2f}x, SPO/raw {ratios['spo_over_raw']:.2f}x "
          f"(best-of {ratios['best_spo_over_brax_ppo']:.2f}x, {ratios['best_spo_over_raw']:.2f}x)")
    print("num_envs | SPO steps/s (best) | raw steps/s (best) | SPO/raw | SPO compile s")
    for row in env_rows:
        s_, r_ = row["spo"], row["raw"]
        print(f"{row['num_envs']:>8} | {_sps(s_):>9,.0f} ({_sps(s_, 'sps_best'):,.0f}) | "
              f"{_sps(r_):>9,.0f} ({_sps(r_, 'sps_best'):,.0f}) | {_ratio(_sps(s_), _sps(r_)):.2f} | "
              f"{_sps(s_, 'compile_s'):.1f}")
    print("num_seeds | total steps/s (best) | per-seed steps/s | vs 1 seed | SPO compile s")
    for row in seed_rows:
        s_ = row["spo"]
        print(f"{row['num_seeds']:>9} | {_sps(s_):>11,.0f} ({_sps(s_, 'sps_best'):,.0f}) | "
              f"{_sps(s_, 'sps_per_seed_median'):>16,.0f} | {_ratio(_sps(s_), base1):.2f}x | "
              f"{_sps(s_, 'compile_s'):.1f}")
    print(f"phase seconds: {', '.join(f'{k} {v:.0f}' for k, v in phases.items())}")
    if failed or hung:
        print(f"FAILED measurements: {failed}; failed attempts (retried): {hung}")

    def f2(x):
        return f"{x:.2f}" if math.isfinite(x) else "-"

    sections = [
        (f"Steps/s at num_envs={ne}, 1 seed ({env}, backend {backend})",
         ("what", "env steps/s (median)", "best", "compile s", "steps per timed call", "load 1-min before -> after"),
         [("raw Brax stepping, random actions (ceiling)", _sps(raw_main), _sps(raw_main, "sps_best"),
           _sps(raw_main, "compile_s"), raw_main.get("steps_per_call", "-"), _lo(raw_main)),
          ("barpo_jax SPO (chunk_fn, compile excluded)", _sps(spo_main), _sps(spo_main, "sps_best"),
           _sps(spo_main, "compile_s"), spo_main.get("steps_per_call", "-"), _lo(spo_main)),
          ("Brax PPO (its `training/sps`, epochs without compilation)", _sps(brax), _sps(brax, "sps_best"),
           "see epochs", brax.get("env_steps_per_epoch", "-"), _lo(brax))],
         f"SPO/BraxPPO = **{f2(ratios['spo_over_brax_ppo'])}x** (target >= 1.0: "
         f"{'met' if results['targets']['spo_ge_1.0x_brax_ppo'] else 'NOT met'}); "
         f"SPO/raw = **{f2(ratios['spo_over_raw'])}x** (target >= 0.6: "
         f"{'met' if results['targets']['spo_ge_0.6x_raw'] else 'NOT met'}); "
         f"BraxPPO/raw = {f2(ratios['brax_ppo_over_raw'])}x. On best-of figures: SPO/BraxPPO "
         f"{f2(ratios['best_spo_over_brax_ppo'])}x, SPO/raw {f2(ratios['best_spo_over_raw'])}x. "
         f"Brax figure: {brax.get('sps_source', brax.get('error'))}."),
        ("Brax PPO epochs", ("epoch", "env steps so far", "training/sps", "progress_fn-interval steps/s",
                             "compile s in interval", "used"),
         [(e["epoch"], e["step"], e["training_sps"], e["progress_interval_sps"], e["compile_s_in_interval"],
           e["clean"]) for e in brax.get("per_epoch", [])]),
        ("SPO scaling with num_envs (1 seed)",
         ("num_envs", "SPO steps/s (median)", "SPO best", "raw steps/s (median)", "raw best", "SPO/raw (median)",
          "SPO compile s", "load SPO", "load raw"),
         [(row["num_envs"], _sps(row["spo"]), _sps(row["spo"], "sps_best"),
           _sps(row["raw"]) if row["raw"] else "-", _sps(row["raw"], "sps_best") if row["raw"] else "-",
           f2(_ratio(_sps(row["spo"]), _sps(row["raw"]))) if row["raw"] else "-",
           _sps(row["spo"], "compile_s"), _lo(row["spo"]), _lo(row["raw"])) for row in env_rows]),
        (f"SPO scaling with num_seeds (num_envs={ne} per seed)",
         ("num_seeds", "total env steps/s (median)", "best", "per-seed steps/s", "speed-up vs 1 seed", "compile s",
          "load"),
         [(row["num_seeds"], _sps(row["spo"]), _sps(row["spo"], "sps_best"), _sps(row["spo"], "sps_per_seed_median"),
           f"{f2(_ratio(_sps(row['spo']), base1))}x", _sps(row["spo"], "compile_s"), _lo(row["spo"]))
          for row in seed_rows]),
        ("Wall time per phase (s, incl. process start, imports and compilation)", ("phase", "seconds"),
         [(k_, f"{v:.0f}") for k_, v in phases.items()]),
    ]
    notes = [
        "raw: `VecEnv.step` (auto-reset included) with uniform random actions in [-1, 1], scanned inside one jit; "
        "the final env state is returned so no physics is dead-code eliminated.",
        "SPO: `Trainer.chunk_fn(n)` AOT-compiled (`.lower().compile()`, reported as compile s), one untimed "
        "warm-up call, then the timed calls; steps/call = n x num_envs x unroll_length x num_seeds. "
        "Median over the timed calls is the headline (best alongside).",
        "Brax PPO: `brax.training.agents.ppo.train` with run_evals=False; `training/sps` is Brax's own per-epoch "
        "figure (env steps of the epoch / wall time of its pmapped epoch call, which excludes host work between "
        "epochs). Epochs in which JAX reported any tracing/compilation are not used (on jax 0.10 Brax's pmapped "
        "epoch is compiled twice, in epochs 0 and 1). The progress_fn-timestamp figure is given alongside.",
        "Brax needs `jax.device_put_replicated`, removed in jax 0.10: benchmarks/brax_compat.py defines it.",
        "Every measurement runs in its own child process with a timeout (retried once): one earlier in-process "
        "run deadlocked inside XLA's CPU runtime (all threads idle on futexes in block_until_ready).",
        "Load averages (1/5/15 min) are recorded before/after every measurement. Other processes (tests, other "
        "benchmarks) shared the 2 cores during this run, so treat differences below ~20-30% as noise; the "
        "best-of figure is the least-disturbed estimate.",
    ]
    return results, sections, notes


# ----------------------------------------------------------------------------------------
# Parity mode

def run_parity(args, d) -> tuple[dict, list, list]:
    import barpo_jax as bj

    env, backend = args.env, args.backend
    n_points = d["parity_points"]  # evaluation points including step 0
    over = {k: v for k, v in dict(unroll_length=args.unroll_length, num_minibatches=args.num_minibatches,
                                  num_epochs=args.num_epochs).items() if v is not None}
    # Matched to what Brax's PPO can express: its preset-style PPO values for the task and
    # none of the lineage extras (return normalisation, lr anneal, value clipping) that the
    # CPU presets switch on, since Brax PPO has no counterpart for them.
    from barpo_jax.config import _BASE, PPO_PRESETS
    brax_like = {k: v for k, v in {**_BASE, **PPO_PRESETS.get(env, {})}.items() if k not in ("num_timesteps",
                                                                                          "num_envs")}
    probe = bj.TrainConfig(env=env, algo="spo", backend=backend, num_envs=args.num_envs,
                           episode_length=args.episode_length, **{**brax_like, **over})
    per_iter = probe.batch_size
    k = max(1, math.ceil(d["parity_steps"] / ((n_points - 1) * per_iter)))  # iterations between eval points
    total = k * (n_points - 1) * per_iter
    seeds = list(range(d["parity_seeds"]))
    cfg = probe.replace(num_timesteps=total, num_seeds=len(seeds), chunk_iterations=k)
    assert cfg.num_iterations == k * (n_points - 1)
    episodes = args.eval_episodes
    timeout = d["parity_timeout_s"]
    print(f"[parity] env={env} backend={backend} num_envs={cfg.num_envs} unroll={cfg.unroll_length} "
          f"minibatches={cfg.num_minibatches} epochs={cfg.num_epochs} steps={total:,} points={n_points} "
          f"(every {k * per_iter:,} steps) seeds={seeds} eval episodes={episodes}", flush=True)

    t = time.perf_counter()
    spo_res = isolated("parity_spo", timeout, cfg=cfg.to_dict(), seeds=seeds, k=k, n_points=n_points,
                       episodes=episodes)
    spo_process_s = time.perf_counter() - t
    brax_runs = []
    t = time.perf_counter()
    for s in seeds:
        brax_runs.append(isolated("parity_brax", timeout, cfg=cfg.to_dict(), seed=s, total=total,
                                  n_points=n_points, episodes=episodes))
    brax_process_s = time.perf_counter() - t
    brax_kwargs = next((r["brax_kwargs"] for r in brax_runs if r.get("brax_kwargs")), {})
    results = {"mode": "parity", "device_label": args.device_label, "env": env, "backend": backend,
               "settings": {"num_envs": cfg.num_envs, "unroll_length": cfg.unroll_length,
                            "num_minibatches": cfg.num_minibatches, "num_epochs": cfg.num_epochs,
                            "total_env_steps": total, "eval_points": n_points, "steps_between_points": k * per_iter,
                            "seeds": seeds, "eval_episodes": episodes, "quick": args.quick,
                            "learning_rate": cfg.learning_rate, "gamma": cfg.gamma, "gae_lambda": cfg.gae_lambda,
                            "clip_eps": cfg.clip_eps, "entropy_coef": cfg.entropy_coef,
                            "value_coef": cfg.value_coef, "reward_scaling": cfg.reward_scaling,
                            "max_grad_norm": cfg.max_grad_norm, "episode_length": cfg.episode_length},
               "spo_config": cfg.to_dict(), "spo": spo_res, "brax_ppo": brax_runs, "brax_kwargs": brax_kwargs,
               "process_seconds": {"spo": spo_process_s, "brax_ppo": brax_process_s}, "png": args.out + ".png",
               "failed": [r.get("what") for r in [spo_res] + brax_runs if r.get("error")]}
    return parity_report(_clean(results), args.out)


def parity_report(results: dict, out: str) -> tuple[dict, list, list]:
    """PNG + markdown sections from a parity results dict (also used by --render-from)."""
    st = results["settings"]
    env, backend, seeds, episodes = results["env"], results["backend"], st["seeds"], st["eval_episodes"]
    spo_res, brax_runs = results["spo"], results["brax_ppo"]
    spo_points = spo_res.get("points", [])
    ok_brax = [r for r in brax_runs if r.get("points")]
    spo_steps = [p["env_steps"] for p in spo_points]
    matched = bool(ok_brax) and bool(spo_points) and all(
        [p["env_steps"] for p in r["points"]] == spo_steps for r in ok_brax)
    results["eval_steps_matched"] = matched
    nanf = lambda v: float("nan") if v is None else float(v)  # noqa: E731

    # ---- plot ----
    png = out + ".png"
    results["png"] = png
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    x = np.array(spo_steps)
    for j, _ in enumerate(seeds if spo_points else []):
        m = np.array([nanf(p["eval_mean_per_seed"][j]) for p in spo_points])
        sd = np.array([nanf(p["eval_std_per_seed"][j]) for p in spo_points])
        ax.plot(x, m, "o-", color="C0", alpha=0.9, label="barpo_jax SPO (deterministic eval)" if j == 0 else None)
        ax.fill_between(x, m - sd, m + sd, color="C0", alpha=0.12)
        tr_r = np.array([nanf(p["train_episode_return_per_seed"][j]) for p in spo_points])
        ax.plot(x, tr_r, ":", color="C0", alpha=0.6,
                label="SPO training-episode return (stochastic policy)" if j == 0 else None)
    for j, run in enumerate(ok_brax):
        bx = np.array([p["env_steps"] for p in run["points"]])
        m = np.array([nanf(p["eval_mean"]) for p in run["points"]])
        sd = np.array([nanf(p["eval_std"]) for p in run["points"]])
        ax.plot(bx, m, "s-", color="C3", alpha=0.9, label="Brax PPO (deterministic eval)" if j == 0 else None)
        ax.fill_between(bx, m - sd, m + sd, color="C3", alpha=0.12)
    ax.set_xlabel("env steps")
    ax.set_ylabel(f"episode return (mean of {episodes} episodes, ±1 std)")
    ax.set_title(f"{env} ({backend}): SPO vs Brax PPO, num_envs={st['num_envs']}, {len(seeds)} seed(s) each "
                 "(one line per seed)", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(png, dpi=120)
    plt.close(fig)

    def fmt_seeds(vals):
        vals = [nanf(v) for v in vals]
        fin = [v for v in vals if math.isfinite(v)]
        if not fin:
            return "-"
        return f"{np.mean(fin):.1f}" + (f" ({', '.join(f'{v:.0f}' for v in vals)})" if len(vals) > 1 else "")

    rows = []
    for i, p in enumerate(spo_points):
        b = [run["points"][i] for run in ok_brax if i < len(run["points"])]
        rows.append((p["env_steps"], fmt_seeds(p["eval_mean_per_seed"]),
                     f"{np.mean([nanf(v) for v in p['eval_std_per_seed']]):.1f}",
                     fmt_seeds([q["eval_mean"] for q in b]) if b else "-",
                     f"{np.mean([nanf(q['eval_std']) for q in b]):.1f}" if b else "-",
                     fmt_seeds(p["train_episode_return_per_seed"])))
    print("\n== parity ==")
    print("env steps | SPO eval mean (per seed) | SPO episode std | Brax PPO eval mean (per seed) | Brax episode std "
          "| SPO training-episode return (per seed)")
    for r in rows:
        print(" | ".join(f"{c:,}" if isinstance(c, int) else str(c) for c in r))
    ps = results.get("process_seconds", {})
    print(f"process seconds: SPO {ps.get('spo', float('nan')):.0f}, Brax PPO {ps.get('brax_ppo', float('nan')):.0f}; "
          f"steps matched: {matched}")
    sections = [
        (f"Return vs env steps: {env} (backend {backend}), {len(seeds)} seed(s) each",
         ("env steps", "SPO eval return: mean over seeds (per seed)", "SPO std over episodes",
          "Brax PPO eval return: mean over seeds (per seed)", "Brax std over episodes",
          "SPO training-episode return (per seed)"), rows,
         f"![return vs env steps]({os.path.basename(png)})\n\nEach evaluation: {episodes} deterministic "
         "episodes per seed; 'std over episodes' is the within-seed spread averaged over seeds."),
        ("Wall time (s, incl. process start, imports, compilation and evaluation)",
         ("side", "seconds", "load 1-min before -> after"),
         [("SPO (all seeds in one vmapped program)", ps.get("spo", "-"), _lo(spo_res)),
          ("Brax PPO (one train() per seed)", ps.get("brax_ppo", "-"),
           _lo({"load_before": (ok_brax or [{}])[0].get("load_before"),
                "load_after": (ok_brax or [{}])[-1].get("load_after")}))]),
        ("Settings (shared)", ("setting", "value"),
         [(k_, v) for k_, v in st.items()] + [(f"brax {k_}", v) for k_, v in (results.get("brax_kwargs") or next(
             (r["brax_kwargs"] for r in brax_runs if r.get("brax_kwargs")), {})).items()]),
    ]
    notes = [
        "Both sides are evaluated with deterministic policies (SPO: the clipped Gaussian mean; Brax PPO: the mode "
        "of its tanh-normal) on fresh episodes of up to episode_length steps, at identical env-step counts "
        f"(matched: {matched}).",
        "SPO evaluation: `barpo_jax.acting.episode_returns` on a separate `VecEnv(num_envs=eval episodes)` with "
        "the policy of `TrainResult.policy(seed)` (observations normalised with the frozen running statistics, "
        "action = clipped mean), jitted once with the parameters as arguments. 'SPO training-episode return' is "
        "`metrics['episode_return']` averaged over the iterations since the previous point (stochastic policy, "
        "episodes that ended during training).",
        "Brax evaluation: `eval/episode_reward` and `eval/episode_reward_std` from ppo.train's Evaluator with "
        "deterministic_eval=True and num_eval_envs = eval episodes.",
        "Matched: num_envs, unroll_length, num_minibatches, num_updates_per_batch = num_epochs, batch_size = "
        "num_envs // num_minibatches, learning rate, entropy cost, discount, GAE lambda, clip epsilon, value "
        "coefficient, reward scaling, max grad norm, advantage and observation normalisation, 64-64 tanh networks, "
        "episode length. Not matched (each library's defaults kept): action distribution (Brax: tanh-normal with "
        "softplus std; SPO: clipped Gaussian with state-independent log-std, init -0.5), Adam eps (1e-8 vs 1e-5), "
        "truncation bootstrap (Brax off by default, SPO on), weight initialisers.",
        "Under jax 0.10 Brax's pmapped training epoch is compiled twice (first and second epoch) and its eval "
        "unroll is recompiled on some evaluations (10-15 s each on this CPU); Brax's wall time includes that, "
        "SPO's includes its one compilation of chunk_fn and of the evaluation program.",
        "The two sides start from different initial policies (each library's initialisation), hence the "
        "different returns at step 0. SPO seeds run vmapped in one program; a seed's trajectory is not bitwise "
        "identical to the same seed run alone (different batch shapes change float reductions), while Brax runs "
        "are reproducible run to run.",
    ]
    return results, sections, notes


# ----------------------------------------------------------------------------------------

def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--_worker":  # child process of isolated(): one measurement
        _worker_main(argv[1], argv[3])
        return
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device-label", choices=("cpu", "gpu"), default=None,
                   help="picks defaults and the output name (default: from jax.default_backend())")
    p.add_argument("--env", default=None, help="task (default: inverted_pendulum on cpu, hopper on gpu; "
                                               "parity: inverted_double_pendulum on cpu, hopper on gpu)")
    p.add_argument("--backend", default="mjx")
    p.add_argument("--num-envs", type=int, default=None)
    p.add_argument("--unroll-length", type=int, default=None, help="throughput default 5; parity: task preset")
    p.add_argument("--num-minibatches", type=int, default=None, help="throughput default 32; parity: task preset")
    p.add_argument("--num-epochs", type=int, default=None, help="throughput default 4; parity: task preset")
    p.add_argument("--episode-length", type=int, default=1000)
    p.add_argument("--quick", action="store_true", help="small lists and short calls (smoke test)")
    p.add_argument("--no-scaling-raw", action="store_true", help="skip raw stepping in the num_envs scaling")
    p.add_argument("--scale-envs", default=None, help="comma list overriding the num_envs scaling list")
    p.add_argument("--scale-seeds", default=None, help="comma list overriding the num_seeds scaling list")
    p.add_argument("--target-steps", type=int, default=None, help="env steps per timed call")
    p.add_argument("--repeats", type=int, default=None, help="timed calls per measurement")
    p.add_argument("--parity", action="store_true", help="learning-parity mode instead of throughput")
    p.add_argument("--parity-steps", type=int, default=None)
    p.add_argument("--parity-points", type=int, default=None, help="evaluation points including step 0")
    p.add_argument("--parity-seeds", type=int, default=None)
    p.add_argument("--parity-timeout-s", type=int, default=None, help="limit per training process")
    p.add_argument("--eval-episodes", type=int, default=64)
    p.add_argument("--render-from", default=None, metavar="JSON",
                   help="re-write <out>.md/.png of a parity run from its JSON (no measurement)")
    p.add_argument("--out", default=None, help="output stem: writes <out>.json and <out>.md (and <out>.png "
                                                "with --parity); default benchmarks/results/<mode>_<label>")
    args = p.parse_args(argv)

    args.device_label = args.device_label or ("cpu" if jax.default_backend() == "cpu" else "gpu")
    d = dict(DEFAULTS[args.device_label])
    if args.quick:
        d.update(QUICK)
    for name in ("target_steps", "repeats", "parity_steps", "parity_points", "parity_seeds", "parity_timeout_s"):
        if getattr(args, name) is not None:
            d[name] = getattr(args, name)
    if args.scale_envs:
        d["scale_envs"] = tuple(int(x) for x in args.scale_envs.split(","))
    if args.scale_seeds:
        d["scale_seeds"] = tuple(int(x) for x in args.scale_seeds.split(","))
    if args.parity:
        args.env = args.env or d["parity_env"]
        args.num_envs = args.num_envs or d["parity_num_envs"]
    else:
        args.env = args.env or d["env"]
        args.num_envs = args.num_envs or d["num_envs"]
    mode = "parity" if args.parity else "throughput"
    args.out = args.out or os.path.join(HERE, "results", f"{mode}_{args.device_label}")
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)

    if args.render_from:
        with open(args.render_from) as f:
            saved = json.load(f)
        prov, res = saved["provenance"], saved["results"]
        results, sections, notes = parity_report(res, args.out)
        notes = list(notes) + [f"Total wall time of the measured run: {res.get('wall_s_total', float('nan')):.0f} s; "
                               f"load average at end {prov.get('load_avg_at_end')}. Markdown/PNG re-rendered from "
                               "the JSON with --render-from."]
        title = f"SPO vs Brax PPO learning parity ({res['device_label']}, {res['env']}, {res['backend']})"
        _provenance.write_results(args.out, prov, _clean(results), sections, title, notes)
        print(f"re-rendered {args.out}.md/.png from {args.render_from}")
        return

    prov = _provenance.provenance()
    print(f"{mode} on {prov['jax_devices']}; load {prov['load_avg_at_provenance']}", flush=True)
    t0 = time.perf_counter()
    if args.parity:
        results, sections, notes = run_parity(args, d)
        title = f"SPO vs Brax PPO learning parity ({args.device_label}, {args.env}, {args.backend})"
    else:
        results, sections, notes = run_throughput(args, d)
        title = f"Throughput: raw Brax vs barpo_jax SPO vs Brax PPO ({args.device_label}, {args.env}, {args.backend})"
    results["wall_s_total"] = time.perf_counter() - t0
    prov["load_avg_at_end"] = load()
    results = _clean(results)
    notes = list(notes) + [f"Total wall time of this run: {results['wall_s_total']:.0f} s; load average at end "
                           f"{prov['load_avg_at_end']}."]
    js, md = _provenance.write_results(args.out, prov, results, sections, title, notes)
    print(f"wrote {js}, {md}" + (f", {results['png']}" if args.parity else "")
          + f"  (total {results['wall_s_total']:.0f}s)")


if __name__ == "__main__":
    main()
