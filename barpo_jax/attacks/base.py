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
    lineage's) or 'apgd' (adversary.solve_apgd)."""
    name: str
    steps: int
    restarts: int
    schedule: str

    def describe(self) -> str:
        return f"{self.name}: {self.steps} {self.schedule} steps x {self.restarts} restart(s)"

    def doubled(self) -> "Strength":
        """Twice the steps and twice the restarts: the gradient-masking check."""
        return Strength(self.name + "x2", 2 * self.steps, 2 * self.restarts, self.schedule)


LINEAGE = Strength("lineage", PGD_STEPS, 1, "constant")   # SA-PPO/ATLA/WocaR tables
STRONG = Strength("strong", 50, 2, "apgd")   # from benchmarks/results/attack_strength (docs/attacks.md)
STRENGTHS = {"strong": STRONG, "lineage": LINEAGE}


class Victim(NamedTuple):
    """The attacked policy as pure functions of the normalised observation.

    `q`, when the evaluation can provide it, is a one-step model of the victim's own
    action value at the current state: obs_norm' -> r(s, a) + gamma * V(s_next) for the
    action a = mean(pi(.|obs_norm')) (differentiable through the physics); None otherwise.
    """
    dist: Callable   # obs_norm -> (mean, std)
    value: Callable  # obs_norm -> v
    q: Optional[Callable] = None


def make_victim(ac: networks.ActorCritic, params) -> Victim:
    return Victim(functools.partial(ac.dist, params), functools.partial(ac.value, params))


@dataclasses.dataclass(frozen=True)
class Learned:
    """A learned attack.

    fit(result, eps, timesteps, key, progress) -> params [run, ...] (one fit per victim run);
    network(cfg, env) -> the attack's network, built by the attack itself (None if it needs none);
    apply(params, network, strength) -> heuristic-style attack function for one run's
      params (`strength` applies to attacks that solve a gradient problem at test time).
    """
    fit: Callable
    apply: Callable
    network: Callable = lambda cfg, env: None
