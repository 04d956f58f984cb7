"""Publish a study's agents in git, and carry an unfinished study to another machine.

    python -m benchmarks.carry save runs/table_hopper_lineage        # then commit benchmarks/agents/
    python -m benchmarks.carry restore benchmarks/agents/table_hopper_lineage   # on a new checkout

A study's `runs/` folder is git-ignored, so a new checkout (a CI machine, another
workstation) has none of its agents. On the `positional` backend a seed's checkpoint is
about 0.1 MiB (benchmarks/results/checkpoint_size_cpu.md), so a whole study fits in git,
and `benchmarks/agents/` is where every table's agents live (its README lists them).

`save OUT` copies the study folder OUT into benchmarks/agents/<name of OUT>/: each run's
config, metrics, robustness reports and any unfinished evaluation (`*.partial.json`), the
study's own files, and of each run's checkpoints only the newest step (orbax keeps two).
`bj.load` and `barpo eval` read a copied run as they read the original. `restore DIR`
copies them back to runs/<name of DIR>/ (or `--out`), after which the study's own
command resumes training or evaluation. Neither direction replaces a run that has more
iterations than the one being copied: that would throw away training.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys

from barpo_jax import checkpoint

AGENTS = os.path.join("benchmarks", "agents")


def iterations_done(run: str) -> int:
    """Training iterations recorded in a run's metrics.json (0 if there are none yet)."""
    metrics = checkpoint.read_metrics(run)
    episode_return = (metrics or {}).get("episode_return")
    return 0 if episode_return is None else int(episode_return.shape[1])


def _steps(checkpoints: str) -> list[int]:
    """The saved step numbers in an orbax checkpoint directory, oldest first."""
    if not os.path.isdir(checkpoints):
        return []
    return sorted(int(n) for n in os.listdir(checkpoints) if n.isdigit())


def copy_run(src: str, dest: str) -> str:
    """Copy one run directory, keeping only its newest checkpoint step. Returns what was
    done, in words. A destination with more iterations than `src` is left as it is."""
    have, want = iterations_done(dest), iterations_done(src)
    if os.path.isdir(dest) and have > want:
        return f"kept {dest} ({have} iterations; the copy has only {want})"
    tmp = dest.rstrip(os.sep) + ".carrying"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    for name in os.listdir(src):
        path = os.path.join(src, name)
        if name == "checkpoints" and os.path.isdir(path):
            steps = _steps(path)
            os.makedirs(os.path.join(tmp, name))
            for entry in os.listdir(path):  # orbax's own files next to the step folders
                if not entry.isdigit() and os.path.isfile(os.path.join(path, entry)):
                    shutil.copy2(os.path.join(path, entry), os.path.join(tmp, name, entry))
            if steps:
                shutil.copytree(os.path.join(path, str(steps[-1])), os.path.join(tmp, name, str(steps[-1])))
        elif os.path.isdir(path):
            shutil.copytree(path, os.path.join(tmp, name))
        else:
            shutil.copy2(path, os.path.join(tmp, name))
    # Swap in only once the copy is complete, so an interrupted carry leaves the old one whole.
    old = dest.rstrip(os.sep) + ".replaced"
    if os.path.isdir(dest):
        os.replace(dest, old)
    os.replace(tmp, dest)
    shutil.rmtree(old, ignore_errors=True)
    return f"copied {src} -> {dest} ({want} iterations)"


def _is_run(path: str) -> bool:
    return os.path.isfile(os.path.join(path, "metrics.json")) or os.path.isdir(os.path.join(path, "checkpoints"))


def copy_study(src: str, dest: str) -> list[str]:
    """Copy a study folder: each run in it (a folder with metrics or checkpoints, such as
    reproduce's runs/<task>-<method> or kappa_study's sweep/) through `copy_run`, and the
    study's other files as they are. Returns one line per run."""
    if _is_run(src):
        return [copy_run(src, dest)]
    os.makedirs(dest, exist_ok=True)
    lines = []
    for name in sorted(os.listdir(src)):
        path = os.path.join(src, name)
        if name.endswith((".carrying", ".replaced")):
            continue
        if os.path.isdir(path):
            lines += copy_study(path, os.path.join(dest, name))
        else:
            shutil.copy2(path, os.path.join(dest, name))
    return lines


def carry(study: str, dest: str) -> list[str]:
    """Copy a study's folder (runs, reports and other files) to dest. One line per run."""
    if not os.path.isdir(study) or not any(_is_run(d) for d, _, _ in os.walk(study)):
        raise FileNotFoundError(f"no trained runs under {study}: give the study's --out directory")
    return copy_study(study, dest)


def _size_mib(path: str) -> float:
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs) / 2**20


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("save", help="copy a study's runs into benchmarks/agents/ (then commit them)")
    s.add_argument("study", help="the study's --out directory, e.g. runs/table_hopper_cpu")
    s.add_argument("--dest", help=f"default: {AGENTS}/<name of the study>")
    r = sub.add_parser("restore", help="copy carried runs back so the study's command resumes")
    r.add_argument("carried", help=f"a folder written by save, e.g. {AGENTS}/table_hopper_cpu")
    r.add_argument("--out", help="the study's --out directory (default: runs/<name of the folder>)")
    a = p.parse_args(argv)
    if a.cmd == "save":
        src, dest = a.study, a.dest or os.path.join(AGENTS, os.path.basename(os.path.normpath(a.study)))
    else:
        src, dest = a.carried, a.out or os.path.join("runs", os.path.basename(os.path.normpath(a.carried)))
    try:
        for line in carry(src, dest):
            print(line)
    except OSError as e:
        print(f"carry: error: {e}", file=sys.stderr)
        return 2
    print(f"{dest}: {_size_mib(dest):.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
