"""What a training run reports while it runs: evaluation under attack, TensorBoard, a callback.

A robustness researcher's most wanted curve is the return *under attack* over training,
not only the training return. `PeriodicEval` evaluates every run (natural and the chosen
built-in attacks, the same deterministic episodes each time) every `cfg.eval_every`
iterations; its values join the training metrics as `eval_<attack>` columns, NaN between
evaluations, so checkpoints, metrics.json/csv, resume and plots carry them unchanged.
`Tracker` writes each iteration's metrics to TensorBoard (one writer per seed and one for
the across-seed mean) and calls the user's `callback(env_steps, metrics)` once per chunk.
"""
from __future__ import annotations

import os
import warnings
from typing import Callable, Optional

import numpy as np

from .config import ConfigError, TrainConfig
from .loop import EVAL_PREFIX, eval_name  # noqa: F401  (the metric names; re-exported)


class PeriodicEval:
    """Evaluation of every run during training, at chunk ends once `cfg.eval_every`
    iterations have passed since the last one (and at the end of training)."""

    def __init__(self, cfg: TrainConfig, seeds, hp: dict):
        from . import attacks as atk
        for name in cfg.eval_attacks:
            if name not in atk.HEURISTIC:
                learned = " (learned attacks need minutes of fitting: run `barpo eval` after training)" \
                    if name in atk.LEARNED else ""
                raise ConfigError(f"eval_attacks: {name!r} cannot run during training{learned}; choose from "
                                  f"{', '.join(a for a in atk.HEURISTIC if a != 'none')}")
        self.cfg, self.seeds, self.hp = cfg, list(seeds), hp
        self.attacks = ["none"] + [a for a in cfg.eval_attacks if a != "none"]
        self.names = [eval_name(a) for a in self.attacks]
        self.last = None

    def __call__(self, state, done_iter: int, stop_at: int) -> dict:
        """{eval_<attack>: [run] mean return} if an evaluation is due after `done_iter`
        iterations, else the same keys with NaN."""
        due = self.last is None or done_iter - self.last >= self.cfg.eval_every or done_iter >= stop_at
        if not due:
            return {n: np.full((len(self.seeds),), np.nan) for n in self.names}
        import jax

        from .evaluate import evaluate
        from .result import TrainResult
        result = TrainResult(self.cfg, jax.device_get(state), {}, done_iter, seeds=self.seeds, hp=self.hp)
        report = evaluate(result, attacks=self.attacks[1:] or ["none"], episodes=self.cfg.eval_episodes,
                          progress=False, masking_check=False, learned_scan="none")
        self.last = done_iter
        return {eval_name(a): np.asarray(report.returns[:, report.attacks.index(a)], np.float64)
                for a in self.attacks}


class Tracker:
    """TensorBoard scalars (per seed and across-seed mean) and a per-chunk callback."""

    def __init__(self, cfg: TrainConfig, seeds, logdir: Optional[str] = None,
                 callback: Optional[Callable[[int, dict], None]] = None):
        self.cfg, self.seeds, self.callback = cfg, list(seeds), callback
        self.writers = {}
        if logdir is not None:
            try:
                from tensorboardX import SummaryWriter
            except ImportError:
                raise ConfigError("logdir needs tensorboardX: pip install tensorboardX") from None
            try:
                os.makedirs(logdir, exist_ok=True)
            except OSError as e:
                raise ConfigError(f"cannot create logdir {logdir!r} ({e.strerror}): choose a writable path") from None
            self.writers = {f"seed_{s}": SummaryWriter(os.path.join(logdir, f"seed_{s}")) for s in self.seeds}
            self.writers["mean"] = SummaryWriter(os.path.join(logdir, "mean"))

    def __call__(self, history: dict, done_iter: int, length: int) -> None:
        """Report iterations [done_iter - length, done_iter) of `history` ({name: [run, iteration]})."""
        first = done_iter - length
        batch = self.cfg.batch_size
        chunk = {k: np.asarray(v, np.float64)[:, first:done_iter] for k, v in history.items()}
        with warnings.catch_warnings():  # an iteration where no episode ended is NaN for every run
            warnings.simplefilter("ignore", RuntimeWarning)
            if self.writers:
                for j in range(length):
                    step = (first + j + 1) * batch
                    for k, v in chunk.items():
                        col = v[:, j]
                        for i, s in enumerate(self.seeds):
                            if np.isfinite(col[i]):
                                self.writers[f"seed_{s}"].add_scalar(k, float(col[i]), step)
                        if np.isfinite(col).any():
                            self.writers["mean"].add_scalar(k, float(np.nanmean(col)), step)
                for w in self.writers.values():
                    w.flush()
            if self.callback is not None:
                per_seed = {k: np.nanmean(v, axis=1) for k, v in chunk.items()}
                metrics = {k: float(np.nanmean(v)) for k, v in per_seed.items()}
                self.callback(done_iter * batch, {**metrics, "per_seed": per_seed, "iteration": done_iter})

    def close(self) -> None:
        for w in self.writers.values():
            w.close()
