"""Raw Brax stepping speed per physics backend (random actions, auto-reset, jitted scan).

    python benchmarks/backends.py [--tasks inverted_pendulum hopper] [--num-envs 256] [--out ...]

The measured grounds for the backend choice in the README: `mjx` stays the default
(MuJoCo's own physics); CPU tests and the demo use the fastest backend measured here.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import jax

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from barpo_jax.config import BACKENDS  # noqa: E402
from barpo_jax.envs import VecEnv  # noqa: E402

import _provenance as prov  # noqa: E402


def measure(task, backend, num_envs, steps):
    env = VecEnv(task, backend, num_envs, 1000)

    @jax.jit
    def run(state, key):
        def body(s, k):
            a = jax.random.uniform(k, (num_envs, env.action_size), minval=-1.0, maxval=1.0)
            return env.step(s, a)[0], ()
        return jax.lax.scan(body, state, jax.random.split(key, steps))[0]

    state = env.reset(jax.random.PRNGKey(0))
    t0 = time.perf_counter()
    state = jax.block_until_ready(run(state, jax.random.PRNGKey(1)))
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    jax.block_until_ready(run(state, jax.random.PRNGKey(2)))
    return num_envs * steps / (time.perf_counter() - t0), compile_s


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tasks", nargs="+", default=["inverted_pendulum", "hopper"])
    p.add_argument("--backends", nargs="+", default=list(BACKENDS))
    p.add_argument("--num-envs", type=int, default=256)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--out", default="benchmarks/results/backends_cpu")
    a = p.parse_args()
    pv = prov.provenance()
    rows, results = [], {}
    for task in a.tasks:
        for backend in a.backends:
            la = prov.load_averages()
            sps, comp = measure(task, backend, a.num_envs, a.steps)
            rows.append([task, backend, a.num_envs, round(sps), round(comp, 1), la])
            results[f"{task}/{backend}"] = {"steps_per_s": sps, "compile_s": comp, "load_avg_before": la}
            print(f"{task:20s} {backend:12s} {sps:10,.0f} steps/s  (compile {comp:.1f}s)", flush=True)
    prov.write_results(a.out, pv, results,
                       [("Raw stepping, random actions", ["task", "backend", "num_envs", "steps/s",
                                                          "compile s", "load avg before"], rows)],
                       "Brax backends: raw stepping speed")


if __name__ == "__main__":
    main()
