"""Evaluation attacks on a trained victim: the registry.

A heuristic attack is a pure function `fn(key, obs_norm, victim, eps) -> obs_norm'`
over a batch of normalised observations (`heuristic.py`); `victim.dist(obs_norm) ->
(mean, std)` and `victim.value(obs_norm) -> v` are pure. Learned attacks (rs, sa_rl,
pa_ad; `learned.py`) first fit parameters per victim run (vmapped over runs), then act
like a heuristic attack with those parameters. All gradient attacks use `adversary.solve`.
"""
from __future__ import annotations

import numpy as np

from ..config import ConfigError
from .base import PGD_STEPS, Learned, Victim, make_victim
from .heuristic import HEURISTIC, MAD_NOISE, critic, mad, none, uniform
from .learned import LEARNED
from .learned import SPECS as LEARNED_SPECS

ALL = tuple(HEURISTIC) + tuple(LEARNED)


def resolve(attacks) -> dict:
    """'all' | list of names | {name: fn} -> ordered {name: fn or Learned}; 'none' always first."""
    if isinstance(attacks, str):
        attacks = list(ALL) if attacks == "all" else [a.strip() for a in attacks.split(",") if a.strip()]
    if isinstance(attacks, dict):
        items = dict(attacks)
        for name, fn in items.items():
            if isinstance(fn, str):
                items[name] = resolve([fn])[fn]
            elif not callable(fn):
                raise ConfigError(f"attack {name!r} is not callable: pass fn(key, obs_norm, victim, eps) -> obs_norm'")
    else:
        items = {}
        for name in attacks:
            if name in HEURISTIC:
                items[name] = HEURISTIC[name]
            elif name in LEARNED:
                items[name] = LEARNED[name]
            else:
                raise ConfigError(f"unknown attack {name!r}: choose from {', '.join(ALL)}, 'all', or pass a dict "
                                  "of user attacks")
    if not items:
        raise ConfigError("no attacks given: pass 'all', a list of names, or a dict of user attacks")
    return {"none": none, **{k: v for k, v in items.items() if k != "none"}}


def check_eps(eps):
    if eps is None or not np.isfinite(eps) or eps < 0:
        raise ConfigError(f"eps must be a finite number >= 0 (an l_inf radius in normalised units), got {eps}")
