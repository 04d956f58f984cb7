"""Where a long study stands, as a committable snapshot of its git-ignored run directories.

    python -m benchmarks.study_status runs/table_hopper_cpu --dest benchmarks/results/table_hopper_cpu

A study trained by `benchmarks/reproduce.py` (or kappa_study.py) spans sessions. Its
checkpoints are large and stay in the git-ignored OUT/runs/. This writes what a reader
needs into DEST, all small files:
- `status.{json,md}` with provenance: per run, the iterations done, the final training
  return per seed, and the median agent's natural and worst return once it is evaluated;
- each run's `config.json`, and its robustness reports;
- `comparison.{csv,md}` and the plots of `bj.compare` over every run. A run without a
  report enters the comparison with its final training return.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import shutil

import numpy as np

import barpo_jax as bj
from barpo_jax.compare import final_returns
from barpo_jax.config import TrainConfig
from benchmarks import _provenance as prov


def run_status(run: str) -> dict:
    """One run directory's progress, from its config, metrics and reports."""
    with open(os.path.join(run, "config.json")) as f:
        cfg = TrainConfig.from_dict(json.load(f))
    with open(os.path.join(run, "metrics.json")) as f:
        episode_return = np.asarray(json.load(f)["episode_return"], float)
    reports = sorted(glob.glob(os.path.join(run, "robustness_eps*.json")))
    status = {"run": os.path.basename(run), "algo": cfg.algo, "env": cfg.env, "seeds": cfg.num_seeds,
              "iterations": int(episode_return.shape[1]), "of": cfg.num_iterations,
              "final_training_return": [round(float(x), 1) for x in final_returns(episode_return)],
              "reports": [os.path.basename(p) for p in reports]}
    if reports:
        rep = bj.RobustnessReport.load(reports[-1])
        m = rep.median_agent
        status.update(eps=rep.eps, natural_median_agent=float(rep.natural[m]),
                      worst_median_agent=float(rep.worst_case[m]))
    return status


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("out", help="the study's --out directory (it holds runs/)")
    p.add_argument("--dest", required=True, help="where to write the snapshot (under benchmarks/results/)")
    a = p.parse_args(argv)
    runs = sorted(d for d in glob.glob(os.path.join(a.out, "runs", "*")) if os.path.isfile(os.path.join(d, "metrics.json")))
    if not runs:
        raise SystemExit(f"study_status: error: no trained runs under {a.out}/runs (train first)")
    provenance = prov.provenance()
    rows = [run_status(r) for r in runs]
    for run in runs:
        keep = os.path.join(a.dest, os.path.basename(run))
        os.makedirs(keep, exist_ok=True)
        for path in [os.path.join(run, "config.json")] + glob.glob(os.path.join(run, "robustness_eps*")):
            shutil.copy2(path, keep)
    bj.compare(runs, out=a.dest)
    cells = [[r["run"], f"{r['iterations']} / {r['of']}", " / ".join(f"{x:.0f}" for x in r["final_training_return"]),
              f"{r['natural_median_agent']:.1f}" if "natural_median_agent" in r else "-",
              f"{r['worst_median_agent']:.1f}" if "worst_median_agent" in r else "-"] for r in rows]
    prov.write_results(os.path.join(a.dest, "status"), provenance, {"runs": rows},
                       [("Runs", ["run", "iterations done", "final training return per seed",
                                  "natural (median agent)", "worst (median agent)"], cells,
                         "Final training return: the mean of the last 10 % of iterations in which an episode ended "
                         "(stochastic policy, training episodes). Natural and worst: the run's robustness report "
                         "(deterministic policy), '-' until it is evaluated.")],
                       f"Study status: {a.out}",
                       notes=["comparison.md / natural_vs_worst.png / learning_curves.png: `bj.compare` over these "
                              "runs; each run's config.json and robustness reports are in its folder."])
    print(open(os.path.join(a.dest, "status.md")).read())


if __name__ == "__main__":
    main()
