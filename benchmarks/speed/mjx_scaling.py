"""SPO training steps/s against raw stepping, by backend and number of envs.

    python -m benchmarks.speed.mjx_scaling [--cases inverted_pendulum:spring inverted_pendulum:mjx hopper:mjx]
                                     [--envs 256 1024] [--nested] [--out benchmarks/results/mjx_scaling_cpu]

Raw stepping is the physics alone (random actions, auto-reset) over as many steps per
call as one SPO call trains. SPO is `Trainer.chunk_fn` (one seed, unroll 16, 16
minibatches, 4 epochs). `--nested` also times the program before issue 12, which
stepped the physics under the run vmap (`chunk_fn(..., _nested_physics=True)`).
Each program is compiled first; then the programs are timed in turn, round after
round (A, B, C, A, B, C, ...), so load changes hit all of them alike; the median call
is reported, with the 1-minute load average before each case.
"""
from __future__ import annotations

import argparse
import statistics
import time

import jax
import jax.numpy as jnp

import barpo_jax as bj
from barpo_jax.config import hyperparams
from barpo_jax.learner import Trainer

from benchmarks import _provenance as prov


def raw_program(trainer, length):
    """jit(scan of `length` env steps with uniform random actions) and its arguments."""
    env = trainer.env

    def run(state, key):
        def body(carry, k):
            s, total = carry
            a = jax.random.uniform(k, (env.num_envs, env.action_size), minval=-1.0, maxval=1.0)
            s, out = env.step(s, a)
            return (s, total + jnp.sum(out.reward)), None
        (state, total), _ = jax.lax.scan(body, (state, jnp.zeros(())), jax.random.split(key, length))
        return state, total  # the final state is returned, so no physics is dead code
    state = jax.jit(env.reset)(jax.random.PRNGKey(0))
    return jax.jit(run), (state, jax.random.PRNGKey(1))


def measure_case(env_name, backend, num_envs, iterations, rounds, nested):
    cfg = bj.TrainConfig(env=env_name, backend=backend, algo="spo", num_envs=num_envs, unroll_length=16,
                         num_minibatches=16, num_epochs=4, episode_length=1000,
                         num_timesteps=num_envs * 16 * iterations * 100, chunk_iterations=iterations)
    trainer = Trainer(cfg)
    state, hp = trainer.init_runs([0]), hyperparams(cfg, 1)
    steps = iterations * cfg.batch_size
    programs = {"raw": raw_program(trainer, iterations * cfg.unroll_length),
                "spo": (trainer.chunk_fn(iterations), (state, hp))}
    if nested:
        programs["spo_nested"] = (trainer.chunk_fn(iterations, _nested_physics=True), (state, hp))
    compile_s = {}
    for name, (fn, args) in programs.items():
        t = time.perf_counter()
        jax.block_until_ready(fn(*args))  # compile + one untimed call
        compile_s[name] = time.perf_counter() - t
    times = {name: [] for name in programs}
    for _ in range(rounds):
        for name, (fn, args) in programs.items():
            t = time.perf_counter()
            jax.block_until_ready(fn(*args))
            times[name].append(time.perf_counter() - t)
    sps = {name: steps / statistics.median(ts) for name, ts in times.items()}
    return {"env": env_name, "backend": backend, "num_envs": num_envs, "steps_per_call": steps,
            "sps": sps, "call_seconds": times, "compile_plus_first_call_s": compile_s,
            "spo_over_raw": sps["spo"] / sps["raw"],
            "nested_spo_over_raw": sps["spo_nested"] / sps["raw"] if nested else None}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cases", nargs="+", default=["inverted_pendulum:spring", "inverted_pendulum:mjx", "hopper:mjx"])
    p.add_argument("--envs", nargs="+", type=int, default=[256, 1024])
    p.add_argument("--iterations", type=int, default=2, help="SPO iterations per timed call")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--nested", action="store_true", help="also time the pre-issue-12 nested-physics program")
    p.add_argument("--out", default="benchmarks/results/mjx_scaling_cpu")
    a = p.parse_args(argv)
    pv = prov.provenance()
    results, rows = [], []
    print("env backend envs | raw sps | SPO sps | SPO/raw | nested SPO sps | nested/raw | load", flush=True)
    for case in a.cases:
        env_name, backend = case.split(":")
        for n in a.envs:
            load_before = prov.load_averages()
            r = measure_case(env_name, backend, n, a.iterations, a.rounds, a.nested)
            r["load_before"], r["load_after"] = load_before, prov.load_averages()
            results.append(r)
            nested = r["sps"].get("spo_nested")
            row = [env_name, backend, n, round(r["sps"]["raw"]), round(r["sps"]["spo"]), round(r["spo_over_raw"], 2),
                   round(nested) if nested else "-", round(r["nested_spo_over_raw"], 2) if nested else "-",
                   f"{load_before[0]} -> {r['load_after'][0]}"]
            rows.append(row)
            print(" | ".join(str(x) for x in row), flush=True)
    settings = (f"one seed, unroll 16, 16 minibatches, 4 epochs, {a.iterations} iterations per timed call, "
                f"median of {a.rounds} rounds (programs interleaved), compile excluded. Target: SPO/raw >= 0.5 "
                "at 1024 mjx envs.")
    prov.write_results(a.out, pv, {"cases": results}, [(
        "SPO training vs raw stepping (steps/s)",
        ["env", "backend", "envs", "raw", "SPO", "SPO/raw", "SPO nested (old)", "nested/raw", "load 1-min before -> after"],
        rows, settings)], "MJX scaling: SPO training vs raw stepping")


if __name__ == "__main__":
    main()
