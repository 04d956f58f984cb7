"""A kappa x eps grid trained as one program vs the same grid run serially.

    python -m benchmarks.speed.sweep_speedup [--steps 40000] [--out ...]

Both sides train the same runs (same configs, seeds and steps); the serial side
calls `bj.train` once per grid point, as a user looping in Python would. Float
hyper-parameters are data, so the serial calls reuse one compiled program too: the
difference measured is batching (vmap over runs) against a Python loop, compile
included on both sides. On a device with idle parallel capacity (a GPU) batching
wins; on a saturated 2-core CPU it cannot.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import barpo_jax as bj
from benchmarks import _provenance as prov


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--env", default="inverted_pendulum")
    p.add_argument("--backend", default="spring")
    p.add_argument("--steps", type=int, default=40_000)
    p.add_argument("--kappa", type=float, nargs="+", default=[0.0, 0.5, 1.0, 2.0])
    p.add_argument("--eps", type=float, nargs="+", default=[0.1, 0.3])
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--out", default="benchmarks/results/sweep_speedup_cpu")
    a = p.parse_args()
    pv = prov.provenance()
    cfg = bj.TrainConfig(env=a.env, algo="barpo", backend=a.backend, num_timesteps=a.steps, num_envs=128,
                         unroll_length=16, num_minibatches=8, episode_length=200, chunk_iterations=5)
    t0 = time.perf_counter()
    sw = bj.sweep(cfg, seeds=a.seeds, kappa=a.kappa, eps=a.eps, progress=False)
    t_sweep = time.perf_counter() - t0
    t0 = time.perf_counter()
    serial = []
    for g in sw.grid:
        r = bj.train(cfg.replace(num_seeds=a.seeds, **g), progress=False)
        serial.append(np.nanmean(r.metrics["episode_return"][:, -3:], axis=1))
    t_serial = time.perf_counter() - t0
    n = len(sw.grid)
    print(f"{n} grid points x {a.seeds} seeds: one program {t_sweep:.1f}s, serial {t_serial:.1f}s, "
          f"speed-up {t_serial / t_sweep:.2f}x")
    print(sw.table())
    res = {"grid_points": n, "seeds": a.seeds, "one_program_s": t_sweep, "serial_s": t_serial,
           "speedup": t_serial / t_sweep, "final_returns_sweep": sw.final_returns().tolist()}
    prov.write_results(a.out, pv, res, [("Wall-clock, compile included", ["grid points", "seeds", "one program s",
                                                                          "serial s", "speed-up"],
                                         [[n, a.seeds, round(t_sweep, 1), round(t_serial, 1),
                                           round(t_serial / t_sweep, 2)]],
                                         f"BARPO on {a.env} ({a.backend}), {a.steps:,} steps per run, "
                                         f"kappa {a.kappa} x eps {a.eps}.\n\n" + sw.table())],
                       "Sweep as one program vs serial")


if __name__ == "__main__":
    main()
