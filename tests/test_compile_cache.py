"""The command line's persistent compilation cache: where it goes, that a second process
reads what the first wrote, and how to turn it off. Run in child processes: the test session
itself keeps the cache off (see conftest.py)."""
import os
import subprocess
import sys

_CHILD = """
import sys, jax, jax.numpy as jnp
from barpo_jax import compile_cache
path = compile_cache.enable()
print("DIR", path)
if path:
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    f = jax.jit(lambda x: jnp.tanh(x) @ x.T)
    print("VALUE", float(f(jnp.ones((4, 4))).sum()))
"""


def _child(env_dir: str) -> str:
    env = dict(os.environ, BARPO_COMPILE_CACHE=env_dir)
    out = subprocess.run([sys.executable, "-c", _CHILD], env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def test_cache_is_written_read_back_and_can_be_turned_off(tmp_path):
    cache = tmp_path / "xla"
    first = _child(str(cache))
    assert f"DIR {cache}" in first and cache.is_dir()
    entries = sorted(os.listdir(cache))
    assert entries, "the first process wrote no executable"
    second = _child(str(cache))
    assert second.split("VALUE")[1] == first.split("VALUE")[1]   # same numbers from the cached program
    assert sorted(os.listdir(cache)) == entries                  # a hit adds nothing
    assert "DIR None" in _child("off")


def test_an_unwritable_cache_dir_disables_the_cache(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert "DIR None" in _child(str(blocker / "xla"))
