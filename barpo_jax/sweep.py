"""Hyper-parameter sweeps as one compiled program.

Float hyper-parameters are data (`config.hyperparams`), so a grid over, say,
kappa x eps x seeds is just more runs along the vmapped run axis: one compile,
one program, every grid point and seed trained at once. With `out`, a sweep is a run
directory like `train`'s (checkpoints, metrics, resume) plus sweep.json, its grid,
so `load` reads it back as a SweepResult after the process ends.
"""
from __future__ import annotations

import itertools
from typing import Optional

from . import checkpoint
from .config import ConfigError, TrainConfig, hp_fields
from .result import SweepResult, sweep_overrides
from .train import train

__all__ = ["SweepResult", "sweep"]


def sweep(cfg: TrainConfig, seeds: int = 1, progress: bool = True, out: Optional[str] = None,
          resume: bool = False, max_iterations: Optional[int] = None, time_budget_s: Optional[float] = None,
          **grid) -> SweepResult:
    """Train the full grid of `grid` values (e.g. kappa=[0, 0.5, 1], eps=[0.05, 0.1]) times
    `seeds` seeds in one program.

    Args:
      cfg: the configuration every grid point shares.
      seeds: seeds per grid point (cfg.seed, cfg.seed + 1, ...).
      progress: draw a progress bar.
      out: run directory for checkpoints, metrics and the grid (sweep.json); None keeps
        everything in memory.
      resume: continue the sweep saved in `out` (same cfg, grid and seeds).
      max_iterations: stop once this many iterations are done (the sweep stays resumable).
      time_budget_s: stop after the first chunk that ends this many seconds after the start
        (as `train`'s); `resume=True` continues.
      **grid: {field: values}. Only the float hyper-parameters in `config.hp_fields()` (the
        learning rates, gamma, gae_lambda, clip_eps, the loss and reward coefficients, eps, kappa and
        the robust methods' weights) can be swept this way: they enter the one compiled
        program as data, while any other field would change the program itself.

    Returns:
      A SweepResult: one run per (grid point, seed), grid point major.

    Raises:
      ConfigError: an empty grid, a field that is not a float hyper-parameter, bad values,
        or an `out` that holds another run or sweep.
    """
    if not grid:
        raise ConfigError("sweep needs at least one field, e.g. sweep(cfg, kappa=[0.0, 1.0])")
    for name, values in grid.items():
        if name not in hp_fields():
            raise ConfigError(f"cannot sweep {name!r} inside one program: choose from {', '.join(hp_fields())}")
        if len(values) == 0:
            raise ConfigError(f"sweep values for {name!r} are empty")
        if name == "eps" and min(values) < 0:
            raise ConfigError("eps must be >= 0")
    if seeds < 1:
        raise ConfigError("seeds must be >= 1")
    names = list(grid)
    points = [{n: float(v) for n, v in zip(names, combo)} for combo in itertools.product(*(grid[n] for n in names))]
    run_seeds = [cfg.seed + s for _ in points for s in range(seeds)]
    if out is not None:
        _prepare_sweep_dir(out, points, seeds, run_seeds, resume)
    # Guard the inner step size: step_frac is relative to eps, so sweeping eps keeps eps/K steps.
    result = train(cfg.replace(num_seeds=len(run_seeds)), out=out, resume=resume, progress=progress,
                   max_iterations=max_iterations, hp_overrides=sweep_overrides(points, seeds), run_seeds=run_seeds,
                   time_budget_s=time_budget_s)
    return SweepResult(result, points, seeds)


def _prepare_sweep_dir(out: str, points: list, seeds: int, run_seeds: list, resume: bool) -> None:
    """Refuse to mix sweeps: resume only the same grid and seeds; start only in a directory
    without a run. Writes sweep.json for a new sweep (train writes the rest)."""
    if resume:
        saved = checkpoint.read_sweep(out)
        if saved is None:
            raise ConfigError(f"nothing to resume as a sweep in {out!r} (no sweep.json): check the path, or drop "
                              "resume=True to start the sweep there")
        if saved["grid"] != points or saved["seeds"] != seeds:
            raise ConfigError(f"cannot resume the sweep in {out!r} with another grid or seeds (saved "
                              f"{len(saved['grid'])} points x {saved['seeds']} seeds: {saved['grid']}): pass the "
                              "saved grid, or a new out")
        return
    if checkpoint.has_checkpoint(out):
        raise ConfigError(f"{out!r} already holds a run: pass resume=True to continue it, or choose another out")
    checkpoint.write_sweep(out, points, seeds, run_seeds)
