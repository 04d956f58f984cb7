"""`train`: a config's seeds trained in one compiled program, with checkpoints, evaluation
during training and logging (the chunk loop itself is `loop.py`)."""
from __future__ import annotations

import sys
from typing import Callable, Optional

import jax
import numpy as np

from . import checkpoint
from .config import ConfigError, TrainConfig, hyperparams
from .distributed import Partition
from .learner import Trainer
from .loop import Hooks, TrainingDiverged, chunk_length, run_chunks  # noqa: F401  (re-exported: bj.TrainingDiverged)
from .result import TrainResult
from .tracking import PeriodicEval, Tracker, wandb_settings


def train(cfg: TrainConfig, out: Optional[str] = None, resume: bool = False, progress: bool = True,
          max_iterations: Optional[int] = None, hp_overrides: Optional[dict] = None,
          run_seeds=None, logdir: Optional[str] = None,
          callback: Optional[Callable[[int, dict], None]] = None,
          time_budget_s: Optional[float] = None, distributed: Optional[bool] = None,
          wandb=None, extend: bool = False) -> TrainResult:
    """Train `cfg.num_seeds` agents in one compiled program.

    Args:
      cfg: the run's configuration.
      out: run directory for checkpoints and metrics (None: keep in memory only).
      resume: continue the run saved in `out` (its config must match).
      extend: with `resume`, `cfg.num_timesteps` may differ from the saved total if it is
        past the iterations done: the run continues to the new total, its learning-rate
        anneal and eps ramp re-defined over that total from the saved iteration on, and
        config.json records the new total and the change (`extended`). Off by default, as
        the schedules change mid-run (the rate steps up; a reached eps may drop back).
      progress: draw a progress bar.
      max_iterations: stop once this many iterations are done (the run stays resumable).
      hp_overrides: per-run float hyper-parameters {field: [run] values} (used by sweeps).
      run_seeds: the seed of each run (default: cfg.seed, cfg.seed + 1, ...).
      logdir: write TensorBoard scalars here: one run per seed (seed_<s>) and their mean.
      wandb: log to Weights & Biases (`pip install 'barpo-jax[wandb]'`): a project name, or a
        dict of project, entity, name, group, tags, notes, mode. One W&B run holds the config,
        every metric per seed (`<metric>/seed_<s>`) and across seeds (`<metric>/mean`), the
        `eval_<attack>` curves included; with `out`, a resumed training continues it.
      callback: `callback(env_steps_per_run, metrics)` after each chunk; `metrics` holds
        each metric's across-seed mean over the chunk, `per_seed` ({name: [run]}) and
        `iteration`. With `cfg.eval_every` > 0, runs are also evaluated during training
        (natural and `cfg.eval_attacks`) into the `eval_<attack>` metrics.
      time_budget_s: stop after the first chunk that ends this many seconds after the start
        (compilation included), saving a checkpoint there; `result.iterations` is then below
        `cfg.num_iterations` and `train(cfg, out, resume=True)` continues. For machines that
        limit each command's time.
      distributed: after `jax.distributed.initialize()`, each process trains an equal share
        of the seeds and process 0 writes `out` as a one-process run would (docs/scaling.md).
        None: whenever several processes are initialised; False: refuse them.

    Returns:
      A TrainResult holding every run (leading run axis).

    Raises:
      ConfigError: bad input, or a run directory that does not match.
      TrainingDiverged: NaN/inf during training; the last good checkpoint in `out` is kept.
    """
    if not isinstance(cfg, TrainConfig):
        raise ConfigError("train() takes a barpo_jax.TrainConfig")
    if time_budget_s is not None and not time_budget_s >= 0:
        raise ConfigError(f"time_budget_s must be >= 0 seconds (or None for no limit), got {time_budget_s}")
    seeds = list(run_seeds) if run_seeds is not None else [cfg.seed + i for i in range(cfg.num_seeds)]
    part = Partition.create(len(seeds), distributed)   # this process's share of the seeds
    part.refuse_per_process_options(cfg, time_budget_s, logdir)
    wandb_init = wandb_settings(wandb) if wandb is not None else None   # before `out` is written
    if wandb_init is not None and part.count > 1:
        raise ConfigError(f"wandb cannot be used in a run split over {part.count} processes: log with callback")
    mine = part.local(seeds)
    trainer = Trainer.cached(cfg)
    hp = hyperparams(cfg, len(seeds), **(hp_overrides or {}))
    done_iter, history, change = 0, {}, None
    if out is not None:
        change = checkpoint.prepare_run_dir(out, cfg, resume, extend)
    if resume:
        if out is None:
            raise ConfigError("resume=True needs the run directory: pass out=...")
        state, history, done_iter = checkpoint.restore_learner(out, trainer, seeds)
        state, history = part.local(state), part.local(history)
        if change is not None:   # recorded once the saved state has been read back
            checkpoint.record_extension(out, cfg, change)
    else:
        state = trainer.init_runs(mine)
    stop_at = cfg.num_iterations if max_iterations is None else min(cfg.num_iterations, max_iterations)

    save_whole = part.save_fn(lambda state, history, done_iter: checkpoint.save(out, cfg, state, history, done_iter))

    def save(state, history, done_iter):
        save_whole(trainer.portable(state), history, done_iter)

    hp_host = {k: np.asarray(v) for k, v in hp._asdict().items()}
    periodic = PeriodicEval(cfg, mine, part.local(hp_host)) if cfg.eval_every > 0 else None
    tracker = Tracker(cfg, mine, logdir, callback, wandb_init, out, resume) \
        if (logdir, callback, wandb_init) != (None, None, None) else None
    try:
        hooks = Hooks(save if out is not None else None, periodic, tracker)
        state, history, done_iter = run_chunks(trainer, state, part.local(hp), stop_at, done_iter, history, hooks,
                                               progress and part.writes, "train", out, time_budget_s)
    finally:
        if tracker is not None:
            tracker.close(failed=sys.exc_info()[0] is not None)
    return TrainResult(cfg, part.gather(jax.device_get(state)), part.gather(history), done_iter, seeds=seeds,
                       hp=hp_host)
