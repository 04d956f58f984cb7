"""`train`: a config's seeds trained in one compiled program, with checkpoints, evaluation
during training and logging (the chunk loop itself is `loop.py`)."""
from __future__ import annotations

from typing import Callable, Optional

import jax
import numpy as np

from . import checkpoint
from .config import ConfigError, TrainConfig, hyperparams
from .learner import Trainer
from .loop import TrainingDiverged, chunk_length, run_chunks  # noqa: F401  (re-exported: bj.TrainingDiverged)
from .result import TrainResult
from .tracking import PeriodicEval, Tracker


def train(cfg: TrainConfig, out: Optional[str] = None, resume: bool = False, progress: bool = True,
          max_iterations: Optional[int] = None, hp_overrides: Optional[dict] = None,
          run_seeds=None, logdir: Optional[str] = None,
          callback: Optional[Callable[[int, dict], None]] = None,
          time_budget_s: Optional[float] = None) -> TrainResult:
    """Train `cfg.num_seeds` agents in one compiled program.

    Args:
      cfg: the run's configuration.
      out: run directory for checkpoints and metrics (None: keep in memory only).
      resume: continue the run saved in `out` (its config must match).
      progress: draw a progress bar.
      max_iterations: stop once this many iterations are done (the run stays resumable).
      hp_overrides: per-run float hyper-parameters {field: [run] values} (used by sweeps).
      run_seeds: the seed of each run (default: cfg.seed, cfg.seed + 1, ...).
      logdir: write TensorBoard scalars here: one run per seed (seed_<s>) and their mean.
      callback: `callback(env_steps_per_run, metrics)` after each chunk; `metrics` holds
        each metric's across-seed mean over the chunk, `per_seed` ({name: [run]}) and
        `iteration`. With `cfg.eval_every` > 0, runs are also evaluated during training
        (natural and `cfg.eval_attacks`) into the `eval_<attack>` metrics.
      time_budget_s: stop after the first chunk that ends this many seconds after the start
        (compilation included), saving a checkpoint there; `result.iterations` is then below
        `cfg.num_iterations` and `train(cfg, out, resume=True)` continues. For machines that
        limit each command's time.

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
    trainer = Trainer.cached(cfg)
    hp = hyperparams(cfg, len(seeds), **(hp_overrides or {}))
    done_iter, history = 0, {}
    if out is not None:
        checkpoint.prepare_run_dir(out, cfg, resume)
    if resume:
        if out is None:
            raise ConfigError("resume=True needs the run directory: pass out=...")
        state, history, done_iter = checkpoint.restore_learner(out, trainer, seeds)
    else:
        state = trainer.init_runs(seeds)
    stop_at = cfg.num_iterations if max_iterations is None else min(cfg.num_iterations, max_iterations)

    def save(state, history, done_iter):
        checkpoint.save(out, cfg, trainer.portable(state), history, done_iter)

    hp_host = {k: np.asarray(v) for k, v in hp._asdict().items()}
    periodic = PeriodicEval(cfg, seeds, hp_host) if cfg.eval_every > 0 else None
    tracker = Tracker(cfg, seeds, logdir, callback) if (logdir is not None or callback is not None) else None
    try:
        state, history, done_iter = run_chunks(trainer, state, hp, stop_at, done_iter, history,
                                               save if out is not None else None, progress, "train", out,
                                               periodic, tracker, time_budget_s)
    finally:
        if tracker is not None:
            tracker.close()
    return TrainResult(cfg, jax.device_get(state), history, done_iter, seeds=seeds,
                       hp=hp_host)
