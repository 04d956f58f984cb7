"""Running observation statistics as a pure pytree.

Updated from each rollout during training (Chan et al.'s parallel merge of count,
mean and sum of squared deviations) and frozen at evaluation.
"""
from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

CLIP = 10.0  # the lineage's clip of normalised observations (`clip_observations: 10`); TrainConfig.observation_clip's preset


class RunningStats(NamedTuple):
    count: jnp.ndarray  # scalar float32
    mean: jnp.ndarray   # [obs]
    m2: jnp.ndarray     # [obs] sum of squared deviations


def init(obs_size: int) -> RunningStats:
    return RunningStats(jnp.zeros((), jnp.float32), jnp.zeros((obs_size,), jnp.float32),
                        jnp.zeros((obs_size,), jnp.float32))


def update(stats: RunningStats, batch) -> RunningStats:
    """Merge a batch [..., obs] into the statistics."""
    x = batch.reshape(-1, batch.shape[-1]).astype(jnp.float32)
    n_b = jnp.asarray(x.shape[0], jnp.float32)
    mean_b = x.mean(0)
    m2_b = jnp.square(x - mean_b).sum(0)
    n = stats.count + n_b
    delta = mean_b - stats.mean
    mean = stats.mean + delta * n_b / n
    m2 = stats.m2 + m2_b + jnp.square(delta) * stats.count * n_b / n
    return RunningStats(n, mean, m2)


def std(stats: RunningStats):
    var = jnp.where(stats.count > 1, stats.m2 / jnp.maximum(stats.count, 1.0), 1.0)
    return jnp.sqrt(var + 1e-8)


def normalize(stats: RunningStats, obs, clip):
    """`obs` standardised by the statistics and clipped to [-clip, clip]. `clip` is the
    run's `observation_clip`, required here so that no caller can fall back to another
    value than the one the policy was trained with."""
    return jnp.clip((obs - stats.mean) / std(stats), -clip, clip)


class ReturnScale(NamedTuple):
    """Running std of the discounted return, to divide rewards by (the lineage's
    reward filter): rewards keep their sign and mean, only their scale is tamed,
    so one value-loss weight and learning rate fit every task."""
    stats: RunningStats   # statistics of the per-env discounted return, shape [1]
    acc: jnp.ndarray      # [num_envs] discounted return accumulated so far


def init_return_scale(num_envs: int) -> ReturnScale:
    return ReturnScale(init(1), jnp.zeros((num_envs,), jnp.float32))


def scale_rewards(rs: ReturnScale, reward, done, gamma):
    """Fold a [T, N] rollout into the return statistics; -> (new state, reward / std)."""
    def step(acc, x):
        r, d = x
        acc = gamma * acc + r
        return acc * (1.0 - d), acc

    acc, seen = jax.lax.scan(step, rs.acc, (reward, done))
    stats = update(rs.stats, seen[..., None])
    return ReturnScale(stats, acc), reward / std(stats)[0]
