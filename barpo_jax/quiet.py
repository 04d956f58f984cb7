"""Keep third-party import noise off the `barpo` console.

Brax warns on every env it builds that it is "not actively maintained", and MuJoCo's MJX
prints "Failed to import warp" (and "... mujoco_warp") on import when the optional warp
package is absent or broken. Neither concerns a user of barpo (it runs Brax's pipelines
and MJX's pure-JAX implementation, never warp), and each line reads like a failure. The
CLI drops exactly those lines; every other warning and print, the project's own included,
is left as it is. Library users (`import barpo_jax`) keep Python's usual behaviour.
"""
from __future__ import annotations

import contextlib
import importlib.abc
import io
import re
import sys
import warnings

BRAX_UNMAINTAINED = r"Brax System, piplines and environments are not actively being maintained"  # sic: Brax's text
WARP_MODULE = "mujoco.mjx.warp"
WARP_FAILURE = re.compile(r"Failed to import (mujoco_)?warp\b")


def quiet_third_party() -> None:
    """Filter Brax's maintenance warning and MJX's warp import prints for the rest of the
    process. Cheap: nothing is imported here; MJX's module is caught when it loads."""
    warnings.filterwarnings("ignore", message=BRAX_UNMAINTAINED, category=UserWarning)
    if WARP_MODULE not in sys.modules and not any(isinstance(f, _QuietWarpFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietWarpFinder())


def drop_warp_lines(text: str) -> str:
    """`text` without the lines MJX prints when warp cannot be imported."""
    return "".join(line for line in text.splitlines(keepends=True) if not WARP_FAILURE.match(line))


class _QuietWarpFinder(importlib.abc.MetaPathFinder):
    """Finds `mujoco.mjx.warp` with the other finders, but loads it with its prints filtered:
    MJX reports a missing warp with print(), which no logging level or warning filter reaches."""

    def find_spec(self, name, path=None, target=None):
        if name != WARP_MODULE:
            return None
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            spec = None if finder is self or find is None else find(name, path, target)
            if spec is not None and spec.loader is not None:
                spec.loader = _QuietLoader(spec.loader)
                return spec
        return None


class _QuietLoader(importlib.abc.Loader):
    """Runs the wrapped loader with stdout captured, then prints what it printed less the warp lines."""

    def __init__(self, inner):
        self.inner = inner

    def __getattr__(self, name):   # get_source, get_resource_reader, ...: the wrapped loader's
        return getattr(self.inner, name)

    def create_module(self, spec):
        return self.inner.create_module(spec)

    def exec_module(self, module):
        printed = io.StringIO()
        try:
            with contextlib.redirect_stdout(printed):
                self.inner.exec_module(module)
        finally:
            sys.stdout.write(drop_warp_lines(printed.getvalue()))
