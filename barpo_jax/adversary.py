"""The l_inf ball, the one inner solver, and the adversary objectives.

Every method and every gradient-based attack in barpo-jax finds its perturbation
here: `solve` maximises a per-sample objective f(s') over the ball around s by
projected sign-gradient ascent from a random start, with optional Langevin noise.
Objectives are per-sample ([B, obs] -> [B]), so the gradient of their sum is the
batch of per-sample gradients: the solve is vmapped over the batch for free.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import chex
import jax
import jax.numpy as jnp

from . import networks

Objective = Callable[[jnp.ndarray], jnp.ndarray]  # s' [B, obs] -> [B], to be maximised


def project(x, center, eps):
    """Project onto the l_inf ball of radius eps around center."""
    return jnp.clip(x, center - eps, center + eps)


def uniform_in_ball(key, center, eps):
    return center + eps * jax.random.uniform(key, center.shape, center.dtype, -1.0, 1.0)


def solve(objective: Objective, s, key, eps, steps: int, step_size=None, noise=0.0,
          random_start: bool = True):
    """argmax_{||s'-s||_inf <= eps} objective(s'), per sample, by K sign-gradient steps.

    step_size defaults to eps / steps; `noise` scales Gaussian (SGLD) noise added to
    each step, in units of the step size. Gradients do not flow through the result:
    the outer level treats the perturbation as a constant (the paper drops the
    second-order terms).
    """
    chex.assert_rank(s, 2)
    s = jax.lax.stop_gradient(s)
    step_size = eps / steps if step_size is None else step_size
    k0, key = jax.random.split(key)
    x = uniform_in_ball(k0, s, eps) if random_start else s
    grad = jax.grad(lambda y: jnp.sum(objective(y)))

    def body(i, carry):
        x, key = carry
        key, kn = jax.random.split(key)
        x = x + step_size * jnp.sign(grad(x))
        x = x + noise * step_size * jax.random.normal(kn, x.shape, x.dtype)
        return project(x, s, eps), key

    x, _ = jax.lax.fori_loop(0, steps, body, (x, key))
    return jax.lax.stop_gradient(x)


# Adversary objectives --------------------------------------------------------
# Each takes the quantities it needs and returns an Objective.

def kl_objective(dist, obs) -> Objective:
    """KL(pi(.|s) || pi(.|s')): how far the perturbation moves the policy (BARPO, SA-PPO, MAD)."""
    mean, std = jax.lax.stop_gradient(dist(obs))
    return lambda x: networks.kl(mean, std, *dist(x))


def value_objective(value) -> Objective:
    """-V(s'): make the victim believe it is in a bad state (critic attack)."""
    return lambda x: -value(x)


# Learned adversaries ---------------------------------------------------------
# A PPO policy (trained by the same loop as the agent, rewarded with -r) whose
# action is *realised* as an observation perturbation inside the ball.

class LearnedAdversary(NamedTuple):
    name: str
    action_size: Callable  # VecEnv -> size of the adversary's action
    realise: Callable      # (key, adv_action, obs_n, eps, victim_dist, steps) -> obs_n'


def _direct(key, a, obs_n, eps, victim_dist, steps):
    """SA-RL / ATLA: the action (clipped to [-1, 1]) is the perturbation direction."""
    return obs_n + eps * networks.to_env_action(a)


def _steer_actions(key, d, obs_n, eps, victim_dist, steps):
    """PA-AD: the director's action d is a direction in the victim's action space; a
    gradient actor finds the perturbation that moves the victim's mean action along d."""
    d = d / (jnp.linalg.norm(d, axis=-1, keepdims=True) + 1e-8)
    mean0 = jax.lax.stop_gradient(victim_dist(obs_n)[0])
    objective = lambda x: jnp.sum((victim_dist(x)[0] - mean0) * d, axis=-1)
    return solve(objective, obs_n, key, eps, steps)


def network(spec: LearnedAdversary, env, cfg) -> networks.ActorCritic:
    """A learned adversary's actor-critic: it sees the clean normalised observation and
    acts in `spec.action_size(env)` dimensions, realised by `spec.realise`; its widths
    and initial log-std are the agent's (`cfg`)."""
    return networks.ActorCritic(env.obs_size, spec.action_size(env), cfg.policy_hidden, cfg.value_hidden,
                                cfg.init_log_std)


SA_RL = LearnedAdversary("sa_rl", lambda env: env.obs_size, _direct)
PA_AD = LearnedAdversary("pa_ad", lambda env: env.action_size, _steer_actions)
