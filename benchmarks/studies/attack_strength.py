"""How strong must the gradient attacks be? Worst case vs steps x restarts on trained agents.

For each run directory, every built-in gradient attack is evaluated at a grid of
strengths (step schedule x steps x restarts); the curve of the median agent's worst
case over the gradient attacks, against the gradient evaluations per env step
(steps x restarts), shows where more effort stops paying. The default strength
(`barpo_jax.attacks.STRONG`) is chosen where these curves flatten.

    python -m benchmarks.studies.attack_strength runs/victims/ip-spo runs/victims/ip-barpo \\
        --out benchmarks/results/attack_strength/ip

Resumable: cells already in <out>.json are not recomputed.
"""
from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

import barpo_jax as bj
from barpo_jax import attacks as atk
from benchmarks._provenance import provenance, write_results

# (schedule, steps, restarts): the lineage point, a steps axis at one start, a restarts axis.
DEFAULT_GRID = ([("constant", s, 1) for s in (10, 25, 50, 100)] + [("constant", 50, r) for r in (2, 4, 8)]
                + [("apgd", s, 1) for s in (10, 25, 50, 100)] + [("apgd", 50, r) for r in (2, 4, 8)])


def parse_grid(text: str) -> list:
    """'apgd:50:4,constant:10:1' -> [(schedule, steps, restarts), ...]"""
    out = []
    for item in text.split(","):
        sched, steps, restarts = item.split(":")
        out.append((sched, int(steps), int(restarts)))
    return out


def cell_key(run: str, sched: str, steps: int, restarts: int) -> str:
    return f"{os.path.basename(os.path.normpath(run))}|{sched}|{steps}|{restarts}"


def measure(run: str, result, attacks: list, sched: str, steps: int, restarts: int, episodes: int,
            eps) -> dict:
    strength = atk.Strength(f"{sched}-{steps}x{restarts}", steps, restarts, sched)
    t0 = time.time()
    rep = bj.evaluate(result, attacks=["random"] + attacks, eps=eps, episodes=episodes, strength=strength,
                      masking_check=False, progress=False)
    grad_cols = [rep.attacks.index(a) for a in attacks]
    worst_grad = rep.returns[:, grad_cols].min(axis=1)
    return {"run": run, "schedule": sched, "steps": steps, "restarts": restarts, "eps": rep.eps,
            "episodes": episodes, "attacks": rep.attacks, "returns": rep.returns.tolist(),
            "worst_gradient": worst_grad.tolist(), "median_worst_gradient": float(np.sort(worst_grad)[
                (len(worst_grad) - 1) // 2]), "seconds": round(time.time() - t0, 1)}


def plot(cells: list, path: str):
    from barpo_jax.plots import finish, subplots
    runs = sorted({c["run"] for c in cells})
    fig, axes = subplots(path, ncols=len(runs), figsize=(4.5 * len(runs), 3.6), squeeze=False)
    for ax, run in zip(axes[0], runs):
        mine = [c for c in cells if c["run"] == run]
        # One line per (schedule, steps): more restarts to the right. The default grid's
        # steps axis (one restart) is the line through each schedule's restarts=1 points.
        for sched, style in (("constant", "o-"), ("apgd", "s-"), ("decay", "^-")):
            lines = {("steps", None): [c for c in mine if c["schedule"] == sched and c["restarts"] == 1]}
            for steps in sorted({c["steps"] for c in mine if c["schedule"] == sched}):
                lines[("restarts", steps)] = [c for c in mine if c["schedule"] == sched and c["steps"] == steps]
            for (axis, steps), pts in lines.items():
                if len(pts) < 2 and not (axis == "restarts" and pts and pts[0]["restarts"] > 1):
                    continue
                pts.sort(key=lambda c: c["steps"] * c["restarts"])
                label = f"{sched}, more steps" if axis == "steps" else f"{sched}, {steps} steps, more restarts"
                ax.plot([c["steps"] * c["restarts"] for c in pts], [c["median_worst_gradient"] for c in pts],
                        style, alpha=1.0 if axis == "steps" else 0.6, label=label)
        ax.set_xscale("log")
        ax.set_xlabel("gradient evaluations per env step (steps x restarts)")
        ax.set_ylabel("median agent's worst case (gradient attacks)")
        ax.set_title(os.path.basename(os.path.normpath(run)), fontsize=9)
        ax.legend(fontsize=7)
    return finish(fig, path)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", help="run directories (bj.load)")
    p.add_argument("--attacks", default=",".join(atk.GRADIENT))
    p.add_argument("--grid", default=None, help="schedule:steps:restarts,... (default: DEFAULT_GRID)")
    p.add_argument("--episodes", type=int, default=10)
    p.add_argument("--eps", type=float, default=None, help="default: each run's own eps")
    p.add_argument("--out", required=True, help="result stem (writes .json, .md, .png)")
    a = p.parse_args(argv)
    grid = parse_grid(a.grid) if a.grid else DEFAULT_GRID
    attacks = [x for x in a.attacks.split(",") if x]
    cells = {}
    if os.path.exists(a.out + ".json"):
        with open(a.out + ".json") as f:
            cells = {cell_key(c["run"], c["schedule"], c["steps"], c["restarts"]): c
                     for c in json.load(f)["results"]["cells"]}
    prov = provenance()
    for run in a.runs:
        result = bj.load(run)
        for sched, steps, restarts in grid:
            k = cell_key(run, sched, steps, restarts)
            if k in cells:
                continue
            cells[k] = measure(run, result, attacks, sched, steps, restarts, a.episodes, a.eps)
            c = cells[k]
            print(f"{k}: median worst (gradient) {c['median_worst_gradient']:.1f}, per seed "
                  f"{' / '.join(f'{w:.1f}' for w in c['worst_gradient'])}, {c['seconds']} s", flush=True)
            _write(a.out, prov, list(cells.values()), attacks)
    _write(a.out, prov, list(cells.values()), attacks)


def _write(out, prov, cells, attacks):
    rows = []
    for c in sorted(cells, key=lambda c: (c["run"], c["schedule"], c["steps"] * c["restarts"], c["steps"])):
        per_attack = np.asarray(c["returns"])
        med = lambda j: float(np.sort(per_attack[:, j])[(per_attack.shape[0] - 1) // 2])
        rows.append([os.path.basename(os.path.normpath(c["run"])), c["schedule"], c["steps"], c["restarts"],
                     c["steps"] * c["restarts"]] + [round(med(c["attacks"].index(x)), 1) for x in
                                                    ["random"] + attacks] +
                    [round(c["median_worst_gradient"], 1), " / ".join(f"{w:.0f}" for w in c["worst_gradient"]),
                     c["seconds"]])
    heads = ["run", "schedule", "steps", "restarts", "grads/step"] + [f"{x} (median)" for x in ["random"] + attacks] \
        + ["median worst (gradient)", "worst (gradient) per seed", "seconds"]
    write_results(out, prov, {"cells": cells}, [("Worst case vs attack strength", heads, rows)],
                  "Gradient-attack strength: worst case vs steps x restarts",
                  notes=["Each cell: `bj.evaluate(result, attacks=['random', *gradient], strength=Strength(...), "
                         "masking_check=False)` with the listed episodes per (seed, attack); 'median' columns are "
                         "the median over seeds of that attack's mean return; 'median worst' is the median agent's "
                         "minimum over the gradient attacks (random excluded).",
                         "Wall seconds include compilation and share the CPU with other jobs."])
    plot(cells, out + ".png")


if __name__ == "__main__":
    main()
