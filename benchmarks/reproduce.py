"""Reproduce the methods table: every method x task x seed, every attack, one command.

    python -m benchmarks.reproduce --quick                       # 2-core CPU, minutes
    python -m benchmarks.reproduce --tasks hopper walker2d halfcheetah ant --seeds 5 \
        --steps 2e6 --out benchmarks/results/table_gpu               # a GPU

Resumable: each (task, method) trains into OUT/runs/<task>-<method>/ with
checkpoints and is evaluated into robustness_eps<eps>.json there (as `barpo eval`);
a rerun skips what is finished and resumes what was interrupted. The comparison is
`bj.compare` over those run directories (as `barpo compare`): OUT/comparison.{csv,md},
OUT/natural_vs_worst.png and OUT/learning_curves.png, plus OUT/table.{json,md} with
provenance.
"""
from __future__ import annotations

import argparse
import os
import time

import barpo_jax as bj
from barpo_jax import checkpoint
from barpo_jax.cli import _kv, _num
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
    p.add_argument("--train-only", action="store_true",
                   help="train (or resume) every run, evaluate nothing: the long part of a CPU study, run first "
                        "in the background; a later call without it evaluates and writes the table")
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


def train_and_evaluate(a, cfg, run) -> None:
    """Train (or resume) one (task, method) into `run` and evaluate it there, skipping
    what is done already (a report from before reports were named by eps counts)."""
    report_path = os.path.join(run, f"robustness_eps{cfg.eps:g}.json")
    done = [p for p in (report_path, os.path.join(run, "robustness.json")) if os.path.isfile(p)]
    if done:
        print(f"[{cfg.env}/{cfg.algo}] done already ({done[0]})")
        return
    trained = checkpoint.has_checkpoint(run)
    result = bj.load(run) if trained else None
    if result is not None and result.iterations >= cfg.num_iterations:
        print(f"[{cfg.env}/{cfg.algo}] trained already ({result.iterations} iterations)")
    else:
        print(f"[{cfg.env}/{cfg.algo}] {'resuming' if trained else 'training'} {cfg.num_seeds} seeds x "
              f"{cfg.num_timesteps:,} steps")
        result = bj.train(cfg, out=run, resume=trained)
    if a.train_only:
        return
    t0 = time.time()
    report = bj.evaluate(result, attacks=a.attacks, episodes=a.episodes, eps=cfg.eps,
                         learned_timesteps=a.attack_steps or a.steps)
    report.save(report_path)
    report.plot(report_path[:-len(".json")] + ".png")
    print(report.table())
    print(f"  evaluated in {time.time() - t0:.0f}s")


def main(argv=None):
    a = args_parser().parse_args(argv)
    if a.quick:
        a.tasks, a.backend, a.seeds, a.steps, a.episode_length = ["inverted_pendulum"], "spring", 2, 50_000, 200
        a.episodes, a.attack_steps = min(a.episodes, 5), a.attack_steps or 20_000
        a.set = [("num_envs", 256), ("unroll_length", 16), ("num_minibatches", 16)] + a.set
    out = a.out or ("benchmarks/results/table_quick" if a.quick else "benchmarks/results/table")
    os.makedirs(out, exist_ok=True)
    provenance = prov.provenance()
    runs, eps = [], set()
    for task in a.tasks:
        for method in a.methods:
            cfg = config_for(a, task, method)
            run = os.path.join(out, "runs", f"{task}-{method}")
            train_and_evaluate(a, cfg, run)
            runs.append(run)
            eps.add(cfg.eps)
    if a.train_only:
        print(f"trained: {', '.join(runs)}")
        return
    comparison = bj.compare(runs, out=out)
    headers, rows = comparison.cells()
    budget = (f"{a.seeds} seeds per method, {a.steps:,} env steps per seed, backend {a.backend}, episode length "
              f"{a.episode_length}, {a.episodes} evaluation episodes per cell, learned attacks trained for "
              f"{a.attack_steps or a.steps:,} steps, eps = {', '.join(f'{e:g}' for e in sorted(eps))} in training "
              "(ramped) and evaluation")
    prov.write_results(os.path.join(out, "table"), provenance, {r["run"]: r for r in comparison.rows},
                       [("Each method: median agent (the lineage's protocol) and IQM over seeds", headers, rows,
                         budget + ". " + comparison.note())],
                       "SPO / ARPO / BARPO and baselines under every attack",
                       notes=["Per-seed and per-attack numbers are in runs/*/robustness_eps*.json; "
                              "comparison.csv holds the table's numbers; natural_vs_worst.png plots each seed, "
                              "learning_curves.png the training curves (`barpo compare` writes the same)."])
    print(open(os.path.join(out, "table.md")).read())


if __name__ == "__main__":
    main()
