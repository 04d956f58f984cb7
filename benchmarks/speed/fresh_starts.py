"""What fresh starts cost: SPO training steps/s with `fresh_starts` on and off.

A fresh start draws a reset for every env at every step and keeps it only where an episode
ended (envs.VecEnv), so its cost is one reset per step against the physics step and the PPO
update. Measured on hopper with the CPU preset's shapes (32 envs x 64 steps, 10 epochs x 32
minibatches, one seed) on `positional` and on `mjx`; the two settings' compiled chunks are
timed in alternation, after compiling both, so a drift in machine load falls on both.

    python -m benchmarks.speed.fresh_starts [--env hopper] [--iterations 2] [--repeats 5]
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import jax

import barpo_jax as bj
from barpo_jax.config import hyperparams
from barpo_jax.learner import Trainer
from benchmarks._provenance import provenance, write_results

OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "results", "fresh_starts_cpu")
SHAPES = dict(num_envs=32, unroll_length=64, num_minibatches=32, num_epochs=10)


def measure(env: str, backend: str, iterations: int, repeats: int) -> dict:
    """{'on': [steps/s], 'off': [steps/s], 'ratio': median on / median off, 'compile_s'}."""
    chunks, compile_s = {}, {}
    for fresh in (True, False):
        cfg = bj.TrainConfig(env=env, backend=backend, algo="spo", fresh_starts=fresh, **SHAPES)
        trainer = Trainer(cfg)
        args = (trainer.init_runs([0]), hyperparams(cfg, 1))
        fn = trainer.chunk_fn(iterations)
        t = time.perf_counter()
        jax.block_until_ready(fn(*args))
        compile_s[fresh] = time.perf_counter() - t
        chunks[fresh] = (fn, args, iterations * cfg.batch_size)
    sps = {True: [], False: []}
    for _ in range(repeats):
        for fresh, (fn, args, steps) in chunks.items():
            t = time.perf_counter()
            jax.block_until_ready(fn(*args))
            sps[fresh].append(steps / (time.perf_counter() - t))
    on, off = statistics.median(sps[True]), statistics.median(sps[False])
    return {"on": sps[True], "off": sps[False], "median_on": on, "median_off": off, "ratio": on / off,
            "compile_s": {"on": compile_s[True], "off": compile_s[False]}}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--env", default="hopper")
    p.add_argument("--backends", nargs="+", default=["positional", "mjx"])
    p.add_argument("--iterations", type=int, default=2, help="iterations per timed chunk")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--out", default=OUT)
    a = p.parse_args(argv)
    prov = provenance()
    res, rows = {}, []
    for backend in a.backends:
        r = measure(a.env, backend, a.iterations, a.repeats)
        res[backend] = r
        rows.append([backend, round(r["median_off"]), round(r["median_on"]), f"{r['ratio']:.3f}",
                     f"{(1 - r['ratio']) * 100:.1f} %", "yes" if r["ratio"] >= 0.95 else "no"])
        print(f"{a.env} {backend}: off {r['median_off']:,.0f} steps/s, on {r['median_on']:,.0f} steps/s, "
              f"on/off {r['ratio']:.3f}", flush=True)
    write_results(a.out, prov, {"env": a.env, "shapes": SHAPES, "iterations": a.iterations,
                                "repeats": a.repeats, "by_backend": res},
                  [(f"SPO training steps/s on {a.env}, fresh starts off and on", ["backend", "off", "on", "on/off",
                    "cost", "cost <= 5 %"], rows,
                    f"One seed, the CPU preset's shapes ({SHAPES}); median of {a.repeats} timed chunks of "
                    f"{a.iterations} iterations each, the two settings in alternation; compile excluded.")],
                  "What fresh starts cost")


if __name__ == "__main__":
    main()
