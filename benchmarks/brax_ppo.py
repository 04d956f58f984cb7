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
                reward_scaling=cfg.reward_scaling, max_grad_norm=cfg.max_grad_norm or None, network_factory=factory,
                wrap_env_fn=fresh_start_wrap if cfg.fresh_starts else None)


def fresh_start_wrap(env, episode_length: int = 1000, action_repeat: int = 1, randomization_fn=None):
    """`brax.envs.training.wrap` with `FreshAutoReset` in place of Brax's auto-reset, so
    that Brax's PPO, like a `TrainConfig` with `fresh_starts=True`, starts every episode
    from a new draw of the reset distribution (Brax's own wrapper returns a done env to
    the state its first episode started from)."""
    from brax.envs.wrappers import training as wrappers

    if randomization_fn is None:
        env = wrappers.VmapWrapper(env)
    else:
        env = wrappers.DomainRandomizationVmapWrapper(env, randomization_fn)
    return _fresh_auto_reset_class()(wrappers.EpisodeWrapper(env, episode_length, action_repeat))


@functools.cache
def _fresh_auto_reset_class():
    import jax
    import jax.numpy as jnp
    from brax.envs.base import Wrapper

    class FreshAutoReset(Wrapper):
        """Auto-reset of a batch of envs: a done env continues from a fresh reset drawn
        with its own key (kept in `info['reset_rng']`, split every step). The reset is
        computed only on steps where some env is done, as `barpo_jax.envs` does."""

        def reset(self, rng):
            state = self.env.reset(rng)
            state.info["reset_rng"] = rng
            return state

        def step(self, state, action):
            if "steps" in state.info:
                state.info.update(steps=jnp.where(state.done, jnp.zeros_like(state.info["steps"]),
                                                  state.info["steps"]))
            state = self.env.step(state.replace(done=jnp.zeros_like(state.done)), action)
            keys = jax.vmap(jax.random.split)(state.info["reset_rng"])
            state.info.update(reset_rng=keys[:, 0])

            def fresh():
                new = self.env.reset(keys[:, 1])
                return new.pipeline_state, new.obs

            pipeline_state, obs = jax.lax.cond(jnp.any(state.done), fresh,
                                               lambda: (state.pipeline_state, state.obs))

            def where_done(x, y):
                done = state.done.reshape((x.shape[0],) + (1,) * (x.ndim - 1)) if state.done.shape else state.done
                return jnp.where(done, x, y)
            return state.replace(pipeline_state=jax.tree.map(where_done, pipeline_state, state.pipeline_state),
                                 obs=jax.tree.map(where_done, obs, state.obs))
    return FreshAutoReset



def describe(kw: dict) -> dict:
    """`kw` with the network factory named instead of a callable (for the results JSON)."""
    names = {"network_factory": "make_ppo_networks(64-64, tanh)", "wrap_env_fn": "fresh_start_wrap (fresh starts)"}
    return {k: (v if not callable(v) else names.get(k, getattr(v, "__name__", "callable"))) for k, v in kw.items()}


def train(env_name: str, backend: str, **kw):
    """`ppo.train` on the named Brax task, with the jax compatibility shim installed first.
    Returns (ppo.train's result, whether the shim had to be installed)."""
    from benchmarks import brax_compat
    shim = brax_compat.install()
    from brax import envs as brax_envs
    from brax.training.agents.ppo import train as ppo_train

    return ppo_train.train(environment=brax_envs.get_environment(env_name, backend=backend), **kw), shim
