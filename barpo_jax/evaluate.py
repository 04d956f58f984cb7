"""Robustness evaluation: seeds x attacks x episodes in one compiled program.

Every attack, for every seed, runs `episodes` deterministic episodes inside one
jitted, vmapped function (a learned attack is fitted first, vmapped over the
victim's seeds). The score of an agent is its worst case over attacks;
the reported agent is the median one (the lineage's protocol).
"""
from __future__ import annotations

import dataclasses
import json
import os
import platform
import time
import zlib
from typing import TYPE_CHECKING, Mapping, Optional

import jax
import jax.numpy as jnp
import numpy as np

from . import acting, adversary, attacks as atk, networks
from . import normalize as nz
from .checkpoint import atomic_write, raise_if_terminated
from .config import ConfigError
from .envs import VecEnv
from .progress import progress_bar

if TYPE_CHECKING:
    from .result import TrainResult


class EvaluationStopped(Exception):
    """`evaluate` spent its time budget before its last column. The finished columns are in
    its `partial_path`; the same call again continues from them.

    Attributes:
      done: columns finished so far.
      total: columns of the whole evaluation (attacks and masking checks).
      partial_path: the file that holds the finished columns.
    """

    def __init__(self, done: int, total: int, partial_path: str):
        super().__init__(f"evaluation stopped after {done} of {total} columns (time budget spent); the finished ones "
                         f"are in {partial_path}: evaluate again with the same partial_path to continue")
        self.done, self.total, self.partial_path = done, total, partial_path


PARTIAL_SUFFIX = ".partial.json"


def report_file(directory: str, eps: float) -> str:
    """Where a run's robustness report at budget `eps` lives: one file per budget, so an
    evaluation at another eps never overwrites it."""
    return os.path.join(directory, f"robustness_eps{float(eps):g}.json")


def partial_file(report: str) -> str:
    """The file that keeps the finished columns of an unfinished evaluation into `report`
    (`evaluate(partial_path=...)`), next to it so the same command finds it again."""
    return report[:-len(".json")] + PARTIAL_SUFFIX


def lower_median_index(x) -> int:
    """The index of the median of `x` (the lower one for an even count): the median agent
    when `x` holds each seed's worst case."""
    order = np.argsort(x, kind="stable")
    return int(order[(len(order) - 1) // 2])


@dataclasses.dataclass
class RobustnessReport:
    """Returns of every run under every attack, at one budget eps.

    Attributes:
      env, algo, eps, episodes: what was evaluated, at which l_inf budget, with how many
        episodes per (run, attack) cell.
      attacks: attack names, 'none' (natural) first.
      returns, returns_std: [run, attack] mean and std of the episode return.
      seeds: the training seed of each run.
      strength: how the gradient attacks searched the ball (`attacks.Strength.describe`).
      checks: names of the gradient-masking check columns ('<attack>@x2': the attack at
        twice the steps and twice the restarts, on the same episodes).
      check_returns: [run, check] mean return under each check column.
      ball_excess: {attack: [run]} largest l_inf distance outside the ball any
        observation was pushed, relative to eps (evaluation projects it back; > 0 is flagged).
      learned: {learned attack: how it was fitted (scan, chosen point per run, timesteps)}.
      eval_seed: the evaluation's PRNG seed (`evaluate(seed=...)`).
      keying: how episodes were keyed: 'by-name' (every column plays the same start
        states, and an attack's own randomness is keyed by its name), or 'by-position'
        (reports written before: a column's episodes were keyed by the attack's place in
        the list); columns of the two are never mixed by `reuse`.
    """
    env: str
    algo: str
    eps: float
    episodes: int
    attacks: list
    returns: np.ndarray      # [seed, attack] mean episode return
    returns_std: np.ndarray  # [seed, attack]
    seeds: list
    strength: str = ""
    checks: list = dataclasses.field(default_factory=list)
    check_returns: Optional[np.ndarray] = None
    ball_excess: dict = dataclasses.field(default_factory=dict)
    learned: dict = dataclasses.field(default_factory=dict)
    eval_seed: int = 0
    keying: str = "by-name"

    MASKING_TOLERANCE = 0.05  # a doubled attack lowering the return by more than this fraction is flagged

    @property
    def attack_columns(self):
        """Indices of the attack columns in `attacks` ('none' left out, unless it is the only one)."""
        return [i for i, a in enumerate(self.attacks) if a != "none"] or [0]

    @property
    def natural(self) -> np.ndarray:
        """Per seed: the mean return without attack (the 'none' column)."""
        return self.returns[:, self.attacks.index("none")]

    @property
    def worst_case(self) -> np.ndarray:
        """Per seed: the minimum mean return over all attacks."""
        return self.returns[:, self.attack_columns].min(axis=1)

    @property
    def median_agent(self) -> int:
        """Index of the seed whose worst case is the median (lower median for even counts)."""
        return lower_median_index(self.worst_case)

    def flags(self) -> list:
        """Signs that the gradient attacks were not strong enough (gradient masking) or
        that an attack left the ball; printed under the table.

        A seed is flagged when the random attack clearly beats every gradient attack,
        when an attack at twice the steps and restarts (a masking check column) lowers the
        return by more than `MASKING_TOLERANCE`, or when an attack pushed an observation
        outside the eps-ball.

        Returns:
          One sentence per flag, naming the seed, the numbers and what to do; empty when
            nothing is suspicious.
        """
        out = []
        grad = [j for j, a in enumerate(self.attacks) if a in atk.TAKES_STRENGTH]
        for i, s in enumerate(self.seeds):
            if "random" in self.attacks and grad:
                j = self.attacks.index("random")
                r, g_col = self.returns[i, j], grad[int(np.argmin(self.returns[i, grad]))]
                g = self.returns[i, g_col]
                if self._clearly_below(i, j, g_col) and ("none" not in self.attacks
                                                         or self._clearly_below(i, j, self.attacks.index("none"))):
                    out.append(f"seed {s}: random ({r:.1f}) beats every gradient attack (best {g:.1f}): "
                               "gradient masking? try more steps/restarts or other objectives")
            for c, name in enumerate(self.checks):
                base = name.split("@")[0]
                r, r2 = self.returns[i, self.attacks.index(base)], self.check_returns[i, c]
                if r - r2 > self.MASKING_TOLERANCE * max(abs(r), 1e-6):
                    worst = self.worst_case[i]
                    effect = (f"below this seed's worst case ({worst:.1f}), which is therefore overstated"
                              if r2 < worst else f"still above this seed's worst case ({worst:.1f}), which stands")
                    out.append(f"seed {s}: {base} at twice the steps and restarts lowers the return "
                               f"{r:.1f} -> {r2:.1f} (> {self.MASKING_TOLERANCE:.0%}), {effect}: the attack has not "
                               "converged; use a stronger Strength")
        for name, excess in self.ball_excess.items():
            for i, s in enumerate(self.seeds):
                if excess[i] > 1e-4:
                    out.append(f"seed {s}: attack {name} left the ball by {excess[i]:.2%} of eps "
                               "(projected back for this evaluation)")
        return out

    def _clearly_below(self, i: int, a: int, b: int) -> bool:
        """Seed i's mean return in column a is below column b's by more than two standard
        errors of the difference, so episode noise alone does not raise a flag."""
        se = np.sqrt((self.returns_std[i, a] ** 2 + self.returns_std[i, b] ** 2) / self.episodes)
        return bool(self.returns[i, b] - self.returns[i, a] > 2.0 * se)

    def table(self) -> str:
        """The report as Markdown: one row per seed, mean ± std per attack and the worst case.

        The median agent (by worst case, the lineage's protocol) is marked; the gradient
        attacks' strength, the learned attacks' chosen fits and the `flags` follow the table.

        Returns:
          The Markdown text.
        """
        head = ["agent"] + ["natural" if a == "none" else a for a in self.attacks] + ["worst"]
        lines = [f"**{self.env} / {self.algo}**, eps = {self.eps:g}, {self.episodes} episodes per cell "
                 f"(mean ± std of episode return)", "",
                 "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        m = self.median_agent
        for i, s in enumerate(self.seeds):
            cells = [f"{self.returns[i, j]:.1f} ± {self.returns_std[i, j]:.1f}" for j in range(len(self.attacks))]
            name = f"seed {s}" + (" (median)" if i == m else "")
            lines.append("| " + " | ".join([name] + cells + [f"**{self.worst_case[i]:.1f}**"]) + " |")
        if self.strength:
            lines += ["", f"Gradient attacks: {self.strength}."]
        for name, info in self.learned.items():
            if "scan" in info:
                chosen = [f"lr {c[0]:g} ent {c[1]:g}" for c in info.get("chosen", [])] + \
                    [f"fit {c}" for c in info.get("chosen_fit", [])]
                lines += [f"Learned attack {name}: scan {info['scan']}; per seed: {', '.join(chosen)}."]
        flags = self.flags()
        if self.checks:
            lines += ["", f"Masking checks ({', '.join(self.checks)}): " + ("**flagged**" if flags else "none flagged.")]
        lines += [f"- {f}" for f in flags]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """Every field as plain JSON types, with the derived `worst_case`, `median_agent` and `flags`.

        Returns:
          The dict `save` writes and `load` reads.
        """
        return {"env": self.env, "algo": self.algo, "eps": self.eps, "episodes": self.episodes,
                "attacks": self.attacks, "seeds": self.seeds, "returns": self.returns.tolist(),
                "returns_std": self.returns_std.tolist(), "worst_case": self.worst_case.tolist(),
                "median_agent": self.median_agent, "strength": self.strength, "checks": self.checks,
                "check_returns": None if self.check_returns is None else np.asarray(self.check_returns).tolist(),
                "ball_excess": {k: np.asarray(v).tolist() for k, v in self.ball_excess.items()},
                "learned": self.learned, "eval_seed": self.eval_seed, "keying": self.keying, "flags": self.flags()}

    def save(self, path: str) -> str:
        """Write the report as JSON (atomically: an earlier report at `path` survives a crash).

        Args:
          path: the file to write; its folder is created if missing.

        Returns:
          `path`.
        """
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        atomic_write(path, json.dumps(self.to_dict(), indent=2))
        return path

    def save_csv(self, path: str) -> str:
        """One row per seed: mean and std of the return under each attack, the worst case and
        whether the seed is the median agent (for spreadsheets and pandas).

        Args:
          path: the CSV file to write; its folder is created if missing.

        Returns:
          `path`.
        """
        import csv
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        names = ["natural" if a == "none" else a for a in self.attacks]
        with open(path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["env", "algo", "eps", "episodes", "seed", "median_agent"]
                       + [f"{n}_{stat}" for n in names for stat in ("mean", "std")] + ["worst"])
            for i, s in enumerate(self.seeds):
                w.writerow([self.env, self.algo, self.eps, self.episodes, s, int(i == self.median_agent)]
                           + [f"{x:.6g}" for j in range(len(names)) for x in (self.returns[i, j], self.returns_std[i, j])]
                           + [f"{self.worst_case[i]:.6g}"])
        return path

    @classmethod
    def load(cls, path: str) -> "RobustnessReport":
        """Read a report written by `save` (or `barpo eval`), older formats included.

        Args:
          path: the JSON file.

        Returns:
          The RobustnessReport, e.g. to print, plot or pass to `evaluate(reuse=...)`.
        """
        with open(path) as f:
            d = json.load(f)
        checks = d.get("check_returns")
        return cls(d["env"], d["algo"], d["eps"], d["episodes"], d["attacks"], np.asarray(d["returns"]),
                   np.asarray(d["returns_std"]), d["seeds"], d.get("strength", ""), d.get("checks", []),
                   None if checks is None else np.asarray(checks),
                   {k: np.asarray(v) for k, v in d.get("ball_excess", {}).items()}, d.get("learned", {}),
                   int(d.get("eval_seed", 0)), d.get("keying", "by-position"))

    def plot(self, path: Optional[str] = None):
        """Bars: the median agent's return under each attack; dots: every seed.

        Args:
          path: write the figure to this image file and close it (None: keep it open).

        Returns:
          The matplotlib Figure.
        """
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
             seed: int = 0, learned_timesteps=None, episode_length: Optional[int] = None,
             progress: bool = True, strength="strong", masking_check: bool = True,
             learned_scan=None, reuse: Optional[RobustnessReport] = None,
             partial_path: Optional[str] = None, time_budget_s: Optional[float] = None) -> RobustnessReport:
    """Evaluate every run of `result` under every attack.

    Args:
      result: the trained runs (`train` or `load`).
      attacks: 'all', a list of names (see `attacks.ALL`), or {name: attack fn or name}.
      eps: l_inf budget in normalised-observation units (None: the eps the run was trained
        with, which for SPO and any run without --eps is the task preset).
      episodes: deterministic episodes per (run, attack).
      seed: the evaluation's PRNG seed (episodes and learned-attack fits).
      learned_timesteps: training budget of each learned attack: one number for all, or
        {attack name: steps} (an attack it leaves out, and None: the victim's own
        num_timesteps, at most 2M). A mapping lets an attack be added to a report at
        another budget than the attacks it holds, which are then not refitted.
      episode_length: episode length (None: the run's).
      progress: draw progress bars.
      strength: how hard the built-in gradient attacks search: 'strong' (default),
        'lineage' (10 steps of eps/10 from one start, as published tables), or an
        `attacks.Strength`.
      masking_check: also run each built-in gradient attack at twice the steps and
        restarts on the same episodes, and flag agents where that still lowers the return.
      learned_scan: the hyper-parameter grid of the learned policy attacks (sa_rl,
        pa_ad) and the number of robust Sarsa fits (`sarsa_fits`): 'none', 'small',
        'large' or an `attacks.LearnedScan`; None is 'small' on a CPU and 'large' on an
        accelerator. The strongest fit per victim is kept.
      reuse: an earlier report of these runs at the same eps, episodes and seed: its
        columns are copied instead of recomputed (a learned attack whose columns are all
        copied is not refitted), except those of attacks that search at a strength when
        the report's strength differs. Every column plays the same episode starts and
        keys an attack's randomness (and its fit) by the attack's name, so the result
        equals a full evaluation whatever attacks come before or after. This is how a new
        attack is added to a finished table.
      partial_path: a file that holds the columns finished so far, rewritten after each
        one, so that an evaluation stopped midway (killed, out of time) resumes from its
        last column when called again with the same path; it replaces `reuse` when it
        exists and matches these settings, and is removed once the report is complete.
        A learned attack is fitted just before its first column, so a stop loses at most
        one fit and one column.
      time_budget_s: stop after the first column that ends this many seconds after the
        start (needs `partial_path`, where the finished columns wait): each call makes
        progress, and a long evaluation splits into calls that each fit a machine's limit.

    Returns:
      A RobustnessReport (its `flags()` list possible gradient masking).

    Raises:
      ConfigError: an unknown attack or strength, a bad eps or episode count, a `reuse`
        report of other runs or settings, or a time budget without a partial_path.
      EvaluationStopped: the time budget was spent before the last column.
    """
    started = time.monotonic()
    if time_budget_s is not None and (not partial_path or not time_budget_s >= 0):
        raise ConfigError(f"time_budget_s must be >= 0 seconds and come with a partial_path (where the finished "
                          f"columns wait), got {time_budget_s} and {partial_path!r}")
    plan = _plan(result, attacks, eps, episodes, seed, learned_timesteps, strength, masking_check, learned_scan)
    reuse = _partial(partial_path, reuse, *plan.settings)
    table = _Table.copied(_reusable(reuse, *plan.settings))
    todo = [c for c in plan.columns if c[0] not in table.means]
    columns = _Columns(result, plan, episode_length, progress, table.learned)
    bar = progress_bar(progress, len(todo), "evaluate")
    for name, base, strength_c in todo:
        ret, excess = columns.play(base, strength_c, bar)
        table.add(name, ret, excess)
        if partial_path:
            table.report(plan).save(partial_path)
        if bar is not None:
            bar.update(1)
        raise_if_terminated()   # a SIGTERM whose interrupt was lost: stop here, the column is kept
        left = len(plan.columns) - len(table.means)
        if left and time_budget_s is not None and time.monotonic() - started >= time_budget_s:
            if bar is not None:
                bar.close()
            raise EvaluationStopped(len(table.means), len(plan.columns), partial_path)
    if bar is not None:
        bar.close()
    full = table.report(plan)
    if partial_path and os.path.exists(partial_path):
        os.remove(partial_path)
    return full


@dataclasses.dataclass(frozen=True)
class _Plan:
    """One evaluation's checked settings and its columns, in order: (column name, attack,
    strength) for every attack, then the masking checks (`<name>@x2`, twice the effort)."""
    cfg: object
    eps: float
    episodes: int
    seed: int
    at: atk.Strength
    scan: object
    items: dict
    seeds: list
    columns: list
    budgets: dict

    @property
    def names(self) -> list:
        return list(self.items)

    @property
    def settings(self) -> tuple:
        """What `_partial` and `_reusable` compare an earlier report against."""
        return (self.cfg, self.eps, self.episodes, self.seeds, self.at, self.seed, self.scan, self.budgets, self.items)


def _plan(result, attacks, eps, episodes, seed, learned_timesteps, strength, masking_check, learned_scan) -> _Plan:
    """`evaluate`'s arguments checked and resolved (a clear ConfigError otherwise)."""
    cfg = result.config
    eps = float(cfg.eps) if eps is None else float(eps)
    atk.check_eps(eps)
    if int(episodes) != episodes or episodes < 1:
        raise ConfigError(f"episodes must be a positive integer, got {episodes}")
    at = atk.strength(strength)
    scan = atk.scan(learned_scan)
    items = atk.resolve(attacks)
    columns = [(name, name, at) for name in items]
    if masking_check and eps > 0:
        columns += [(f"{name}@x2", name, at.doubled()) for name in items if atk.takes_strength(name, items[name])]
    seeds = list(result.seeds) if result.seeds is not None else list(range(result.num_runs))
    return _Plan(cfg, eps, int(episodes), int(seed), at, scan, items, seeds, columns,
                 _budgets(items, learned_timesteps, min(cfg.num_timesteps, 2_000_000)))


def _budgets(items: dict, learned_timesteps, default: int) -> dict:
    """{learned attack: its training budget} from `evaluate`'s `learned_timesteps` (a
    number, None or a mapping), with a clear error for a budget that cannot be used."""
    learned = [name for name, item in items.items() if isinstance(item, atk.Learned)]
    given = dict(learned_timesteps) if isinstance(learned_timesteps, Mapping) else \
        {name: learned_timesteps for name in learned}
    unknown = sorted(set(given) - set(learned))
    if unknown:
        raise ConfigError(f"learned_timesteps names {unknown}, not learned attacks of this evaluation "
                          f"(those are {learned}): leave them out")
    budgets = {name: default if given.get(name) is None else given[name] for name in learned}
    bad = {name: b for name, b in budgets.items() if int(b) != b or b < 1}
    if bad:
        raise ConfigError(f"learned-attack budgets must be whole positive env steps, got {bad}")
    return {name: int(b) for name, b in budgets.items()}


@dataclasses.dataclass
class _Table:
    """The columns finished so far ([run] mean return, std and ball excess per column name)
    and the learned attacks' fit records."""
    means: dict
    stds: dict
    excess: dict
    learned: dict

    @classmethod
    def copied(cls, copied: dict) -> "_Table":
        return cls(dict(copied["columns"]), dict(copied["stds"]), dict(copied["excess"]), dict(copied["learned"]))

    def add(self, name: str, ret: np.ndarray, excess: np.ndarray) -> None:
        self.means[name], self.stds[name], self.excess[name] = ret.mean(-1), ret.std(-1), excess

    def report(self, plan: _Plan) -> RobustnessReport:
        """The report of the finished columns (all of them once evaluate's loop ends)."""
        kept = [c for c in plan.names if c in self.means]
        checks = [c[0] for c in plan.columns[len(plan.names):] if c[0] in self.means]
        outside = {name: np.maximum(self.excess[name], 0.0) for name in kept
                   if name != "none" and float(np.max(self.excess[name])) > 1e-4}
        return RobustnessReport(
            plan.cfg.env, plan.cfg.algo, plan.eps, plan.episodes, kept, np.stack([self.means[c] for c in kept], 1),
            np.stack([self.stds[c] for c in kept], 1), plan.seeds, plan.at.describe(), checks,
            np.stack([self.means[c] for c in checks], 1) if checks else None, outside,
            {k: v for k, v in self.learned.items() if k in kept}, plan.seed)


class _Columns:
    """Plays columns for one evaluation: the victims, their episode keys, the learned
    attacks fitted so far (each just before its first column) and the compiled programs."""

    def __init__(self, result, plan: _Plan, episode_length, progress: bool, learned: dict):
        from .result import TrainResult
        self.result, self.plan, self.progress, self.learned = result, plan, progress, learned
        self.env = VecEnv(plan.cfg.env, plan.cfg.backend, plan.episodes, episode_length or plan.cfg.episode_length)
        self.ac = result.actor_critic()
        self.victims = (jax.tree.map(jnp.asarray, result.params), jax.tree.map(jnp.asarray, result.normalizer),
                        _reward_scale(result))
        self.keys = run_keys(plan.seed, result.num_runs)
        self.fitted, self.nets = {}, {}
        # The compiled column closes over the victim's network: reuse it only when the config
        # alone determines that network (a result subclass may supply another, as tests do).
        self.standard_network = (type(result).actor_critic is TrainResult.actor_critic
                                 and type(self.ac) is networks.ActorCritic)

    def play(self, base: str, strength_c, bar) -> tuple:
        """-> ([run, episode] returns, [run] largest ball excess) of `base` at `strength_c`.
        Every column starts from the same states; the attack's randomness is keyed by its
        name (its masking check's too). Both are data, not part of the program."""
        if isinstance(self.plan.items[base], atk.Learned) and base not in self.fitted:
            if bar is not None:
                bar.set_postfix_str(f"fitting {base}")
            self._fit(base)
        if bar is not None:
            bar.set_postfix_str(base if strength_c is self.plan.at else f"{base}@x2")
        attack_keys = jax.vmap(attack_key, (0, None))(self.keys, base)
        ret, excess = self._compiled(base, strength_c)(*self.victims, self.fitted.get(base), self.keys, attack_keys)
        return np.asarray(ret), np.asarray(excess)

    def _fit(self, base: str) -> None:
        plan, item = self.plan, self.plan.items[base]
        key = attack_key(jax.random.fold_in(jax.random.PRNGKey(plan.seed), 1000), base)
        self.fitted[base], info = item.fit(self.result, plan.eps, plan.budgets[base], key, self.progress, plan.scan)
        here = device_name()
        if base not in self.learned:
            self.learned[base] = {**info, "timesteps": plan.budgets[base], "device": here}
        elif self.learned[base].get("device", here) != here:   # copied column, new check: keep the column's record
            self.learned[base] = {**self.learned[base], "check_device": here}
            print(f"evaluate: {base}'s column was fitted on {self.learned[base]['device']}; its masking check refits "
                  f"it here on {here}, another draw of the fit, so the check compares two fits")
        self.nets[base] = item.network(plan.cfg, self.env)  # each learned attack builds its own

    def _compiled(self, base: str, strength_c):
        """The column's compiled program, reused across evaluate() calls for built-in
        attacks (evaluation during training calls evaluate at every `eval_every`, and a
        table evaluates many runs of one task). A user's function is compiled each call."""
        item = self.plan.items[base]
        if isinstance(item, atk.Learned):
            net = self.nets[base]
            bound = lambda fitted: item.apply(fitted, net, strength_c)
        else:
            bound = lambda fitted: atk.bind(base, item, strength_c)
        cfg = self.plan.cfg
        build = lambda: _column_program(self.env, cfg.gamma, self.ac, bound, self.plan.eps, cfg.observation_clip)
        if not atk.is_builtin_heuristic(base, item) or not self.standard_network:
            return build()
        key = _column_key(cfg, base, strength_c if atk.takes_strength(base, item) else None,
                          self.plan.episodes, self.env.episode_length, self.plan.eps)
        if key not in _COLUMNS:
            if len(_COLUMNS) >= 32:
                _COLUMNS.pop(next(iter(_COLUMNS)))
            _COLUMNS[key] = build()
        return _COLUMNS[key]


def _column_program(env: VecEnv, gamma: float, ac, bound, eps: float, clip: float):
    """One column as a compiled function of every run: (params, stats, reward scale, the
    attack's fitted params or None, each run's episode key, each run's attack key) ->
    ([run, episode] returns, [run] largest excess outside the ball). `bound(fitted)` is the
    attack function. Each column is its own program: one program for every column compiled
    for minutes on a CPU, and the progress bar can then advance per attack."""

    def one_run(p, s, scale, fitted, k, k_attack):
        act = attacked_act(env, gamma, atk.make_victim(ac, p), s, scale, bound(fitted), eps, clip)
        ret, outside = acting.episode_outcomes(env, act, k, k_attack)
        return ret, jnp.max(outside)
    return jax.jit(jax.vmap(one_run))


def _partial(path, reuse, *settings) -> Optional[RobustnessReport]:
    """The report to resume from: the partial one at `path` when it exists, can be read and
    matches the settings (`_reusable` accepts it); otherwise `reuse`. A partial report of
    other settings is left to be overwritten, with a note: it is not this evaluation's."""
    if not path or not os.path.exists(path):
        return reuse
    try:
        partial = RobustnessReport.load(path)
        _reusable(partial, *settings)
    except (ConfigError, ValueError, KeyError, TypeError) as e:
        print(f"evaluate: not resuming from {path} ({str(e).splitlines()[0][:200]}); starting over")
        return reuse
    return partial


def _reusable(reuse, cfg, eps, episodes, seeds, at, seed, scan, budgets, items) -> dict:
    """What `evaluate` may copy from the earlier report `reuse`: {'columns': {name: [run]
    mean}, 'stds', 'excess', 'learned': {name: fit info}}; a clear error when `reuse` is
    of other runs or other settings (copying it would mix two evaluations)."""
    out = {"columns": {}, "stds": {}, "excess": {}, "learned": {}}
    if reuse is None:
        return out
    if reuse.keying != RobustnessReport.keying:
        print(f"evaluate: the earlier report keyed its episodes {reuse.keying}, this evaluation "
              f"{RobustnessReport.keying}: every column is recomputed")
        return out
    theirs = {"env": reuse.env, "algo": reuse.algo, "eps": round(float(reuse.eps), 9), "episodes": reuse.episodes,
              "seeds": list(reuse.seeds), "seed": reuse.eval_seed}
    ours = {"env": cfg.env, "algo": cfg.algo, "eps": round(float(eps), 9), "episodes": episodes, "seeds": seeds,
            "seed": int(seed)}
    differ = [k for k in ours if ours[k] != theirs[k]]
    if differ:
        raise ConfigError("the report passed as reuse was evaluated with other " + ", ".join(
            f"{k} ({theirs[k]!r}, here {ours[k]!r})" for k in differ) + ": evaluate without reuse")
    same_strength = reuse.strength == at.describe()
    for name, item in items.items():
        if atk.takes_strength(name, item) and not same_strength:
            continue  # searched at another strength: recompute it (and its masking check)
        if isinstance(item, atk.Learned):
            info = reuse.learned.get(name, {})
            # Robust Sarsa records its number of fits (a single fit: no scan) and no policy grid.
            if name not in reuse.attacks or not item.fitted_alike(info, scan) or \
                    info.get("timesteps", budgets[name]) != budgets[name]:
                continue  # fitted otherwise (or not at all): refit and recompute its columns
            out["learned"][name] = info
        if name in reuse.attacks:
            j = reuse.attacks.index(name)
            out["columns"][name], out["stds"][name] = reuse.returns[:, j], reuse.returns_std[:, j]
            out["excess"][name] = np.asarray(reuse.ball_excess.get(name, np.zeros(len(seeds))))
        check = f"{name}@x2"
        if check in reuse.checks and name in out["columns"]:
            out["columns"][check] = reuse.check_returns[:, reuse.checks.index(check)]
            out["stds"][check] = np.zeros(len(seeds))
            out["excess"][check] = np.zeros(len(seeds))
    return out


def device_name() -> str:
    """The device a fit ran on, with the CPU's model: a learned attack's fit is one draw
    whose rounding, and so whose Q or policy, changes with the CPU type (docs/attacks.md)."""
    device = jax.devices()[0]
    if device.platform != "cpu":
        return f"{device.platform}: {device.device_kind}"
    return f"cpu: {cpu_model()}"


def cpu_model() -> str:
    """This machine's CPU model, with its family and model numbers where /proc/cpuinfo has
    them: the model name alone ('AMD EPYC') can cover CPU types that round differently."""
    fields = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    model = fields.get("model name") or platform.processor() or platform.machine()
    if "cpu family" in fields and "model" in fields:
        model += f" (family {fields['cpu family']}, model {fields['model']})"
    return model


def run_keys(seed: int, num_runs: int) -> jnp.ndarray:
    """Each run's episode key for `evaluate(seed=...)`: every column of a run plays the
    episodes this key starts, so columns are paired comparisons."""
    return jax.random.split(jax.random.fold_in(jax.random.PRNGKey(seed), 7), num_runs)


def attack_key(key: jnp.ndarray, name: str) -> jnp.ndarray:
    """`key` folded with a stable code of the attack's name (CRC-32, the same in every
    process): adding, removing or reordering other attacks leaves this one's draws alone."""
    return jax.random.fold_in(key, zlib.crc32(name.encode()) & 0x7FFFFFFF)


_COLUMNS: dict = {}  # compiled evaluation columns of built-in attacks, by `compiled`'s key


def _column_key(cfg, base: str, strength_c, episodes: int, episode_length: int, eps: float) -> tuple:
    """What a built-in attack's evaluation column is compiled from, and nothing else: the
    task and physics, the victim's network and observation clip, the discount of its one-step model, the attack
    and its strength (None for attacks that do not search), the episode shape and eps.
    The seeds, training hyper-parameters and budget are data or absent, so runs of any
    method of one task share their columns."""
    shape = (cfg.env, cfg.backend, tuple(cfg.policy_hidden), tuple(cfg.value_hidden), float(cfg.gamma),
             float(cfg.observation_clip))
    return shape + (base, None if strength_c is None else tuple(strength_c), int(episodes), int(episode_length),
                    float(eps))


def attacked_act(env: VecEnv, gamma: float, victim: atk.Victim, stats, scale, fn, eps: float, clip: float):
    """The per-step acting of one run under one bound attack `fn(key, obs_norm, victim, eps)`.

    Returns `act(key, env state) -> (env action, excess)`, the form
    `acting.episode_outcomes` takes: the observation is normalised with `stats` (clipped at `clip`),
    perturbed by `fn` (which gets the victim with its one-step model `q` at this state,
    rewards times `scale` as the critic learned them), projected back into the eps-ball,
    and the victim acts with its deterministic (mean) action; `excess` [N] is how far
    outside the ball `fn` pushed the observation, relative to eps (<= 0: inside)."""

    def q_model(state):  # the victim's one-step Q at this state, for model-based attacks
        def q(x):
            nxt, r, term = env.peek(state, networks.to_env_action(victim.dist(x)[0]))
            return r * scale + gamma * (1.0 - term) * victim.value(nz.normalize(stats, nxt, clip))
        return q

    def act(kk, state):
        o = nz.normalize(stats, state.inner.obs, clip)
        seen = fn(kk, o, victim._replace(q=q_model(state)), eps)
        outside = jnp.max(jnp.abs(seen - o), axis=-1) / max(eps, 1e-12) - 1.0
        seen = adversary.project(seen, o, eps)
        return networks.to_env_action(victim.dist(seen)[0]), outside
    return act


def _reward_scale(result) -> jnp.ndarray:
    """[run] factor from env reward to the units the victim's critic learned (reward
    normalisation and scaling), so r + gamma * V(s') is a consistent one-step Q."""
    cfg = result.config
    scale = np.ones((result.num_runs,), np.float32) * float(cfg.reward_scaling)
    if result.hp and "reward_scaling" in result.hp:
        scale = np.asarray(result.hp["reward_scaling"], np.float32).reshape(-1)
    if cfg.reward_normalization:
        scale = scale / np.asarray(nz.std(result.state.returns.stats)).reshape(result.num_runs, -1)[:, 0]
    return jnp.asarray(scale)
