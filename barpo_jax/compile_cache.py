"""A persistent XLA compilation cache for the command line.

Compiling the training and evaluation programs takes minutes on a CPU (the physics
step and the attack solvers are large programs), and every `barpo eval` of a run of
the same task and shape compiles the same programs again. JAX can keep compiled
executables on disk, keyed by the program's text (parameters are arguments, not part
of the key), so a second evaluation or training of the same shapes skips compilation.
The numbers are unchanged: the cached executable is the one that would be compiled.
"""
from __future__ import annotations

import os

ENV_DIR = "BARPO_COMPILE_CACHE"   # a directory, or "off" to disable


def default_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "barpo-jax", "xla")


def enable(path: str | None = None) -> str | None:
    """Keep compiled programs that took over a second to compile in `path` (default:
    $BARPO_COMPILE_CACHE, else ~/.cache/barpo-jax/xla). Returns the directory, or None
    when disabled ($BARPO_COMPILE_CACHE=off) or the directory cannot be created."""
    path = path or os.environ.get(ENV_DIR) or default_dir()
    if path.lower() == "off":
        return None
    try:
        os.makedirs(path, exist_ok=True)
    except OSError:
        return None  # a read-only home: compile as before
    import jax
    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)
    return path
