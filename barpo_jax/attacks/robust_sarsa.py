"""Robust Sarsa (RS): learn the action value Q^pi(s, a) of a *fixed* victim policy.

This is the learning half of the "robust Sarsa attack" of the SA-PPO lineage
(Zhang et al., 2020, "Robust Deep RL against Adversarial Perturbations on State
Observations"). The attacker has no access to the victim's critic, so it fits its
own Q^pi from the victim's rollouts with on-policy TD (Sarsa) and then searches the
observation ball for the s' that minimises Q(s, mu(s')) (the PGD glue lives
elsewhere; this module only provides the Q learner).

Why the fit is built as it is (deterministic victim, on-policy Sarsa target, output scale
1/(1 - gamma), fresh rollouts, constant rate, the certified and sampled regularisers, each
with its measurement): docs/attacks.md, "Robust Sarsa's Q fit".

Shapes and jit
--------------
``fit`` is pure: close over ``env``, ``policy_dist`` and ``cfg`` and jit it; to vmap
over victims, build ``policy_dist`` from the params inside the vmapped function:

    jax.vmap(lambda p, s, k: fit(env, lambda x: ac.dist(p, x), s, k, cfg))(params, stats, keys)

The float fields of ``RSConfig`` (gamma, reg, action_eps, obs_eps, sampled_reg, learning_rate) may also
be traced (``dataclasses.replace(cfg, reg=r)`` inside a vmapped function), e.g. to
fit several regulariser weights with one compile.
"""
from __future__ import annotations

import dataclasses
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import optax

from .. import bounds, networks, ppo
from ..config import ConfigError
from ..normalize import CLIP, normalize


@dataclasses.dataclass(frozen=True)
class RSConfig:
    """Robust Sarsa hyperparameters. One iteration = one rollout of
    ``unroll_length`` x ``num_envs`` transitions, then ``num_epochs`` x
    ``num_minibatches`` Adam steps on it."""

    num_envs: int = 64
    unroll_length: int = 32
    iterations: int = 200
    hidden: Sequence[int] = (64, 64)
    learning_rate: float = 1e-3
    gamma: float = 0.99
    reg: float = 1.0          # lambda_rs, weight of the certified (IBP) smoothness regulariser
    action_eps: float = 0.05  # l_inf radius of the regulariser's box in the action
    obs_eps: float = 0.0      # ... and in the (normalised) observation (lineage: = action_eps; see docs)
    sampled_reg: float = 1.0  # weight of the sampled action-smoothness regulariser (kept: see docs)
    num_minibatches: int = 4
    num_epochs: int = 2
    max_grad_norm: float = 10.0  # on the scale-normalised loss (see _losses); rarely active
    obs_clip: float = CLIP       # the victim's observation_clip (TrainConfig): Q sees what the victim sees

    def __post_init__(self):
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))  # hashable: cfg is static
        if (self.num_envs * self.unroll_length) % self.num_minibatches:
            raise ConfigError("num_envs * unroll_length must be divisible by num_minibatches")
        # The float fields may be jax tracers (e.g. vmapping fit over `reg` through
        # dataclasses.replace inside the traced function); validate only concrete numbers.
        checks = {"gamma": lambda g: 0.0 <= g < 1.0, "reg": lambda r: r >= 0.0,
                  "action_eps": lambda e: e >= 0.0, "obs_eps": lambda e: e >= 0.0,
                  "sampled_reg": lambda r: r >= 0.0, "learning_rate": lambda lr: lr > 0.0,
                  "obs_clip": lambda c: c > 0.0}
        for name, ok in checks.items():
            v = getattr(self, name)
            if isinstance(v, (int, float)) and not ok(v):
                raise ConfigError(f"RSConfig.{name}={v} is out of range")


def _mlp(hidden: Sequence[int]) -> networks.MLP:
    return networks.MLP(tuple(int(h) for h in hidden), 1)


def init_q(key, obs_size: int, action_size: int, cfg: RSConfig) -> dict:
    """Q parameters: {'mlp': flax params of MLP(hidden, 1), 'scale': 1 / (1 - gamma)}."""
    x = jnp.zeros((1, obs_size + action_size), jnp.float32)
    return {"mlp": _mlp(cfg.hidden).init(key, x),
            "scale": jnp.asarray(1.0 / (1.0 - cfg.gamma), jnp.float32)}


def _hidden_of(mlp_params) -> tuple:
    """The hidden widths, read off the kernel shapes (static under jit and vmap)."""
    layers = mlp_params["params"]
    n = len(layers)
    return tuple(layers[f"Dense_{i}"]["kernel"].shape[-1] for i in range(n - 1))


def q_value(q_params, obs_norm, action):
    """Q(s, a) for a batch: obs_norm [..., obs], action [..., act] -> [...].

    Needs no config: the architecture is read from the parameter shapes and the
    output scale is stored in ``q_params``.
    """
    mlp = q_params["mlp"]
    x = jnp.concatenate([obs_norm, action], axis=-1)
    return _mlp(_hidden_of(mlp)).apply(mlp, x)[..., 0] * q_params["scale"]


def q_bounds(q_params, obs_norm, action, obs_eps, action_eps):
    """IBP bounds (lower, upper) [...] of Q over [s -/+ obs_eps] x [a -/+ action_eps]."""
    x = jnp.concatenate([obs_norm, action], axis=-1)
    r = jnp.concatenate([jnp.broadcast_to(obs_eps, obs_norm.shape), jnp.broadcast_to(action_eps, action.shape)], -1)
    lo, hi = bounds.mlp(q_params["mlp"], x - r, x + r)
    return lo[..., 0] * q_params["scale"], hi[..., 0] * q_params["scale"]


def _losses(q_params, mb, cfg: RSConfig):
    """Semi-gradient Sarsa loss + certified (and optional sampled) smoothness regularisers.

    ``mb`` = (obs, action, reward, terminated, next_obs, next_action, delta), with
    delta the action perturbation, already drawn in [-action_eps, action_eps].
    """
    obs, act, rew, term, next_obs, next_act, delta = mb
    q = q_value(q_params, obs, act)
    q_next = jax.lax.stop_gradient(q_value(q_params, next_obs, next_act))
    target = rew + cfg.gamma * (1.0 - term) * q_next
    td = jnp.mean(jnp.square(q - target))
    lo, hi = q_bounds(q_params, obs, act, cfg.obs_eps, cfg.action_eps)
    certified = jnp.mean(jnp.square(jnp.maximum(hi - q, q - lo)))
    diff = q_value(q_params, obs, act + delta) - q
    sampled = jnp.mean(jnp.square(diff))
    # Every term is in Q units; dividing by scale^2 keeps the loss (and so the
    # clip_by_global_norm threshold) O(1) whatever gamma is. Adam itself is
    # invariant to this constant.
    loss = (td + cfg.reg * certified + cfg.sampled_reg * sampled) / jnp.square(q_params["scale"])
    return loss, {"td_loss": td, "reg_loss": certified, "sampled_reg_loss": sampled, "q_mean": jnp.mean(q),
                  "target_mean": jnp.mean(target), "action_sensitivity": jnp.mean(jnp.abs(diff)),
                  "bound_width": jnp.mean(hi - lo)}


def _sarsa_transition(env, stats, mu: Callable, clip):
    """One env step of the victim, as a scan body over (env state, normalised obs, action):
    the SARSA tuple (s, a, r, terminated, s', mu(s')), with s' the observation before an
    auto-reset (the TD target's state) and the carry the one after (where it acts next)."""
    def env_step(state, _):
        env_state, obs_norm, act = state
        env_state, out = env.step(env_state, act)
        next_obs = normalize(stats, out.final_obs, clip)
        obs_after = normalize(stats, out.obs, clip)
        tr = (obs_norm, act, out.reward.astype(jnp.float32), out.terminated.astype(jnp.float32),
              next_obs, mu(next_obs))
        return (env_state, obs_after, mu(obs_after)), tr
    return env_step


def _sgd_step(opt, scale, cfg: RSConfig):
    """One minibatch step of Q's MLP on the TD loss plus the robustness regulariser."""
    def sgd_step(carry, mb):
        mlp, opt_state = carry
        (_, aux), grads = jax.value_and_grad(lambda m: _losses({"mlp": m, "scale": scale}, mb, cfg),
                                             has_aux=True)(mlp)
        upd, opt_state = opt.update(grads, opt_state, mlp)
        return (optax.apply_updates(mlp, upd), opt_state), aux
    return sgd_step


def fit(env, policy_dist: Callable, stats, key, cfg: RSConfig):
    """Fit Q^mu of the deterministic victim mu(s) = to_env_action(mean(policy_dist(normalize(stats, s)))).

    ``env`` needs ``reset(key) -> EnvState`` (observations at ``.inner.obs``),
    ``step(state, action) -> (state, StepOut)``, ``obs_size`` and ``action_size``:
    an ``envs.VecEnv``; its ``num_envs`` is the batch (``cfg.num_envs`` is for the
    caller building it).
    Pure: jit with ``env``, ``policy_dist`` and ``cfg`` closed over, and vmap over
    (victim params, stats, key) by building ``policy_dist`` inside the vmapped function.

    Returns (q_params, metrics). q_params feeds ``q_value``. Each metric is an array
    [cfg.iterations], the mean over that iteration's minibatch steps: td_loss
    (mean squared TD error, Q units), reg_loss (the certified term: mean squared
    largest distance from Q to its IBP bounds over the box), bound_width (mean IBP
    width of Q over the box), sampled_reg_loss (mean squared change of Q under the
    sampled action perturbation), action_sensitivity (its mean absolute change),
    q_mean, target_mean; and reward_mean, the rollout's mean reward.
    """
    keys = jax.random.split(key, cfg.iterations + 2)
    k_init, k_reset, k_loop = keys[0], keys[1], keys[2:]
    q_params = init_q(k_init, env.obs_size, env.action_size, cfg)
    opt = optax.chain(optax.clip_by_global_norm(cfg.max_grad_norm), optax.adam(cfg.learning_rate))
    opt_state = opt.init(q_params["mlp"])

    def mu(obs_norm):
        mean, _ = policy_dist(obs_norm)
        return networks.to_env_action(mean)

    env_step = _sarsa_transition(env, stats, mu, cfg.obs_clip)
    sgd_step = _sgd_step(opt, q_params["scale"], cfg)

    def iteration(carry, k):
        mlp, opt_state, roll = carry
        roll, traj = jax.lax.scan(env_step, roll, None, length=cfg.unroll_length)
        data = jax.tree.map(lambda x: x.reshape((-1,) + x.shape[2:]), traj)  # [T*N, ...]
        n, act_size = data[1].shape
        if n % cfg.num_minibatches:
            raise ConfigError(f"{n} transitions per iteration do not split into {cfg.num_minibatches} minibatches")
        # All of an iteration's randomness in one draw (each threefry call site costs
        # seconds of XLA compile time on CPU): column 0 orders the shuffles by argsort,
        # the rest are the regulariser's action perturbations.
        u = jax.random.uniform(k, (cfg.num_epochs, n, 1 + act_size))
        perms = jnp.argsort(u[..., 0], axis=-1)
        deltas = (2.0 * u[..., 1:] - 1.0) * cfg.action_eps

        def epoch(carry, xs):
            perm, delta = xs
            return ppo.minibatch_epoch(sgd_step, carry, data + (delta,), perm, cfg.num_minibatches)

        (mlp, opt_state), aux = jax.lax.scan(epoch, (mlp, opt_state), (perms, deltas))
        metrics = jax.tree.map(jnp.mean, aux)
        metrics["reward_mean"] = jnp.mean(traj[2])
        return (mlp, opt_state, roll), metrics

    env_state = env.reset(k_reset)
    obs0 = normalize(stats, env_state.inner.obs, cfg.obs_clip)
    roll0 = (env_state, obs0, mu(obs0))
    (mlp, _, _), metrics = jax.lax.scan(iteration, (q_params["mlp"], opt_state, roll0),
                                       k_loop)
    return {"mlp": mlp, "scale": q_params["scale"]}, metrics
