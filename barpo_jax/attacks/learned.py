"""Learned attacks: fitted per victim run, then applied like a heuristic attack.

`sa_rl` and `pa_ad` are PPO adversaries trained by the training program itself
(`learner.Trainer(train_agent=False)`, run by `train.run_chunks`, so they share its
NaN check); `rs` fits a robust-Sarsa Q of the victim and attacks Q(s, mu(s')).
"""
from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp

from .. import adversary, networks
from ..config import hyperparams
from ..envs import VecEnv
from ..learner import Trainer
from ..progress import progress_bar
from ..train import run_chunks
from . import robust_sarsa as rs
from .base import PGD_STEPS, STRONG, Learned, Strength


def _fit_policy_adversary(spec: adversary.LearnedAdversary):
    def fit(result, eps, timesteps, key, progress):
        cfg = result.config.replace(algo="atla_ppo", num_timesteps=timesteps, eps=eps, eps_ramp_fraction=0.0,
                                    num_seeds=result.num_runs, seed=int(jax.random.randint(key, (), 0, 2**30)))
        trainer = Trainer(cfg, train_agent=False, adversary=spec)
        state = trainer.init_runs([cfg.seed + i for i in range(cfg.num_seeds)])
        agent = state.agent._replace(params=jax.tree.map(jnp.asarray, result.params))
        state = state._replace(agent=agent, stats=jax.tree.map(jnp.asarray, result.normalizer))
        state, _, _ = run_chunks(trainer, state, hyperparams(cfg, cfg.num_seeds), cfg.num_iterations,
                                 progress=progress, desc=f"fit {spec.name}")
        return state.adv.params

    def apply(adv_params, ac_adv, strength=None):
        """The learned policy is the attack; `strength` does not apply (PA-AD's gradient
        actor keeps the step budget it was trained with)."""
        def attack(key, obs, victim, eps):
            mean, _ = ac_adv.dist(adv_params, obs)
            return adversary.project(spec.realise(key, mean, obs, eps, victim.dist, PGD_STEPS), obs, eps)
        return attack
    return fit, apply


def _rs_fit(result, eps, timesteps, key, progress):
    cfg = result.config
    rcfg = rs.RSConfig()
    iters = max(1, timesteps // (rcfg.num_envs * rcfg.unroll_length))
    rcfg = dataclasses.replace(rcfg, iterations=iters)
    env = VecEnv(cfg.env, cfg.backend, rcfg.num_envs, cfg.episode_length)
    ac = result.actor_critic()
    keys = jax.random.split(key, result.num_runs)
    fit_one = lambda p, s, k: rs.fit(env, functools.partial(ac.dist, p), s, k, rcfg)[0]
    bar = progress_bar(progress, 1, "fit rs")
    q = jax.jit(jax.vmap(fit_one))(jax.tree.map(jnp.asarray, result.params),
                                   jax.tree.map(jnp.asarray, result.normalizer), keys)
    if bar is not None:
        bar.update(1)
        bar.close()
    return q


def _rs_apply(q_params, _ac_adv, strength: Strength = STRONG):

    def attack(key, obs, victim, eps):
        objective = lambda x: -rs.q_value(q_params, obs, networks.to_env_action(victim.dist(x)[0]))
        return adversary.solve_best_of(objective, obs, key, eps, strength.steps, strength.restarts,
                                       strength.schedule)
    return attack


_sa_fit, _sa_apply = _fit_policy_adversary(adversary.SA_RL)
_pa_fit, _pa_apply = _fit_policy_adversary(adversary.PA_AD)
SPECS = {"sa_rl": adversary.SA_RL, "pa_ad": adversary.PA_AD}  # the learned policy adversaries
LEARNED = {
    "rs": Learned(_rs_fit, _rs_apply),
    "sa_rl": Learned(_sa_fit, _sa_apply, lambda cfg, env: adversary.network(adversary.SA_RL, env, cfg)),
    "pa_ad": Learned(_pa_fit, _pa_apply, lambda cfg, env: adversary.network(adversary.PA_AD, env, cfg)),
}
