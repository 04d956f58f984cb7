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
import numpy as np

from . import networks
from .errors import ConfigError

Objective = Callable[[jnp.ndarray], jnp.ndarray]  # s' [B, obs] -> [B], to be maximised


def project(x, center, eps):
    """Project onto the l_inf ball of radius eps around center."""
    return jnp.clip(x, center - eps, center + eps)


def uniform_in_ball(key, center, eps):
    return center + eps * jax.random.uniform(key, center.shape, center.dtype, -1.0, 1.0)


def solve(objective: Objective, s, key, eps, steps: int, step_size=None, noise=0.0,
          random_start: bool = True):
    """argmax_{||s'-s||_inf <= eps} objective(s'), per sample, by K sign-gradient steps.

    Two modes, chosen by `noise`:

    * PGD (`noise` a Python 0, the default): a uniform random start in the ball, then
      steps of size `step_size` along sign(grad) (CAR-RL's PGD, the ARPO proxy).
    * SGLD (any other `noise`, also a traced value): the SA-PPO lineage's Langevin
      solver. `noise` is its temperature beta. It starts one step from s, at a random
      corner s + step * sign(xi), and step k (from 0) moves by
      step * sign(grad + sqrt(2 * step * beta) / (k + 2) * xi), xi ~ N(0, I): the noise
      sits inside the sign and decays as 1/(k + 2). beta is in units of this objective's
      per-sample gradient (see docs/methods.md for the lineage's own units).

    step_size defaults to eps / steps. Gradients do not flow through the result: the
    outer level treats the perturbation as a constant (the paper drops the
    second-order terms).
    """
    chex.assert_rank(s, 2)
    s = jax.lax.stop_gradient(s)
    step_size = eps / steps if step_size is None else step_size
    langevin = not (isinstance(noise, (int, float)) and noise == 0)
    k0, key = jax.random.split(key)
    if not random_start:
        x = s
    elif langevin:
        x = project(s + step_size * jnp.sign(jax.random.normal(k0, s.shape, s.dtype)), s, eps)
    else:
        x = uniform_in_ball(k0, s, eps)
    grad = jax.grad(lambda y: jnp.sum(objective(y)))
    scale = jnp.sqrt(2.0 * step_size * noise) if langevin else 0.0

    def body(i, carry):
        x, key = carry
        key, kn = jax.random.split(key)
        g = grad(x)
        if langevin:
            g = g + scale / (i + 2.0) * jax.random.normal(kn, x.shape, x.dtype)
        return project(x + step_size * jnp.sign(g), s, eps), key

    x, _ = jax.lax.fori_loop(0, steps, body, (x, key))
    return jax.lax.stop_gradient(x)


def _apgd_checkpoints(steps: int) -> tuple:
    """Iterations at which APGD reviews its progress: the fractions p_0 = 0,
    p_1 = 0.22, p_{j+1} = p_j + max(p_j - p_{j-1} - 0.03, 0.06) of the budget
    (Croce & Hein, 2020), as sorted distinct iteration indices in [1, steps)."""
    p = [0.0, 0.22]
    while p[-1] < 1.0:
        p.append(p[-1] + max(p[-1] - p[-2] - 0.03, 0.06))
    return tuple(sorted({int(round(q * steps)) for q in p[1:] if 0 < round(q * steps) < steps}))


def _apgd_schedule(steps: int):
    """-> (is_ckpt [steps] bool, since [steps]): whether APGD reviews its step size after
    step i, and how many steps passed since the previous review (0 between reviews)."""
    ckpts = _apgd_checkpoints(steps)
    is_ckpt = np.zeros((steps,), bool)
    since = np.zeros((steps,), np.float32)
    last = 0
    for c in ckpts:
        is_ckpt[c], since[c], last = True, c - last, c
    return jnp.asarray(is_ckpt), jnp.asarray(since)


def _value_and_sample_grad(objective: Objective):
    """y -> (objective(y) [B], d objective_b / d y_b [B, obs]) in one pass: the objective
    is per sample, so the pullback of ones gives each sample's own gradient."""
    def f_and_grad(y):
        f, pullback = jax.vjp(objective, y)
        return f, pullback(jnp.ones_like(f))[0]
    return f_and_grad


def solve_apgd(objective: Objective, s, key, eps, steps: int, random_start: bool = True,
               momentum: float = 0.75, rho: float = 0.75):
    """Auto-PGD: argmax of `objective` over the l_inf ball, per sample, and its value.

    Why not plain PGD: a fixed step of eps/K is too short to cross the ball early
    and too long to settle late. APGD starts at 2*eps, keeps the best point seen,
    adds heavy-ball momentum, and at checkpoints halves a sample's step and
    restarts it from its best point when it stalled (fewer than `rho` of the steps
    since the last checkpoint improved it, or nothing improved at an unchanged
    step). A sign step is used, so the schedule is written per sample.

    Returns:
      (x_best [B, obs], f_best [B]): the best perturbed observation seen and its objective.
    """
    chex.assert_rank(s, 2)
    s = jax.lax.stop_gradient(s)
    is_ckpt, since = _apgd_schedule(steps)
    f_and_grad = _value_and_sample_grad(objective)
    k0, _ = jax.random.split(key)
    x0 = uniform_in_ball(k0, s, eps) if random_start else s
    f0, g0 = f_and_grad(x0)
    batch = s.shape[0]
    eta0 = jnp.full((batch,), 2.0, s.dtype) * eps
    bcast = lambda v: v[:, None]

    def body(i, c):
        x, x_prev, g, f_x, best_x, best_g, best_f, eta, n_up, ckpt_best, ckpt_eta = c
        z = project(x + bcast(eta) * jnp.sign(g), s, eps)
        a = jnp.where(i == 0, 1.0, momentum)
        x_new = project(x + a * (z - x) + (1.0 - a) * (x - x_prev), s, eps)
        f_new, g_new = f_and_grad(x_new)
        n_up = n_up + (f_new > f_x)
        better = f_new > best_f
        best_x = jnp.where(bcast(better), x_new, best_x)
        best_g = jnp.where(bcast(better), g_new, best_g)
        best_f = jnp.where(better, f_new, best_f)
        # Checkpoint review (only where is_ckpt[i]): halve the step and go back to the best point.
        stalled = (n_up < rho * since[i]) | ((ckpt_eta == eta) & (ckpt_best == best_f))
        cut = is_ckpt[i] & stalled
        eta = jnp.where(cut, eta / 2.0, eta)
        x_next = jnp.where(bcast(cut), best_x, x_new)
        g_next = jnp.where(bcast(cut), best_g, g_new)
        f_next = jnp.where(cut, best_f, f_new)
        n_up = jnp.where(is_ckpt[i], 0.0, n_up)
        ckpt_best = jnp.where(is_ckpt[i], best_f, ckpt_best)
        ckpt_eta = jnp.where(is_ckpt[i], eta, ckpt_eta)
        return x_next, x, g_next, f_next, best_x, best_g, best_f, eta, n_up, ckpt_best, ckpt_eta

    zeros = jnp.zeros((batch,), s.dtype)
    init = (x0, x0, g0, f0, x0, g0, f0, eta0, zeros, f0, eta0)
    out = jax.lax.fori_loop(0, steps, body, init)
    return jax.lax.stop_gradient(out[4]), jax.lax.stop_gradient(out[6])


def solve_sign_decay(objective: Objective, s, key, eps, steps: int, first=0.25, last=0.01):
    """Sign-gradient ascent whose step shrinks linearly from `first`*eps to `last`*eps,
    from a uniform random start, keeping each sample's best point: argmax of `objective`
    over the l_inf ball and its value.

    A second optimiser next to APGD (schedule 'decay' of `solve_best_of`), for strength
    curves and audits: on a KL objective the two reach nearly the same KL at different
    maximisers, and a hopper's return depends on which one an attack lands on
    (docs/attacks.md).

    Returns:
      (x_best [B, obs], f_best [B]).
    """
    chex.assert_rank(s, 2)
    s = jax.lax.stop_gradient(s)
    grad = jax.grad(lambda y: jnp.sum(objective(y)))
    x0 = uniform_in_ball(key, s, eps)
    f0 = objective(x0)

    def body(i, c):
        x, best_x, best_f = c
        step = eps * (first - (first - last) * i / max(steps - 1, 1))
        x = project(x + step * jnp.sign(grad(x)), s, eps)
        f = objective(x)
        better = f > best_f
        return x, jnp.where(better[:, None], x, best_x), jnp.where(better, f, best_f)

    _, best_x, best_f = jax.lax.fori_loop(0, steps, body, (x0, x0, f0))
    return jax.lax.stop_gradient(best_x), jax.lax.stop_gradient(best_f)


SCHEDULES = ("apgd", "constant", "decay")   # the step schedules solve_best_of takes


def solve_best_of(objective: Objective, s, key, eps, steps: int, restarts: int, schedule: str = "apgd",
                  noise=0.0):
    """The per-sample best of `restarts` independent solves (a restart is one more vmap axis).

    Restart 0 uses `key` itself, so it is exactly the single-start solve with the same
    key: more restarts can only raise the per-sample objective. schedule "apgd" uses
    `solve_apgd`; "constant" uses `solve` (K steps of eps/K, optional SGLD `noise`);
    "decay" uses `solve_sign_decay`.
    """
    if schedule not in SCHEDULES:
        raise ConfigError(f"unknown step schedule {schedule!r}: use one of {', '.join(SCHEDULES)}")
    chex.assert_rank(s, 2)
    if restarts < 1:
        raise ConfigError(f"restarts must be >= 1, got {restarts}")

    def one(k):
        if schedule == "apgd":
            return solve_apgd(objective, s, k, eps, steps)
        if schedule == "decay":
            return solve_sign_decay(objective, s, k, eps, steps)
        x = solve(objective, s, k, eps, steps, noise=noise)
        return x, objective(x)

    if restarts == 1:
        return one(key)[0]
    keys = jnp.concatenate([key[None], jax.random.split(jax.random.fold_in(key, 1), restarts - 1)])
    xs, fs = jax.vmap(one)(keys)                     # [R, B, obs], [R, B]
    best = jnp.argmax(fs, axis=0)                    # first best wins ties: restart 0 is kept
    return jnp.take_along_axis(xs, best[None, :, None], axis=0)[0]


# Adversary objectives --------------------------------------------------------
# Each takes the quantities it needs and returns an Objective.

def kl_objective(dist, obs) -> Objective:
    """KL(pi(.|s) || pi(.|s')): how far the perturbation moves the policy (BARPO, SA-PPO, MAD)."""
    mean, std = jax.lax.stop_gradient(dist(obs))
    return lambda x: networks.kl(mean, std, *dist(x))


def action_change_objective(dist, obs) -> Objective:
    """sum(((mean(s') - mean(s)) / (std(s) / avg std(s)))^2): the MAD attack's objective in
    the SA-PPO lineage. For a state-independent std it is 2 * avg(std)^2 * KL, so it has the
    KL's maximisers; its scale does not shrink with the policy's std, which is what the
    lineage's SGLD noise (`solve`, beta = 1) is calibrated against."""
    mean, std = jax.lax.stop_gradient(dist(obs))
    scale = std / jnp.mean(std, axis=-1, keepdims=True)
    return lambda x: jnp.sum(jnp.square((dist(x)[0] - mean) / scale), axis=-1)


def flip_objective(dist, obs) -> Objective:
    """-<mean(pi(.|s')), sign(mean(pi(.|s)))>: every action dimension pushed towards the
    opposite sign of its clean value (an attack that targets the action directly)."""
    direction = jnp.sign(jax.lax.stop_gradient(dist(obs)[0]))
    return lambda x: -jnp.sum(dist(x)[0] * direction, axis=-1)


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
