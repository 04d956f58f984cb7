"""Where a long study stands, as a committable snapshot of its git-ignored run directories.

    python -m benchmarks.study_status runs/table_hopper_cpu --dest benchmarks/results/table_hopper_cpu

A study trained by `benchmarks/studies/reproduce.py` (or kappa_study.py) spans sessions. Its
checkpoints stay in the git-ignored OUT/runs/ (benchmarks/carry.py carries them to the next
session). This writes what a reader needs into DEST, all small files:
- `status.{json,md}` with provenance: per method (one run, or several that differ only in
  their seeds, pooled), the iterations done, the final training
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
from barpo_jax.compare import final_returns, group_runs, read_pooled
from barpo_jax.config import ConfigError
from barpo_jax import checkpoint
from barpo_jax.checkpoint import read_config
from barpo_jax.evaluate import PARTIAL_SUFFIX
from benchmarks import _provenance as prov
from benchmarks.studies.reproduce import CLAIM_HEADERS, CLAIM_NOTES, CLAIM_RULE, claim_rows


def run_status(runs: list, scores) -> dict:
    """One method's progress, over the run directories that hold its seeds (usually one;
    more when seeds were added in a second program, `compare.group_runs`): its config and
    metrics, and from `scores` (the comparison's reading, `compare.RunScores`) the
    evaluated median agent. A run that kept only its config and report (its agents lost
    with an earlier session's runs/, see benchmarks/carry.py) has no iterations or
    training return."""
    cfg = read_config(runs[0])
    status = {"run": " + ".join(os.path.basename(r) for r in runs), "algo": cfg.algo, "env": cfg.env,
              "seeds": len(scores.seeds), "iterations": None, "of": cfg.num_iterations,
              "final_training_return": None, "reports": sorted({p for r in runs for p in _reports(r)})}
    returns = [(checkpoint.read_metrics(r) or {}).get("episode_return") for r in runs]
    if all(r is not None for r in returns):
        status.update(iterations=min(int(r.shape[1]) for r in returns),
                      final_training_return=[round(float(x), 1) for r in returns for x in final_returns(r)])
    if np.isfinite(scores.worst).all():  # the comparison read a robustness report
        m = scores.median_agent
        status.update(eps=scores.eps, natural_median_agent=float(scores.natural[m]),
                      worst_median_agent=float(scores.worst[m]))
    return status


def _methods(runs: list) -> list:
    """The runs as methods: runs that differ only in their seeds pool into one (seeds added
    in a second program), once they are evaluated alike; until then each stands alone."""
    methods = []
    for group in group_runs(runs):
        try:
            read_pooled(group)
            methods.append(group)
        except ConfigError as e:
            print(f"study_status: {' and '.join(map(os.path.basename, group))} listed separately ({e})")
            methods.extend([run] for run in group)
    return methods


def _reports(run: str) -> list:
    """A run's robustness reports; an unfinished evaluation is not a report."""
    return [os.path.basename(p) for p in sorted(glob.glob(os.path.join(run, "robustness_eps*.json")))
            if not p.endswith(PARTIAL_SUFFIX)]


def keep_reports(run: str, dest: str) -> None:
    """A run's config.json and robustness reports copied into DEST/<run's name>: what a
    reader needs of it, small enough to commit (an unfinished evaluation's partial report
    is not one)."""
    keep = os.path.join(dest, os.path.basename(os.path.normpath(run)))
    os.makedirs(keep, exist_ok=True)
    reports = [p for p in glob.glob(os.path.join(run, "robustness_eps*")) if not p.endswith(PARTIAL_SUFFIX)]
    for path in [os.path.join(run, "config.json")] + reports:
        shutil.copy2(path, keep)


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
    methods = _methods(runs)
    comparison = bj.compare(methods, out=a.dest)
    rows = [run_status(group, scores) for group, scores in zip(methods, comparison.runs)]
    for run in runs:
        keep_reports(run, a.dest)
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
