"""Shared fixtures. Helpers (tiny configs, tree comparisons) live in helpers.py."""
import os

import pytest

os.environ.setdefault("XLA_FLAGS", "")
# No persistent compilation cache in the test session or the CLI processes it starts: on
# the 2-core CI machine, writing one executable to the cache aborted the whole pytest
# process inside XLA (SIGABRT in `executable.serialize()`, after ~145 tests; not
# reproduced in isolation). A C++ abort cannot be caught, so the suite does without it;
# tests/test_compile_cache.py exercises the cache in a child process of its own.
os.environ["BARPO_COMPILE_CACHE"] = "off"

import barpo_jax as bj  # noqa: E402


@pytest.fixture(autouse=True, scope="module")
def _release_compiled_programs():
    """After each test module, drop the compiled programs the worker holds (jax's caches and
    the package's trainer and evaluation-column caches). A worker process lives for the
    whole suite; on the 2-core CI machine one crashed inside XLA late in the run (a fatal
    signal while compiling MJX, after ~40 min; twice a C++ abort in all), which points at
    memory that only grows. Programs are rarely shared across modules, so little is
    recompiled."""
    yield
    import gc
    import sys

    import jax
    # By module name: the package exports a function named `evaluate`, which shadows the module.
    sys.modules["barpo_jax.evaluate"]._COLUMNS.clear()
    sys.modules["barpo_jax.learner"]._TRAINERS.clear()
    jax.clear_caches()
    gc.collect()


@pytest.fixture(scope="session")
def trained():
    """A small SPO policy that has learned something (2 seeds), shared by several tests."""
    cfg = bj.TrainConfig(env="inverted_pendulum", backend="spring", num_envs=128, unroll_length=16,
                         num_minibatches=8, num_epochs=4, episode_length=100, num_timesteps=80_000,
                         num_seeds=2, chunk_iterations=8)
    return bj.train(cfg, progress=False)
