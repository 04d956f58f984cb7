"""Actor and critic: a diagonal-Gaussian MLP policy and a separate value MLP.

The policy's log-std is state-independent, as in the SA-PPO lineage: the robust
methods then perturb only the mean, which keeps KL(pi(s) || pi(s')) a simple
weighted squared distance between means.
"""
from __future__ import annotations

import math
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

# The float32 value jnp.log(2 pi) gives, as a Python float: no JAX computation at import,
# which would start the backend before `jax.distributed.initialize` (distributed.py) can run.
LOG_2PI = float(np.float32(math.log(2.0 * math.pi)))


def orthogonal(scale: float = 1.0):
    """Orthogonal initialiser without LAPACK.

    flax's `orthogonal` calls QR; on jax 0.10.2's CPU backend a *batched* QR (our
    per-seed init under vmap) can deadlock in LAPACK's thread pool. Gram-Schmidt
    (done twice for float32 accuracy) of a Gaussian matrix gives the same Haar
    distribution (R's diagonal is positive by construction) in plain jnp ops.
    """
    def init(key, shape, dtype=jnp.float32):
        rows = 1
        for d in shape[:-1]:
            rows *= d
        cols = shape[-1]
        m, k = max(rows, cols), min(rows, cols)
        a = jax.random.normal(key, (m, k), jnp.float32)

        def column(j, q):
            v = a[:, j]
            for _ in range(2):
                v = v - q @ (q.T @ v)
            return q.at[:, j].set(v / jnp.linalg.norm(v))

        q = jax.lax.fori_loop(0, k, column, jnp.zeros((m, k), jnp.float32))
        q = q if rows >= cols else q.T
        return (scale * q).reshape(shape).astype(dtype)
    return init


class MLP(nn.Module):
    hidden: Sequence[int]
    out: int
    out_scale: float = 1.0

    @nn.compact
    def __call__(self, x):
        for h in self.hidden:
            x = nn.tanh(nn.Dense(h, kernel_init=orthogonal(jnp.sqrt(2.0)))(x))
        return nn.Dense(self.out, kernel_init=orthogonal(self.out_scale))(x)


class GaussianPolicy(nn.Module):
    hidden: Sequence[int]
    action_size: int
    init_log_std: float = -0.5

    @nn.compact
    def __call__(self, obs):
        mean = MLP(self.hidden, self.action_size, out_scale=0.01)(obs)
        log_std = self.param("log_std", nn.initializers.constant(self.init_log_std), (self.action_size,))
        return mean, jnp.broadcast_to(jnp.exp(log_std), mean.shape)


class ActorCritic:
    """Pure functions over a params dict {'policy': ..., 'value': ...}.

    With `worst_case_critic` the dict also holds 'worst_q', an action-value MLP
    Q_w(s, a) (WocaR-PPO's worst-case critic; same widths as the critic). Its key is
    folded from the init key, so the policy and critic are initialised exactly as
    without it, and a network without the head reads the same dict unchanged.
    """

    def __init__(self, obs_size: int, action_size: int, policy_hidden=(64, 64), value_hidden=(64, 64),
                 init_log_std: float = -0.5, worst_case_critic: bool = False):
        self.obs_size, self.action_size = obs_size, action_size
        self._pi = GaussianPolicy(tuple(policy_hidden), action_size, init_log_std)
        self._v = MLP(tuple(value_hidden), 1)
        self._q = MLP(tuple(value_hidden), 1) if worst_case_critic else None

    def init(self, key):
        kp, kv = jax.random.split(key)
        x = jnp.zeros((1, self.obs_size), jnp.float32)
        params = {"policy": self._pi.init(kp, x), "value": self._v.init(kv, x)}
        if self._q is not None:
            xa = jnp.zeros((1, self.obs_size + self.action_size), jnp.float32)
            params["worst_q"] = self._q.init(jax.random.fold_in(key, 2), xa)
        return params

    def dist(self, params, obs):
        """obs (normalised) -> (mean, std)."""
        return self._pi.apply(params["policy"], obs)

    def value(self, params, obs):
        return self._v.apply(params["value"], obs)[..., 0]

    def worst_q(self, params, obs, action):
        """Q_w(s, a) of the worst-case critic ([..., obs], [..., act] -> [...])."""
        return self._q.apply(params["worst_q"], jnp.concatenate([obs, action], axis=-1))[..., 0]


def sample(key, mean, std):
    return mean + std * jax.random.normal(key, mean.shape, mean.dtype)


def log_prob(mean, std, x):
    return jnp.sum(-0.5 * jnp.square((x - mean) / std) - jnp.log(std) - 0.5 * LOG_2PI, axis=-1)


def entropy(std):
    return jnp.sum(jnp.log(std) + 0.5 * (1.0 + LOG_2PI), axis=-1)


def kl(mean_p, std_p, mean_q, std_q):
    """KL(N(mean_p, std_p) || N(mean_q, std_q)), summed over action dimensions."""
    return jnp.sum(jnp.log(std_q / std_p) + (jnp.square(std_p) + jnp.square(mean_p - mean_q))
                   / (2.0 * jnp.square(std_q)) - 0.5, axis=-1)


def to_env_action(a):
    """Brax tasks take actions in [-1, 1]; the Gaussian sample is clipped, not squashed."""
    return jnp.clip(a, -1.0, 1.0)
