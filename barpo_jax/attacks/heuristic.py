"""Heuristic attacks: pure functions `fn(key, obs_norm, victim, eps) -> obs_norm'`."""
from __future__ import annotations

from .. import adversary
from .base import PGD_STEPS

MAD_NOISE = 1e-3    # SGLD noise for the MAD attack, in step-size units


def none(key, obs, victim, eps):
    return obs


def uniform(key, obs, victim, eps):
    """The "random" attack: a uniform draw from the ball (named so as not to shadow the stdlib)."""
    return adversary.uniform_in_ball(key, obs, eps)


def critic(key, obs, victim, eps, steps=PGD_STEPS):
    return adversary.solve(adversary.value_objective(victim.value), obs, key, eps, steps)


def mad(key, obs, victim, eps, steps=PGD_STEPS):
    return adversary.solve(adversary.kl_objective(victim.dist, obs), obs, key, eps, steps, noise=MAD_NOISE)


HEURISTIC = {"none": none, "random": uniform, "critic": critic, "mad": mad}
