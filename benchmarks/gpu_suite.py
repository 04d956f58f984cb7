"""The GPU benchmark suite: one entry point, parts that each finish within 10 minutes
and write their own result file, so a part can be re-run alone.

    python -m benchmarks.gpu_suite --list
    python -m benchmarks.gpu_suite [--part NAME ...] [--out-dir benchmarks/results/gpu]
    python -m benchmarks.gpu_suite --tiny --out-dir /tmp/smoke     # CPU smoke sizes (tests/test_gpu_suite.py)

Runs on the first device JAX sees. Each part writes <out-dir>/<part>.json and .md with
the device, versions, date and command, and prints its figures next to the targets
(reported PASS/FAIL either way). A part stops measuring (and says so in its file)
once it has used `--budget-s` seconds, so it ends within 10 minutes even when a
compile is slower than expected.
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np

import barpo_jax as bj

from benchmarks import _provenance as prov
from benchmarks import gpu_parts as gp

# Sizes: the GPU ones are the issue's; the tiny ones only prove every code path runs.
FULL = dict(backend="mjx", envs=[2048, 4096, 8192], iterations=4, method_envs=2048,
            methods=["spo", "barpo", "arpo", "sa_ppo", "car_ppo", "atla_ppo", "barpo_unguided", "arpo_guided"],
            sweep=dict(kappa=[0.0, 0.5, 1.0, 2.0], eps=[0.05, 0.1], seeds=1, steps=200_000, num_envs=1024),
            eval=dict(seeds=17, episodes=10, episode_length=1000, train_steps=200_000, num_envs=512),
            hopper_steps=2_000_000, seeds=17, seed_envs=2048, brax_epochs=3)
TINY = dict(backend="spring", envs=[16], iterations=1, method_envs=16, methods=["spo", "barpo"],
            sweep=dict(kappa=[0.0, 1.0], eps=[0.1], seeds=1, steps=2 * 16 * 4, num_envs=16),
            eval=dict(seeds=2, episodes=1, episode_length=10, train_steps=16 * 4, num_envs=16),
            hopper_steps=16 * 4 * 2, seeds=3, seed_envs=16, brax_epochs=2)
TINY_PPO = dict(unroll_length=4, num_minibatches=2, num_epochs=1, episode_length=20, policy_hidden=(16,),
                value_hidden=(16,))
TASKS = {"full": ("hopper", "ant"), "tiny": ("inverted_pendulum",)}
TARGETS = {"spo_vs_brax": 1.0, "spo_vs_raw": 0.6, "barpo_vs_spo": 0.5, "hopper_2m_s": 60.0, "seeds_speedup": 10.0}


def _cfg(sizes, env, num_envs, tiny, **kw):
    """A short config at GPU (preset) or tiny sizes."""
    fields = dict(env=env, backend=sizes["backend"], num_envs=num_envs, num_timesteps=10**8, eps_ramp_fraction=0.0)
    if tiny:
        fields.update(TINY_PPO)
    fields.update(kw)
    return bj.TrainConfig(**fields)


class Clock:
    """The part's time budget: `left()` is False once it is spent."""
    def __init__(self, budget_s):
        self.t0, self.budget = time.perf_counter(), budget_s

    def left(self) -> bool:
        return time.perf_counter() - self.t0 < self.budget


def part_throughput(env, sizes, tiny, clock, with_brax=True):
    """SPO vs Brax PPO vs raw stepping at the GPU env counts."""
    rows, res, skipped = [], {}, []
    for n in sizes["envs"]:
        if not clock.left():
            skipped.append(n)
            continue
        cfg = _cfg(sizes, env, n, tiny)
        raw = gp.raw_sps(env, cfg.backend, n, sizes["iterations"] * cfg.batch_size, episode_length=cfg.episode_length)
        spo = gp.train_sps(cfg, 1, sizes["iterations"])
        brax = gp.brax_ppo_sps(cfg, sizes["brax_epochs"]) if with_brax else {
            "ok": None, "sps": None, "error": "tiny: Brax PPO is exercised once, in throughput_hopper"}
        r_raw, r_brax = gp.ratio(spo["sps"], raw["sps"]), gp.ratio(spo["sps"], brax["sps"])
        res[n] = {"raw": raw, "spo": spo, "brax_ppo": brax, "spo_over_raw": r_raw, "spo_over_brax": r_brax}
        rows.append([n, round(raw["sps"]), round(spo["sps"]), round(brax["sps"]) if brax["sps"] else
                     brax.get("error", "n/a")[:80], r_raw, gp.verdict(r_raw, TARGETS["spo_vs_raw"]), r_brax,
                     gp.verdict(r_brax, TARGETS["spo_vs_brax"]), round(spo["compile_plus_first_s"], 1)])
    return res, [(f"{env} ({sizes['backend']}): training steps/s", ["envs", "raw", "SPO", "Brax PPO", "SPO/raw",
                  f">= {TARGETS['spo_vs_raw']}", "SPO/Brax", f">= {TARGETS['spo_vs_brax']}", "SPO compile s"], rows,
                  "Preset PPO settings of the task; one seed; compile excluded." +
                  (f" Skipped (time budget): {skipped} envs." if skipped else ""))]


def part_methods(sizes, tiny, clock):
    env = TASKS["tiny" if tiny else "full"][0]
    res, rows = {}, []
    for algo in sizes["methods"]:
        if not clock.left():
            res[algo] = {"skipped": "time budget"}
            continue
        cfg = _cfg(sizes, env, sizes["method_envs"], tiny, algo=algo, eps_ramp_fraction=0.0)
        res[algo] = gp.train_sps(cfg, 1, sizes["iterations"])
    spo = res["spo"].get("sps")
    for algo, r in res.items():
        q = gp.ratio(r.get("sps"), spo)
        rows.append([algo, round(r["sps"]) if "sps" in r else r["skipped"], q,
                     gp.verdict(q, TARGETS["barpo_vs_spo"]) if algo == "barpo" else "",
                     round(r["compile_plus_first_s"], 1) if "sps" in r else ""])
    return res, [(f"Methods on {env} ({sizes['backend']}), {sizes['method_envs']} envs, K = 10",
                  ["method", "steps/s", "÷ SPO", f"BARPO >= {TARGETS['barpo_vs_spo']}", "compile s"], rows,
                  "One seed, preset PPO settings, compile excluded.")]


def part_sweep(sizes, tiny, clock):
    env, sw = TASKS["tiny" if tiny else "full"][0], sizes["sweep"]
    cfg = _cfg(sizes, env, sw["num_envs"], tiny, algo="barpo", num_timesteps=sw["steps"])
    t = time.perf_counter()
    result = bj.sweep(cfg, seeds=sw["seeds"], progress=False, kappa=sw["kappa"], eps=sw["eps"])
    one = time.perf_counter() - t
    t, done = time.perf_counter(), 0
    for g in result.grid:
        if not clock.left():
            break
        bj.train(cfg.replace(num_seeds=sw["seeds"], **g), progress=False)
        done += 1
    serial = (time.perf_counter() - t) * len(result.grid) / max(done, 1)  # extrapolated if cut short
    res = {"grid_points": len(result.grid), "one_program_s": one, "serial_s": serial, "serial_points_run": done,
           "speedup": serial / one, "final_returns": result.final_returns().tolist()}
    return res, [("Sweep: one program vs serial (compile included)", ["grid points", "seeds", "steps per run",
                  "one program s", "serial s", "speed-up"], [[len(result.grid), sw["seeds"], sw["steps"], round(one, 1),
                  round(serial, 1), round(serial / one, 2)]],
                  f"BARPO on {env}; kappa {sw['kappa']} x eps {sw['eps']}; serial points run: {done} of "
                  f"{len(result.grid)} (the rest extrapolated)")]


def part_eval(sizes, tiny, clock):
    env, ev = TASKS["tiny" if tiny else "full"][0], sizes["eval"]
    cfg = _cfg(sizes, env, ev["num_envs"], tiny, num_timesteps=ev["train_steps"], num_seeds=ev["seeds"],
               episode_length=ev["episode_length"])
    victims = bj.train(cfg, progress=False)
    attacks = ["random", "critic", "mad"]
    t = time.perf_counter()
    rep = bj.evaluate(victims, attacks=attacks, episodes=ev["episodes"], progress=False)
    wall = time.perf_counter() - t
    steps = ev["seeds"] * (len(attacks) + 1) * ev["episodes"] * ev["episode_length"]
    res = {"env_steps": steps, "seconds_incl_compile": wall, "sps": steps / wall, "table": rep.to_dict()}
    return res, [("Evaluation throughput (one program, compile included)", ["seeds", "attacks", "episodes",
                  "episode length", "env steps", "s", "steps/s"], [[ev["seeds"], "none+" + "+".join(attacks),
                  ev["episodes"], ev["episode_length"], steps, round(wall, 1), round(steps / wall)]],
                  f"{env} ({sizes['backend']}), victims: SPO after {ev['train_steps']:,} steps.")]


def part_hopper2m(sizes, tiny, clock):
    env = TASKS["tiny" if tiny else "full"][0]
    fields = dict(env=env, backend=sizes["backend"], num_timesteps=sizes["hopper_steps"])
    if tiny:
        fields.update(TINY_PPO, num_envs=16)
    cfg = bj.TrainConfig(**fields)
    t = time.perf_counter()
    r = bj.train(cfg, progress=False)
    wall = time.perf_counter() - t
    ret = r.metrics["episode_return"][0]
    last = float(np.nanmean(ret[-max(1, len(ret) // 10):])) if np.isfinite(ret).any() else None
    res = {"config": cfg.to_dict(), "wall_s_incl_compile": wall, "final_train_return": last,
           "target_s": TARGETS["hopper_2m_s"], "pass": wall < TARGETS["hopper_2m_s"]}
    return res, [(f"{env}: {cfg.num_timesteps:,} steps, one seed, wall time incl. compile",
                  ["envs", "steps", "wall s", f"< {TARGETS['hopper_2m_s']:.0f} s", "final train return"],
                  [[cfg.num_envs, cfg.num_timesteps, round(wall, 1), "PASS" if res["pass"] else "FAIL", last]],
                  "Task preset (`bj.TrainConfig(env=..., backend=...)`), `bj.train` from a cold process part.")]


def part_seeds(sizes, tiny, clock):
    env = TASKS["tiny" if tiny else "full"][0]
    cfg = _cfg(sizes, env, sizes["seed_envs"], tiny)
    one = gp.train_sps(cfg, 1, sizes["iterations"])
    many = gp.train_sps(cfg, sizes["seeds"], sizes["iterations"]) if clock.left() else {"sps": None}
    q = gp.ratio(many["sps"], one["sps"])
    res = {"one_seed": one, "many_seeds": many, "num_seeds": sizes["seeds"], "throughput_ratio": q}
    return res, [(f"{sizes['seeds']} seeds in one program vs one seed ({env}, {sizes['seed_envs']} envs per seed)",
                  ["1 seed steps/s", f"{sizes['seeds']} seeds steps/s (all)", "ratio",
                   f">= {TARGETS['seeds_speedup']}"],
                  [[round(one["sps"]), round(many["sps"]) if many["sps"] else "skipped", q,
                    gp.verdict(q, TARGETS["seeds_speedup"])]], "Compile excluded.")]


PARTS = {
    "throughput_hopper": ("(a) SPO vs Brax PPO vs raw stepping, hopper", lambda s, t, c: part_throughput(
        "inverted_pendulum" if t else "hopper", s, t, c)),
    "throughput_ant": ("(a) SPO vs Brax PPO vs raw stepping, ant", lambda s, t, c: part_throughput(
        "inverted_pendulum" if t else "ant", s, t, c, with_brax=not t)),
    "methods": ("(b) training speed of every method", part_methods),
    "sweep": ("(c) sweep as one program vs serial", part_sweep),
    "eval": ("(d) evaluation throughput, 17 seeds", part_eval),
    "hopper_2m": ("(e) hopper 2M steps, one seed, wall time incl. compile", part_hopper2m),
    "seeds": ("(f) 17 seeds in one program vs one seed", part_seeds),
}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--list", action="store_true", help="list the parts and exit")
    p.add_argument("--part", nargs="+", choices=list(PARTS), help="parts to run (default: all)")
    p.add_argument("--tiny", action="store_true", help="CPU smoke sizes")
    p.add_argument("--out-dir", default="benchmarks/results/gpu")
    p.add_argument("--budget-s", type=float, default=480.0, help="stop measuring a part after this long")
    a = p.parse_args(argv)
    if a.list:
        for name, (what, _) in PARTS.items():
            print(f"{name:18s} {what}")
        return 0
    sizes = TINY if a.tiny else FULL
    for name in a.part or list(PARTS):
        what, fn = PARTS[name]
        pv = prov.provenance()
        t = time.perf_counter()
        print(f"== {name}: {what} ({'tiny' if a.tiny else 'GPU'} sizes, device {pv['jax_devices']})", flush=True)
        res, sections = fn(sizes, a.tiny, Clock(a.budget_s))
        res = {"part": name, "tiny": a.tiny, "sizes": sizes, "part_wall_s": time.perf_counter() - t,
               "load_avg_after": prov.load_averages(), **{"result": res}}
        paths = prov.write_results(os.path.join(a.out_dir, name), pv, res, sections, f"GPU suite: {what}",
                                   notes=[f"part wall time {res['part_wall_s']:.0f} s; targets {TARGETS}"])
        for sec in sections:
            print(prov.md_table(sec[1], sec[2]), flush=True)
        print(f"wrote {paths[1]} ({res['part_wall_s']:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
