"""Where a long study stands, as a committable snapshot of its git-ignored run directories.

    python -m benchmarks.study_status runs/table_hopper_cpu --dest benchmarks/results/table_hopper_cpu

A study trained by `benchmarks/studies/reproduce.py` (or kappa_study.py) spans sessions. Its
checkpoints stay in the git-ignored OUT/runs/ (benchmarks/carry.py carries them to the next
session). This writes what a reader needs into DEST, all small files:
- `status.{json,md}` with provenance: per run, the iterations done, the final training
  return per seed, and the median agent's natural and worst return once it is evaluated;
- each run's `config.json`, and its robustness reports;
- `comparison.{csv,md}` and the plots of `bj.compare` over every run. A run without a
  report enters the comparison with its final training return.
"""
from __future__ import annotations

import argparse
import glob
import os
import shutil

import numpy as np

import barpo_jax as bj
from barpo_jax.compare import final_returns
from barpo_jax import checkpoint
from barpo_jax.checkpoint import read_config
from barpo_jax.evaluate import PARTIAL_SUFFIX
from benchmarks import _provenance as prov
from benchmarks.studies.reproduce import CLAIM_HEADERS, CLAIM_NOTES, CLAIM_RULE, claim_rows


def run_status(run: str, scores) -> dict:
    """One run directory's progress: its config and metrics, and from `scores` (the
    comparison's reading of the run, `compare.RunScores`) the evaluated median agent.
    A run that kept only its config and report (its agents lost with an earlier
    session's runs/, see benchmarks/carry.py) has no iterations or training return."""
    cfg = read_config(run)
    status = {"run": os.path.basename(run), "algo": cfg.algo, "env": cfg.env, "seeds": cfg.num_seeds,
              "iterations": None, "of": cfg.num_iterations, "final_training_return": None,
              "reports": _reports(run)}
    episode_return = (checkpoint.read_metrics(run) or {}).get("episode_return")
    if episode_return is not None:
        status.update(iterations=int(episode_return.shape[1]),
                      final_training_return=[round(float(x), 1) for x in final_returns(episode_return)])
    if np.isfinite(scores.worst).all():  # the comparison read a robustness report
        m = scores.median_agent
        status.update(eps=scores.eps, natural_median_agent=float(scores.natural[m]),
                      worst_median_agent=float(scores.worst[m]))
    return status


def _reports(run: str) -> list:
    """A run's robustness reports; an unfinished evaluation is not a report."""
    return [os.path.basename(p) for p in sorted(glob.glob(os.path.join(run, "robustness_eps*.json")))
            if not p.endswith(PARTIAL_SUFFIX)]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("out", help="the study's --out directory (it holds runs/)")
    p.add_argument("--dest", required=True, help="where to write the snapshot (under benchmarks/results/)")
    a = p.parse_args(argv)
    runs = sorted(d for d in glob.glob(os.path.join(a.out, "runs", "*"))
                  if os.path.isfile(os.path.join(d, "metrics.json")) or _reports(d))
    if not runs:
        raise SystemExit(f"study_status: error: no trained runs under {a.out}/runs (train first)")
    provenance = prov.provenance()
    comparison = bj.compare(runs, out=a.dest)
    rows = [run_status(r, scores) for r, scores in zip(runs, comparison.runs)]
    for run in runs:
        keep = os.path.join(a.dest, os.path.basename(run))
        os.makedirs(keep, exist_ok=True)
        for path in [os.path.join(run, "config.json")] + glob.glob(os.path.join(run, "robustness_eps*")):
            shutil.copy2(path, keep)
    cells = [[r["run"], f"{r['iterations']} / {r['of']}" if r["iterations"] is not None else f"- / {r['of']}",
              " / ".join(f"{x:.0f}" for x in r["final_training_return"]) if r["final_training_return"] else "-",
              f"{r['natural_median_agent']:.1f}" if "natural_median_agent" in r else "-",
              f"{r['worst_median_agent']:.1f}" if "worst_median_agent" in r else "-"] for r in rows]
    tables = [("Runs", ["run", "iterations done", "final training return per seed", "natural (median agent)",
                        "worst (median agent)"], cells,
               "Final training return: the mean of the last 10 % of iterations in which an episode ended "
               "(stochastic policy, training episodes). Natural and worst: the run's robustness report, the worst case over the attacks it holds "
               "(deterministic policy), '-' until it is evaluated. Iterations and training return '-': only the run's "
               "config and report were kept (benchmarks/carry.py).")]
    claims = claim_rows(comparison)  # the claims whose two methods are both evaluated so far
    if claims:
        tables.append(("The paper's claims so far (evaluated methods only)", CLAIM_HEADERS, claims,
                       "As in reproduce.py's claims.md; a claim appears once both of its methods are evaluated.",
                       CLAIM_RULE))
    prov.write_results(os.path.join(a.dest, "status"), provenance, {"runs": rows, "claims": claims}, tables,
                       f"Study status: {a.out}",
                       notes=["comparison.md / natural_vs_worst.png / learning_curves.png: `bj.compare` over these "
                              "runs; each run's config.json and robustness reports are in its folder."] + CLAIM_NOTES)
    print(open(os.path.join(a.dest, "status.md")).read())


if __name__ == "__main__":
    main()
