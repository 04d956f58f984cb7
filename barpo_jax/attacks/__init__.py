"""Evaluation attacks on a trained victim: the registry.

A heuristic attack is a pure function `fn(key, obs_norm, victim, eps) -> obs_norm'`
over a batch of normalised observations (`heuristic.py`); `victim.dist(obs_norm) ->
(mean, std)` and `victim.value(obs_norm) -> v` are pure. Learned attacks (rs, sa_rl,
pa_ad; `learned.py`) first fit parameters per victim run (vmapped over runs), then act
like a heuristic attack with those parameters. All gradient attacks use
`adversary.solve_best_of` at a `Strength` (STRONG by default; LINEAGE = the lineage's
10 steps of eps/10 from one start, for like-for-like comparison with published tables).
"""
from __future__ import annotations

import functools

import numpy as np

from ..config import ConfigError
from .base import LINEAGE, PGD_STEPS, SCANS, STRENGTHS, STRONG, Learned, LearnedScan, Strength, Victim, make_victim
from .heuristic import GRADIENT, HEURISTIC, MAD_NOISE, OPT_IN, critic, flip, mad, none, q_step, uniform
from .learned import LEARNED
from .learned import SPECS as LEARNED_SPECS

# What attacks='all' runs. An attack's randomness and its fit are keyed by its name, not its
# place here, so a new attack may go anywhere and `evaluate(reuse=...)` adds its column to an
# earlier report without changing the others.
ALL = tuple(a for a in HEURISTIC if a not in OPT_IN) + tuple(LEARNED)
"""What `attacks="all"` runs: every built-in attack but the opt-in ones (`q_step`)."""
NAMES = tuple(HEURISTIC) + tuple(LEARNED)                                 # every built-in name
"""Every built-in attack name, the opt-in `q_step` included."""


def _named(value, kind, registry: dict, what: str, how: str):
    """`value` itself if it is a `kind`, else the registry entry of that name (one clear
    error naming the choices otherwise)."""
    if isinstance(value, kind):
        return value
    if value not in registry:
        raise ConfigError(f"unknown {what} {value!r}: choose from {', '.join(registry)} or pass {how}")
    return registry[value]


def strength(value) -> Strength:
    """A Strength, or its name ('strong', 'lineage')."""
    return _named(value, Strength, STRENGTHS, "attack strength",
                  "an attacks.Strength(name, steps, restarts, schedule)")


def scan(value) -> LearnedScan:
    """A LearnedScan, or its name ('none', 'small', 'large'); None picks 'large' on an
    accelerator and 'small' on a CPU."""
    if value is None:
        import jax
        value = "small" if jax.default_backend() == "cpu" else "large"
    chosen = _named(value, LearnedScan, SCANS, "learned-attack scan",
                    "an attacks.LearnedScan(name, learning_rates, entropy_coefs, select_episodes)")
    fits = chosen.sarsa_fits
    if isinstance(fits, bool) or int(fits) != fits or fits < 1:
        raise ConfigError(f"learned-attack scan {chosen.name!r}: sarsa_fits must be a whole number >= 1, got {fits}")
    if (len(chosen.points(0.0, 0.0)) > 1 or fits > 1) and chosen.select_episodes < 1:
        raise ConfigError(f"learned-attack scan {chosen.name!r} has several points or sarsa_fits but select_episodes="
                          f"{chosen.select_episodes}: set select_episodes >= 1 to choose between them")
    return chosen._replace(sarsa_fits=int(fits))


TAKES_STRENGTH = GRADIENT + ("rs",)   # built-ins whose test-time solve runs at a Strength


def takes_strength(name: str, item) -> bool:
    """True for the built-in attack of that name that solves at a Strength (a user
    attack that reuses the name is not)."""
    return name in TAKES_STRENGTH and item is {**HEURISTIC, **LEARNED}[name]


def is_builtin_heuristic(name: str, item) -> bool:
    """True when `item` is the built-in heuristic attack (or 'none') of that name, not a
    user function that reuses the name: its compiled evaluation column can be shared."""
    return item is {**HEURISTIC, "none": none}.get(name)


def bind(name: str, item, at: Strength):
    """A built-in heuristic attack with its strength applied (others are returned as given)."""
    if name in HEURISTIC and takes_strength(name, item):
        return functools.partial(item, strength=at)
    return item


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
                raise ConfigError(f"unknown attack {name!r}: choose from {', '.join(NAMES)}, 'all', or pass a dict "
                                  "of user attacks")
    if not items:
        raise ConfigError("no attacks given: pass 'all', a list of names, or a dict of user attacks")
    return {"none": none, **{k: v for k, v in items.items() if k != "none"}}


def check_eps(eps):
    if eps is None or not np.isfinite(eps) or eps < 0:
        raise ConfigError(f"eps must be a finite number >= 0 (an l_inf radius in normalised units), got {eps}")
