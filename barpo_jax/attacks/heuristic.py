"""Heuristic attacks: pure functions `fn(key, obs_norm, victim, eps) -> obs_norm'`.

The gradient attacks take a `strength` (base.Strength: steps, restarts, schedule);
the registry binds it (`attacks.resolve`), so to users they are plain
`fn(key, obs_norm, victim, eps)` like any attack they write themselves.
"""
from __future__ import annotations

from .. import adversary
from ..config import ConfigError
from .base import STRONG, Strength

# SGLD temperature of the MAD attack at the `lineage` strength (constant schedule; APGD has no
# noise): SA-PPO's attack sets beta = 1 (SA_PPO src/policy_gradients/agent.py, apply_attack,
# "action"). See adversary.solve for how beta enters the step.
MAD_NOISE = 1.0


def none(key, obs, victim, eps):
    """No attack (the "natural" column): every report has it, first.

    Args:
      key: PRNG key of this step's draws (starts, noise).
      obs: [batch, obs] normalised observations.
      victim: the attacked policy (`Victim`).
      eps: the l_inf budget, in normalised-observation units.

    Returns:
      [batch, obs] `obs` unchanged.
    """
    return obs


def uniform(key, obs, victim, eps):
    """The "random" attack: a uniform draw from the ball (named so as not to shadow the stdlib).

    The baseline every gradient attack must beat: a report flags a seed where it does not.

    Args:
      key: PRNG key of this step's draws (starts, noise).
      obs: [batch, obs] normalised observations.
      victim: the attacked policy (`Victim`).
      eps: the l_inf budget, in normalised-observation units.

    Returns:
      [batch, obs] perturbed observations inside the ball.
    """
    return adversary.uniform_in_ball(key, obs, eps)


def _solve(objective, obs, key, eps, strength: Strength, noise=0.0):
    return adversary.solve_best_of(objective, obs, key, eps, strength.steps, strength.restarts, strength.schedule,
                                   noise=noise)


def critic(key, obs, victim, eps, strength: Strength = STRONG):
    """Minimise the victim's own V(s'): make it believe it is in a bad state.

    Args:
      key: PRNG key of this step's draws (starts, noise).
      obs: [batch, obs] normalised observations.
      victim: the attacked policy (`Victim`).
      eps: the l_inf budget, in normalised-observation units.
      strength: steps, restarts and schedule of the search (`evaluate(strength=...)` sets it).

    Returns:
      [batch, obs] perturbed observations inside the ball.
    """
    return _solve(adversary.value_objective(victim.value), obs, key, eps, strength)


def mad(key, obs, victim, eps, strength: Strength = STRONG):
    """Maximal action difference: maximise KL(pi(.|s) || pi(.|s')). At a constant-step
    strength (`lineage`) it is the lineage's attack: SGLD at beta = MAD_NOISE on the
    lineage's std-normalised action change, which the noise is calibrated against.

    Args:
      key: PRNG key of this step's draws (starts, noise).
      obs: [batch, obs] normalised observations.
      victim: the attacked policy (`Victim`).
      eps: the l_inf budget, in normalised-observation units.
      strength: steps, restarts and schedule of the search (`evaluate(strength=...)` sets it).

    Returns:
      [batch, obs] perturbed observations inside the ball.
    """
    if strength.schedule == "constant":
        objective = adversary.action_change_objective(victim.dist, obs)
    else:
        objective = adversary.kl_objective(victim.dist, obs)
    return _solve(objective, obs, key, eps, strength, noise=MAD_NOISE)


def flip(key, obs, victim, eps, strength: Strength = STRONG):
    """Target the action: push every dimension of the mean action towards the opposite
    sign of its clean value (MAD moves it anywhere; this picks the direction).

    Args:
      key: PRNG key of this step's draws (starts, noise).
      obs: [batch, obs] normalised observations.
      victim: the attacked policy (`Victim`).
      eps: the l_inf budget, in normalised-observation units.
      strength: steps, restarts and schedule of the search (`evaluate(strength=...)` sets it).

    Returns:
      [batch, obs] perturbed observations inside the ball.
    """
    return _solve(adversary.flip_objective(victim.dist, obs), obs, key, eps, strength)


def q_step(key, obs, victim, eps, strength: Strength = STRONG):
    """Target the action through the physics: minimise the victim's one-step
    Q(s, mean(pi(.|s'))) = r + gamma * V(s_next), differentiated through the env step.

    Opt-in (not in `ALL`): it costs about 6x the other attacks on a CPU.

    Args:
      key: PRNG key of this step's draws (starts, noise).
      obs: [batch, obs] normalised observations.
      victim: the attacked policy (`Victim`).
      eps: the l_inf budget, in normalised-observation units.
      strength: steps, restarts and schedule of the search (`evaluate(strength=...)` sets it).

    Returns:
      [batch, obs] perturbed observations inside the ball.
    
    Raises:
      ConfigError: `victim.q` is None (called outside `evaluate`, which provides it).
    """
    if victim.q is None:
        raise ConfigError("the q_step attack needs victim.q (a one-step model); `evaluate` provides it")
    return _solve(lambda x: -victim.q(x), obs, key, eps, strength)


HEURISTIC = {"none": none, "random": uniform, "critic": critic, "mad": mad, "flip": flip, "q_step": q_step}
GRADIENT = ("critic", "mad", "flip", "q_step")   # take a strength; checked for gradient masking
# Not in 'all': q_step differentiates through the physics at every step of every solve, about
# 6x the cost of the other attacks on CPU, and did not lower returns where measured (docs/attacks.md).
OPT_IN = ("q_step",)
