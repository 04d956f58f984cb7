"""The host loop: compiled chunks, NaN check, checkpoints, progress.

The program itself (state, iteration, compiled chunk) is `learner.py`; this module
only runs it chunk by chunk. `train.train` and the learned attacks' fitters
(`attacks/learned.py`) share `run_chunks`.
"""
from __future__ import annotations

import time
from typing import Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np

from . import checkpoint
from .config import HyperParams
from .learner import Trainer, TrainState, shard
from .progress import progress_bar


# Evaluation during training (tracking.PeriodicEval) joins the history as these columns;
# the progress bar shows their latest values.
EVAL_PREFIX = "eval_"


def eval_name(attack: str) -> str:
    """The metric holding the mean evaluation return under `attack` ('none' is natural)."""
    return EVAL_PREFIX + ("natural" if attack == "none" else attack)


class TrainingDiverged(ValueError):
    pass


def chunk_length(num_iterations: int, target: int) -> int:
    """Largest divisor of num_iterations not above target: equal chunks, one compile."""
    return max(d for d in range(1, min(target, num_iterations) + 1) if num_iterations % d == 0)


def next_chunk(done_iter: int, stop_at: int, full_length: int) -> int:
    """Iterations in the next chunk: `full_length`, except a shorter one that realigns a run
    saved at another chunk length (resumed with a new `chunk_iterations`) or ends it exactly
    at `stop_at`; overshooting would train past the schedule (the learning rate anneals to
    0 at the last iteration and would turn negative after it)."""
    return min(full_length - done_iter % full_length, stop_at - done_iter)


def run_chunks(trainer: Trainer, state: TrainState, hp: HyperParams, stop_at: int, done_iter: int = 0,
               history: Optional[dict] = None, save: Optional[Callable] = None, progress: bool = True,
               desc: str = "train", where: Optional[str] = None, extra_metrics: Optional[Callable] = None,
               report: Optional[Callable] = None, time_budget_s: Optional[float] = None
               ) -> tuple[TrainState, dict, int]:
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
      time_budget_s: stop (and save) after the first chunk that ends this many seconds
        after the start, so a long run can be split into calls that each fit a time
        limit and resume from one another; None runs to `stop_at`.

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
    full_length = chunk_length(cfg.num_iterations, cfg.chunk_iterations)
    bar = progress_bar(progress, stop_at * cfg.batch_size * num_runs, desc, unit="step",
                       initial=done_iter * cfg.batch_size * num_runs)
    chunks_done, saved_iter, last_save = 0, done_iter, time.monotonic()
    started = time.monotonic()

    def save_now():
        nonlocal saved_iter, last_save
        save(state, history, done_iter)
        saved_iter, last_save = done_iter, time.monotonic()

    try:
        while done_iter < stop_at:
            t0 = time.perf_counter()
            length = next_chunk(done_iter, stop_at, full_length)
            new_state, metrics = trainer.chunk_fn(length)(state, hp)
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
            out_of_time = time_budget_s is not None and time.monotonic() - started >= time_budget_s
            due = chunks_done % cfg.checkpoint_every == 0 or done_iter >= stop_at or out_of_time or (
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
                shown = {k[len(EVAL_PREFIX):]: f"{np.mean(v[:, -1]):.1f}" for k, v in metrics.items()
                         if k.startswith(EVAL_PREFIX) and np.isfinite(v[:, -1]).all()}
                bar.set_postfix(sps=f"{steps / (time.perf_counter() - t0):,.0f}", ret=f"{ret:.1f}", **shown)
            if out_of_time:
                break
            checkpoint.raise_if_terminated()
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


def _check_finite(state, metrics, done_iter, out):
    bad = [k for k, v in metrics.items() if k != "episode_return" and not np.all(np.isfinite(v))]
    leaves = jax.tree.leaves(state.agent.params)
    if bad or not all(bool(jnp.all(jnp.isfinite(x))) for x in leaves):
        where = f"; the last good checkpoint in {out} is kept" if out else ""
        raise TrainingDiverged(
            f"training diverged (NaN/inf in {', '.join(bad) or 'parameters'}) after iteration {done_iter}"
            f"{where}: lower learning_rate or eps, or raise max_grad_norm clipping")
