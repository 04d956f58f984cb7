"""Every training method as a composition: (inner adversary objective, outer loss).

    loss(theta) = outer(theta; s, nu(s)) + value/entropy terms,
    nu(s) = adversary.solve(inner(theta; s), s)   (no gradient through nu)

A `Method` also owns every other perturbation the loop needs: the one applied while
collecting rollouts (none, its own inner objective, or a learned adversary) and the
learned adversary's update, and the float hyper-parameters its loss reads (`Weight`s,
with their per-task presets and checks; config.py derives the `TrainConfig` fields from
them). The learner asks a method for these and never asks which method it runs. Adding a
method is one `config.register_method(name, Method(...))` built from the pieces below,
in any file.
"""
from __future__ import annotations

import dataclasses
from typing import Callable, Mapping, Optional

import jax
import jax.numpy as jnp

from . import acting, adversary, bounds, networks, ppo
from .weights import PerTask, Preset, Weight

# The weights the methods below read from `hp` ---------------------------------
# Each is declared once; a method presets one differently in its own `presets`.

SGLD_TEMPERATURE = Weight(
    "sgld_temperature", "temperature beta of the SGLD noise in the KL inner level (adversary.solve)", 0.01,
    "our choice; SA-PPO's 1e-5 is in other units, docs/methods.md")
KAPPA = Weight(
    "kappa", "SPO-guidance weight: + kappa * the clean PPO surrogate", 0.0,
    "our choice, docs/methods.md")
# huanzhang12/SA_PPO src/config_{hopper,walker,humanoid}_robust_ppo_sgld.json (robust_ppo_reg).
# SA_PPO publishes halfcheetah and ant only with its convex-relaxation regulariser
# (config_{halfcheetah,ant}_robust_ppo_convex.json); those weights are used for the SGLD
# variant here, unvalidated. Other tasks: 0.1, our choice.
KAPPA_REG = Weight(
    "kappa_reg", "weight of the KL regulariser 2 KL(pi(s) || pi(nu(s)))",
    PerTask({"hopper": 1.0, "walker2d": 0.1, "humanoid": 0.01, "halfcheetah": 0.1, "ant": 0.003}, 0.1,
            "SA_PPO_REG"),
    "SA_PPO's robust_ppo_reg per task; WocaR-RL's for wocar_ppo")
# RyanHaoranLi/CAR-RL src/config_{hopper,walker,halfcheetah,ant}_car_ppo_pgd.json
# (robust_soft_lambda, robust_ppo_reg), the PGD configs, whose inner level is ours. Other
# tasks: the median of those four, our choice.
CAR_TEMPERATURE = Weight(
    "car_temperature", "CAR-PPO soft-max temperature: weights proportional to exp(loss / T); inf: the plain mean",
    PerTask({"hopper": 1000.0, "walker2d": 100.0, "halfcheetah": 1000.0, "ant": 1e4}, 1000.0, "CAR_PPO"),
    "CAR-RL's robust_soft_lambda per task", positive=True)
CAR_REG = Weight(
    "car_reg", "CAR-PPO: loss = clean + car_reg * the weighted adversarial loss",
    PerTask({"hopper": 0.3, "walker2d": 0.1, "halfcheetah": 1.0, "ant": 0.3}, 0.3, "CAR_PPO"),
    "CAR-RL's robust_ppo_reg per task")
RADIAL_WEIGHT = Weight(
    "radial_weight", "RADIAL-PPO: loss = (clean + w * bound-worst) / (1 + w)", 1.0,
    "RADIAL-RL's half-and-half mix")
# WocaR-RL's WocaR-PPO/src/config_*_robust_q_ppo*.json (q_weight); other tasks get 0.8,
# the most common value (our choice).
WOCAR_WEIGHT = Weight(
    "wocar_weight", "WocaR-PPO worst-case weight on the advantage (ramped with eps)",
    PerTask({"hopper": 0.8, "walker2d": 0.8, "halfcheetah": 0.5, "ant": 0.8}, 0.8, "WOCAR_WEIGHT"),
    "WocaR-RL's q_weight per task")
WOCAR_Q_COEF = Weight(
    "wocar_q_coef", "WocaR-PPO: weight of the worst-case critic's TD loss", 0.5, "our choice")
# huanzhang12/ATLA_robust_RL configs/{hopper,walker,halfcheetah,ant}_atla_ppo_best.py
# (adv_ppo_lr_adam, the MLP agents). Every other method reads it only as the base point of a
# learned attack's "none" scan: 3e-4, our choice.
ADV_LEARNING_RATE = Weight(
    "adv_learning_rate", "Adam rate of a learned adversary (ATLA's, and the learned attacks' base point)",
    3e-4, "our choice; ATLA_robust_RL's adv_ppo_lr_adam for atla_ppo", positive=True)
ATLA_ADV_LR = PerTask({"hopper": 3e-3, "walker2d": 1e-3, "halfcheetah": 3e-3, "ant": 3e-5}, 3e-4, "ATLA_ADV_LR")
# WocaR-PPO's KL-regulariser weight (robust_ppo_reg in WocaR-RL's configs).
WOCAR_KAPPA_REG = 0.1

# Inner objectives: (ac, params, batch, hp) -> Objective over s' ---------------

def kl_inner(ac, params, batch, hp):
    return adversary.kl_objective(lambda x: ac.dist(params, x), batch.obs)


def surrogate_inner(ac, params, batch, hp):
    """The per-sample PPO surrogate loss at s' (ARPO's strongest-adversary proxy, CAR-PPO)."""
    return lambda x: ppo.surrogate_loss(ac, params, x, batch, hp.clip_eps)


def kl_acting(dist, obs):
    """The inner objective while acting: only observations exist then (no advantages, no
    behaviour log-probs), so every inner level acts with the KL (MAD-style) adversary."""
    return adversary.kl_objective(dist, obs)


@dataclasses.dataclass(frozen=True)
class Inner:
    """A method's inner level: what the adversary maximises in the ball around s.

    Attributes:
      objective: (ac, params, batch, hp) -> Objective over s', built at loss time when
        the minibatch (advantages, behaviour log-probs) exists.
      langevin: solve with SGLD noise of temperature hp.sgld_temperature (the KL inner
        level, as SA-PPO) or with plain projected gradient ascent (the surrogate).
      acting: (dist, obs_norm) -> Objective while collecting rollouts under the adversary,
        where only observations exist.
    """
    objective: Callable  # (ac, params, batch, hp) -> Objective, at loss time
    langevin: bool       # SGLD noise (KL inner level) or plain PGD (surrogate)
    acting: Callable = kl_acting  # (dist, obs_norm) -> Objective, for rollouts under the adversary (SGLD)


KL = Inner(kl_inner, langevin=True)
SURROGATE = Inner(surrogate_inner, langevin=False)


# Outer losses: (ac, params, batch, obs_adv, hp) -> (policy loss, aux) --------

def clean(ac, params, batch, obs_adv, hp):
    return jnp.mean(ppo.surrogate_loss(ac, params, batch.obs, batch, hp.clip_eps)), {}


def at_perturbed(ac, params, batch, obs_adv, hp):
    return jnp.mean(ppo.surrogate_loss(ac, params, obs_adv, batch, hp.clip_eps)), {}


def softmax_aggregate(ac, params, batch, obs_adv, hp):
    """CAR-PPO: the per-sample adversarial surrogate weighted by softmax(loss / T), T =
    `car_temperature` (CAR-RL's lambda), weights held constant. T -> inf is the plain mean,
    T -> 0 the worst sample; CAR-RL's T of 10-10^4 against losses of order one (normalised
    advantages) stays close to the mean."""
    surr = ppo.surrogate_loss(ac, params, obs_adv, batch, hp.clip_eps)
    w = jax.lax.stop_gradient(jax.nn.softmax(surr / hp.car_temperature))
    return jnp.sum(w * surr), {"car_max_weight": jnp.max(w)}


def clean_plus(outer, weight: Callable):
    """clean PPO surrogate + weight(hp) * outer: CAR-PPO's published loss (CAR-RL adds the
    clean loss in every config), where the adversarial term is the regulariser."""
    def f(ac, params, batch, obs_adv, hp):
        loss, aux = outer(ac, params, batch, obs_adv, hp)
        c, _ = clean(ac, params, batch, obs_adv, hp)
        return c + weight(hp) * loss, {**aux, "adv_loss": loss}
    return f


def plus_guidance(outer):
    """+ kappa * clean PPO surrogate ("SPO guidance")."""
    def f(ac, params, batch, obs_adv, hp):
        loss, aux = outer(ac, params, batch, obs_adv, hp)
        g, _ = clean(ac, params, batch, obs_adv, hp)
        return loss + hp.kappa * g, aux
    return f


def plus_kl_regulariser(outer):
    """+ kappa_reg * 2 KL(pi(s) || pi(nu(s))), SA-PPO's regulariser as in its code: the
    lineage's sum(((mean(s') - mean(s)) / std)^2) is twice the KL for a state-independent
    std, and the clean mean is held constant (gradients flow through pi(nu(s)) and the std)."""
    def f(ac, params, batch, obs_adv, hp):
        loss, aux = outer(ac, params, batch, obs_adv, hp)
        mean, std = ac.dist(params, batch.obs)
        reg = 2.0 * jnp.mean(networks.kl(jax.lax.stop_gradient(mean), std, *ac.dist(params, obs_adv)))
        return loss + hp.kappa_reg * reg, {**aux, "kl_reg": reg}
    return f


# Bound-based outer losses (RADIAL-PPO, WocaR-PPO) ---------------------------
# No inner solve: interval bounds over the whole ball B_eps(s) replace nu(s). They read
# the radius in force at this iteration as hp.eps (`Method.loss` sets it).

def _logp_bounds(lo, hi, std, action):
    """Upper and lower bounds of log N(action; m, std) over every mean m in the box
    [lo, hi]: the box point nearest to the action, and the farthest corner."""
    near = jnp.clip(action, lo, hi)
    far = jnp.where(jnp.abs(action - lo) > jnp.abs(action - hi), lo, hi)
    return networks.log_prob(near, std, action), networks.log_prob(far, std, action)


def bound_worst_surrogate(ac, params, batch, hp):
    """Per-sample worst clipped-surrogate loss over the policy means that the interval
    bounds allow in B_eps(s) (RADIAL-PPO). The loss is monotone in the ratio, so its
    worst case sits at the ratio's bounds; the clean ratio is included, as in RADIAL-RL.
    Gradients flow through the bounds (that is what makes the policy certifiably flat).
    Returns (loss [B], mean bound width [])."""
    mean, std = ac.dist(params, batch.obs)
    lo, hi = bounds.policy_mean(params, batch.obs, hp.eps)
    up, down = _logp_bounds(lo, hi, std, batch.action)
    losses = [ppo.clipped_surrogate(lp, batch.logp, batch.advantage, hp.clip_eps)
              for lp in (networks.log_prob(mean, std, batch.action), up, down)]
    return jnp.max(jnp.stack(losses), axis=0), jnp.mean(hi - lo)


def plus_bound_worst(outer):
    """(outer + w * worst-case surrogate over the bounds) / (1 + w), w = hp.radial_weight.
    RADIAL-RL's PPO mixes clean and worst case half and half: that is w = 1; w = 0 is outer."""
    def f(ac, params, batch, obs_adv, hp):
        loss, aux = outer(ac, params, batch, obs_adv, hp)
        worst, width = bound_worst_surrogate(ac, params, batch, hp)
        w = hp.radial_weight
        return (loss + w * jnp.mean(worst)) / (1.0 + w), {**aux, "bound_worst_loss": jnp.mean(worst),
                                                        "mean_bound_width": width}
    return f


WORST_ACTION_STEPS = 10  # sign-gradient steps for the worst action in the IBP action box


def worst_case_td(ac, params, batch, hp):
    """Mean squared TD error of WocaR's worst-case critic under the worst-attack Bellman
    operator: Q_w(s, a) <- r + gamma (1 - term) min_{a' in A_eps(s')} Q_w(s', a'), where
    A_eps(s') is the IBP box of the policy mean over B_eps(s') and the min is found by the
    shared solver (sign steps from the box centre). Semi-gradient: the target is constant."""
    p = jax.lax.stop_gradient(params)
    lo, hi = bounds.policy_mean(p, batch.next_obs, hp.eps)
    q_next = lambda a: -ac.worst_q(p, batch.next_obs, a)
    a_worst = adversary.solve(q_next, 0.5 * (lo + hi), jax.random.PRNGKey(0), 0.5 * (hi - lo),
                              WORST_ACTION_STEPS, random_start=False)
    target = batch.reward + hp.gamma * (1.0 - batch.terminated) * ac.worst_q(p, batch.next_obs, a_worst)
    q = ac.worst_q(params, batch.obs, batch.action)
    return jnp.mean(jnp.square(q - jax.lax.stop_gradient(target)))


def worst_case_advantage(ac, params, batch, obs_adv, hp):
    """WocaR-PPO's policy loss: the clean clipped surrogate with the advantage A + w * Q_w(s, a),
    Q_w normalised over the minibatch like A, w = hp.wocar_weight; w = 0 is `clean`."""
    q = jax.lax.stop_gradient(ac.worst_q(params, batch.obs, batch.action))
    qn = (q - q.mean()) / (q.std() + 1e-8)
    robust = batch._replace(advantage=batch.advantage + hp.wocar_weight * qn)
    return jnp.mean(ppo.surrogate_loss(ac, params, batch.obs, robust, hp.clip_eps)), {"worst_q": jnp.mean(q)}


def plus_worst_case_critic(outer):
    """+ wocar_q_coef * the worst-case critic's TD loss (trains the extra head only)."""
    def f(ac, params, batch, obs_adv, hp):
        loss, aux = outer(ac, params, batch, obs_adv, hp)
        td = worst_case_td(ac, params, batch, hp)
        return loss + hp.wocar_q_coef * td, {**aux, "worst_q_td": td}
    return f


@dataclasses.dataclass(frozen=True)
class Method:
    """One training method: an inner level and an outer loss, plus what else it owns.

    The learner calls only these methods (`loss`, `solve_ahead`, the rollout and learned-
    adversary hooks below) and never asks which method it runs, so a new method is one
    `Method(...)` value in METHODS.

    Attributes:
      inner: the inner level, or None (SPO and the methods that train at the clean or
        the acted-on observation).
      outer: (ac, params, batch, obs_adv, hp) -> (policy loss, aux metrics).
      learned_adversary: rollouts collected under a PPO-trained adversary (ATLA).
      worst_case_critic: the agent's network carries WocaR's worst-case critic head.
      ramped: hp fields scaled by the eps ramp (weights that grow with the radius).
      weights: the float hyper-parameters its loss reads (`Weight`s; TrainConfig fields).
      presets: {weight name: preset} where this method presets a weight differently from
        the weight's own preset (BARPO's guidance weight is 1).
    """
    inner: Optional[Inner]
    outer: Callable
    # rollouts collected under a PPO-trained adversary (ATLA), see adversary.LearnedAdversary
    learned_adversary: Optional[adversary.LearnedAdversary] = None
    # the agent's network has WocaR's worst-case critic head (networks.ActorCritic)
    worst_case_critic: bool = False
    # hp fields scaled by the eps ramp (eps now / eps): weights that grow with the radius
    ramped: tuple = ()
    weights: tuple = ()
    presets: Mapping[str, Preset] = dataclasses.field(default_factory=dict, hash=False)

    def preset(self, weight: Weight) -> Preset:
        """This method's preset of `weight`: its own, else the weight's."""
        return self.presets.get(weight.name, weight.preset)

    def actor_critic(self, cfg, env) -> networks.ActorCritic:
        """The agent's networks: the shared actor-critic plus any head the method trains."""
        return networks.ActorCritic(env.obs_size, env.action_size, cfg.policy_hidden, cfg.value_hidden,
                                    cfg.init_log_std, worst_case_critic=self.worst_case_critic)

    def with_adversary(self, spec: adversary.LearnedAdversary) -> "Method":
        """The same method with its rollouts under the learned adversary `spec` (fitting an attack)."""
        return dataclasses.replace(self, learned_adversary=spec)

    # ---- the loss ------------------------------------------------------------
    def perturb(self, ac, params, batch, key, eps, hp, steps: int):
        """nu(s) for a minibatch: the inner level's solution in the ball around the clean
        observation, or (no inner level) the observation the policy acted on."""
        if self.inner is None:
            return batch.obs_seen
        if batch.obs_adv is not None:  # solved ahead, once per epoch or per rollout (`inner_schedule`)
            return batch.obs_adv
        objective = self.inner.objective(ac, params, batch, hp)
        noise = hp.sgld_temperature if self.inner.langevin else 0.0
        return adversary.solve(objective, batch.obs, key, eps, steps, eps * hp.step_frac, noise)

    def solve_ahead(self, ac, params, batch, key, eps, hp, steps: int, normalize_advantage: bool):
        """The batch with `obs_adv` solved once on the whole batch at `params` (the
        "epoch"/"rollout" inner schedules); unchanged for a method without an inner level.
        Advantages are normalised over the whole batch for the solve, as a minibatch's are."""
        if self.inner is None:
            return batch
        view = ppo.normalized_advantages(batch) if normalize_advantage else batch
        return batch._replace(obs_adv=self.perturb(ac, params, view, key, eps, hp, steps))

    def loss(self, ac, params, batch, key, eps, hp, steps: int):
        """Policy loss + value/entropy terms. Inside it hp.eps is the radius in force now
        (after the ramp), and each hp field in `ramped` is scaled by eps / hp.eps."""
        frac = jnp.where(hp.eps > 0, eps / jnp.maximum(hp.eps, 1e-12), 1.0)
        hp = hp._replace(eps=eps, **{k: getattr(hp, k) * frac for k in self.ramped})
        obs_adv = self.perturb(ac, params, batch, key, eps, hp, steps)
        policy_loss, aux = self.outer(ac, params, batch, obs_adv, hp)
        aux = {**aux, "policy_loss": policy_loss}
        if self.inner is not None:
            mean, std = jax.lax.stop_gradient(ac.dist(params, batch.obs))
            aux["inner_kl"] = jnp.mean(networks.kl(mean, std, *jax.lax.stop_gradient(ac.dist(params, obs_adv))))
        return policy_loss + ppo.common_loss(ac, params, batch, hp), aux

    # ---- rollouts and the learned adversary ------------------------------------
    def adversary_network(self, cfg, env) -> Optional[networks.ActorCritic]:
        """The learned adversary's actor-critic, or None when the method has none."""
        if self.learned_adversary is None:
            return None
        return adversary.network(self.learned_adversary, env, cfg)

    def init_adversary(self, adv_ac, key, opt):
        """The adversary's trainable state: a ppo.Learner, or () when there is none."""
        if adv_ac is None:
            return ()
        params = adv_ac.init(key)
        return ppo.Learner(params, opt.init(params))

    def rollout_perturber(self, ac, params, adv_ac, adv_state, eps, hp, steps: int, under_adversary: bool):
        """`perturber(key, obs_norm) -> (obs_seen, adv_action, adv_logp)` for `acting.rollout`:
        the learned adversary when there is one; else, with `under_adversary`, the inner
        level's acting objective solved by SGLD; else no perturbation."""
        if self.learned_adversary is not None:
            spec, victim = self.learned_adversary, lambda x: ac.dist(params, x)

            def learned(key, obs_n):
                ks, kr = jax.random.split(key)
                mean, std = adv_ac.dist(adv_state.params, obs_n)
                a = networks.sample(ks, mean, std)
                seen = spec.realise(kr, a, obs_n, eps, victim, steps)
                return seen, a, networks.log_prob(mean, std, a)
            return learned
        if under_adversary and self.inner is not None:
            acting_objective = self.inner.acting

            def solved(key, obs_n):
                obj = acting_objective(lambda x: ac.dist(params, x), obs_n)
                seen = adversary.solve(obj, obs_n, key, eps, steps, eps * hp.step_frac, hp.sgld_temperature)
                return seen, jnp.zeros_like(obs_n), jnp.zeros(obs_n.shape[:-1])
            return solved
        return acting.no_perturbation

    def update_adversary(self, adv_ac, adv_state, obs, final_obs, tr, reward, key, hp, fit, due):
        """One PPO update of the learned adversary on the rollout, rewarded with -r; kept
        only when `due`. `fit(learner, batch, key, loss_fn, lr)` is the loop's
        `ppo.update`. Returns (adversary state, metrics)."""
        if adv_ac is None:
            return adv_state, {}
        batch = ppo.rollout_batch(adv_ac, adv_state.params, obs, obs, final_obs, tr.adv_action, tr.adv_logp,
                                  -reward, tr.terminated, tr.done, hp.gamma, hp.gae_lambda)

        def adv_loss(p, mb, k):
            surr = jnp.mean(ppo.surrogate_loss(adv_ac, p, mb.obs, mb, hp.clip_eps))
            return surr + ppo.common_loss(adv_ac, p, mb, hp), {}

        new_state, m = fit(adv_state, batch, key, adv_loss, hp.adv_learning_rate)
        adv_state = jax.tree.map(lambda a, b: jnp.where(due, a, b), new_state, adv_state)
        return adv_state, {"adv_loss": m["loss"]}


DEFAULT_METHOD = "spo"
"""The algo of a TrainConfig that names none: plain PPO."""
ALIASES = {"ppo": "spo"}
"""Other names users type for a method (SPO is standard PPO, and PPO users say "ppo"); a
config built with an alias records the canonical name."""

# Every method with an inner level reads the SGLD temperature: its loss's KL inner level,
# or its rollouts under the adversary (`rollout_under_adversary`), solve with SGLD.
_KL = (SGLD_TEMPERATURE,)
METHODS: dict[str, Method] = {
    "spo": Method(None, clean),
    "arpo": Method(SURROGATE, at_perturbed, weights=_KL),
    "arpo_guided": Method(SURROGATE, plus_guidance(at_perturbed), weights=_KL + (KAPPA,), presets={"kappa": 1.0}),
    "barpo_unguided": Method(KL, at_perturbed, weights=_KL),
    "barpo": Method(KL, plus_guidance(at_perturbed), weights=_KL + (KAPPA,), presets={"kappa": 1.0}),
    "sa_ppo": Method(KL, plus_kl_regulariser(clean), weights=_KL + (KAPPA_REG,)),
    # CAR-PPO as in CAR-RL's PGD configs: clean + car_reg * softmax-weighted adversarial loss.
    "car_ppo": Method(SURROGATE, clean_plus(softmax_aggregate, lambda hp: hp.car_reg),
                      weights=_KL + (CAR_TEMPERATURE, CAR_REG)),
    # ATLA: rollouts are collected under the learned adversary, and the outer loss is
    # plain PPO at the observations the policy acted on.
    "atla_ppo": Method(None, at_perturbed, learned_adversary=adversary.SA_RL, weights=(ADV_LEARNING_RATE,),
                       presets={"adv_learning_rate": ATLA_ADV_LR}),
    # RADIAL-PPO: no inner solve; clean PPO mixed with the worst case over the interval bounds.
    "radial_ppo": Method(None, plus_bound_worst(clean), weights=(RADIAL_WEIGHT,)),
    # WocaR-PPO: a worst-case critic trained through the IBP action box, its value added
    # to the advantage (weight ramped with eps), plus SA-PPO's KL regulariser, as in WocaR-RL.
    "wocar_ppo": Method(KL, plus_kl_regulariser(plus_worst_case_critic(worst_case_advantage)),
                        worst_case_critic=True, ramped=("wocar_weight",),
                        weights=_KL + (KAPPA_REG, WOCAR_WEIGHT, WOCAR_Q_COEF),
                        presets={"kappa_reg": WOCAR_KAPPA_REG}),
}
"""Every training method by name (`TrainConfig(algo=...)`); docs/methods.md."""
