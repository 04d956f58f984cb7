"""Shared fixtures. Helpers (tiny configs, tree comparisons) live in helpers.py.

Compiled programs are kept on disk for the whole suite (`TEST_CACHE`): both xdist workers,
the CLI processes the tests start, and every module after the per-module cache release
read a program another one compiled, instead of compiling it again (the suite is mostly
XLA compile time). Programs down to 0.1 s of compile time are kept: building an env and its
first state compiles about a hundred small programs of ~0.15 s each on a 2-core CPU, and
without the disk copy every module would compile them again after the release below. The numbers are the same: a cached executable is the one that would
be compiled. `BARPO_TEST_XLA_CACHE=off` turns it off, a path moves it.

On the 2-core CI machine, writing one executable once aborted a worker inside XLA
(SIGABRT in `executable.serialize()`; not reproduced since, in isolation or in full runs).
A C++ abort cannot be caught, so a crashed test is run again (pytest-rerunfailures,
`--reruns` in pyproject.toml) by a fresh worker that only reads the cache and never
writes it (`pytest_runtest_setup` below), so the rerun cannot hit that abort again."""
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEST_CACHE = os.environ.get("BARPO_TEST_XLA_CACHE") or os.path.join(ROOT, ".cache", "xla-tests")
READ_ONLY = 1e9  # a minimum compile time no program reaches: the cache is read, never written

os.environ.setdefault("XLA_FLAGS", "")
if TEST_CACHE.lower() != "off":
    os.makedirs(TEST_CACHE, exist_ok=True)
    import jax  # noqa: E402
    jax.config.update("jax_compilation_cache_dir", TEST_CACHE)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.1)
# The CLI processes the tests start share the same cache (compile_cache.enable reads this).
os.environ["BARPO_COMPILE_CACHE"] = TEST_CACHE


def pytest_runtest_setup(item):
    """A rerun (after a crash or a failure) reads the cache but writes nothing, in this
    worker and in the processes it starts from now on."""
    if getattr(item, "execution_count", 1) > 1 and TEST_CACHE.lower() != "off":
        import jax
        jax.config.update("jax_persistent_cache_min_compile_time_secs", READ_ONLY)
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


@pytest.fixture(scope="session")
def weak():
    """A victim whose returns do not saturate: SPO after 4 tiny iterations (2 seeds) on the
    point mass (helpers.TINY). Its reward, 1 - x^2, depends on every step, so its returns differ
    per seed and per attack, and a column copied from the wrong attack, or an attack that
    moves at eps 0, changes a number (the well-trained `trained`
    holds every episode at full return under mild attacks)."""
    from helpers import tiny
    return bj.train(tiny(num_seeds=2), progress=False)
