"""Evaluation attacks on a trained victim.

A heuristic attack is a pure function `fn(key, obs_norm, victim, eps) -> obs_norm'`
over a batch of normalised observations; `victim.dist(obs_norm) -> (mean, std)` and
`victim.value(obs_norm) -> v` are pure. Learned attacks (rs, sa_rl, pa_ad) first fit
parameters per victim seed (vmapped over seeds), then act like a heuristic attack
with those parameters. All gradient attacks use `adversary.solve`.
"""
from __future__ import annotations

import dataclasses
import functools
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from . import adversary, networks
from . import robust_sarsa as rs
from .config import ConfigError, hyperparams
from .envs import VecEnv
from .learner import Trainer
from .progress import progress_bar
from .train import run_chunks

PGD_STEPS = 10      # lineage default: 10 steps of size eps/10
MAD_NOISE = 1e-3    # SGLD noise for the MAD attack, in step-size units


class Victim(NamedTuple):
    dist: Callable
    value: Callable


def make_victim(ac: networks.ActorCritic, params) -> Victim:
    return Victim(functools.partial(ac.dist, params), functools.partial(ac.value, params))


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


@dataclasses.dataclass(frozen=True)
class Learned:
    """A learned attack: `fit(result, eps, timesteps, key, progress) -> params [run, ...]`
    and `apply(params) -> heuristic-style attack function` for one run's params."""
    fit: Callable
    apply: Callable


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

    def apply(adv_params, ac_adv):
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


def _rs_apply(q_params, _ac_adv):

    def attack(key, obs, victim, eps):
        objective = lambda x: -rs.q_value(q_params, obs, networks.to_env_action(victim.dist(x)[0]))
        return adversary.solve(objective, obs, key, eps, PGD_STEPS)
    return attack


_sa_fit, _sa_apply = _fit_policy_adversary(adversary.SA_RL)
_pa_fit, _pa_apply = _fit_policy_adversary(adversary.PA_AD)
LEARNED = {
    "rs": Learned(_rs_fit, _rs_apply),
    "sa_rl": Learned(_sa_fit, _sa_apply),
    "pa_ad": Learned(_pa_fit, _pa_apply),
}
LEARNED_SPECS = {"sa_rl": adversary.SA_RL, "pa_ad": adversary.PA_AD}
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
