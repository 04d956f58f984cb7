"""Brax's own PPO at settings matched to a barpo `TrainConfig` (throughput and parity)."""
from __future__ import annotations

import functools


def kwargs(cfg, num_envs: int) -> dict:
    """`brax.training.agents.ppo.train` keyword arguments matched to `cfg` at `num_envs`."""
    from brax.training.agents.ppo import networks as ppo_networks
    from flax import linen

    if num_envs % cfg.num_minibatches:
        raise SystemExit(f"num_envs={num_envs} must be a multiple of num_minibatches={cfg.num_minibatches}")
    factory = functools.partial(ppo_networks.make_ppo_networks,
                                policy_hidden_layer_sizes=tuple(cfg.policy_hidden),
                                value_hidden_layer_sizes=tuple(cfg.value_hidden),
                                activation=linen.tanh)
    return dict(num_envs=num_envs, episode_length=cfg.episode_length, unroll_length=cfg.unroll_length,
                batch_size=num_envs // cfg.num_minibatches, num_minibatches=cfg.num_minibatches,
                num_updates_per_batch=cfg.num_epochs, normalize_observations=cfg.normalize_observations,
                normalize_advantage=cfg.normalize_advantages, learning_rate=cfg.learning_rate,
                entropy_cost=cfg.entropy_coef, discounting=cfg.gamma, gae_lambda=cfg.gae_lambda,
                clipping_epsilon=cfg.clip_eps, vf_loss_coefficient=cfg.value_coef,
                reward_scaling=cfg.reward_scaling, max_grad_norm=cfg.max_grad_norm or None, network_factory=factory)


def describe(kw: dict) -> dict:
    """`kw` with the network factory named instead of a callable (for the results JSON)."""
    return {k: (v if not callable(v) else "make_ppo_networks(64-64, tanh)") for k, v in kw.items()}


def train(env_name: str, backend: str, **kw):
    """`ppo.train` on the named Brax task, with the jax compatibility shim installed first.
    Returns (ppo.train's result, whether the shim had to be installed)."""
    from benchmarks import brax_compat
    shim = brax_compat.install()
    from brax import envs as brax_envs
    from brax.training.agents.ppo import train as ppo_train

    return ppo_train.train(environment=brax_envs.get_environment(env_name, backend=backend), **kw), shim
