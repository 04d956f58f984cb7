"""Does a trained locomotion agent walk? Survival and distance of its deterministic policy.

A return alone can hide a policy that stands still for 1000 steps; this prints, per
seed, the return, the steps survived and the torso's forward displacement over
`--episodes` fresh episodes, and writes them next to the run (`<run>/gait.json`), or with
provenance to `--out <stem>.json/.md`.

    python -m benchmarks.studies.gait runs/presets/hopper-lineage
"""
from __future__ import annotations

import argparse
import json
import os

import jax
import jax.numpy as jnp
import numpy as np

import barpo_jax as bj
from barpo_jax.envs import VecEnv
from benchmarks._provenance import provenance, write_results


def gait(run_dir: str, episodes: int = 4, seed: int = 7) -> list:
    result = bj.load(run_dir)
    cfg = result.config
    env = VecEnv(cfg.env, cfg.backend, episodes, cfg.episode_length)
    rows = []
    for i in range(result.num_runs):
        policy = result.policy(i)

        def episode(key, policy=policy):
            state = env.reset(key)
            x0 = state.inner.pipeline_state.x.pos[:, 0, 0]

            def step(carry, _):
                state, alive, ret, steps, x = carry
                # The torso's place before the step: the step that ends an episode auto-resets
                # the env, so the state after it is already the next episode's start.
                x = jnp.where(alive > 0, state.inner.pipeline_state.x.pos[:, 0, 0], x)
                state, out = env.step(state, policy(state.inner.obs))
                ret = ret + alive * out.reward
                steps = steps + alive
                alive = alive * (1.0 - out.terminated - out.truncated)
                return (state, alive, ret, steps, x), None

            z = jnp.zeros(episodes)
            (_, _, ret, steps, x), _ = jax.lax.scan(step, (state, z + 1, z, z, x0), None, cfg.episode_length)
            return ret, steps, x - x0

        ret, steps, dx = (np.asarray(v) for v in jax.jit(episode)(jax.random.PRNGKey(seed)))
        dt = float(env.env.dt)
        rows.append({"run": i, "return": ret.tolist(), "steps_survived": steps.tolist(),
                     "forward_m": dx.tolist(), "mean_speed_m_per_s": float(np.mean(dx / (steps * dt)))})
        print(f"run {i}: return {ret.mean():8.1f}  survived {steps.mean():6.0f}/{cfg.episode_length} steps  "
              f"forward {dx.mean():6.2f} m  ({rows[-1]['mean_speed_m_per_s']:.2f} m/s)", flush=True)
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run")
    p.add_argument("--episodes", type=int, default=4)
    p.add_argument("--out", default=None, help="result stem (.json, .md) with provenance; default <run>/gait.json")
    a = p.parse_args(argv)
    prov = provenance()
    rows = gait(a.run, a.episodes)
    if a.out is None:
        with open(os.path.join(a.run, "gait.json"), "w") as f:
            json.dump(rows, f, indent=2)
        return
    cfg = bj.load(a.run).config
    table = [[r["run"], f"{np.mean(r['return']):.0f}", f"{np.mean(r['steps_survived']):.0f} / {cfg.episode_length}",
              f"{np.mean(r['forward_m']):.2f}", f"{r['mean_speed_m_per_s']:.2f}"] for r in rows]
    write_results(a.out, prov, {"run": a.run, "env": cfg.env, "backend": cfg.backend, "episodes": a.episodes,
                                "rows": rows},
                  [(f"{cfg.env} on {cfg.backend}: deterministic policy, {a.episodes} fresh episodes per seed",
                    ["seed", "mean return", "steps survived (mean)", "forward m (mean)", "m/s"], table)],
                  f"Gait of {os.path.basename(os.path.normpath(a.run))}")


if __name__ == "__main__":
    main()
