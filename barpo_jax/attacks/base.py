"""What every attack shares: the victim's view, the learned-attack contract, the
strength of the gradient attacks."""
from __future__ import annotations

import dataclasses
import functools
from typing import Callable, NamedTuple, Optional

from .. import networks

PGD_STEPS = 10      # lineage default: 10 steps of size eps/10


class Strength(NamedTuple):
    """How hard a gradient attack searches the ball: `restarts` solves of `steps`
    steps each, per-sample best kept; schedule 'constant' (steps of eps/steps, the
    lineage's), 'apgd' (adversary.solve_apgd) or 'decay' (adversary.solve_sign_decay).

    Pass one as `evaluate(strength=...)`; `STRONG` and `LINEAGE` are the named ones.

    Attributes:
      name: how reports refer to it.
      steps: gradient steps per solve.
      restarts: independent solves from random starts; the best per sample is kept.
      schedule: the step-size schedule: 'constant', 'apgd' or 'decay'.
    """
    name: str
    steps: int
    restarts: int
    schedule: str

    def describe(self) -> str:
        """One line for reports, e.g. 'strong: 10 apgd steps x 32 restart(s)'.

        Returns:
          The description (also what `evaluate(reuse=...)` compares strengths by).
        """
        return f"{self.name}: {self.steps} {self.schedule} steps x {self.restarts} restart(s)"

    def doubled(self) -> "Strength":
        """Twice the steps and twice the restarts: the gradient-masking check.

        Returns:
          The doubled Strength, named `<name>x2`.
        """
        return Strength(self.name + "x2", 2 * self.steps, 2 * self.restarts, self.schedule)


LINEAGE = Strength("lineage", PGD_STEPS, 1, "constant")   # SA-PPO/ATLA/WocaR tables
"""`strength="lineage"`: 10 steps of eps/10 from one start, as the published tables ran them."""
# Restarts, not steps, are what find the rare perturbations that topple a hopper: on the
# table's BARPO agents 10 x 32 went lower than 50 x 2 and 50 x 16 (docs/attacks.md).
STRONG = Strength("strong", 10, 32, "apgd")   # from benchmarks/results/attack_strength
"""`strength="strong"`, the default: APGD, 10 steps x 32 restarts (docs/attacks.md says why)."""
STRENGTHS = {"strong": STRONG, "lineage": LINEAGE}


class LearnedScan(NamedTuple):
    """The hyper-parameter grid a learned policy attack (sa_rl, pa_ad) is fitted over.

    A learned attack is only as strong as its training run, so (following the ATLA
    authors' protocol) every grid point is fitted against every victim run -- all in one
    vmapped program -- and the point that lowers that victim's mean return most on
    `select_episodes` held-out episodes is kept. Empty grids mean "the run's own
    adv_learning_rate and entropy_coef" and no selection.

    Pass one as `evaluate(learned_scan=...)`; `SCANS` holds the named ones.

    Robust Sarsa (rs) has no attack policy, but its Q fit is one random draw, and on
    agents that fall only under rare perturbations two fits can score very differently
    (docs/attacks.md, "One fit is one draw"). `sarsa_fits` > 1 fits that many Qs per
    victim, each from its own key, and keeps the one whose attack lowers that victim's
    return most on the same held-out episodes.

    Attributes:
      name: how reports refer to it.
      learning_rates: the attack policy's learning rates to try.
      entropy_coefs: the entropy bonuses to try.
      select_episodes: held-out episodes per victim that choose the strongest fit.
      sarsa_fits: robust Sarsa Q fits per victim (1: one fit, no selection).
    """
    name: str
    learning_rates: tuple = ()
    entropy_coefs: tuple = ()
    select_episodes: int = 0
    sarsa_fits: int = 1

    def points(self, default_lr: float, default_entropy: float) -> list:
        """The grid's points, in the order the fits are stacked.

        Args:
          default_lr: the learning rate used when `learning_rates` is empty (the run's own).
          default_entropy: the entropy coefficient used when `entropy_coefs` is empty.

        Returns:
          [(learning rate, entropy coefficient)].
        """
        lrs = self.learning_rates or (default_lr,)
        ents = self.entropy_coefs or (default_entropy,)
        return [(lr, e) for lr in lrs for e in ents]

    def describe(self) -> str:
        """One line for reports: the grid and how the fit is chosen.

        Returns:
          The description (also what `evaluate(reuse=...)` compares scans by).
        """
        if not self.learning_rates and not self.entropy_coefs:
            return f"{self.name}: one fit at the run's own settings"
        return (f"{self.name}: learning rate {list(self.learning_rates)} x entropy {list(self.entropy_coefs)}, "
                f"strongest on {self.select_episodes} held-out episodes kept per victim")

    def describe_sarsa(self) -> Optional[str]:
        """One line for reports on robust Sarsa's fits; None for a single fit, which
        reports have always recorded without a scan.

        Returns:
          The description (what `evaluate(reuse=...)` compares rs fits by), or None.
        """
        if self.sarsa_fits == 1:
            return None
        return (f"{self.sarsa_fits} fits: robust Sarsa's Q fitted from {self.sarsa_fits} keys, "
                f"strongest on {self.select_episodes} held-out episodes kept per victim")


SCANS = {
    "none": LearnedScan("none"),
    "small": LearnedScan("small", (3e-4, 3e-3), (0.0, 1e-2), 8),                     # CPU default: 4 fits
    # accelerator default: 12 policy fits, 4 rs fits
    "large": LearnedScan("large", (1e-4, 3e-4, 1e-3, 3e-3), (0.0, 1e-3, 1e-2), 16, sarsa_fits=4),
}


class Victim(NamedTuple):
    """The attacked policy as pure functions of the normalised observation.

    `q`, when the evaluation can provide it, is a one-step model of the victim's own
    action value at the current state: obs_norm' -> r(s, a) + gamma * V(s_next) for the
    action a = mean(pi(.|obs_norm')) (differentiable through the physics); None otherwise.

    Attributes:
      dist: obs_norm -> (mean, std) of the victim's Gaussian policy.
      value: obs_norm -> the victim's value estimate V.
      q: obs_norm' -> one-step Q at the current state, or None.
    """
    dist: Callable   # obs_norm -> (mean, std)
    value: Callable  # obs_norm -> v
    q: Optional[Callable] = None


def make_victim(ac: networks.ActorCritic, params) -> Victim:
    return Victim(functools.partial(ac.dist, params), functools.partial(ac.value, params))


@dataclasses.dataclass(frozen=True)
class Learned:
    """A learned attack.

    fit(result, eps, timesteps, key, progress, scan) -> (params [run, ...], info dict): one
      fit per victim run (the strongest over `scan`, a LearnedScan, where the attack
      has hyper-parameters to scan); info says what was chosen, for the report;
    network(cfg, env) -> the attack's network, built by the attack itself (None if it needs none);
    scan_label(scan) -> what `fit` records as info['scan'] under that LearnedScan (None: it
      records none); leave it None for an attack that records `scan.describe()`, or nothing;
    apply(params, network, strength) -> heuristic-style attack function for one run's
      params (`strength` applies to attacks that solve a gradient problem at test time).
    """
    fit: Callable
    apply: Callable
    network: Callable = lambda cfg, env: None
    scan_label: Optional[Callable] = None

    def fitted_alike(self, info: dict, scan: LearnedScan) -> bool:
        """True when a report's fit record `info` came from the fits `scan` would make, so
        its columns may be copied: compared by `scan_label(scan)` (None: a single fit,
        recorded without a scan), or by `scan.describe()` for attacks without one."""
        if self.scan_label is None:
            return info.get("scan", scan.describe()) == scan.describe()
        return info.get("scan") == self.scan_label(scan)
