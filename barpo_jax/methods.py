"""Every training method as a composition: (inner adversary objective, outer loss).

    loss(theta) = outer(theta; s, nu(s)) + value/entropy terms,
    nu(s) = adversary.solve(inner(theta; s), s)   (no gradient through nu)

`train.py` only calls `Method.loss`; it never asks which method it runs. Adding a
method is one entry in METHODS built from the pieces below.
"""
from __future__ import annotations

import dataclasses
from typing import Callable, Optional

import jax
import jax.numpy as jnp

from . import adversary, networks, ppo

# Inner objectives: (ac, params, batch, hp) -> Objective over s' ---------------

def kl_inner(ac, params, batch, hp):
    return adversary.kl_objective(lambda x: ac.dist(params, x), batch.obs)


def surrogate_inner(ac, params, batch, hp):
    return adversary.surrogate_objective(
        lambda x: ppo.surrogate_loss(ac, params, x, batch, hp["clip_eps"]))


@dataclasses.dataclass(frozen=True)
class Inner:
    objective: Callable
    langevin: bool  # SGLD noise (KL inner level) or plain PGD (surrogate)


KL = Inner(kl_inner, langevin=True)
SURROGATE = Inner(surrogate_inner, langevin=False)


# Outer losses: (ac, params, batch, obs_adv, hp) -> (policy loss, aux) --------

def clean(ac, params, batch, obs_adv, hp):
    return jnp.mean(ppo.surrogate_loss(ac, params, batch.obs, batch, hp["clip_eps"])), {}


def at_perturbed(ac, params, batch, obs_adv, hp):
    return jnp.mean(ppo.surrogate_loss(ac, params, obs_adv, batch, hp["clip_eps"])), {}


def softmax_aggregate(ac, params, batch, obs_adv, hp):
    """CAR-PPO: weight the per-sample adversarial surrogate by softmax(lambda * loss);
    lambda = 0 is the plain mean, large lambda approaches the worst sample."""
    surr = ppo.surrogate_loss(ac, params, obs_adv, batch, hp["clip_eps"])
    w = jax.lax.stop_gradient(jax.nn.softmax(hp["car_lambda"] * surr))
    return jnp.sum(w * surr), {"car_max_weight": jnp.max(w)}


def plus_guidance(outer):
    """+ kappa * clean PPO surrogate ("SPO guidance")."""
    def f(ac, params, batch, obs_adv, hp):
        loss, aux = outer(ac, params, batch, obs_adv, hp)
        g, _ = clean(ac, params, batch, obs_adv, hp)
        return loss + hp["kappa"] * g, aux
    return f


def plus_kl_regulariser(outer):
    """+ kappa_reg * KL(pi(s) || pi(nu(s))) (SA-PPO); gradients flow through both sides."""
    def f(ac, params, batch, obs_adv, hp):
        loss, aux = outer(ac, params, batch, obs_adv, hp)
        reg = jnp.mean(networks.kl(*ac.dist(params, batch.obs), *ac.dist(params, obs_adv)))
        return loss + hp["kappa_reg"] * reg, {**aux, "kl_reg": reg}
    return f


@dataclasses.dataclass(frozen=True)
class Method:
    inner: Optional[Inner]
    outer: Callable
    # rollouts collected under a PPO-trained adversary (ATLA), see adversary.LearnedAdversary
    learned_adversary: Optional[adversary.LearnedAdversary] = None

    def perturb(self, ac, params, batch, key, eps, hp, steps: int):
        """nu(s) for a minibatch: the inner level's solution (or s itself)."""
        if self.inner is None:
            return batch.obs
        objective = self.inner.objective(ac, params, batch, hp)
        noise = hp["sgld_noise"] if self.inner.langevin else 0.0
        return adversary.solve(objective, batch.obs, key, eps, steps, eps * hp["step_frac"], noise)

    def loss(self, ac, params, batch, key, eps, hp, steps: int):
        obs_adv = self.perturb(ac, params, batch, key, eps, hp, steps)
        policy_loss, aux = self.outer(ac, params, batch, obs_adv, hp)
        aux = {**aux, "policy_loss": policy_loss}
        if self.inner is not None:
            mean, std = jax.lax.stop_gradient(ac.dist(params, batch.obs))
            aux["inner_kl"] = jnp.mean(networks.kl(mean, std, *jax.lax.stop_gradient(ac.dist(params, obs_adv))))
        return policy_loss + ppo.common_loss(ac, params, batch, hp), aux


METHODS = {
    "spo": Method(None, clean),
    "arpo": Method(SURROGATE, at_perturbed),
    "arpo_guided": Method(SURROGATE, plus_guidance(at_perturbed)),
    "barpo_unguided": Method(KL, at_perturbed),
    "barpo": Method(KL, plus_guidance(at_perturbed)),
    "sa_ppo": Method(KL, plus_kl_regulariser(clean)),
    "car_ppo": Method(SURROGATE, plus_guidance(softmax_aggregate)),
    # ATLA: the batch's observations already carry the learned adversary's
    # perturbation (rollouts are collected under it), so the outer loss is plain PPO.
    "atla_ppo": Method(None, clean, learned_adversary=adversary.SA_RL),
}
