"""Training speed of every method relative to SPO, in one run on one device.

    python -m benchmarks.speed.methods_speed [--env hopper --backend mjx --num-envs 2048] [--out ...]

Each method's chunk program is compiled ahead of time, run once untimed, then timed
over one call (`rates.training`); compile time is reported separately. K (inner steps) is the config default (10).
Every `bj.ALGOS` entry is measured by default, the certified methods (`radial_ppo`: one IBP
pass per minibatch, no inner solve; `wocar_ppo`: SGLD KL solve + IBP + 10 worst-action
steps on its extra head) included; `--methods` picks a subset.
"""
from __future__ import annotations

import argparse

import barpo_jax as bj
from benchmarks import _provenance as prov
from benchmarks import rates


def steps_per_second(cfg, iterations):
    """(env steps/s of all seeds over one timed call, compile s)."""
    r = rates.training(cfg, iterations, repeats=1)
    return r["sps_median"], r["compile_s"]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--env", default="inverted_pendulum")
    p.add_argument("--backend", default="spring")
    p.add_argument("--num-envs", type=int, default=256)
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--iterations", type=int, default=4)
    p.add_argument("--methods", nargs="+", default=list(bj.ALGOS))
    p.add_argument("--out", default="benchmarks/results/methods_speed_cpu")
    a = p.parse_args()
    pv = prov.provenance()
    rows, results = [], {}
    for algo in a.methods:
        cfg = bj.TrainConfig(env=a.env, algo=algo, backend=a.backend, num_envs=a.num_envs, num_seeds=a.seeds,
                             num_timesteps=a.num_envs * 16 * 100, unroll_length=16, num_minibatches=16,
                             num_epochs=4, eps_ramp_fraction=0.0)
        la = prov.load_averages()
        sps, comp = steps_per_second(cfg, a.iterations)
        results[algo] = {"steps_per_s": sps, "compile_s": comp, "load_avg_before": la}
        print(f"{algo:16s} {sps:12,.0f} steps/s  compile {comp:.1f}s", flush=True)
    spo = results.get("spo", {}).get("steps_per_s")
    for algo, r in results.items():
        r["ratio_to_spo"] = r["steps_per_s"] / spo if spo else None
        rows.append([algo, round(r["steps_per_s"]), r["ratio_to_spo"], round(r["compile_s"], 1), r["load_avg_before"]])
    settings = (f"env {a.env}, backend {a.backend}, {a.num_envs} envs x {a.seeds} seed(s), unroll 16, 16 minibatches, "
                f"4 epochs, K = 10 inner steps, {a.iterations} timed iterations after one compile call")
    prov.write_results(a.out, pv, results, [("Training steps/s by method", ["method", "steps/s", "÷ SPO", "compile s",
                                                                            "load avg before"], rows, settings)],
                       "Training speed of every method relative to SPO")


if __name__ == "__main__":
    main()
