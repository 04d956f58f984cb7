"""Shared fixtures. Helpers (tiny configs, tree comparisons) live in helpers.py."""
import os

import pytest

os.environ.setdefault("XLA_FLAGS", "")

import barpo_jax as bj  # noqa: E402


@pytest.fixture(scope="session")
def trained():
    """A small SPO policy that has learned something (2 seeds), shared by several tests."""
    cfg = bj.TrainConfig(env="inverted_pendulum", backend="spring", num_envs=128, unroll_length=16,
                         num_minibatches=8, num_epochs=4, episode_length=100, num_timesteps=80_000,
                         num_seeds=2, chunk_iterations=8)
    return bj.train(cfg, progress=False)
