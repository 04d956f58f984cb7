"""The SPO core: GAE, the PPO loss terms, and the epoch/minibatch update.

The loss terms are per-sample so that robust methods can evaluate them at
perturbed observations and aggregate them differently (see methods.py).
"""
from __future__ import annotations

from typing import Callable, NamedTuple, Optional

import chex
import jax
import jax.numpy as jnp
import optax

from . import networks


class Batch(NamedTuple):
    obs: jnp.ndarray        # [B, obs] clean normalised observation (critic, clean terms, centre of the ball)
    obs_seen: jnp.ndarray   # [B, obs] normalised observation the policy acted on (obs unless the
                            # rollout ran under an adversary)
    action: jnp.ndarray     # [B, act] raw Gaussian sample
    logp: jnp.ndarray       # [B] behaviour log-probability
    advantage: jnp.ndarray  # [B]
    target: jnp.ndarray     # [B] value target (GAE return)
    value: Optional[jnp.ndarray] = None  # [B] critic's prediction when collected (for value clipping)
    obs_adv: Optional[jnp.ndarray] = None  # [B] inner solution solved ahead of the minibatches
                                           # (`inner_schedule` "epoch"/"rollout"); None: per minibatch
    # The transition itself, for losses that learn an action value (WocaR's worst-case critic):
    next_obs: Optional[jnp.ndarray] = None    # [B, obs] normalised observation the action reached (before reset)
    reward: Optional[jnp.ndarray] = None      # [B] reward as trained on
    terminated: Optional[jnp.ndarray] = None  # [B] 1.0 at a true termination


class Learner(NamedTuple):
    params: dict
    opt_state: optax.OptState


def gae(reward, value, next_value, terminated, done, gamma, lam):
    """Generalised advantage estimation over [T, N] arrays.

    next_value[t] is V of the observation the action at t reached, *before* any
    reset: multiplied by (1 - terminated) it bootstraps through truncations and
    stops at true terminations; (1 - done) cuts the trace at every episode end.
    """
    chex.assert_equal_shape([reward, value, next_value, terminated, done])
    delta = reward + gamma * (1.0 - terminated) * next_value - value

    def back(acc, xs):
        d, dn = xs
        acc = d + gamma * lam * (1.0 - dn) * acc
        return acc, acc

    _, adv = jax.lax.scan(back, jnp.zeros_like(delta[0]), (delta, done), reverse=True)
    return adv, adv + value


def rollout_batch(ac, params, obs, obs_seen, final_obs, action, logp, reward, terminated, done, gamma, lam):
    """A flat Batch from [T, N] rollout arrays: values, GAE advantages and targets under `ac`."""
    v = ac.value(params, obs)
    nv = ac.value(params, final_obs)
    advantage, target = gae(reward, v, nv, terminated, done, gamma, lam)
    flat = lambda x: x.reshape((-1,) + x.shape[2:])
    b = Batch(*map(flat, (obs, obs_seen, action, logp, advantage, target, v)))
    return b._replace(next_obs=flat(final_obs), reward=flat(reward), terminated=flat(terminated.astype(reward.dtype)))


def clipped_surrogate(logp, logp_old, adv, clip_eps):
    """Per-sample clipped-surrogate loss -min(r A, clip(r) A), r = exp(logp - logp_old)."""
    ratio = jnp.exp(logp - logp_old)
    return -jnp.minimum(ratio * adv, jnp.clip(ratio, 1.0 - clip_eps, 1.0 + clip_eps) * adv)


def surrogate_loss(ac: networks.ActorCritic, params, obs, batch: Batch, clip_eps):
    """Per-sample clipped-surrogate loss -min(r A, clip(r) A) with the policy fed `obs`."""
    mean, std = ac.dist(params, obs)
    return clipped_surrogate(networks.log_prob(mean, std, batch.action), batch.logp, batch.advantage, clip_eps)


def value_loss(ac, params, batch: Batch, clip=0.0):
    """Per-sample squared error; with clip > 0 (and the collected values in the batch) the
    lineage's PPO value clipping: the larger of the errors of v and of v_old + clip(v - v_old)."""
    v = ac.value(params, batch.obs)
    plain = 0.5 * jnp.square(v - batch.target)
    if batch.value is None:
        return plain
    clipped = batch.value + jnp.clip(v - batch.value, -clip, clip)
    return jnp.where(clip > 0, jnp.maximum(plain, 0.5 * jnp.square(clipped - batch.target)), plain)


def common_loss(ac, params, batch: Batch, hp):
    """Value loss and entropy bonus: the same for every method (critic sees clean obs;
    the log-std is state-independent, so entropy does not depend on the input)."""
    _, std = ac.dist(params, batch.obs[:1])
    ent = jnp.mean(networks.entropy(std))
    vl = jnp.mean(value_loss(ac, params, batch, hp.value_clip))
    return hp.value_coef * vl - hp.entropy_coef * ent


def make_optimizer(max_grad_norm: float):
    """Adam without the learning-rate scale: the rate is data (`HyperParams.learning_rate`)
    so that it can be vmapped in sweeps. `max_grad_norm` > 0 clips the global gradient
    norm first; 0 turns clipping off (the lineage's `clip_grad_norm: -1`)."""
    adam = optax.scale_by_adam(eps=1e-5)
    return optax.chain(optax.clip_by_global_norm(max_grad_norm), adam) if max_grad_norm > 0 else adam


def apply_rates(params, updates, lr, value_lr=None):
    """params - rate * updates. With `value_lr`, the critic (params["value"]) moves at its own
    rate: with no gradient clipping across the two networks, Adam updates each parameter from
    its own gradient, so this equals the lineage's separate value optimiser."""
    step = lambda rate: (lambda p, u: p - rate * u)
    if value_lr is None or not isinstance(params, dict) or "value" not in params:
        return jax.tree.map(step(lr), params, updates)
    return {k: jax.tree.map(step(value_lr if k == "value" else lr), params[k], updates[k]) for k in params}


def minibatch_epoch(step: Callable, carry, data, perm, num_minibatches: int, xs=None):
    """One epoch of minibatch SGD: `data` (leading axis n) shuffled by `perm`, split into
    `num_minibatches` equal minibatches and scanned with `step(carry, mb)` (or
    `step(carry, (mb, x))` with `xs` [num_minibatches, ...]). Returns (carry, stacked aux)."""
    mbs = jax.tree.map(lambda x: x[perm].reshape((num_minibatches, -1) + x.shape[1:]), data)
    return jax.lax.scan(step, carry, mbs if xs is None else (mbs, xs))


def normalized_advantages(batch: Batch) -> Batch:
    a = batch.advantage
    return batch._replace(advantage=(a - a.mean()) / (a.std() + 1e-8))


def update(learner: Learner, batch: Batch, key, loss_fn: Callable, opt, lr, num_epochs: int,
           num_minibatches: int, normalize_advantage: bool = True, pre_epoch: Optional[Callable] = None,
           value_lr=None):
    """`num_epochs` passes of shuffled minibatch SGD on `loss_fn(params, minibatch, key)`.
    `pre_epoch(params, batch, key) -> batch`, when given, rewrites the whole batch at the
    start of every epoch (an inner solve shared by the epoch's minibatches). `value_lr`:
    the critic's own rate (`apply_rates`); None moves every parameter at `lr`.

    Returns the new learner and the mean of the loss-function aux metrics.
    """
    n = batch.obs.shape[0]
    chex.assert_tree_shape_prefix(batch, (n,))

    def step(learner, xs):
        mb, k = xs
        if normalize_advantage:
            mb = normalized_advantages(mb)
        (loss, aux), grads = jax.value_and_grad(loss_fn, has_aux=True)(learner.params, mb, k)
        upd, opt_state = opt.update(grads, learner.opt_state, learner.params)
        params = apply_rates(learner.params, upd, lr, value_lr)
        return Learner(params, opt_state), {"loss": loss, "grad_norm": optax.global_norm(grads), **aux}

    def epoch(learner, k):
        data = batch
        if pre_epoch is not None:  # a key folded from k: the epoch's own keys stay those without it
            data = pre_epoch(learner.params, batch, jax.random.fold_in(k, 1))
        kp, kl = jax.random.split(k)
        perm = jax.random.permutation(kp, n)
        return minibatch_epoch(step, learner, data, perm, num_minibatches, jax.random.split(kl, num_minibatches))

    learner, metrics = jax.lax.scan(epoch, learner, jax.random.split(key, num_epochs))
    return learner, jax.tree.map(jnp.mean, metrics)
