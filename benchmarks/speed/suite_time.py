"""How long the test suite takes from a fresh clone, as CI runs it.

    python -m benchmarks.speed.suite_time                      # clone HEAD into a temporary folder
    python -m benchmarks.speed.suite_time --out benchmarks/results/suite_cpu
    python -m benchmarks.speed.suite_time --xla-cache off --tiers default --out benchmarks/results/suite_cpu_cache_off

Clones the repository's HEAD, then times the README's test command (install included: the
default tier) and the slow tier (`python3 -m pytest -q -m slow`) exactly as `.ci/run` runs
them, with an empty compile cache (or none: `--xla-cache off`, the figure that shows what
the tests' persistent cache is worth). Prints each tier's wall time, its result line and its
slowest tests, and writes them with provenance. Run it on an otherwise idle machine: the
figure is what a new user waits. Afterwards the editable install is pointed back at this
checkout. A figure, not a test: nothing here fails on a slow run.
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

from benchmarks._provenance import REPO, load_averages, provenance, write_results

TIERS = (("default (README's test command)", 'python3 -m pip install -e ".[dev]" && python3 -m pytest -q'),
         ("slow", "python3 -m pytest -q -m slow"))
_DURATION = re.compile(r"^\s*([\d.]+)s (call|setup|teardown)\s+(\S+)")
_SUMMARY = re.compile(r"^=*\s*(\d+ (?:passed|failed|error).* in [\d.]+s.*?)\s*=*$")  # with or without -q's rules


def summary_line(lines) -> str:
    """pytest's closing line ('217 passed, 20 deselected in 700.1s (0:11:40)')."""
    return next((m.group(1) for m in map(_SUMMARY.match, reversed(lines)) if m), "no pytest summary found")


def run_tier(name: str, command: str, clone: str, env=None) -> dict:
    """One tier in the clone; its wall time, summary line and --durations rows."""
    print(f"[{name}] {command}", flush=True)
    load_before, t0 = load_averages(), time.monotonic()
    done = subprocess.run(["bash", "-c", command], cwd=clone, capture_output=True, text=True, env=env)
    wall = time.monotonic() - t0
    lines = (done.stdout + done.stderr).splitlines()
    summary = summary_line(lines)
    slowest = [(float(m.group(1)), m.group(2), m.group(3)) for m in map(_DURATION.match, lines) if m]
    print(f"[{name}] {wall:.0f} s wall, exit {done.returncode}: {summary}", flush=True)
    return {"tier": name, "command": command, "wall_s": round(wall, 1), "returncode": done.returncode,
            "summary": summary, "slowest": slowest, "load_before": load_before, "load_after": load_averages(),
            "output_tail": "\n".join(lines[-60:])}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="benchmarks/results/suite_cpu", help="result stem (.md and .json)")
    p.add_argument("--clone-to", default=None, help="folder for the clone (default: a temporary one)")
    p.add_argument("--xla-cache", choices=("on", "off"), default="on",
                   help="the tests' persistent compile cache (tests/conftest.py): on, as CI runs, or off")
    p.add_argument("--tiers", nargs="+", choices=("default", "slow"), default=["default", "slow"])
    a = p.parse_args(argv)
    prov = provenance()
    prov["tests' compile cache"] = a.xla_cache
    clone = a.clone_to or os.path.join(tempfile.mkdtemp(prefix="barpo-suite-"), "repo")
    subprocess.run(["git", "clone", "--quiet", REPO, clone], check=True)
    env = dict(os.environ, BARPO_TEST_XLA_CACHE="off") if a.xla_cache == "off" else None
    try:
        tiers = [run_tier(name, command, clone, env) for name, command in TIERS if name.split()[0] in a.tiers]
    finally:  # the clone's `pip install -e` took the package name: give it back to this checkout
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "-e", REPO], check=False)
    write(a.out, prov, tiers)
    print(f"wrote {a.out}.md")
    return 0 if all(t["returncode"] == 0 for t in tiers) else 1


def write(out: str, prov: dict, tiers: list):
    """The result files: each tier's wall time and summary, then its slowest tests."""
    total = sum(t["wall_s"] for t in tiers)
    print(f"whole .ci/run: {total:.0f} s ({total / 60:.1f} min)")
    rows = [(t["tier"], f"`{t['command']}`", t["wall_s"], round(t["wall_s"] / 60, 1), t["summary"]) for t in tiers]
    cache = "no compile cache" if prov.get("tests' compile cache") == "off" else "empty compile cache"
    sections = [(f"Wall time from a fresh clone, {cache}",
                 ("tier", "command", "wall s", "min", "pytest's summary"), rows,
                 f"The tiers together ({', '.join(t['tier'].split()[0] for t in tiers)}): {total:,.0f} s ({total / 60:.1f} min).")]
    for t in tiers:
        sections.append((f"Slowest tests, {t['tier']} tier", ("s", "phase", "test"), t["slowest"]))
    write_results(out, prov, {"tiers": tiers, "total_wall_s": total}, sections,
                  title="The test suite's wall time on this machine",
                  notes=["Targets: the default tier within 15 minutes, the whole of `.ci/run` within 30, on an "
                         "idle 2-core CPU; the load average before and after each tier is in the .json."])


if __name__ == "__main__":
    sys.exit(main())
