"""What fresh starts cost: SPO training steps/s with `fresh_starts` on and off.

A fresh start draws new reset states on every step where some episode ended (envs.VecEnv),
so its cost is those resets against the physics step and the PPO update, and it depends on
how often episodes end: nearly every step at initialisation, far fewer once the agent
hops. Measured on hopper with the CPU preset's shapes (32 envs x 64 steps, 10 epochs x
32 minibatches, one seed) on `positional` and on `mjx`, at initialisation and after a
warm-up of training; the two settings' compiled chunks are timed in alternation from the
same learner state, after compiling both, so a drift in machine load falls on both.

    python -m benchmarks.speed.fresh_starts [--env hopper] [--iterations 2] [--repeats 5] [--warmup 0 100]
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
from benchmarks._provenance import RESULTS, provenance, write_results

OUT = os.path.join(RESULTS, "fresh_starts_cpu")
SHAPES = dict(num_envs=32, unroll_length=64, num_minibatches=32, num_epochs=10)


def _without_fresh_starts(trainer_off: Trainer, state):
    """The same learner state for the trainer without fresh starts: each env's `first`
    state drawn from its reset key (what a run saved before fresh starts restores to)."""
    env = state.env
    first = jax.vmap(trainer_off.env.initial_states)(env.reset_key)
    return state._replace(env=env._replace(first=first, episode_keys=None))


def measure(env: str, backend: str, iterations: int, repeats: int, warmup: int) -> dict:
    """{'on': [steps/s], 'off': [steps/s], 'ratio': median on / median off, 'compile_s'},
    timed from the state after `warmup` training iterations with fresh starts (0: at
    initialisation, where hopper's episodes last a few dozen steps and some env ends on
    almost every step; later they last hundreds, and a reset is drawn only on steps where
    an episode ended)."""
    trainers = {fresh: Trainer(bj.TrainConfig(env=env, backend=backend, algo="spo", fresh_starts=fresh, **SHAPES))
                for fresh in (True, False)}
    hp = hyperparams(trainers[True].cfg, 1)
    state = trainers[True].init_runs([0])
    if warmup:
        state, _ = trainers[True].chunk_fn(warmup)(state, hp)
    states = {True: state, False: _without_fresh_starts(trainers[False], state)}
    chunks, compile_s = {}, {}
    for fresh, trainer in trainers.items():
        fn = trainer.chunk_fn(iterations)
        t = time.perf_counter()
        jax.block_until_ready(fn(states[fresh], hp))
        compile_s[fresh] = time.perf_counter() - t
        chunks[fresh] = (fn, (states[fresh], hp), iterations * trainer.cfg.batch_size)
    sps = {True: [], False: []}
    for _ in range(repeats):
        for fresh, (fn, args, steps) in chunks.items():
            t = time.perf_counter()
            jax.block_until_ready(fn(*args))
            sps[fresh].append(steps / (time.perf_counter() - t))
    on, off = statistics.median(sps[True]), statistics.median(sps[False])
    return {"on": sps[True], "off": sps[False], "median_on": on, "median_off": off, "ratio": on / off,
            "compile_s": {"on": compile_s[True], "off": compile_s[False]}, "warmup_iterations": warmup}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--env", default="hopper")
    p.add_argument("--backends", nargs="+", default=["positional", "mjx"])
    p.add_argument("--iterations", type=int, default=2, help="iterations per timed chunk")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--warmup", type=int, nargs="+", default=[0, 100],
                   help="training iterations before timing, one measurement each (0: at initialisation)")
    p.add_argument("--out", default=OUT)
    a = p.parse_args(argv)
    prov = provenance()
    res, rows = {}, []
    for backend in a.backends:
        for warmup in a.warmup:
            r = measure(a.env, backend, a.iterations, a.repeats, warmup)
            res[f"{backend}@{warmup}"] = r
            rows.append([backend, warmup, round(r["median_off"]), round(r["median_on"]), f"{r['ratio']:.3f}",
                         f"{(1 - r['ratio']) * 100:.1f} %", "yes" if r["ratio"] >= 0.95 else "no"])
            print(f"{a.env} {backend} after {warmup} iterations: off {r['median_off']:,.0f} steps/s, "
                  f"on {r['median_on']:,.0f} steps/s, on/off {r['ratio']:.3f}", flush=True)
    write_results(a.out, prov, {"env": a.env, "shapes": SHAPES, "iterations": a.iterations,
                                "repeats": a.repeats, "by_backend": res},
                  [(f"SPO training steps/s on {a.env}, fresh starts off and on", ["backend", "after iterations", "off", "on",
                    "on/off", "cost", "cost <= 5 %"], rows,
                    f"One seed, the CPU preset's shapes ({SHAPES}); median of {a.repeats} timed chunks of "
                    f"{a.iterations} iterations each, the two settings in alternation from the same learner "
                    f"state; compile excluded.")],
                  "What fresh starts cost")


if __name__ == "__main__":
    main()
