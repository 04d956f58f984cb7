"""Learned attacks: fitted per victim run, then applied like a heuristic attack.

`sa_rl` and `pa_ad` are PPO adversaries trained by the training program itself
(`learner.Trainer(train_agent=False)`, run by `loop.run_chunks`, so they share its
NaN check); `rs` fits a robust-Sarsa Q of the victim and attacks Q(s, mu(s')).
"""
from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from .. import acting, adversary, networks
from .. import normalize as nz
from ..config import hyperparams
from ..envs import VecEnv
from ..learner import Trainer
from ..progress import progress_bar
from ..loop import run_chunks
from . import robust_sarsa as rs
from .base import PGD_STEPS, SCANS, STRONG, Learned, LearnedScan, Strength, make_victim


def _fit_policy_adversary(spec: adversary.LearnedAdversary):
    def fit(result, eps, timesteps, key, progress, scan: LearnedScan = SCANS["none"]):
        """Fit one adversary per (victim run, scan point) in one program; keep each victim's strongest."""
        n = result.num_runs
        base = result.config
        points = scan.points(base.adv_learning_rate, base.entropy_coef)
        k = len(points)
        cfg = base.replace(algo="atla_ppo", num_timesteps=timesteps, eps=eps, eps_ramp_fraction=0.0,
                           num_seeds=n * k, seed=int(jax.random.randint(key, (), 0, 2**30)))
        trainer = Trainer(cfg, train_agent=False, adversary=spec)
        state = trainer.init_runs([cfg.seed + i for i in range(cfg.num_seeds)])
        tile = lambda t: jax.tree.map(lambda x: jnp.repeat(jnp.asarray(x), k, axis=0), t)  # run-major
        victim_params, victim_stats = tile(result.params), tile(result.normalizer)
        state = state._replace(agent=state.agent._replace(params=victim_params), stats=victim_stats)
        lrs = np.tile([p[0] for p in points], n)
        ents = np.tile([p[1] for p in points], n)
        hp = hyperparams(cfg, n * k, adv_learning_rate=lrs, entropy_coef=ents)
        state, _, _ = run_chunks(trainer, state, hp, cfg.num_iterations, progress=progress,
                                 desc=f"fit {spec.name}" + (f" x{k}" if k > 1 else ""))
        adv_params = state.adv.params
        info = {"scan": scan.describe(), "points": [list(p) for p in points]}
        if k == 1:
            return adv_params, {**info, "chosen": [list(points[0])] * n}
        env = VecEnv(cfg.env, cfg.backend, scan.select_episodes, cfg.episode_length)
        ac, adv_ac = result.actor_critic(), adversary.network(spec, env, cfg)

        def held_out(p, s, ap, kk):  # mean return of one victim under one fitted adversary
            victim = make_victim(ac, p)
            attack = apply(ap, adv_ac)

            def act(ka, raw):
                o = nz.normalize(s, raw, base.observation_clip)
                return networks.to_env_action(victim.dist(attack(ka, o, victim, eps))[0])
            return jnp.mean(acting.episode_returns(env, act, kk))
        # common random numbers: a victim's k adversaries face the same episodes
        keys = jnp.repeat(jax.random.split(jax.random.fold_in(key, 1), n), k, axis=0)
        returns = np.asarray(jax.jit(jax.vmap(held_out))(victim_params, victim_stats, adv_params, keys)).reshape(n, k)
        best = np.argmin(returns, axis=1)
        chosen = jax.tree.map(lambda x: x.reshape((n, k) + x.shape[1:])[np.arange(n), best], adv_params)
        return chosen, {**info, "chosen": [list(points[b]) for b in best], "select_returns": returns.round(1).tolist()}

    def apply(adv_params, ac_adv, strength=None):
        """The learned policy is the attack; `strength` does not apply (PA-AD's gradient
        actor keeps the step budget it was trained with)."""
        def attack(key, obs, victim, eps):
            mean, _ = ac_adv.dist(adv_params, obs)
            return adversary.project(spec.realise(key, mean, obs, eps, victim.dist, PGD_STEPS), obs, eps)
        return attack
    return fit, apply


def _rs_fit(result, eps, timesteps, key, progress, scan=None):
    """Robust Sarsa has no attack policy to scan; `scan` is ignored."""
    cfg = result.config
    rcfg = rs.RSConfig(obs_clip=cfg.observation_clip)
    iters = max(1, timesteps // (rcfg.num_envs * rcfg.unroll_length))
    rcfg = dataclasses.replace(rcfg, iterations=iters)
    env = VecEnv(cfg.env, cfg.backend, rcfg.num_envs, cfg.episode_length, cfg.fresh_starts)
    ac = result.actor_critic()
    keys = jax.random.split(key, result.num_runs)
    fit_one = lambda p, s, k: rs.fit(env, functools.partial(ac.dist, p), s, k, rcfg)[0]
    bar = progress_bar(progress, 1, "fit rs")
    q = jax.jit(jax.vmap(fit_one))(jax.tree.map(jnp.asarray, result.params),
                                   jax.tree.map(jnp.asarray, result.normalizer), keys)
    if bar is not None:
        bar.update(1)
        bar.close()
    return q, {}


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
