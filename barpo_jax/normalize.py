"""Running observation statistics as a pure pytree.

Updated from each rollout during training (Chan et al.'s parallel merge of count,
mean and sum of squared deviations) and frozen at evaluation.
"""
from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp

CLIP = 10.0  # normalised observations are clipped to [-10, 10], as in the lineage's filter


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


def normalize(stats: RunningStats, obs):
    return jnp.clip((obs - stats.mean) / std(stats), -CLIP, CLIP)

