"""The command line and the write-up shared by the scripts that hold SPO against Brax's PPO
at matched settings (`speed/throughput.py`: steps/s; `studies/parity.py`: return).

Both take the same task, backend and PPO-shape flags, fill what is unset from a table of
per-device defaults, and write one `<out>.json` / `<out>.md` with the run's wall time and
the load average at its end; keeping that here keeps the two comparisons matched.
"""
from __future__ import annotations

import argparse
import os
import time

import jax

from benchmarks import _provenance


def parser(doc: str, default_env: str, shape_default: str) -> argparse.ArgumentParser:
    """The flags both comparisons take; `shape_default` says what an unset PPO-shape flag means."""
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device-label", choices=("cpu", "gpu"), default=None,
                   help="picks defaults and the output name (default: from jax.default_backend())")
    p.add_argument("--env", default=None, help=f"task (default: {default_env} on cpu, hopper on gpu)")
    p.add_argument("--backend", default="mjx")
    p.add_argument("--num-envs", type=int, default=None)
    p.add_argument("--unroll-length", type=int, default=None, help=f"default: {shape_default}")
    p.add_argument("--num-minibatches", type=int, default=None, help=f"default: {shape_default}")
    p.add_argument("--num-epochs", type=int, default=None, help=f"default: {shape_default}")
    p.add_argument("--episode-length", type=int, default=1000)
    p.add_argument("--fresh-starts", action=argparse.BooleanOptionalAction, default=True,
                   help="every episode from a new reset draw, on both sides (--no-fresh-starts: Brax's own "
                        "auto-reset to the first state, on both sides)")
    return p


def settle(args, defaults: dict, quick: dict, overrides: tuple, stem: str) -> dict:
    """The device's defaults, `quick`'s under --quick and each set flag in `overrides` on top;
    fills args.device_label, env, num_envs and out (benchmarks/results/<stem>_<label>)."""
    args.device_label = args.device_label or ("cpu" if jax.default_backend() == "cpu" else "gpu")
    d = dict(defaults[args.device_label])
    if args.quick:
        d.update(quick)
    for name in overrides:
        if getattr(args, name) is not None:
            d[name] = getattr(args, name)
    args.env = args.env or d["env"]
    args.num_envs = args.num_envs or d["num_envs"]
    args.out = args.out or os.path.join(_provenance.RESULTS, f"{stem}_{args.device_label}")
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    return d


def measure_and_write(what: str, run, args, d: dict, title: str, clean) -> dict:
    """Run `run(args, d) -> (results, sections, notes)` under provenance, then write <out>.json/.md."""
    prov = _provenance.provenance()
    print(f"{what} on {prov['jax_devices']}; load {prov['load_avg_at_provenance']}", flush=True)
    t0 = time.perf_counter()
    results, sections, notes = run(args, d)
    results["wall_s_total"] = time.perf_counter() - t0
    prov["load_avg_at_end"] = _provenance.load_averages()
    results = clean(results)
    notes = list(notes) + [f"Total wall time of this run: {results['wall_s_total']:.0f} s; load average at end "
                           f"{prov['load_avg_at_end']}."]
    js, md = _provenance.write_results(args.out, prov, results, sections, title, notes)
    print(f"wrote {js}, {md}  (total {results['wall_s_total']:.0f}s)")
    return results
