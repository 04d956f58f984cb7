"""Robustness evaluation: seeds x attacks x episodes in one compiled program.

Learned attacks are fitted first (each vmapped over the victim's seeds); then
every attack, for every seed, runs `episodes` deterministic episodes inside one
jitted, vmapped function. The score of an agent is its worst case over attacks;
the reported agent is the median one (the lineage's protocol).
"""
from __future__ import annotations

import dataclasses
import json
import os
from typing import TYPE_CHECKING, Optional

import jax
import jax.numpy as jnp
import numpy as np

from . import acting, attacks as atk, networks
from . import normalize as nz
from .config import ConfigError
from .envs import VecEnv
from .progress import progress_bar

if TYPE_CHECKING:
    from .result import TrainResult


@dataclasses.dataclass
class RobustnessReport:
    """Returns of every run under every attack, at one budget eps.

    Attributes:
      env, algo, eps, episodes: what was evaluated, at which l_inf budget, with how many
        episodes per (run, attack) cell.
      attacks: attack names, 'none' (natural) first.
      returns, returns_std: [run, attack] mean and std of the episode return.
      seeds: the training seed of each run.
    """
    env: str
    algo: str
    eps: float
    episodes: int
    attacks: list
    returns: np.ndarray      # [seed, attack] mean episode return
    returns_std: np.ndarray  # [seed, attack]
    seeds: list

    @property
    def attack_columns(self):
        return [i for i, a in enumerate(self.attacks) if a != "none"] or [0]

    @property
    def natural(self) -> np.ndarray:
        return self.returns[:, self.attacks.index("none")]

    @property
    def worst_case(self) -> np.ndarray:
        """Per seed: the minimum mean return over all attacks."""
        return self.returns[:, self.attack_columns].min(axis=1)

    @property
    def median_agent(self) -> int:
        """Index of the seed whose worst case is the median (lower median for even counts)."""
        order = np.argsort(self.worst_case, kind="stable")
        return int(order[(len(order) - 1) // 2])

    def table(self) -> str:
        head = ["agent"] + ["natural" if a == "none" else a for a in self.attacks] + ["worst"]
        lines = [f"**{self.env} / {self.algo}**, eps = {self.eps:g}, {self.episodes} episodes per cell "
                 f"(mean ± std of episode return)", "",
                 "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        m = self.median_agent
        for i, s in enumerate(self.seeds):
            cells = [f"{self.returns[i, j]:.1f} ± {self.returns_std[i, j]:.1f}" for j in range(len(self.attacks))]
            name = f"seed {s}" + (" (median)" if i == m else "")
            lines.append("| " + " | ".join([name] + cells + [f"**{self.worst_case[i]:.1f}**"]) + " |")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"env": self.env, "algo": self.algo, "eps": self.eps, "episodes": self.episodes,
                "attacks": self.attacks, "seeds": self.seeds, "returns": self.returns.tolist(),
                "returns_std": self.returns_std.tolist(), "worst_case": self.worst_case.tolist(),
                "median_agent": self.median_agent}

    def save(self, path: str) -> str:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "w") as f:
            json.dump(self.to_dict(), f, indent=2)
        return path

    @classmethod
    def load(cls, path: str) -> "RobustnessReport":
        with open(path) as f:
            d = json.load(f)
        return cls(d["env"], d["algo"], d["eps"], d["episodes"], d["attacks"], np.asarray(d["returns"]),
                   np.asarray(d["returns_std"]), d["seeds"])

    def plot(self, path: Optional[str] = None):
        """Bars: the median agent's return under each attack; dots: every seed."""
        from .plots import finish, subplots
        fig, ax = subplots(path, figsize=(1.2 * len(self.attacks) + 2, 3.5))
        x = np.arange(len(self.attacks))
        m = self.median_agent
        ax.bar(x, self.returns[m], yerr=self.returns_std[m], color="tab:blue", alpha=0.7, label="median agent")
        for i in range(len(self.seeds)):
            ax.plot(x, self.returns[i], "k.", alpha=0.5, label="each seed" if i == 0 else None)
        ax.set_xticks(x, ["natural" if a == "none" else a for a in self.attacks])
        ax.set_ylabel("episode return")
        ax.set_title(f"{self.env} / {self.algo}, eps={self.eps:g}")
        ax.legend(fontsize=8)
        return finish(fig, path)


def evaluate(result: "TrainResult", attacks="all", eps: Optional[float] = None, episodes: int = 50,
             seed: int = 0, learned_timesteps: Optional[int] = None, episode_length: Optional[int] = None,
             progress: bool = True) -> RobustnessReport:
    """Evaluate every run of `result` under every attack.

    Args:
      result: the trained runs (`train` or `load`).
      attacks: 'all', a list of names (see `attacks.ALL`), or {name: attack fn or name}.
      eps: l_inf budget in normalised-observation units (None: the eps the run was trained
        with, which for SPO and any run without --eps is the task preset).
      episodes: deterministic episodes per (run, attack).
      seed: the evaluation's PRNG seed (episodes and learned-attack fits).
      learned_timesteps: training budget of each learned attack (None: the victim's
        own num_timesteps, at most 2M).
      episode_length: episode length (None: the run's).
      progress: draw progress bars.

    Returns:
      A RobustnessReport.

    Raises:
      ConfigError: an unknown attack, a bad eps or episode count.
    """
    cfg = result.config
    eps = float(cfg.eps) if eps is None else float(eps)
    atk.check_eps(eps)
    if int(episodes) != episodes or episodes < 1:
        raise ConfigError(f"episodes must be a positive integer, got {episodes}")
    items = atk.resolve(attacks)
    names = list(items)
    key = jax.random.PRNGKey(seed)
    budget = learned_timesteps or min(cfg.num_timesteps, 2_000_000)
    ac = result.actor_critic()
    params = jax.tree.map(jnp.asarray, result.params)
    stats = jax.tree.map(jnp.asarray, result.normalizer)

    fitted = {}
    for i, (name, item) in enumerate(items.items()):
        if isinstance(item, atk.Learned):
            fitted[name] = item.fit(result, eps, budget, jax.random.fold_in(key, 1000 + i), progress)
    env = VecEnv(cfg.env, cfg.backend, int(episodes), episode_length or cfg.episode_length)
    nets = {name: items[name].network(cfg, env) for name in fitted}  # each learned attack builds its own

    def one_seed(p, s, learned_params, k):
        victim = atk.make_victim(ac, p)
        out = []
        for i, name in enumerate(names):
            item = items[name]
            fn = item.apply(learned_params[name], nets[name]) if isinstance(item, atk.Learned) else item

            def act(kk, obs, fn=fn):
                o = nz.normalize(s, obs)
                return networks.to_env_action(victim.dist(fn(kk, o, victim, eps))[0])
            out.append(acting.episode_returns(env, act, jax.random.fold_in(k, i)))
        return jnp.stack(out)

    bar = progress_bar(progress, 1, "evaluate")
    keys = jax.random.split(jax.random.fold_in(key, 7), result.num_runs)
    rets = np.asarray(jax.jit(jax.vmap(one_seed))(params, stats, fitted, keys))  # [run, attack, episode]
    if bar is not None:
        bar.update(1)
        bar.close()
    seeds = list(result.seeds) if result.seeds is not None else list(range(result.num_runs))
    return RobustnessReport(cfg.env, cfg.algo, eps, int(episodes), names, rets.mean(-1), rets.std(-1), seeds)
