"""The host loop: compiled chunks, NaN check, checkpoints, progress.

The program itself (state, iteration, compiled chunk) is `learner.py`; this module
only runs it chunk by chunk. `train.train` and the learned attacks' fitters
(`attacks/learned.py`) share `run_chunks`.
"""
from __future__ import annotations

import dataclasses
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
    """Training produced NaN or inf (in a metric or the parameters) during a chunk.

    The chunk's state is not saved, so a run directory keeps its last good checkpoint;
    the message names what went non-finite and the usual fixes (a lower learning rate or
    eps, gradient clipping).
    """


def chunk_length(num_iterations: int, target: int) -> int:
    """Largest divisor of num_iterations not above target: equal chunks, one compile."""
    return max(d for d in range(1, min(target, num_iterations) + 1) if num_iterations % d == 0)


def next_chunk(done_iter: int, stop_at: int, full_length: int) -> int:
    """Iterations in the next chunk: `full_length`, except a shorter one that realigns a run
    saved at another chunk length (resumed with a new `chunk_iterations`) or ends it exactly
    at `stop_at`; overshooting would train past the schedule (the learning rate anneals to
    0 at the last iteration and would turn negative after it)."""
    return min(full_length - done_iter % full_length, stop_at - done_iter)


@dataclasses.dataclass
class Hooks:
    """What the host loop calls besides the compiled chunk (in the spirit of Brax's
    `progress_fn`); each may be None.

    Attributes:
      save: `save(state, history, done_iter)`, called at the config's checkpoint cadence,
        at the end, and on Ctrl-C; None keeps everything in memory.
      extra_metrics: `extra_metrics(state, done_iter, stop_at) -> {name: [run]}` after each
        chunk; the values join the history at the chunk's last iteration (NaN elsewhere).
        Periodic evaluation (tracking.PeriodicEval) uses it.
      report: `report(history, done_iter, length)` after each chunk (tracking.Tracker).
    """
    save: Optional[Callable] = None
    extra_metrics: Optional[Callable] = None
    report: Optional[Callable] = None


@dataclasses.dataclass
class LoopState:
    """Where the host loop stands: the learner state, the metrics so far ({name: [run,
    iteration]}), the iterations done and when it last saved."""
    state: TrainState
    history: dict
    done_iter: int
    saved_iter: int
    chunks_done: int = 0
    started: float = dataclasses.field(default_factory=time.monotonic)
    last_save: float = dataclasses.field(default_factory=time.monotonic)

    @property
    def num_runs(self) -> int:
        return int(np.shape(self.state.iteration)[0])

    def save(self, hooks: Hooks) -> None:
        hooks.save(self.state, self.history, self.done_iter)
        self.saved_iter, self.last_save = self.done_iter, time.monotonic()


def run_chunks(trainer: Trainer, state: TrainState, hp: HyperParams, stop_at: int, done_iter: int = 0,
               history: Optional[dict] = None, hooks: Optional[Hooks] = None, progress: bool = True,
               desc: str = "train", where: Optional[str] = None, time_budget_s: Optional[float] = None
               ) -> tuple[TrainState, dict, int]:
    """Run `trainer`'s compiled chunks from iteration `done_iter` until `stop_at`.

    Args:
      trainer, state, hp: the program, its state and hyper-parameters (leading run axis).
      stop_at: the iteration to stop at (at most the config's num_iterations).
      done_iter, history: where a resumed run stands (iterations done, metrics so far).
      hooks: saving, extra metrics and reporting (`Hooks`); None: none of them.
      progress, desc: the progress bar and its label.
      where: the run directory named in the divergence error (None: in memory).
      time_budget_s: stop (and save) after the first chunk that ends this many seconds
        after the start, so a long run can be split into calls that each fit a time
        limit and resume from one another; None runs to `stop_at`.

    Returns:
      (state, history, done_iter): the final state, the metrics {name: [run, iteration]}
        and the number of iterations done.

    Raises:
      TrainingDiverged: a chunk produced NaN/inf; the state before it is the last saved.
    """
    cfg, hooks = trainer.cfg, hooks or Hooks()
    loop = LoopState(shard(state, cfg.num_envs), {} if history is None else history, done_iter, done_iter)
    full_length = chunk_length(cfg.num_iterations, cfg.chunk_iterations)
    steps_per_iteration = cfg.batch_size * loop.num_runs
    bar = progress_bar(progress, stop_at * steps_per_iteration, desc, unit="step",
                       initial=done_iter * steps_per_iteration)
    try:
        while loop.done_iter < stop_at:
            t0 = time.perf_counter()
            length = next_chunk(loop.done_iter, stop_at, full_length)
            metrics = _run_chunk(trainer, loop, hp, length, stop_at, hooks, where)
            out_of_time = time_budget_s is not None and time.monotonic() - loop.started >= time_budget_s
            if hooks.save is not None and (_save_due(cfg, loop, stop_at) or out_of_time):
                loop.save(hooks)
            if hooks.report is not None:
                hooks.report(loop.history, loop.done_iter, length)
            if bar is not None:
                _show_progress(bar, loop, metrics, length * steps_per_iteration, time.perf_counter() - t0)
            if out_of_time:
                break
            checkpoint.raise_if_terminated()
    except KeyboardInterrupt:
        # Keep the last completed chunk; a second Ctrl-C during this save still leaves
        # the previous checkpoint intact (orbax renames a step folder only when complete).
        if hooks.save is not None and loop.saved_iter < loop.done_iter:
            try:
                loop.save(hooks)
            except checkpoint.CheckpointError:
                pass
        raise
    finally:
        if bar is not None:
            bar.close()
    return loop.state, loop.history, loop.done_iter


def _run_chunk(trainer: Trainer, loop: LoopState, hp: HyperParams, length: int, stop_at: int, hooks: Hooks,
               where: Optional[str]) -> dict:
    """One compiled chunk of `length` iterations, checked for NaN before it is kept; its
    metrics (with the extra ones) join the history. Returns the chunk's metrics."""
    new_state, metrics = trainer.chunk_fn(length)(loop.state, hp)
    metrics = jax.device_get(metrics)
    _check_finite(new_state, metrics, loop.done_iter, where)
    loop.state, loop.done_iter, loop.chunks_done = new_state, loop.done_iter + length, loop.chunks_done + 1
    if hooks.extra_metrics is not None:
        for k, v in hooks.extra_metrics(loop.state, loop.done_iter, stop_at).items():
            column = np.full((loop.num_runs, length), np.nan)
            column[:, -1] = v
            metrics[k] = column
    loop.history = extend_history(loop.history, metrics, loop.num_runs)
    return metrics


def _save_due(cfg, loop: LoopState, stop_at: int) -> bool:
    """The checkpoint cadence: every `checkpoint_every` chunks, every `checkpoint_every_s`
    seconds, and at the end."""
    return (loop.chunks_done % cfg.checkpoint_every == 0 or loop.done_iter >= stop_at or (
        cfg.checkpoint_every_s is not None and time.monotonic() - loop.last_save >= cfg.checkpoint_every_s))


def _show_progress(bar, loop: LoopState, metrics: dict, steps: int, seconds: float) -> None:
    """Advance the bar by the chunk's env steps and show its speed, the chunk's mean
    training return and the latest periodic-evaluation returns."""
    length = np.shape(metrics["episode_return"])[1]
    recent = loop.history["episode_return"][:, -length:]
    ret = np.nanmean(recent) if np.isfinite(recent).any() else float("nan")
    bar.update(steps)
    shown = {k[len(EVAL_PREFIX):]: f"{np.mean(v[:, -1]):.1f}" for k, v in metrics.items()
             if k.startswith(EVAL_PREFIX) and np.isfinite(v[:, -1]).all()}
    bar.set_postfix(sps=f"{steps / seconds:,.0f}", ret=f"{ret:.1f}", **shown)


def extend_history(history: dict, metrics: dict, num_runs: int) -> dict:
    """`history` ({name: [run, iteration]}) with one chunk's `metrics` appended. A metric the
    history lacks (a run saved by a version that did not record it) is NaN before the chunk,
    so every column keeps the run's full length."""
    width = max((np.shape(v)[1] for v in history.values()), default=0)

    def column(k, v):
        v = np.asarray(v)
        before = history[k] if k in history else np.full((num_runs, width), np.nan) if width else None
        return v if before is None else np.concatenate([before, v], axis=1)
    return {**history, **{k: column(k, v) for k, v in metrics.items()}}


def _check_finite(state, metrics, done_iter, out):
    bad = [k for k, v in metrics.items() if k != "episode_return" and not np.all(np.isfinite(v))]
    leaves = jax.tree.leaves(state.agent.params)
    if bad or not all(bool(jnp.all(jnp.isfinite(x))) for x in leaves):
        where = f"; the last good checkpoint in {out} is kept" if out else ""
        raise TrainingDiverged(
            f"training diverged (NaN/inf in {', '.join(bad) or 'parameters'}) after iteration {done_iter}"
            f"{where}: lower learning_rate or eps, or raise max_grad_norm clipping")
