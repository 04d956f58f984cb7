"""Reproduce the methods table: every method x task x seed, every attack, one command.

    python -m benchmarks.reproduce --quick                       # 2-core CPU, minutes
    python -m benchmarks.reproduce --tasks hopper walker2d halfcheetah ant --seeds 5 \
        --steps 2e6 --out benchmarks/results/table_gpu               # a GPU

Resumable: each (task, method) trains into OUT/runs/<task>-<method>/ with
checkpoints and is evaluated into robustness.json there; a rerun skips what is
finished and resumes what was interrupted. Writes OUT/table.{json,md} (with
provenance) and OUT/table.png.
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np

import barpo_jax as bj
from barpo_jax import checkpoint
from barpo_jax.cli import _kv, _num
from barpo_jax.evaluate import RobustnessReport
from barpo_jax.plots import finish, subplots
from benchmarks import _provenance as prov


def args_parser():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tasks", nargs="+", default=["inverted_double_pendulum"])
    p.add_argument("--methods", nargs="+", default=list(bj.ALGOS))
    p.add_argument("--seeds", type=_num, default=5)
    p.add_argument("--steps", type=_num, default=1_000_000, help="env steps per seed")
    p.add_argument("--envs", type=_num, default=None, help="parallel envs per seed (default: task preset)")
    p.add_argument("--backend", default="mjx")
    p.add_argument("--episode-length", type=_num, default=1000)
    p.add_argument("--episodes", type=_num, default=50)
    p.add_argument("--attacks", default="all")
    p.add_argument("--attack-steps", type=_num, default=None, help="learned-attack budget (default: --steps)")
    p.add_argument("--set", type=_kv, action="append", default=[], metavar="FIELD=VALUE",
                   help="extra TrainConfig fields for every run")
    p.add_argument("--quick", action="store_true",
                   help="a small CPU setting: inverted_pendulum, spring, 2 seeds, 50k steps, 200-step episodes, 5 eval "
                   "episodes, learned attacks 20k steps")
    p.add_argument("--out", default=None)
    return p


def config_for(a, task, method):
    extra = dict(a.set)  # (field, value) pairs parsed by the CLI's --set parser
    fields = dict(env=task, algo=method, backend=a.backend, num_timesteps=a.steps, num_seeds=a.seeds,
                  episode_length=a.episode_length, chunk_iterations=10)
    if a.envs:
        fields["num_envs"] = a.envs
    fields.update(extra)
    return bj.TrainConfig(**fields)


def main(argv=None):
    a = args_parser().parse_args(argv)
    if a.quick:
        a.tasks, a.backend, a.seeds, a.steps, a.episode_length = ["inverted_pendulum"], "spring", 2, 50_000, 200
        a.episodes, a.attack_steps = min(a.episodes, 5), a.attack_steps or 20_000
        a.set = [("num_envs", 256), ("unroll_length", 16), ("num_minibatches", 16)] + a.set
    out = a.out or ("benchmarks/results/table_quick" if a.quick else "benchmarks/results/table")
    os.makedirs(out, exist_ok=True)
    provenance = prov.provenance()
    rows, results = [], {}
    for task in a.tasks:
        for method in a.methods:
            cfg = config_for(a, task, method)
            run = os.path.join(out, "runs", f"{task}-{method}")
            rpath = os.path.join(run, "robustness.json")
            t0 = time.time()
            if os.path.isfile(rpath):  # trained and evaluated already
                print(f"[{task}/{method}] done already ({rpath})")
                report = RobustnessReport.load(rpath)
            else:
                done = checkpoint.has_checkpoint(run)
                result = bj.load(run) if done else None
                if result is not None and result.iterations >= cfg.num_iterations:
                    print(f"[{task}/{method}] trained already ({result.iterations} iterations)")
                else:
                    print(f"[{task}/{method}] {'resuming' if done else 'training'} {cfg.num_seeds} seeds x "
                          f"{cfg.num_timesteps:,} steps")
                    result = bj.train(cfg, out=run, resume=done)
                t1 = time.time()
                report = bj.evaluate(result, attacks=a.attacks, episodes=a.episodes, eps=cfg.eps,
                                     learned_timesteps=a.attack_steps or a.steps)
                report.save(rpath)
                report.plot(os.path.join(run, "robustness.png"))
                print(f"  evaluated in {time.time() - t1:.0f}s")
            train_s = time.time() - t0
            m = report.median_agent
            results[f"{task}/{method}"] = {**report.to_dict(), "seconds_this_call": train_s}
            rows.append([task, method] + [float(report.returns[m, j]) for j in range(len(report.attacks))]
                        + [float(report.worst_case[m]), float(np.median(report.worst_case)),
                           float(np.mean(report.natural))])
            print(report.table())
    attacks_cols = ["natural" if x == "none" else x for x in report.attacks]
    headers = ["task", "method"] + attacks_cols + ["worst (median agent)", "median worst over seeds",
                                                     "mean natural over seeds"]
    budget = (f"{a.seeds} seeds per method, {a.steps:,} env steps per seed, backend {a.backend}, episode length "
              f"{a.episode_length}, {a.episodes} evaluation episodes per cell, learned attacks trained for "
              f"{a.attack_steps or a.steps:,} steps, eps = {cfg.eps:g} in training (ramped) and evaluation")
    prov.write_results(os.path.join(out, "table"), provenance, results,
                       [("Median agent per method (the lineage's protocol)", headers, rows, budget)],
                       "SPO / ARPO / BARPO and baselines under every attack",
                       notes=["Cells are the median agent's mean episode return (the seed whose worst case is "
                              "the median); per-seed numbers are in table.json and runs/*/robustness.json."])
    plot(rows, a.tasks, os.path.join(out, "table.png"))
    print(open(os.path.join(out, "table.md")).read())


def plot(rows, tasks, path):
    fig, axes = subplots(path, nrows=1, ncols=len(tasks), figsize=(7 * len(tasks), 3.8), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        r = [row for row in rows if row[0] == task]
        x = np.arange(len(r))
        ax.bar(x - 0.2, [row[2] for row in r], 0.4, label="natural (median agent)")
        ax.bar(x + 0.2, [row[-3] for row in r], 0.4, label="worst case (median agent)")
        ax.set_xticks(x, [row[1] for row in r], rotation=30, ha="right")
        ax.set_title(task)
        ax.set_ylabel("episode return")
        ax.legend(fontsize=8)
    finish(fig, path)


if __name__ == "__main__":
    main()
