"""Run directories and exact-resume checkpoints (orbax).

A run directory holds `config.json`, `checkpoints/<iteration>/` (orbax: every
leaf of the full learner state of every run — params, optimiser state,
normaliser, env state, PRNG keys, iteration counter — plus the metrics so far)
and `metrics.json` / `metrics.csv`. Orbax writes each step to a temporary folder
and renames it when complete, so an interrupted save never replaces a good one.
"""
from __future__ import annotations

import csv
import json
import os

import jax
import numpy as np

from .config import ConfigError, TrainConfig

IGNORED_ON_RESUME = ("chunk_iterations", "checkpoint_every")


def _manager(out: str):
    import orbax.checkpoint as ocp
    return ocp.CheckpointManager(os.path.abspath(os.path.join(out, "checkpoints")),
                                 options=ocp.CheckpointManagerOptions(max_to_keep=2, create=True))


def has_checkpoint(out: str) -> bool:
    d = os.path.join(out, "checkpoints")
    return os.path.isdir(d) and any(n.isdigit() for n in os.listdir(d))


def read_config(out: str) -> TrainConfig:
    path = os.path.join(out, "config.json")
    if not os.path.isfile(path):
        raise ConfigError(f"no run found in {out!r} (config.json missing): check the path, or train first")
    try:
        with open(path) as f:
            return TrainConfig.from_dict(json.load(f))
    except (json.JSONDecodeError, TypeError) as e:
        raise ConfigError(f"{path} is corrupt ({e}): restore it from a copy or retrain") from None


def prepare_run_dir(out: str, cfg: TrainConfig, resume: bool) -> None:
    if resume:
        if not has_checkpoint(out):
            raise ConfigError(f"nothing to resume in {out!r}: no checkpoint there; drop --resume to start a new run")
        diff = read_config(out).diff(cfg, ignore=IGNORED_ON_RESUME)
        if diff:
            fields = "; ".join(f"{k}: saved {a!r} vs now {b!r}" for k, (a, b) in diff.items())
            raise ConfigError(f"cannot resume {out!r} with a different config ({fields}): use the saved values "
                              "or a new --out")
        return
    if has_checkpoint(out):
        raise ConfigError(f"{out!r} already holds a run: pass --resume to continue it, or choose another --out")
    os.makedirs(out, exist_ok=True)
    _atomic_write(os.path.join(out, "config.json"), cfg.to_json())


def save(out: str, cfg: TrainConfig, state, history: dict, iteration: int) -> None:
    import orbax.checkpoint as ocp
    os.makedirs(out, exist_ok=True)
    if not os.path.isfile(os.path.join(out, "config.json")):
        _atomic_write(os.path.join(out, "config.json"), cfg.to_json())
    leaves = jax.tree.leaves(jax.device_get(state))
    tree = {"state": {f"{i:05d}": np.asarray(x) for i, x in enumerate(leaves)},
            "metrics": {k: np.asarray(v) for k, v in history.items()},
            "iteration": np.asarray(iteration, np.int64)}
    mngr = _manager(out)
    if iteration in mngr.all_steps():
        mngr.close()
        return
    mngr.save(iteration, args=ocp.args.StandardSave(tree))
    mngr.wait_until_finished()
    mngr.close()
    write_metrics(out, history)


def restore(out: str, template):
    """-> (state shaped like `template`, metrics history, iterations done)."""
    import orbax.checkpoint as ocp
    if not has_checkpoint(out):
        raise ConfigError(f"no checkpoint in {out!r}: train first, or check the path")
    mngr = _manager(out)
    step = mngr.latest_step()
    try:
        tree = mngr.restore(step, args=ocp.args.StandardRestore())
    except Exception as e:  # orbax raises many types for damaged files
        raise ConfigError(f"checkpoint {out}/checkpoints/{step} is unreadable ({type(e).__name__}): delete that "
                          "folder to fall back to an earlier one, or retrain") from None
    finally:
        mngr.close()
    flat, treedef = jax.tree.flatten(template)
    saved = tree["state"]
    if len(saved) != len(flat) or any(
            tuple(saved[f"{i:05d}"].shape) != tuple(t.shape) for i, t in enumerate(flat)):
        raise ConfigError(f"checkpoint in {out!r} does not match this config/version: retrain, or load it with the "
                          "config it was saved with")
    leaves = [np.asarray(saved[f"{i:05d}"]).astype(t.dtype) for i, t in enumerate(flat)]
    state = jax.tree.unflatten(treedef, leaves)
    metrics = {k: np.asarray(v) for k, v in tree.get("metrics", {}).items()}
    return state, metrics, int(tree["iteration"])


def write_metrics(out: str, history: dict) -> None:
    """metrics.json ({name: [run][iteration]}) and metrics.csv (one row per run and iteration)."""
    names = sorted(history)
    _atomic_write(os.path.join(out, "metrics.json"),
                  json.dumps({k: np.where(np.isfinite(history[k]), history[k], np.nan).tolist() for k in names},
                             allow_nan=True))
    if not names:
        return
    runs, iters = np.asarray(history[names[0]]).shape
    tmp = os.path.join(out, "metrics.csv.tmp")
    with open(tmp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["run", "iteration"] + names)
        for r in range(runs):
            for i in range(iters):
                w.writerow([r, i] + [float(history[k][r, i]) for k in names])
    os.replace(tmp, os.path.join(out, "metrics.csv"))


def _atomic_write(path: str, text: str) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)
