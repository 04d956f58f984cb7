"""What every attack shares: the victim's view, the learned-attack contract, the PGD budget."""
from __future__ import annotations

import dataclasses
import functools
from typing import Callable, NamedTuple

from .. import networks

PGD_STEPS = 10      # lineage default: 10 steps of size eps/10


class Victim(NamedTuple):
    """The attacked policy as pure functions of the normalised observation."""
    dist: Callable   # obs_norm -> (mean, std)
    value: Callable  # obs_norm -> v


def make_victim(ac: networks.ActorCritic, params) -> Victim:
    return Victim(functools.partial(ac.dist, params), functools.partial(ac.value, params))


@dataclasses.dataclass(frozen=True)
class Learned:
    """A learned attack.

    fit(result, eps, timesteps, key, progress) -> params [run, ...] (one fit per victim run);
    network(cfg, env) -> the attack's network, built by the attack itself (None if it needs none);
    apply(params, network) -> heuristic-style attack function for one run's params.
    """
    fit: Callable
    apply: Callable
    network: Callable = lambda cfg, env: None
