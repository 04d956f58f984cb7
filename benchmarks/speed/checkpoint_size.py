"""Checkpoint size per task at its preset, and what storing the env state once saves.

For each task and backend: the learner state of one seed at the preset's num_envs is
initialised, saved as a checkpoint (the env's reset state left out and recomputed on
restore) and measured on disk; the size the same state would have with the reset state
stored too (as before) is computed from the arrays. Also times one save and one restore.

    python -m benchmarks.speed.checkpoint_size [--tasks hopper ant] [--backends mjx positional]
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time

import jax

import barpo_jax as bj
from barpo_jax import checkpoint
from barpo_jax.learner import Trainer
from benchmarks._provenance import RESULTS, provenance, write_results


def measure(task: str, backend: str, seeds: int = 1) -> dict:
    cfg = bj.TrainConfig(env=task, backend=backend, num_seeds=seeds)
    trainer = Trainer(cfg)
    state = trainer.init_runs(list(range(seeds)))
    portable = trainer.portable(state)
    nbytes = checkpoint.tree_nbytes
    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        checkpoint.save(d, cfg, portable, {}, 1)
        save_s = time.perf_counter() - t
        disk = checkpoint.size_bytes(d)
        t = time.perf_counter()
        back, _, _ = checkpoint.restore_learner(d, trainer, list(range(seeds)))
        jax.block_until_ready(back)
        restore_s = time.perf_counter() - t
    return {"task": task, "backend": backend, "num_envs": cfg.num_envs, "seeds": seeds,
            "disk_MiB": disk / 2**20, "arrays_MiB": nbytes(portable) / 2**20,
            "arrays_with_reset_state_MiB": nbytes(state) / 2**20, "env_state_MiB": nbytes(state.env) / 2**20,
            "save_s": save_s, "restore_s_incl_recompute": restore_s}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tasks", nargs="+", default=["hopper", "walker2d", "halfcheetah", "ant"])
    p.add_argument("--backends", nargs="+", default=["mjx", "positional"])
    p.add_argument("--out", default=os.path.join(RESULTS,
                                                 "checkpoint_size_cpu"))
    a = p.parse_args(argv)
    prov = provenance()
    rows, res = [], []
    for task in a.tasks:
        for backend in a.backends:
            r = measure(task, backend)
            res.append(r)
            rows.append([task, backend, r["num_envs"], round(r["disk_MiB"], 2), round(r["arrays_MiB"], 2),
                         round(r["arrays_with_reset_state_MiB"], 2), round(r["save_s"], 2),
                         round(r["restore_s_incl_recompute"], 2)])
            print(rows[-1], flush=True)
    write_results(a.out, prov, {"rows": res}, [(
        "One seed at the task preset",
        ["task", "backend", "num_envs", "checkpoint on disk (MiB)", "arrays stored (MiB)",
         "arrays if the reset state were stored too (MiB)", "save s", "restore s (incl. recomputing reset state)"],
        rows)], title="Checkpoint size per task at the preset",
        notes=["Sizes scale linearly with seeds (every array has a leading seed axis).",
               "mjx rows use the accelerator presets (num_envs 2048/4096); positional rows the CPU presets."])
    print(f"wrote {a.out}.md/.json")


if __name__ == "__main__":
    main()
