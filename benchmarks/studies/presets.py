"""Find and document the per-task PPO presets: learning curves of candidate settings.

Each candidate is a set of TrainConfig overrides. It is trained for `--steps` per seed
(all seeds in one program, resumable from `--runs`/<task>-<candidate>) and evaluated
deterministically (the policy's mean, `--episodes` fresh episodes per seed) after each of
`--segments` equal segments, so the curve is the return a user would measure, not the
noisy training return. Writes benchmarks/results/presets/<task>_<candidate>.{json,md,png}.

    python -m benchmarks.studies.presets --task hopper --candidate preset --seeds 3 --steps 1998848 --episodes 50
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np

import barpo_jax as bj
from barpo_jax import checkpoint
from barpo_jax.cli import _num
from barpo_jax.config import CPU_CANDIDATES
from benchmarks._provenance import RESULTS, provenance, write_results

OUT = os.path.join(RESULTS, "presets")


def run(task: str, candidate: str, seeds: int, steps: int, segments: int, episodes: int, runs: str,
        overrides: dict, progress: bool = True, tag=None) -> dict:
    fields = dict(CPU_CANDIDATES[candidate])
    fields.update(overrides)
    fields.update(env=task, algo="spo", num_seeds=seeds, num_timesteps=steps)
    cfg = bj.TrainConfig(**fields)
    out = os.path.join(runs, f"{task}-{tag or candidate}")
    n_iter = cfg.num_iterations
    marks = sorted({max(1, round(n_iter * (i + 1) / segments)) for i in range(segments)})
    curve = {"env_steps": [], "eval_return": [], "train_return": [], "wall_s": []}
    t0 = time.perf_counter()
    for mark in marks:
        resume = checkpoint.has_checkpoint(out)
        result = bj.train(cfg, out=out, resume=resume, max_iterations=mark, progress=progress)
        report = bj.evaluate(result, attacks=["none"], episodes=episodes, progress=False)
        tr = np.asarray(result.metrics["episode_return"])[:, -max(1, mark // 20):]
        curve["env_steps"].append(result.env_steps)
        curve["eval_return"].append(report.natural.tolist())
        curve["train_return"].append(np.nanmean(tr, axis=1).tolist())
        curve["wall_s"].append(round(time.perf_counter() - t0, 1))
        print(f"{task}/{candidate} {result.env_steps:>10,} steps/seed  eval {np.round(report.natural, 1)}  "
              f"median {np.median(report.natural):.1f}  ({curve['wall_s'][-1]:.0f} s)", flush=True)
    return {"config": cfg.to_dict(), "curve": curve, "out": out}


def plot(task: str, candidate: str, res: dict, path: str):
    from barpo_jax.plots import finish, subplots
    steps = np.asarray(res["curve"]["env_steps"])
    ev = np.asarray(res["curve"]["eval_return"])  # [mark, seed]
    fig, ax = subplots(path, figsize=(6, 3.5))
    for s in range(ev.shape[1]):
        ax.plot(steps, ev[:, s], lw=1, alpha=0.6)
    ax.plot(steps, np.median(ev, axis=1), "k", lw=2, label="median of seeds")
    ax.set_xlabel("env steps per seed")
    ax.set_ylabel("deterministic eval return")
    ax.set_title(f"{task} / SPO / candidate '{candidate}' ({res['config']['backend']})")
    ax.legend(fontsize=8)
    finish(fig, path)


def summarize(task: str) -> str:
    """One table and one plot over every committed result for `task` (the search and
    the ablation side by side): median deterministic return of the seeds per point."""
    import glob
    import json

    from barpo_jax.plots import finish, subplots
    rows, curves = [], {}
    for path in sorted(glob.glob(os.path.join(OUT, f"{task}_*.json"))):
        tag = os.path.basename(path)[len(task) + 1:-5]
        if tag == "summary":
            continue
        with open(path) as f:
            d = json.load(f)
        c, cfg = d["results"]["curve"], d["results"]["config"]
        med = [float(np.median(ev)) for ev in c["eval_return"]]
        curves[tag] = (c["env_steps"], med)
        last = c["eval_return"][-1]
        best = int(np.argmax(med))
        rows.append([tag, cfg["backend"], f"{c['env_steps'][-1]:,}", " / ".join(f"{x:.0f}" for x in last),
                     f"{med[-1]:.0f}", f"{med[best]:.0f} at {c['env_steps'][best]:,}", f"{c['wall_s'][-1]:.0f}"])
    fig, ax = subplots(os.path.join(OUT, f"{task}_summary.png"), figsize=(7, 4))
    for tag, (x, y) in curves.items():
        ax.plot(x, y, marker="o", ms=3, label=tag)
    ax.set_xlabel("env steps per seed")
    ax.set_ylabel("median deterministic return")
    ax.set_title(f"{task}: SPO preset candidates and ablations")
    ax.legend(fontsize=7)
    finish(fig, os.path.join(OUT, f"{task}_summary.png"))
    head = ["result", "backend", "env steps/seed", "final return per seed", "final median", "best median",
            "wall s (shared CPU)"]
    table = "\n".join(["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
                      + ["| " + " | ".join(r) + " |" for r in rows])
    text = (f"# {task}: preset search and ablation (summary)\n\nEach row is one committed "
            f"`benchmarks/studies/presets.py` result in this folder (its own .md has the command, config and "
            f"provenance). Returns: deterministic policy, fresh episodes, per seed.\n\n{table}\n\n"
            f"![curves]({task}_summary.png)\n")
    with open(os.path.join(OUT, f"{task}_summary.md"), "w") as f:
        f.write(text)
    return text


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--task", default="hopper")
    p.add_argument("--candidate", default="preset", choices=sorted(CPU_CANDIDATES))
    p.add_argument("--seeds", type=_num, default=3)
    p.add_argument("--steps", type=_num, default=6_000_000)
    p.add_argument("--segments", type=_num, default=10)
    p.add_argument("--episodes", type=_num, default=16)
    p.add_argument("--runs", default="runs/presets", help="where the resumable training runs live")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="override a field of the candidate (recorded in the result)")
    p.add_argument("--tag", default=None, help="result file suffix (default: the candidate name)")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--summary", action="store_true", help="only (re)write <task>_summary.md/.png from the results")
    a = p.parse_args(argv)
    if a.summary:
        print(summarize(a.task))
        return
    from barpo_jax.cli import _kv
    overrides = dict(_kv(x) for x in a.set)
    prov = provenance()
    tag = a.tag or a.candidate
    res = run(a.task, a.candidate, a.seeds, a.steps, a.segments, a.episodes, a.runs, overrides,
              not a.no_progress, tag)
    stem = os.path.join(OUT, f"{a.task}_{tag}")
    os.makedirs(OUT, exist_ok=True)
    plot(a.task, tag, res, stem + ".png")
    c = res["curve"]
    rows = [(f"{s:,}", " / ".join(f"{x:.0f}" for x in ev), f"{np.median(ev):.0f}", f"{w:.0f}")
            for s, ev, w in zip(c["env_steps"], c["eval_return"], c["wall_s"])]
    write_results(stem, prov, res, [
        ("Config", ["field", "value"], sorted(res["config"].items())),
        ("Deterministic evaluation per seed", ["env steps/seed", "return per seed", "median", "wall s"], rows),
    ], title=f"PPO preset search: {a.task}, candidate '{tag}'")
    print(f"wrote {stem}.md/.json/.png")


if __name__ == "__main__":
    main()
