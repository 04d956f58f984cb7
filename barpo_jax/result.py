"""`TrainResult` and `SweepResult`: what `train` and `sweep` return and `load` reads back."""
from __future__ import annotations

import dataclasses
from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np

from . import checkpoint, networks
from . import normalize as nz
from .config import ConfigError, TrainConfig, hyperparams
from .envs import make_brax_env
from .learner import Trainer


@dataclasses.dataclass
class TrainResult:
    """Every run of one `train` call (or one run directory read by `load`).

    Attributes:
      config: the runs' configuration.
      state: the final learner.TrainState, leading run axis (numpy leaves).
      metrics: {name: [run, iteration]} training metrics.
      iterations: training iterations done per run.
      seeds: the seed of each run (run i along the run axis).
      hp: the float hyper-parameters of each run, {field: [run]} (sweeps vary them).
    """
    config: TrainConfig
    state: object            # TrainState with a leading run axis (numpy leaves)
    metrics: dict            # name -> np.ndarray [run, iteration]
    iterations: int
    seeds: Optional[list] = None
    hp: Optional[dict] = None

    @property
    def params(self):
        """The actor-critic's parameters, every leaf with a leading run axis."""
        return self.state.agent.params

    @property
    def normalizer(self) -> nz.RunningStats:
        """The observation normaliser's running statistics, leading run axis."""
        return self.state.stats

    @property
    def num_runs(self) -> int:
        """How many runs (seeds, or grid points x seeds for a sweep) the result holds."""
        return int(np.asarray(self.state.iteration).shape[0])

    @property
    def env_steps(self) -> int:
        """Environment steps each run has trained for."""
        return self.iterations * self.config.batch_size

    def run(self, run: int = 0, **renamed):
        """(params, normaliser) of one run.

        Args:
          run: the index along the run axis (run i was trained with seed `seeds[i]`).

        Returns:
          (params, normaliser) of that run, as jax arrays.

        Raises:
          ConfigError: `run` out of range, or the old keyword `seed=` (now `run=`).
        """
        run = _run_index(run, renamed, "run")
        if not 0 <= run < self.num_runs:
            raise ConfigError(f"run index {run} out of range: this result holds {self.num_runs} runs (0..{self.num_runs - 1})")
        pick = lambda t: jax.tree.map(lambda x: jnp.asarray(x[run]), t)
        return pick(self.params), pick(self.normalizer)

    def actor_critic(self) -> networks.ActorCritic:
        """The runs' network, rebuilt from the config (the env gives its input and output sizes).

        Returns:
          The `networks.ActorCritic` that `params` belong to.
        """
        env = make_brax_env(self.config.env, self.config.backend)
        c = self.config
        return networks.ActorCritic(env.observation_size, env.action_size, c.policy_hidden, c.value_hidden,
                                    c.init_log_std)

    def policy(self, run: int = 0, **renamed):
        """One run's deterministic policy.

        Args:
          run: the index along the run axis.

        Returns:
          A jitted function: raw obs -> action (the clipped Gaussian mean), normalisation inside.

        Raises:
          ConfigError: `run` out of range.
        """
        params, stats = self.run(_run_index(run, renamed, "policy"))
        apply = self.policy_apply()
        return jax.jit(lambda obs: apply(params, stats, obs))

    def policy_apply(self):
        """The deterministic policy of `policy`, unbound: (params, normaliser, raw obs) -> action.

        For jitting one program over several runs' arrays (passed as arguments) instead of
        compiling one policy per run.

        Returns:
          A pure function `apply(params, normaliser, obs) -> action`, for the arrays of
            any run (as `run(i)` returns them).
        """
        ac, clip = self.actor_critic(), self.config.observation_clip
        return lambda params, stats, obs: networks.to_env_action(ac.dist(params, nz.normalize(stats, obs, clip))[0])

    def export(self, out: str, run: int = 0) -> dict:
        """Write one run's deterministic policy (`policy(run)`) to run without barpo-jax.

        Args:
          out: the folder to write (created if missing): policy.npz (arrays), policy.json
            (what they mean), policy.py (`load(out)` -> `act(obs)`, numpy only) and
            policy.jax_export (a `jax.export` program over a batch of any size).
          run: the index along the run axis.

        Returns:
          {"arrays", "spec", "module", "program"}: the paths written.

        Raises:
          ConfigError: `run` out of range, or `out` is a file.
        """
        from .export import export_policy
        return export_policy(self, out, run)

    def summary(self) -> dict:
        """A short description of the runs, for printing or logging.

        Returns:
          {"env", "algo", "runs", "iterations", "env_steps_per_run",
            "final_return_per_run"}: the last is each run's mean training return over its
            last 10% of iterations (NaN for a run in which no episode ended).
        """
        ret = self.metrics.get("episode_return")
        last = [final_return(r) for r in ret] if ret is not None else []
        return {"env": self.config.env, "algo": self.config.algo, "runs": self.num_runs,
                "iterations": self.iterations, "env_steps_per_run": self.env_steps,
                "final_return_per_run": last}


def final_return(returns, fraction: float = 0.1) -> float:
    """One run's final training return: the mean over the last `fraction` of its iterations
    in which an episode ended (an iteration where none ended is NaN; with episodes longer
    than a rollout, most are), NaN only if no episode ever ended."""
    ended = np.asarray(returns, dtype=float)
    ended = ended[np.isfinite(ended)]
    if not ended.size:
        return float("nan")
    return float(np.mean(ended[-max(1, int(ended.size * fraction)):]))


def _run_index(run, renamed: dict, where: str) -> int:
    """`run`, or a clear error for the old keyword `seed=` (it was always a run index)."""
    if "seed" in renamed:
        raise ConfigError(f"TrainResult.{where}(seed=...) is now {where}(run=...): the argument is the index "
                          "along the run axis (run i was trained with seed result.seeds[i])")
    if renamed:
        raise TypeError(f"TrainResult.{where}() got unexpected keyword arguments {sorted(renamed)}")
    return run


@dataclasses.dataclass
class SweepResult:
    """A sweep's runs: `result` holds one run per (grid point, seed), grid point major.

    `result` is an ordinary TrainResult, so `evaluate(sw.result)` and
    `sw.result.policy(run)` work on every run of the grid at once or one at a time.

    Attributes:
      result: every run; grid point g's runs are `runs_of(g)`.
      grid: [{field: value}] per grid point.
      seeds: seeds per grid point.
    """
    result: TrainResult   # one run per (grid point, seed)
    grid: list            # [{field: value}] per grid point
    seeds: int

    def runs_of(self, i: int) -> list:
        """Run indices of grid point i.

        Args:
          i: the grid point's index in `grid`.

        Returns:
          Its runs' indices along `result`'s run axis (one per seed).
        """
        return list(range(i * self.seeds, (i + 1) * self.seeds))

    def final_returns(self, last_fraction: float = 0.1) -> np.ndarray:
        """Each run's mean training-episode return over its last iterations.

        Args:
          last_fraction: the share of iterations (those in which an episode ended) averaged.

        Returns:
          [grid point, seed] array; NaN for a run in which no episode ended.
        """
        per_run = np.asarray([final_return(r, last_fraction) for r in self.result.metrics["episode_return"]])
        return per_run.reshape(len(self.grid), self.seeds)

    def table(self) -> str:
        """The grid as a Markdown table: each point's final training return over seeds.

        Returns:
          One row per grid point, mean ± std of `final_returns` across its seeds.
        """
        names = list(self.grid[0])
        fr = self.final_returns()
        lines = ["| " + " | ".join(names) + " | final return (mean ± std over seeds) |",
                 "|" + "---|" * (len(names) + 1)]
        for g, row in zip(self.grid, fr):
            lines.append("| " + " | ".join(f"{g[n]:g}" for n in names) + f" | {np.nanmean(row):.1f} ± "
                         f"{np.nanstd(row):.1f} |")
        return "\n".join(lines)


def sweep_overrides(grid: list, seeds: int) -> dict:
    """The per-run float hyper-parameters of a sweep, {field: [run]}: each grid point's
    value repeated for its `seeds` runs (grid point major, as SweepResult orders runs)."""
    return {n: np.repeat(np.asarray([p[n] for p in grid], np.float32), seeds) for n in grid[0]}


def load(out: str, env=None):
    """Read a run directory written by `train(out=...)`, or a sweep's by `sweep(out=...)`.

    Args:
      out: the run directory.
      env: the Env object (or name) to use instead of the env in its config.json; needed
        for a run trained on an Env object in another process (docs/envs.md).

    Returns:
      The TrainResult of its latest checkpoint; for a sweep (sweep.json there), a
        SweepResult with its grid, each run's seed and float hyper-parameters.

    Raises:
      ConfigError: no run there, or a checkpoint that is unreadable or does not match its config.
    """
    cfg = checkpoint.read_config(out, env=env)
    trainer = Trainer.cached(cfg)
    saved_sweep = checkpoint.read_sweep(out)
    seeds = saved_sweep["run_seeds"] if saved_sweep else [cfg.seed + i for i in range(cfg.num_seeds)]
    state, metrics, iterations = checkpoint.restore_learner(out, trainer, seeds)
    if saved_sweep is None:
        return TrainResult(cfg, state, metrics, iterations, seeds=seeds)
    hp = hyperparams(cfg, len(seeds), **sweep_overrides(saved_sweep["grid"], saved_sweep["seeds"]))
    result = TrainResult(cfg, state, metrics, iterations, seeds=seeds,
                         hp={k: np.asarray(v) for k, v in hp._asdict().items()})
    return SweepResult(result, saved_sweep["grid"], saved_sweep["seeds"])
