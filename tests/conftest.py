"""Shared fixtures. Helpers (tiny configs, tree comparisons) live in helpers.py."""
import os
import shutil
import tempfile

import pytest

os.environ.setdefault("XLA_FLAGS", "")
# One persistent compilation cache for the whole session (and the CLI subprocesses it
# starts): many tests compile the same programs; a fresh directory keeps runs independent.
_XLA_CACHE = tempfile.mkdtemp(prefix="barpo-test-xla-")
os.environ["BARPO_COMPILE_CACHE"] = _XLA_CACHE

import barpo_jax as bj  # noqa: E402
from barpo_jax import compile_cache  # noqa: E402

compile_cache.enable()


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_XLA_CACHE, ignore_errors=True)


@pytest.fixture(scope="session")
def trained():
    """A small SPO policy that has learned something (2 seeds), shared by several tests."""
    cfg = bj.TrainConfig(env="inverted_pendulum", backend="spring", num_envs=128, unroll_length=16,
                         num_minibatches=8, num_epochs=4, episode_length=100, num_timesteps=80_000,
                         num_seeds=2, chunk_iterations=8)
    return bj.train(cfg, progress=False)
