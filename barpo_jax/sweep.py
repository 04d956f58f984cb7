"""Hyper-parameter sweeps as one compiled program.

Float hyper-parameters are data (`config.hyperparams`), so a grid over, say,
kappa x eps x seeds is just more runs along the vmapped run axis: one compile,
one program, every grid point and seed trained at once.
"""
from __future__ import annotations

import dataclasses
import itertools

import numpy as np

from .config import HP_FIELDS, ConfigError, TrainConfig
from .train import train


@dataclasses.dataclass
class SweepResult:
    """A sweep's runs: `result` holds one run per (grid point, seed), grid point major."""
    result: object        # TrainResult with one run per (grid point, seed)
    grid: list            # [{field: value}] per grid point
    seeds: int

    def runs_of(self, i: int) -> list:
        """Run indices of grid point i."""
        return list(range(i * self.seeds, (i + 1) * self.seeds))

    def final_returns(self, last_fraction: float = 0.1) -> np.ndarray:
        """[grid point, seed] mean training-episode return over the last iterations."""
        ret = self.result.metrics["episode_return"]
        k = max(1, int(ret.shape[1] * last_fraction))
        with np.errstate(all="ignore"):
            per_run = np.nanmean(ret[:, -k:], axis=1)
        return per_run.reshape(len(self.grid), self.seeds)

    def table(self) -> str:
        names = list(self.grid[0])
        fr = self.final_returns()
        lines = ["| " + " | ".join(names) + " | final return (mean ± std over seeds) |",
                 "|" + "---|" * (len(names) + 1)]
        for g, row in zip(self.grid, fr):
            lines.append("| " + " | ".join(f"{g[n]:g}" for n in names) + f" | {np.nanmean(row):.1f} ± "
                         f"{np.nanstd(row):.1f} |")
        return "\n".join(lines)


def sweep(cfg: TrainConfig, seeds: int = 1, progress: bool = True, **grid) -> SweepResult:
    """Train the full grid of `grid` values (e.g. kappa=[0, 0.5, 1], eps=[0.05, 0.1]) times
    `seeds` seeds in one program.

    Args:
      cfg: the configuration every grid point shares.
      seeds: seeds per grid point (cfg.seed, cfg.seed + 1, ...).
      progress: draw a progress bar.
      **grid: {{field: values}}. Only float hyper-parameters can be swept this way: {HP}.

    Returns:
      A SweepResult: one run per (grid point, seed), grid point major.

    Raises:
      ConfigError: an empty grid, a field that is not a float hyper-parameter, bad values.
    """
    if not grid:
        raise ConfigError("sweep needs at least one field, e.g. sweep(cfg, kappa=[0.0, 1.0])")
    for name, values in grid.items():
        if name not in HP_FIELDS:
            raise ConfigError(f"cannot sweep {name!r} inside one program: choose from {', '.join(HP_FIELDS)}")
        if len(values) == 0:
            raise ConfigError(f"sweep values for {name!r} are empty")
        if name == "eps" and min(values) < 0:
            raise ConfigError("eps must be >= 0")
    if seeds < 1:
        raise ConfigError("seeds must be >= 1")
    names = list(grid)
    points = [dict(zip(names, combo)) for combo in itertools.product(*(grid[n] for n in names))]
    overrides = {n: np.repeat(np.asarray([p[n] for p in points], np.float32), seeds) for n in names}
    run_seeds = [cfg.seed + s for _ in points for s in range(seeds)]
    # Guard the inner step size: step_frac is relative to eps, so sweeping eps keeps eps/K steps.
    result = train(cfg.replace(num_seeds=len(run_seeds)), progress=progress, hp_overrides=overrides,
                   run_seeds=run_seeds)
    return SweepResult(result, points, seeds)


sweep.__doc__ = sweep.__doc__.format(HP=", ".join(HP_FIELDS))
