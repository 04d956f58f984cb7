"""Run one measurement in a fresh child process, named by a `module:function` string.

Why: on jax 0.10.2 / a 2-core CPU one long in-process sequence of measurements
deadlocked inside XLA's CPU runtime (all threads idle in futex waits while
block_until_ready waited forever); a fresh process per measurement, under a timeout and
retried once, also gives every measurement the same clean start (heap, thread pools,
compile caches). The child is `python -m benchmarks.isolate module:function KWARGS_JSON
OUT_JSON`, run from the repository root; the function returns a JSON-able dict.
"""
from __future__ import annotations

import importlib
import json
import math
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from benchmarks._provenance import load_averages

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def clean(x):
    """JSON-safe: NaN/inf -> None, numpy -> python."""
    if isinstance(x, dict):
        return {k: clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [clean(v) for v in x]
    if isinstance(x, (np.floating, float)):
        x = float(x)
        return x if math.isfinite(x) else None
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.ndarray):
        return clean(x.tolist())
    return x


def resolve(target: str):
    """`"package.module:function"` -> the function."""
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def isolated(target: str, timeout: float, retries: int = 1, **kwargs) -> dict:
    """`resolve(target)(**kwargs)` in a child process; {'error': ...} if every attempt fails."""
    what = target.rpartition(":")[2]
    failures = []
    for attempt in range(1, retries + 2):
        fd, out = tempfile.mkstemp(prefix=f"bench_{what}_", suffix=".json")
        os.close(fd)
        cmd = [sys.executable, "-m", "benchmarks.isolate", target, json.dumps(kwargs), out]
        t = time.perf_counter()
        lb = load_averages()
        try:
            # stdout streams through; stderr (Brax/JAX warnings) is kept for the error report only.
            proc = subprocess.run(cmd, timeout=timeout, stderr=subprocess.PIPE, text=True, cwd=ROOT)
            if proc.returncode == 0 and os.path.getsize(out) > 0:
                with open(out) as f:
                    res = json.load(f)
                res.update(process_wall_s=time.perf_counter() - t, attempts=attempt, failed_attempts=failures)
                return res
            failures.append({"attempt": attempt, "error": f"exit code {proc.returncode}",
                             "stderr_tail": proc.stderr[-2000:], "load_before": lb, "load_after": load_averages()})
        except subprocess.TimeoutExpired:  # subprocess.run has killed the child it started
            failures.append({"attempt": attempt, "error": f"timed out after {timeout:.0f}s (hung or too slow)",
                             "load_before": lb, "load_after": load_averages()})
        finally:
            if os.path.exists(out):
                os.remove(out)
        print(f"  !! {what} attempt {attempt} failed: {failures[-1]['error']}", flush=True)
    return {"what": what, "error": failures[-1]["error"], "failed_attempts": failures,
            "sps_median": float("nan"), "sps_best": float("nan"), "compile_s": float("nan")}


def main(argv=None) -> None:
    target, kwargs, out = sys.argv[1:] if argv is None else argv
    res = resolve(target)(**json.loads(kwargs))
    with open(out, "w") as f:
        json.dump(clean(res), f)


if __name__ == "__main__":
    main()
