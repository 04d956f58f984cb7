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
        state = state._replace(agent=state.agent._replace(params=_tiled(result.params, k)),
                               stats=_tiled(result.normalizer, k))
        lrs = np.tile([p[0] for p in points], n)
        ents = np.tile([p[1] for p in points], n)
        hp = hyperparams(cfg, n * k, adv_learning_rate=lrs, entropy_coef=ents)
        state, _, _ = run_chunks(trainer, state, hp, cfg.num_iterations, progress=progress,
                                 desc=f"fit {spec.name}" + (f" x{k}" if k > 1 else ""))
        adv_params = state.adv.params
        info = {"scan": scan.describe(), "points": [list(p) for p in points]}
        if k == 1:
            return adv_params, {**info, "chosen": [list(points[0])] * n}
        adv_ac = adversary.network(spec, VecEnv(cfg.env, cfg.backend, 1, cfg.episode_length), cfg)
        chosen, best, returns = _strongest(result, eps, key, scan.select_episodes, k, adv_params,
                                           lambda ap: apply(ap, adv_ac))
        return chosen, {**info, "chosen": [list(points[b]) for b in best], "select_returns": returns.round(1).tolist()}

    def apply(adv_params, ac_adv, strength=None):
        """The learned policy is the attack; `strength` does not apply (PA-AD's gradient
        actor keeps the step budget it was trained with)."""
        def attack(key, obs, victim, eps):
            mean, _ = ac_adv.dist(adv_params, obs)
            return adversary.project(spec.realise(key, mean, obs, eps, victim.dist, PGD_STEPS), obs, eps)
        return attack
    return fit, apply


def _tiled(tree, k: int):
    """Each victim's leaves repeated k times, run-major: [run * k, ...]."""
    return jax.tree.map(lambda x: jnp.repeat(jnp.asarray(x), k, axis=0), tree)


def _strongest(result, eps, key, episodes: int, k: int, fitted, attack_of):
    """Each victim's strongest of its k fits (`fitted`, [run * k, ...], run-major): the one
    whose attack, `attack_of(params of one fit)`, gives the lowest mean return on `episodes`
    held-out episodes. A victim's k fits face the same episodes (common random numbers),
    drawn from another key than the evaluation's.

    Returns:
      (chosen params [run, ...], the chosen fit per run, held-out returns [run, k]).
    """
    cfg, n = result.config, result.num_runs
    env = VecEnv(cfg.env, cfg.backend, episodes, cfg.episode_length)
    ac = result.actor_critic()

    def held_out(p, s, fit, kk):  # mean return of one victim under one fitted attack
        victim, attack = make_victim(ac, p), attack_of(fit)

        def act(ka, raw):
            o = nz.normalize(s, raw, cfg.observation_clip)
            return networks.to_env_action(victim.dist(attack(ka, o, victim, eps))[0])
        return jnp.mean(acting.episode_returns(env, act, kk))
    keys = jnp.repeat(jax.random.split(jax.random.fold_in(key, 1), n), k, axis=0)
    returns = jax.jit(jax.vmap(held_out))(_tiled(result.params, k), _tiled(result.normalizer, k), fitted, keys)
    returns = np.asarray(returns).reshape(n, k)
    best = np.argmin(returns, axis=1)
    chosen = jax.tree.map(lambda x: x.reshape((n, k) + x.shape[1:])[np.arange(n), best], fitted)
    return chosen, best, returns


def _rs_fit(result, eps, timesteps, key, progress, scan: LearnedScan = SCANS["none"]):
    """Robust Sarsa has no attack policy to scan: `scan.sarsa_fits` Qs are fitted per victim
    from their own keys (the first from a single fit's), and the strongest on
    `scan.select_episodes` held-out episodes is kept, selected at the STRONG search."""
    cfg, n, k = result.config, result.num_runs, scan.sarsa_fits
    rcfg = rs.RSConfig(obs_clip=cfg.observation_clip)
    iters = max(1, timesteps // (rcfg.num_envs * rcfg.unroll_length))
    rcfg = dataclasses.replace(rcfg, iterations=iters)
    env = VecEnv(cfg.env, cfg.backend, rcfg.num_envs, cfg.episode_length, cfg.fresh_starts)
    ac = result.actor_critic()
    # Fit 0 of each victim starts from the key a single fit uses; fit j from that key folded with j.
    first = jax.random.split(key, n)
    keys = jnp.stack([first] + [jax.vmap(jax.random.fold_in, (0, None))(first, j) for j in range(1, k)], 1)
    keys = keys.reshape((n * k,) + first.shape[1:])
    fit_one = lambda p, s, kk: rs.fit(env, functools.partial(ac.dist, p), s, kk, rcfg)[0]
    bar = progress_bar(progress, 1, "fit rs" + (f" x{k}" if k > 1 else ""))
    q = jax.jit(jax.vmap(fit_one))(_tiled(result.params, k), _tiled(result.normalizer, k), keys)
    if bar is not None:
        bar.update(1)
        bar.close()
    if k == 1:
        return q, {}
    chosen, best, returns = _strongest(result, eps, key, scan.select_episodes, k, q,
                                       lambda fit: _rs_apply(fit, None, STRONG))
    return chosen, {"scan": scan.describe_sarsa(), "chosen_fit": best.tolist(),
                    "select_returns": returns.round(1).tolist()}


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
    "rs": Learned(_rs_fit, _rs_apply, scan_label=LearnedScan.describe_sarsa),
    "sa_rl": Learned(_sa_fit, _sa_apply, lambda cfg, env: adversary.network(adversary.SA_RL, env, cfg)),
    "pa_ad": Learned(_pa_fit, _pa_apply, lambda cfg, env: adversary.network(adversary.PA_AD, env, cfg)),
}
