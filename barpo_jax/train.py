"""The host loop: compiled chunks, NaN check, checkpoints, progress.

The program itself (state, iteration, compiled chunk) is `learner.py`; this module
only runs it chunk by chunk. `train` and the learned attacks' fitters
(`attacks.py`) share `run_chunks`.
"""
from __future__ import annotations

import time
from typing import Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np

from . import checkpoint
from .config import ConfigError, HyperParams, TrainConfig, hyperparams
from .learner import Trainer, TrainState, shard
from .progress import progress_bar
from .result import TrainResult
from .tracking import PeriodicEval, Tracker


class TrainingDiverged(ValueError):
    pass


def chunk_length(num_iterations: int, target: int) -> int:
    """Largest divisor of num_iterations not above target: equal chunks, one compile."""
    return max(d for d in range(1, min(target, num_iterations) + 1) if num_iterations % d == 0)


def run_chunks(trainer: Trainer, state: TrainState, hp: HyperParams, stop_at: int, done_iter: int = 0,
               history: Optional[dict] = None, save: Optional[Callable] = None, progress: bool = True,
               desc: str = "train", where: Optional[str] = None, extra_metrics: Optional[Callable] = None,
               report: Optional[Callable] = None) -> tuple[TrainState, dict, int]:
    """Run `trainer`'s compiled chunks from iteration `done_iter` until `stop_at`.

    Args:
      trainer, state, hp: the program, its state and hyper-parameters (leading run axis).
      stop_at: the iteration to stop at (at most the config's num_iterations).
      done_iter, history: where a resumed run stands (iterations done, metrics so far).
      save: `save(state, history, done_iter)`, called at the config's checkpoint cadence,
        at the end, and on Ctrl-C; None keeps everything in memory.
      progress, desc: the progress bar and its label.
      where: the run directory named in the divergence error (None: in memory).
      extra_metrics: `extra_metrics(state, done_iter, stop_at) -> {name: [run]}` after each
        chunk; the values join the history at the chunk's last iteration (NaN elsewhere).
        Periodic evaluation (tracking.PeriodicEval) uses it.
      report: `report(history, done_iter, length)` after each chunk (tracking.Tracker).

    Returns:
      (state, history, done_iter): the final state, the metrics {name: [run, iteration]}
      and the number of iterations done.

    Raises:
      TrainingDiverged: a chunk produced NaN/inf; the state before it is the last saved.
    """
    cfg = trainer.cfg
    history = {} if history is None else history
    num_runs = int(np.shape(state.iteration)[0])
    state = shard(state, cfg.num_envs)
    length = chunk_length(cfg.num_iterations, cfg.chunk_iterations)
    run_chunk = trainer.chunk_fn(length)
    bar = progress_bar(progress, stop_at * cfg.batch_size * num_runs, desc, unit="step",
                       initial=done_iter * cfg.batch_size * num_runs)
    chunks_done, saved_iter, last_save = 0, done_iter, time.monotonic()

    def save_now():
        nonlocal saved_iter, last_save
        save(state, history, done_iter)
        saved_iter, last_save = done_iter, time.monotonic()

    try:
        while done_iter < stop_at:
            t0 = time.perf_counter()
            new_state, metrics = run_chunk(state, hp)
            metrics = jax.device_get(metrics)
            _check_finite(new_state, metrics, done_iter, where)
            state = new_state
            done_iter += length
            chunks_done += 1
            if extra_metrics is not None:
                for k, v in extra_metrics(state, done_iter, stop_at).items():
                    column = np.full((num_runs, length), np.nan)
                    column[:, -1] = v
                    metrics[k] = column
            for k, v in metrics.items():
                history[k] = np.concatenate([history[k], v], axis=1) if k in history else np.asarray(v)
            due = chunks_done % cfg.checkpoint_every == 0 or done_iter >= stop_at or (
                cfg.checkpoint_every_s is not None and time.monotonic() - last_save >= cfg.checkpoint_every_s)
            if save is not None and due:
                save_now()
            if report is not None:
                report(history, done_iter, length)
            if bar is not None:
                steps = length * cfg.batch_size * num_runs
                ret = np.nanmean(history["episode_return"][:, -length:]) if np.isfinite(
                    history["episode_return"][:, -length:]).any() else float("nan")
                bar.update(steps)
                shown = {k[len("eval_"):]: f"{np.mean(v[:, -1]):.1f}" for k, v in metrics.items()
                         if k.startswith("eval_") and np.isfinite(v[:, -1]).all()}
                bar.set_postfix(sps=f"{steps / (time.perf_counter() - t0):,.0f}", ret=f"{ret:.1f}", **shown)
    except KeyboardInterrupt:
        # Keep the last completed chunk; a second Ctrl-C during this save still leaves
        # the previous checkpoint intact (orbax renames a step folder only when complete).
        if save is not None and saved_iter < done_iter:
            try:
                save_now()
            except checkpoint.CheckpointError:
                pass
        raise
    finally:
        if bar is not None:
            bar.close()
    return state, history, done_iter


def train(cfg: TrainConfig, out: Optional[str] = None, resume: bool = False, progress: bool = True,
          max_iterations: Optional[int] = None, hp_overrides: Optional[dict] = None,
          run_seeds=None, logdir: Optional[str] = None,
          callback: Optional[Callable[[int, dict], None]] = None) -> TrainResult:
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

    Returns:
      A TrainResult holding every run (leading run axis).

    Raises:
      ConfigError: bad input, or a run directory that does not match.
      TrainingDiverged: NaN/inf during training; the last good checkpoint in `out` is kept.
    """
    if not isinstance(cfg, TrainConfig):
        raise ConfigError("train() takes a barpo_jax.TrainConfig")
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
                                               periodic, tracker)
    finally:
        if tracker is not None:
            tracker.close()
    return TrainResult(cfg, jax.device_get(state), history, done_iter, seeds=seeds,
                       hp=hp_host)


def _check_finite(state, metrics, done_iter, out):
    bad = [k for k, v in metrics.items() if k != "episode_return" and not np.all(np.isfinite(v))]
    leaves = jax.tree.leaves(state.agent.params)
    if bad or not all(bool(jnp.all(jnp.isfinite(x))) for x in leaves):
        where = f"; the last good checkpoint in {out} is kept" if out else ""
        raise TrainingDiverged(
            f"training diverged (NaN/inf in {', '.join(bad) or 'parameters'}) after iteration {done_iter}"
            f"{where}: lower learning_rate or eps, or raise max_grad_norm clipping")
