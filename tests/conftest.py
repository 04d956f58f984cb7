"""Shared tiny settings: inverted_pendulum on the spring backend (fastest to
compile and step on a 2-core CPU), short episodes, few envs."""
import os

import pytest

os.environ.setdefault("XLA_FLAGS", "")

import barpo_jax as bj  # noqa: E402

TINY = dict(env="inverted_pendulum", backend="spring", num_envs=32, unroll_length=16, num_minibatches=4,
            num_epochs=2, episode_length=100, chunk_iterations=2)


def tiny(**kw) -> bj.TrainConfig:
    fields = dict(TINY, num_timesteps=32 * 16 * 4)  # 4 iterations
    fields.update(kw)
    return bj.TrainConfig(**fields)


@pytest.fixture(scope="session")
def trained():
    """A small SPO policy that has learned something (2 seeds), shared by several tests."""
    cfg = bj.TrainConfig(env="inverted_pendulum", backend="spring", num_envs=128, unroll_length=16,
                         num_minibatches=8, num_epochs=4, episode_length=100, num_timesteps=80_000,
                         num_seeds=2, chunk_iterations=8)
    return bj.train(cfg, progress=False)
