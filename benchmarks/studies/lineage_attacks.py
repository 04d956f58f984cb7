"""The attacks a lineage-preset table leaves out, run on copies of its runs, in calls that
each fit a machine's time limit.

    python -m benchmarks.carry restore benchmarks/agents/table_hopper_lineage
    until python -m benchmarks.studies.lineage_attacks runs/table_hopper_lineage/runs/hopper-* \\
        --out runs/lineage_attacks --time-budget 420
    do [ $? -eq 3 ] || break; done

The tables hold the heuristic and gradient attacks and robust Sarsa fitted once. Per RUN this
adds, as `barpo eval` commands on copies (`cp -r`, made once), so the tables keep one set of
attacks for every method:

- OUT/<run>: SA-RL (`--sa-rl-steps`, the lineage's 1M) and PA-AD (`--pa-ad-steps`, default the
  victim's budget, at most 2M), each over the learned-attack scan, then the masking check,
  all with `--add` (the table's columns are kept);
- OUT/<run>-rs<K>: the natural return and robust Sarsa with K fits per victim.

These are the copies `one_sided` and `rs_fits` compare. A part that finishes is recorded in
OUT/lineage_attacks.json with its wall time; a call whose `--time-budget` is spent stops
after its current attack column and exits 3, and the same command continues (a learned
attack's fit is not split: on a machine with a 10-minute limit, keep the budget well under
it). Exits 0 once every part of every run is done, 2 on bad input.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import sys
import time

from barpo_jax import cli
from barpo_jax.cli import UNFINISHED, _num, check_time_budget
from barpo_jax.config import ConfigError
from barpo_jax.evaluate import PARTIAL_SUFFIX

PARTS = ("sa_rl", "pa_ad", "masking", "rs")
STATE = "lineage_attacks.json"


def part_argv(part: str, copy: str, a) -> list:
    """The `barpo eval` command line of one part on its copy."""
    common = ["--episodes", str(a.episodes)] + (["--learned-scan", a.scan] if a.scan else [])
    common += ["--no-progress"] if a.no_progress else []
    if part == "rs":
        return ["eval", copy, "--attacks", "none,rs", "--rs-fits", str(a.rs_fits), "--no-masking-check"] + common
    # The table's robust Sarsa column was fitted once; --rs-fits 1 keeps it under any scan.
    added = ["eval", copy, "--add", "--rs-fits", "1"] + common
    if part == "sa_rl":
        return added + ["--attacks", "sa_rl", "--attack-steps", str(a.sa_rl_steps), "--no-masking-check"]
    if part == "pa_ad":
        steps = ["--attack-steps", str(a.pa_ad_steps)] if a.pa_ad_steps else []
        return added + ["--attacks", "pa_ad", "--no-masking-check"] + steps
    return added + ["--attacks", "none"]   # masking: the doubled gradient attacks and robust Sarsa


def copy_run(run: str, dest: str, state: dict, out: str) -> None:
    """`cp -r RUN DEST` once, whole or not at all, without an unfinished evaluation's columns.
    A DEST this script did not make is refused: its report may hold an attack at another
    budget, which `--add` would keep instead of fitting the one asked for."""
    name = os.path.basename(dest)
    if name in state["copies"]:
        return
    if os.path.exists(dest):
        raise ConfigError(f"{dest} exists and was not copied by lineage_attacks (its attacks may be fitted at other "
                          "budgets, which --add would keep): pass another --out")
    staging = dest + ".copying"
    shutil.rmtree(staging, ignore_errors=True)   # left by a call killed mid-copy
    shutil.copytree(run, staging, ignore=shutil.ignore_patterns("*" + PARTIAL_SUFFIX))
    os.rename(staging, dest)
    state["copies"].append(name)
    write_state(out, state)


def settings(a) -> dict:
    return {"scan": a.scan, "rs_fits": a.rs_fits, "sa_rl_steps": a.sa_rl_steps, "pa_ad_steps": a.pa_ad_steps,
            "episodes": a.episodes}


def read_state(out: str, a) -> dict:
    """The parts finished so far under OUT, refused when they were run at other settings."""
    path = os.path.join(out, STATE)
    if not os.path.isfile(path):
        return {"settings": settings(a), "copies": [], "parts": {}}
    with open(path) as f:
        state = json.load(f)
    if state["settings"] != settings(a):
        raise ConfigError(f"{path} was run with {state['settings']}, this command with {settings(a)}: "
                          "pass the same settings, or another --out")
    return state


def write_state(out: str, state: dict) -> None:
    path = os.path.join(out, STATE)
    with open(path + ".tmp", "w") as f:
        json.dump(state, f, indent=1)
    os.replace(path + ".tmp", path)


def check_runs(runs: list) -> list:
    """Each run's folder name, which names its copies; refused unless every run is one."""
    for run in runs:
        if not os.path.isfile(os.path.join(run, "config.json")):
            raise ConfigError(f"{run!r} is not a run directory (no config.json): pass runs written by `barpo train`, "
                              "restored with `python -m benchmarks.carry restore`")
    names = [os.path.basename(os.path.normpath(r)) for r in runs]
    if len(set(names)) != len(names):
        raise ConfigError("two runs share a folder name, and their copies would share one: pass each run once")
    return names


def run_parts(a) -> int:
    """Every unfinished part of every run, in order, until the budget is spent."""
    names = check_runs(a.runs)
    os.makedirs(a.out, exist_ok=True)
    state, started, worked = read_state(a.out, a), time.monotonic(), False
    for run, name in zip(a.runs, names):
        for part in a.parts:
            key = f"{name}/{part}"
            if key in state["parts"]:
                continue
            left = None if a.time_budget is None else max(0.0, a.time_budget - (time.monotonic() - started))
            if worked and left == 0.0:   # each call makes progress: at least one column
                return stopped(state, a)
            worked = True
            copy = os.path.join(a.out, name + (f"-rs{a.rs_fits}" if part == "rs" else ""))
            copy_run(run, copy, state, a.out)
            argv = part_argv(part, copy, a) + ([] if left is None else ["--time-budget", f"{left:.0f}"])
            print(f"[{key}] barpo {' '.join(argv)}", flush=True)
            t0 = time.monotonic()
            code = cli.main(argv)
            if code == UNFINISHED:
                return stopped(state, a)
            if code != 0:
                return code
            state["parts"][key] = {"seconds": round(time.monotonic() - t0, 1), "copy": copy,
                                   "finished_utc": datetime.datetime.now(datetime.timezone.utc).isoformat()}
            write_state(a.out, state)
    print(f"every part done: {len(state['parts'])} in {os.path.join(a.out, STATE)}")
    return 0


def stopped(state: dict, a) -> int:
    total = len(a.runs) * len(a.parts)
    print(f"time budget spent: {len(state['parts'])} of {total} parts done; run the same command again to continue")
    return UNFINISHED


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks.studies.lineage_attacks", description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", metavar="RUN", help="run directories of a table (`barpo train`, evaluated)")
    p.add_argument("--out", required=True, help="where the copies and lineage_attacks.json go")
    p.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS), help="which parts (default: all)")
    p.add_argument("--scan", default=None, choices=["none", "small", "large"],
                   help="the learned policy attacks' scan (default: barpo eval's: small on a CPU, large on an "
                        "accelerator)")
    p.add_argument("--rs-fits", type=_num, default=4, help="robust Sarsa fits per victim in the -rs<K> copy")
    p.add_argument("--sa-rl-steps", type=_num, default=1_000_000, help="SA-RL's budget per fit (the lineage's)")
    p.add_argument("--pa-ad-steps", type=_num, default=None,
                   help="PA-AD's budget per fit (default: the victim's training steps, at most 2M)")
    p.add_argument("--episodes", type=_num, default=50, help="episodes per cell: the table's")
    p.add_argument("--time-budget", type=float, default=None, metavar="SECONDS",
                   help="stop after the attack column that ends past this, exiting 3 (default: no limit)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    return p


def main(argv=None) -> int:
    a = parser().parse_args(argv)
    try:
        check_time_budget(a.time_budget)
        if a.rs_fits < 2:
            raise ConfigError(f"--rs-fits must be >= 2 (the table holds one fit), got {a.rs_fits}")
        return run_parts(a)
    except ConfigError as e:
        print(f"lineage_attacks: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
