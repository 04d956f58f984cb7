"""Raw Brax stepping speed per physics backend (random actions, auto-reset, jitted scan).

    python -m benchmarks.speed.backends [--tasks inverted_pendulum hopper] [--num-envs 256] [--out ...]

The measured grounds for the backend choice in the README: `mjx` stays the default
(MuJoCo's own physics); CPU tests and the demo use the fastest backend measured here.
"""
from __future__ import annotations

import argparse

from barpo_jax.config import BACKENDS
from benchmarks import _provenance as prov
from benchmarks import rates


def measure(task, backend, num_envs, steps):
    """(steps/s of one timed call, compile s): `steps` steps of every env in one program."""
    r = rates.raw_stepping(task, backend, num_envs, 1000, num_envs * steps, repeats=1)
    return r["sps_median"], r["compile_s"]


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
