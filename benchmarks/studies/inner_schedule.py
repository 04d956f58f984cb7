"""BARPO's inner-solve schedules: training speed, and the return and worst case after a
short training.

    python -m benchmarks.studies.inner_schedule [--envs inverted_pendulum hopper] [--backend positional]
                                        [--train-steps 50000] [--out benchmarks/results/inner_schedule_cpu]

"minibatch" (the default, the lineage's) solves the inner level (K = 10 sign-gradient
steps) for every minibatch of every epoch; "epoch" once per epoch on the whole batch;
"rollout" once per iteration before the epochs. Speed: `Trainer.chunk_fn` steps/s of
one seed, compile excluded, the schedules (and SPO, for scale) timed in turn, round
after round, median call. Robustness: `bj.train` for --train-steps (--train-seeds seeds in
one program), then `bj.evaluate(result, attacks=['random', 'critic', 'mad', 'flip'])` at the
strong default strength; the median agent's natural return and worst case.
"""
from __future__ import annotations

import argparse
import statistics
import time

import jax
import numpy as np

import barpo_jax as bj
from barpo_jax.config import hyperparams
from barpo_jax.learner import Trainer

from benchmarks import _provenance as prov

SCHEDULES = ("minibatch", "epoch", "rollout")
ATTACKS = ["random", "critic", "mad", "flip"]


def speed(cfgs: dict, iterations: int, rounds: int) -> dict:
    programs = {}
    for name, cfg in cfgs.items():
        tr = Trainer(cfg)
        args = (tr.init_runs([0]), hyperparams(cfg, 1))
        fn = tr.chunk_fn(iterations)
        t = time.perf_counter()
        jax.block_until_ready(fn(*args))
        programs[name] = (fn, args, time.perf_counter() - t, iterations * cfg.batch_size)
    times = {name: [] for name in programs}
    for _ in range(rounds):
        for name, (fn, args, _, _) in programs.items():
            t = time.perf_counter()
            jax.block_until_ready(fn(*args))
            times[name].append(time.perf_counter() - t)
    return {name: {"sps": programs[name][3] / statistics.median(ts), "call_s": ts,
                   "compile_plus_first_s": programs[name][2]} for name, ts in times.items()}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--envs", nargs="+", default=["inverted_pendulum", "hopper"])
    p.add_argument("--backend", default="positional")
    p.add_argument("--iterations", type=int, default=1, help="iterations per timed call")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--train-steps", type=int, default=0, help="0: speed only")
    p.add_argument("--train-envs", nargs="*", default=None, help="tasks to train/evaluate (default: --envs)")
    p.add_argument("--episodes", type=int, default=5)
    p.add_argument("--train-seeds", type=int, default=3)
    p.add_argument("--eps", type=float, default=None, help="evaluation eps (default: the task preset)")
    p.add_argument("--skip-speed", action="store_true")
    p.add_argument("--out", default="benchmarks/results/inner_schedule_cpu")
    a = p.parse_args(argv)
    pv = prov.provenance()
    results, speed_rows, robust_rows = {}, [], []
    for env in [] if a.skip_speed else a.envs:
        base = bj.TrainConfig(env=env, backend=a.backend, algo="barpo", eps_ramp_fraction=0.0)
        cfgs = {"spo": base.replace(algo="spo"), **{s: base.replace(inner_schedule=s) for s in SCHEDULES}}
        load = prov.load_averages()
        sp = speed(cfgs, a.iterations, a.rounds)
        results[env] = {"speed": sp, "load_before": load, "load_after": prov.load_averages(),
                        "ppo": {k: getattr(base, k) for k in ("num_envs", "unroll_length", "num_minibatches",
                                                              "num_epochs", "inner_steps")}}
        for name, r in sp.items():
            speed_rows.append([env, name, round(r["sps"]), r["sps"] / sp["minibatch"]["sps"],
                               r["sps"] / sp["spo"]["sps"], f"{load[0]} -> {results[env]['load_after'][0]}"])
            print(" | ".join(map(str, speed_rows[-1])), flush=True)
    for env in (a.train_envs if a.train_envs is not None else a.envs) if a.train_steps else []:
        for name in SCHEDULES:
            cfg = bj.TrainConfig(env=env, backend=a.backend, algo="barpo", inner_schedule=name,
                                 num_timesteps=a.train_steps, num_seeds=a.train_seeds)
            t = time.perf_counter()
            r = bj.train(cfg, progress=False)
            wall = time.perf_counter() - t
            rep = bj.evaluate(r, attacks=ATTACKS, eps=a.eps, episodes=a.episodes, progress=False)
            m = rep.median_agent
            nat, worst = float(np.median(rep.natural)), float(rep.worst_case[m])
            results.setdefault(env, {}).setdefault("robust", {})[name] = {
                "train_wall_s": wall, "natural_median": nat, "worst_case_median_agent": worst, "table": rep.to_dict()}
            robust_rows.append([env, name, a.train_steps, a.train_seeds, round(wall), round(nat, 1), round(worst, 1),
                                " / ".join(f"{x:.1f}" for x in rep.worst_case), "; ".join(rep.flags()) or "-"])
            print(" | ".join(map(str, robust_rows[-1])), flush=True)
    sections = [("Training steps/s by inner schedule (BARPO, K = 10, one seed)",
                 ["env", "schedule", "steps/s", "÷ minibatch", "÷ SPO", "load 1-min before -> after"], speed_rows,
                 f"backend {a.backend}, the task's CPU preset PPO settings, eps ramp off, {a.iterations} iteration(s) "
                 f"per timed call, median of {a.rounds} interleaved rounds, compile excluded.")]
    if robust_rows:
        sections.append(("Natural return and worst case after a short training",
                         ["env", "schedule", "train steps", "seeds", "train wall s (incl. compile)",
                          "natural (median)", "worst case (median agent)", "worst case per seed", "flags"],
                         robust_rows,
                         f"{a.episodes} episodes per attack; eps = {a.eps if a.eps is not None else 'the task preset'};"
                         f" attacks {', '.join(ATTACKS)} at the strong default strength, with the masking check. "
                         f"Attacks as in commit {pv.get('git_commit')}."))
    prov.write_results(a.out, pv, results, sections, "BARPO inner-solve schedules")


if __name__ == "__main__":
    main()
