"""Does an attack's worst case keep falling with more restarts? One attack, one run, a grid of strengths.

Each strength is evaluated alone (`attacks={label: attack at that strength}`), so every
cell sees the same episodes and the cells differ only in the search. This is the quick
probe behind the `strong` default (10 APGD steps x 32 restarts; docs/attacks.md);
`benchmarks/studies/attack_strength.py` is the full curve over every gradient attack.

    python -m benchmarks.studies.restarts_probe runs/table_hopper_cpu/runs/hopper-barpo \\
        --attack mad --grid apgd:25:8,apgd:25:16,apgd:50:16,apgd:10:32 --episodes 10

`--attack rs` probes robust Sarsa's test-time search: its Q-function is fitted afresh for
every strength (the victim's budget, at most 2M steps) from the same key, so the rows share
one Q per agent and differ only in the search over it.
"""
from __future__ import annotations

import argparse
import functools
import time

import barpo_jax as bj
from barpo_jax import attacks as atk
from benchmarks.studies.attack_strength import parse_grid


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", help="a run directory (bj.load)")
    p.add_argument("--attack", default="mad", choices=[*atk.GRADIENT, "rs"])
    p.add_argument("--grid", default="apgd:50:2,apgd:25:8,apgd:25:16,apgd:50:16,apgd:10:32",
                   help="schedule:steps:restarts,...")
    p.add_argument("--episodes", type=int, default=10)
    p.add_argument("--rs-steps", type=float, default=None,
                   help="robust Sarsa's fit budget in env steps (default: the victim's, at most 2M)")
    a = p.parse_args(argv)
    result = bj.load(a.run)
    print(f"{a.run}: {a.attack}, {a.episodes} episodes per seed, mean return per seed")
    for sched, steps, restarts in parse_grid(a.grid):
        label = f"{sched} {steps} x {restarts}"
        t0 = time.time()
        strength = atk.Strength(label, steps, restarts, sched)
        if a.attack == "rs":   # a learned attack: it searches at the evaluation's strength
            rep = bj.evaluate(result, attacks=["rs"], episodes=a.episodes, progress=False, masking_check=False,
                              strength=strength, learned_timesteps=a.rs_steps and int(a.rs_steps))
        else:
            rep = bj.evaluate(result, attacks={label: functools.partial(atk.HEURISTIC[a.attack], strength=strength)},
                              episodes=a.episodes, progress=False, masking_check=False)
        print(f"{label}: {' / '.join(f'{x:.0f}' for x in rep.returns[:, 1])} ({time.time() - t0:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
