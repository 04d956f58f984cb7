"""What a training run reports while it runs: evaluation under attack, TensorBoard, a callback.

A robustness researcher's most wanted curve is the return *under attack* over training,
not only the training return. `PeriodicEval` evaluates every run (natural and the chosen
built-in attacks, the same deterministic episodes each time) every `cfg.eval_every`
iterations; its values join the training metrics as `eval_<attack>` columns, NaN between
evaluations, so checkpoints, metrics.json/csv, resume and plots carry them unchanged.
`Tracker` sends each iteration's metrics to the chosen backends, TensorBoard
(`TensorBoardLog`: one writer per seed and one for the across-seed mean) and Weights &
Biases (`WandbLog`: one W&B run holding every seed and the mean), both fed by
`iteration_scalars`, and calls the user's `callback(env_steps, metrics)` once per chunk.
"""
from __future__ import annotations

import json
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


def iteration_scalars(history: dict, seeds, done_iter: int, length: int, batch_size: int) -> list:
    """What every logging backend writes for iterations [done_iter - length, done_iter).

    Args:
      history: {metric: [run, iteration]} values so far.
      seeds: the seed of each run (row of `history`).
      done_iter, length: the chunk just finished ends at iteration `done_iter`, `length` long.
      batch_size: env steps per run per iteration.

    Returns:
      [(env_steps_per_run, {series: {metric: value}})], one entry per iteration: series
        `seed_<s>` for each run and `mean` across runs. NaN values (no episode ended, no
        evaluation that iteration) are left out, so a backend draws only points that exist.
    """
    first = done_iter - length
    chunk = {k: np.asarray(v, np.float64)[:, first:done_iter] for k, v in history.items()}
    rows = []
    for j in range(length):
        series = {f"seed_{s}": {} for s in seeds}
        series["mean"] = {}
        for k, v in chunk.items():
            col = v[:, j]
            for s, x in zip(seeds, col):
                if np.isfinite(x):
                    series[f"seed_{s}"][k] = float(x)
            if np.isfinite(col).any():
                series["mean"][k] = float(np.mean(col[np.isfinite(col)]))
        rows.append(((first + j + 1) * batch_size, series))
    return rows


class TensorBoardLog:
    """TensorBoard event files under `logdir`: one run per series (seed_<s>, mean), so
    TensorBoard overlays the seeds and their mean in each metric's chart."""

    def __init__(self, logdir: str, seeds):
        try:
            from tensorboardX import SummaryWriter
        except ImportError:
            raise ConfigError("logdir needs tensorboardX: pip install tensorboardX") from None
        try:
            os.makedirs(logdir, exist_ok=True)
        except OSError as e:
            raise ConfigError(f"cannot create logdir {logdir!r} ({e.strerror}): choose a writable path") from None
        names = [f"seed_{s}" for s in seeds] + ["mean"]
        self.writers = {n: SummaryWriter(os.path.join(logdir, n)) for n in names}

    def log(self, rows: list) -> None:
        """Write `iteration_scalars` rows."""
        for step, series in rows:
            for name, metrics in series.items():
                for k, v in metrics.items():
                    self.writers[name].add_scalar(k, v, step)
        for w in self.writers.values():
            w.flush()

    def close(self, failed: bool = False) -> None:
        for w in self.writers.values():
            w.close()


WANDB_KEYS = ("project", "entity", "name", "group", "tags", "notes", "mode")
WANDB_ID_FILE = "wandb_run_id"   # in the run directory: a resumed training continues this W&B run
WANDB_MISSING = "wandb is not installed: pip install 'barpo-jax[wandb]'"


def wandb_settings(spec) -> dict:
    """The `wandb.init` arguments that `train(wandb=spec)` asks for, checked before training
    starts (and before the run directory is written), so a typo or a missing install costs
    nothing.

    Args:
      spec: a W&B project name, or a dict with any of WANDB_KEYS (project, entity, name,
        group, tags, notes, mode); the WANDB_* environment variables fill what is not given.

    Returns:
      The dict of `wandb.init` keyword arguments.

    Raises:
      ConfigError: a spec of another shape, an unknown key, or wandb not installed.
    """
    if isinstance(spec, str) and spec.strip():
        spec = {"project": spec}
    if not isinstance(spec, dict):
        raise ConfigError(f"wandb takes a project name or a dict of {', '.join(WANDB_KEYS)}; got {spec!r}")
    unknown = sorted(set(spec) - set(WANDB_KEYS))
    if unknown:
        raise ConfigError(f"wandb: unknown keys {unknown}: use {', '.join(WANDB_KEYS)}")
    try:
        import wandb  # noqa: F401
    except ImportError:
        raise ConfigError(WANDB_MISSING) from None
    return dict(spec)


class WandbLog:
    """One W&B run for all seeds of a training: the config (and seeds) as its config; each
    metric as `<metric>/seed_<s>` and `<metric>/mean`, so a metric's section holds its seeds
    and their mean; against `env_steps` (env steps per run, TensorBoard's step). With a run
    directory, the W&B run id is kept in it and a resumed training continues that run."""

    def __init__(self, settings: dict, cfg: TrainConfig, seeds, run_dir: Optional[str] = None,
                 resume: bool = False):
        import wandb
        kwargs = dict(settings)
        run_id = _saved_wandb_id(run_dir) if resume else None
        if run_dir is not None:
            kwargs.setdefault("name", os.path.basename(os.path.normpath(run_dir)))
        config = {**json.loads(cfg.to_json()), "seeds": list(seeds)}
        # reinit="create_new": a W&B run the caller already has open (a notebook's) stays as it is.
        try:
            self.run = wandb.init(config=config, id=run_id, resume="allow" if run_id else None,
                                  reinit="create_new", **kwargs)
        except wandb.errors.Error as e:   # not logged in, no network, no such entity: setup, not a fault
            raise ConfigError(f"wandb could not start a run ({e}): run `wandb login`, or log locally with "
                              "WANDB_MODE=offline") from None
        self.run.define_metric("env_steps")
        self.run.define_metric("*", step_metric="env_steps")
        if run_dir is not None:
            from .checkpoint import atomic_write
            atomic_write(os.path.join(run_dir, WANDB_ID_FILE), self.run.id + "\n")

    def log(self, rows: list) -> None:
        """Log `iteration_scalars` rows, one W&B step per iteration."""
        for step, series in rows:
            self.run.log({"env_steps": step, **{f"{k}/{name}": v for name, metrics in series.items()
                                                for k, v in metrics.items()}})

    def close(self, failed: bool = False) -> None:
        self.run.finish(exit_code=1 if failed else 0)


def _saved_wandb_id(run_dir: Optional[str]) -> Optional[str]:
    """The W&B run id a run directory keeps (None: none there, e.g. trained without W&B so far)."""
    try:
        with open(os.path.join(run_dir, WANDB_ID_FILE)) as f:
            return f.read().strip() or None
    except (OSError, TypeError):
        return None


class Tracker:
    """Logging while training: TensorBoard and/or W&B scalars (per seed and across-seed mean)
    and a per-chunk callback."""

    def __init__(self, cfg: TrainConfig, seeds, logdir: Optional[str] = None,
                 callback: Optional[Callable[[int, dict], None]] = None, wandb: Optional[dict] = None,
                 run_dir: Optional[str] = None, resume: bool = False):
        """Args: `wandb` is `wandb_settings(...)`'s dict (None: no W&B); `run_dir` and `resume`
        the training's `out` and `resume`, where the W&B run id is kept. Other args: `train`'s."""
        self.cfg, self.seeds, self.callback = cfg, list(seeds), callback
        self.backends = []
        if logdir is not None:
            self.backends.append(TensorBoardLog(logdir, self.seeds))
        if wandb is not None:
            self.backends.append(WandbLog(wandb, cfg, self.seeds, run_dir, resume))

    def __call__(self, history: dict, done_iter: int, length: int) -> None:
        """Report iterations [done_iter - length, done_iter) of `history` ({name: [run, iteration]})."""
        if self.backends:
            rows = iteration_scalars(history, self.seeds, done_iter, length, self.cfg.batch_size)
            for backend in self.backends:
                backend.log(rows)
        if self.callback is not None:
            first = done_iter - length
            chunk = {k: np.asarray(v, np.float64)[:, first:done_iter] for k, v in history.items()}
            with warnings.catch_warnings():  # an iteration where no episode ended is NaN for every run
                warnings.simplefilter("ignore", RuntimeWarning)
                per_seed = {k: np.nanmean(v, axis=1) for k, v in chunk.items()}
                metrics = {k: float(np.nanmean(v)) for k, v in per_seed.items()}
            self.callback(done_iter * self.cfg.batch_size, {**metrics, "per_seed": per_seed, "iteration": done_iter})

    def close(self, failed: bool = False) -> None:
        """Close every backend; `failed` (training raised) marks the W&B run as failed."""
        for backend in self.backends:
            backend.close(failed)
