"""Learned attacks with and without the hyper-parameter scan, against `random`.

For each run: `bj.evaluate(attacks=['random', <learned>], learned_scan=...)` once per
scan, on the same evaluation episodes (the same seed), so the columns compare the
learned attack fitted at the run's own settings with the strongest fit of the grid.

    python -m benchmarks.studies.learned_scan runs/victims/hopper-barpo --timesteps 300000 \
        --out benchmarks/results/learned_scan/hopper-barpo
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np

import barpo_jax as bj
from benchmarks._provenance import provenance, write_results


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+")
    p.add_argument("--attacks", default="sa_rl", help="comma list of learned attacks")
    p.add_argument("--scans", default="none,small")
    p.add_argument("--timesteps", type=int, default=300_000, help="training budget of each fit")
    p.add_argument("--eps", type=float, default=None, help="default: each run's own eps")
    p.add_argument("--episodes", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="result stem (.json, .md)")
    a = p.parse_args(argv)
    prov = provenance()
    learned = a.attacks.split(",")
    cells, rows = [], []
    for run in a.runs:
        result = bj.load(run)
        for scan in a.scans.split(","):
            t0 = time.time()
            rep = bj.evaluate(result, attacks=["random"] + learned, eps=a.eps, episodes=a.episodes, seed=a.seed,
                              learned_timesteps=a.timesteps, learned_scan=scan, masking_check=False)
            seconds = time.time() - t0
            cells.append({"run": run, "scan": scan, "seconds": round(seconds, 1), **rep.to_dict()})
            name = os.path.basename(os.path.normpath(run))
            for i, s in enumerate(rep.seeds):
                r = dict(zip(rep.attacks, rep.returns[i]))
                sd = dict(zip(rep.attacks, rep.returns_std[i]))
                rows.append([name, scan, s] + [f"{r[x]:.1f} ± {sd[x]:.1f}" for x in ["none", "random"] + learned]
                            + ["; ".join(f"{x}: lr {c[0]:g} ent {c[1]:g}" for x in learned
                                         for c in [rep.learned[x]["chosen"][i]])])
            med = np.median(rep.returns, axis=0)
            rows.append([name, scan, "median"] + [f"{med[rep.attacks.index(x)]:.1f}" for x in ["none", "random"]
                                                  + learned] + [f"{seconds:.0f} s"])
            print(rows[-1], flush=True)
    write_results(a.out, prov, {"cells": cells, "timesteps": a.timesteps},
                  [("Learned attacks: run's own settings vs the scan's strongest fit",
                    ["run", "scan", "seed", "natural", "random"] + learned + ["chosen (lr, entropy)"], rows)],
                  "Learned-attack hyper-parameter scan",
                  notes=[f"Each fit: {a.timesteps} env steps against the frozen victim; {a.episodes} evaluation "
                         "episodes per cell (mean ± std); the scan's selection uses separate held-out episodes.",
                         "Scans: " + "; ".join(bj.attacks.scan(s).describe() for s in a.scans.split(","))])


if __name__ == "__main__":
    main()
