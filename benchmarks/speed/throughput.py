#!/usr/bin/env python3
"""Throughput benchmark: raw Brax stepping vs barpo_jax SPO vs Brax PPO, all on one device.

  (a) raw    -- `VecEnv.step` with uniform random actions in [-1, 1] inside one jitted
                `lax.scan` (the ceiling: physics + auto-reset, no learning; `rates.raw_stepping`);
  (b) SPO    -- `Trainer.chunk_fn(n)` (rollout + GAE + epochs x minibatch SGD), AOT-compiled
                first so the timed calls contain no compilation; compile time is reported apart
                (`rates.training`);
  (c) Brax   -- `brax.training.agents.ppo.train` at matched num_envs / unroll_length /
                num_minibatches / num_updates_per_batch (= num_epochs) / 64-64 tanh networks /
                batch_size = num_envs // num_minibatches (one unroll per training step),
                observation normalisation on, no evaluation runs. Its steps/s is Brax's own
                `training/sps` metric (per training epoch, timed by Brax around its pmapped
                epoch), taken over epochs during which no XLA compilation happened.
  then scaling of SPO with num_envs (1 seed; raw alongside) and with num_seeds (fixed num_envs).

Learning parity against Brax PPO is `benchmarks/studies/parity.py`. Every measurement runs in its
own process (`benchmarks.isolate`) and records os.getloadavg() before and after it: on a
shared 2-core machine the numbers are only as good as the load they ran under.

Examples (from the repository root):
  python3 -m benchmarks.speed.throughput --out benchmarks/results/throughput_cpu
  python3 -m benchmarks.speed.throughput --device-label gpu      # hopper, larger lists
  python3 -m benchmarks.speed.throughput --quick --out /tmp/tp   # smoke test
"""
from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass, field

import jax
import numpy as np

from benchmarks import _matched, _provenance, brax_ppo, rates
from benchmarks._provenance import load_change as _lo
from benchmarks.isolate import clean, isolated


# ----------------------------------------------------------------------------------------
# Defaults per device label. CPU lists are sized for a 2-core machine (non-quick run well
# under ~12 min); GPU lists follow the brief.
DEFAULTS = {
    "cpu": dict(env="inverted_pendulum", num_envs=256, target_steps=131_072, repeats=3, scale_repeats=2,
                scale_envs=(256, 1024, 4096, 8192), scale_seeds=(1, 2, 4, 8, 16),
                brax_epochs=5, timeout_s=420),
    "gpu": dict(env="hopper", num_envs=2048, target_steps=4_194_304, repeats=3, scale_repeats=3,
                scale_envs=(256, 1024, 4096, 8192), scale_seeds=(1, 2, 4, 8, 16),
                brax_epochs=4, timeout_s=600),
}
QUICK = dict(target_steps=16_384, repeats=1, scale_repeats=1, scale_envs=(256, 1024), scale_seeds=(1, 2),
             brax_epochs=3)

# ----------------------------------------------------------------------------------------
# Compilation watch: lets us tell which Brax epochs contained a (re)compilation.
_COMPILE_EVENTS = ("/jax/core/compile/backend_compile_duration",
                   "/jax/core/compile/jaxpr_trace_duration",
                   "/jax/core/compile/jaxpr_to_mlir_module_duration")
_compile_log: list = []


def _on_duration(event, duration, **_):
    if event in _COMPILE_EVENTS:
        _compile_log.append((time.perf_counter(), event, float(duration)))


jax.monitoring.register_event_duration_secs_listener(_on_duration)


def compile_seconds_between(t0: float, t1: float) -> float:
    return sum(d for t, _, d in _compile_log if t0 <= t < t1)


def load() -> list:
    return _provenance.load_averages()


# ----------------------------------------------------------------------------------------
# (a) raw Brax stepping

def bench_raw(env_name, backend, num_envs, episode_length, target_steps, repeats, seed=0) -> dict:
    lb = load()
    r = rates.raw_stepping(env_name, backend, num_envs, episode_length, target_steps, repeats, seed)
    return {"what": "raw", "env": env_name, "backend": backend, "num_envs": num_envs, **r,
            "load_before": lb, "load_after": load()}


# ----------------------------------------------------------------------------------------
# (b) our SPO

def spo_config(env_name, backend, num_envs, num_seeds, unroll, minibatches, epochs, episode_length,
               num_timesteps=100_000_000, chunk_iterations=10, fresh_starts=True):
    import barpo_jax as bj
    return bj.TrainConfig(env=env_name, algo="spo", backend=backend, num_timesteps=num_timesteps,
                          num_envs=num_envs, unroll_length=unroll, num_minibatches=minibatches,
                          num_epochs=epochs, episode_length=episode_length, num_seeds=num_seeds,
                          chunk_iterations=chunk_iterations, fresh_starts=fresh_starts)


def bench_spo(env_name, backend, num_envs, num_seeds, unroll, minibatches, epochs, episode_length,
              target_steps, repeats, fresh_starts=True) -> dict:
    per_iter = num_envs * unroll * num_seeds
    n_iter = max(1, math.ceil(target_steps / per_iter))
    cfg = spo_config(env_name, backend, num_envs, num_seeds, unroll, minibatches, epochs, episode_length,
                     chunk_iterations=n_iter, fresh_starts=fresh_starts)
    lb = load()
    r = rates.training(cfg, n_iter, repeats, seeds=range(num_seeds))
    state, metrics = r.pop("state"), r.pop("metrics")
    ret = np.asarray(metrics["episode_return"])
    finite_params = all(bool(np.all(np.isfinite(np.asarray(x)))) for x in jax.tree.leaves(state.agent.params))
    return {"what": "spo", "env": env_name, "backend": backend, "num_envs": num_envs, "num_seeds": num_seeds, **r,
            "train_episode_return_last_call": float(np.nanmean(ret)) if np.isfinite(ret).any() else None,
            "params_finite": finite_params, "load_before": lb, "load_after": load()}


# ----------------------------------------------------------------------------------------
# (c) Brax's PPO

def bench_brax_ppo(env_name, backend, num_envs, unroll, minibatches, epochs, episode_length, target_steps,
                   n_epochs, fresh_starts=True) -> dict:
    cfg = spo_config(env_name, backend, num_envs, 1, unroll, minibatches, epochs, episode_length,
                     fresh_starts=fresh_starts)
    kw = brax_ppo.kwargs(cfg, num_envs)
    per_train_step = kw["batch_size"] * kw["num_minibatches"] * unroll  # == num_envs * unroll
    k = max(1, math.ceil(target_steps / per_train_step))
    num_timesteps = k * per_train_step * n_epochs
    records = []
    lb = load()
    t_start = time.perf_counter()

    def progress(step, metrics):
        records.append({"t": time.perf_counter(), "step": int(step),
                        "training_sps": float(metrics.get("training/sps", float("nan"))),
                        "training_walltime": float(metrics.get("training/walltime", float("nan")))})

    _, shim = brax_ppo.train(env_name, backend, num_timesteps=num_timesteps, num_evals=n_epochs + 1,
                             run_evals=False, progress_fn=progress, seed=0, **kw)
    total_s = time.perf_counter() - t_start
    epochs_out, prev_t, prev_step = [], t_start, 0
    for i, r in enumerate(records):
        comp = compile_seconds_between(prev_t, r["t"])
        span = r["t"] - prev_t
        epochs_out.append({"epoch": i, "step": r["step"], "training_sps": r["training_sps"],
                           "progress_interval_s": span,
                           "progress_interval_sps": (r["step"] - prev_step) / span,
                           "compile_s_in_interval": comp, "clean": comp < 0.01 * span})
        prev_t, prev_step = r["t"], r["step"]
    clean_epochs = [e for e in epochs_out if e["clean"]]
    used = clean_epochs or epochs_out[-1:]
    sps = statistics.median(e["training_sps"] for e in used)
    return {"what": "brax_ppo", "env": env_name, "backend": backend, "num_envs": num_envs,
            "training_steps_per_epoch": k, "env_steps_per_epoch": k * per_train_step, "epochs": n_epochs,
            "sps_median": sps, "sps_best": max(e["training_sps"] for e in used),
            "sps_source": ("median of Brax's own `training/sps` metric over epochs with no XLA compilation "
                           f"({len(clean_epochs)} of {len(epochs_out)} epochs clean)" if clean_epochs else
                           "Brax `training/sps` of the LAST epoch: every epoch contained compilation (suspect)"),
            "progress_interval_sps_median_clean": (statistics.median(e["progress_interval_sps"] for e in clean_epochs)
                                                   if clean_epochs else None),
            "per_epoch": epochs_out, "total_wall_s_incl_compile": total_s,
            "shim_device_put_replicated_installed": shim,
            "brax_kwargs": brax_ppo.describe(kw),
            "load_before": lb, "load_after": load()}


def _sps(r, key="sps_median"):
    return float("nan") if r is None or r.get(key) is None else float(r[key])


def _ratio(a, b):
    return a / b if b and math.isfinite(a) and math.isfinite(b) else float("nan")


def _f2(x) -> str:
    return f"{x:.2f}" if math.isfinite(x) else "-"


# ----------------------------------------------------------------------------------------
# Throughput driver: measure (each figure in its own process), then report.

@dataclass
class Measured:
    """Every figure of one throughput run: the three headline measurements at the main
    num_envs, the two scaling lists, and the wall time of each phase."""
    raw: dict
    spo: dict
    brax: dict
    env_rows: list = field(default_factory=list)    # [{"num_envs", "spo", "raw" (or None)}]
    seed_rows: list = field(default_factory=list)   # [{"num_seeds", "spo"}]
    phases: dict = field(default_factory=dict)      # {phase: seconds}

    def all_measurements(self) -> list:
        """Every measurement taken (a cached SPO figure counted once per list it is in)."""
        rows = [x["spo"] for x in self.env_rows + self.seed_rows] + [x["raw"] for x in self.env_rows if x["raw"]]
        return [self.raw, self.spo, self.brax] + rows

    def ratios(self) -> dict:
        spo, raw, brax = self.spo, self.raw, self.brax
        return {"spo_over_brax_ppo": _ratio(_sps(spo), _sps(brax)),
                "spo_over_raw": _ratio(_sps(spo), _sps(raw)),
                "brax_ppo_over_raw": _ratio(_sps(brax), _sps(raw)),
                "best_spo_over_brax_ppo": _ratio(_sps(spo, "sps_best"), _sps(brax, "sps_best")),
                "best_spo_over_raw": _ratio(_sps(spo, "sps_best"), _sps(raw, "sps_best"))}


def _train_kw(args) -> dict:
    """The training shape shared by SPO and Brax PPO (the defaults are the CPU shape)."""
    return dict(unroll=args.unroll_length or 5, minibatches=args.num_minibatches or 32,
                epochs=args.num_epochs or 4, fresh_starts=args.fresh_starts)


class _Probe:
    """Takes one measurement per call, each in its own child process with a timeout, and
    prints its line. SPO figures are kept by (num_envs, seeds), so the scaling lists reuse
    the headline one instead of measuring it again."""

    def __init__(self, args, d):
        self.d, self.timeout = d, d["timeout_s"]
        self.common = dict(env_name=args.env, backend=args.backend, episode_length=args.episode_length)
        self.train_kw = _train_kw(args)
        self.spo_runs = {}

    def spo(self, ne, seeds, repeats):
        if (ne, seeds) not in self.spo_runs:
            r = isolated("benchmarks.speed.throughput:bench_spo", self.timeout, num_envs=ne, num_seeds=seeds,
                         target_steps=self.d["target_steps"], repeats=repeats, **self.common, **self.train_kw)
            self.spo_runs[(ne, seeds)] = r
            print(f"  SPO  num_envs={ne:>5} seeds={seeds:>2}: {_sps(r):>11,.0f} steps/s "
                  f"(best {_sps(r, 'sps_best'):,.0f}; compile {_sps(r, 'compile_s'):.1f}s; "
                  f"process {_sps(r, 'process_wall_s'):.0f}s; load {_lo(r)})", flush=True)
        return self.spo_runs[(ne, seeds)]

    def raw(self, ne, repeats):
        r = isolated("benchmarks.speed.throughput:bench_raw", self.timeout, num_envs=ne,
                     target_steps=self.d["target_steps"], repeats=repeats, **self.common)
        print(f"  raw  num_envs={ne:>5}:          {_sps(r):>11,.0f} steps/s (best {_sps(r, 'sps_best'):,.0f}; "
              f"compile {_sps(r, 'compile_s'):.1f}s; process {_sps(r, 'process_wall_s'):.0f}s; load {_lo(r)})",
              flush=True)
        return r

    def brax(self, ne):
        t = time.perf_counter()
        r = isolated("benchmarks.speed.throughput:bench_brax_ppo", self.timeout, num_envs=ne,
                     target_steps=self.d["target_steps"], n_epochs=self.d["brax_epochs"], **self.common,
                     **self.train_kw)
        print(f"  Brax PPO num_envs={ne:>5}:      {_sps(r):>11,.0f} steps/s ({r.get('sps_source', r.get('error'))}; "
              f"process {time.perf_counter() - t:.0f}s incl. compile; load {_lo(r)})", flush=True)
        for e in r.get("per_epoch", []):
            print(f"    epoch {e['epoch']}: training/sps {e['training_sps']:,.0f}  compile in interval "
                  f"{e['compile_s_in_interval']:.1f}s  used={e['clean']}")
        return r


def _timed(phases: dict, name: str, fn, *a):
    """fn(*a), its wall time recorded under phases[name]."""
    t = time.perf_counter()
    out = fn(*a)
    phases[name] = time.perf_counter() - t
    return out


def measure(args, d) -> Measured:
    """The headline figures at args.num_envs (raw, SPO, Brax PPO), then SPO's scaling with
    num_envs (raw alongside unless --no-scaling-raw) and with num_seeds."""
    probe, phases, ne, t0 = _Probe(args, d), {}, args.num_envs, time.perf_counter()
    kw = probe.train_kw
    print(f"[main] env={args.env} backend={args.backend} num_envs={ne} unroll={kw['unroll']} "
          f"minibatches={kw['minibatches']} epochs={kw['epochs']}", flush=True)
    m = Measured(raw=_timed(phases, "raw", probe.raw, ne, d["repeats"]),
                 spo=_timed(phases, "spo", probe.spo, ne, 1, d["repeats"]),
                 brax=_timed(phases, "brax_ppo", probe.brax, ne), phases=phases)
    r = m.ratios()
    print(f"  ratios: SPO/BraxPPO = {r['spo_over_brax_ppo']:.2f}x   SPO/raw = {r['spo_over_raw']:.2f}x   "
          f"BraxPPO/raw = {r['brax_ppo_over_raw']:.2f}x   (best-of: SPO/BraxPPO "
          f"{r['best_spo_over_brax_ppo']:.2f}x, SPO/raw {r['best_spo_over_raw']:.2f}x)", flush=True)

    def env_row(n):
        raw = m.raw if n == ne else (probe.raw(n, d["scale_repeats"]) if not args.no_scaling_raw else None)
        return {"num_envs": n, "spo": probe.spo(n, 1, d["scale_repeats"]), "raw": raw}

    print(f"[scaling num_envs, 1 seed] {list(d['scale_envs'])}", flush=True)
    m.env_rows = _timed(phases, "scale_envs", lambda: [env_row(n) for n in d["scale_envs"]])
    print(f"[scaling num_seeds, num_envs={ne}] {list(d['scale_seeds'])}", flush=True)
    m.seed_rows = _timed(phases, "scale_seeds", lambda: [
        {"num_seeds": s, "spo": probe.spo(ne, s, d["scale_repeats"])} for s in d["scale_seeds"]])
    phases["total"] = time.perf_counter() - t0
    return m


def run_throughput(args, d) -> tuple[dict, list, list]:
    """Measure, print the summary, and return (results, markdown sections, notes) for
    `_matched.measure_and_write`."""
    m = measure(args, d)
    results = _results(args, d, m)
    _print_summary(m, results)
    return results, _sections(args, m, results), _notes(m)


def _results(args, d, m: Measured) -> dict:
    """The JSON record: settings, the three headline measurements, ratios and targets,
    both scaling lists, phase times and what failed."""
    ratios, kw = m.ratios(), _train_kw(args)
    failed = [f"{r.get('what')}" for r in m.all_measurements() if r.get("error")]
    unique = {id(r): r for r in m.all_measurements()}.values()   # a reused figure's retries count once
    hung = sum(len(r.get("failed_attempts") or []) for r in unique)
    return {
        "mode": "throughput", "device_label": args.device_label, "env": args.env, "backend": args.backend,
        "settings": {"num_envs": args.num_envs, "unroll_length": kw["unroll"], "num_minibatches": kw["minibatches"],
                     "num_epochs": kw["epochs"], "fresh_starts": args.fresh_starts,
                     "episode_length": args.episode_length, "target_env_steps_per_timed_call": d["target_steps"],
                     "timed_repeats_main": d["repeats"], "timed_repeats_scaling": d["scale_repeats"],
                     "quick": args.quick, "scale_envs": list(d["scale_envs"]), "scale_seeds": list(d["scale_seeds"]),
                     "brax_epochs": d["brax_epochs"], "timeout_s_per_measurement": d["timeout_s"]},
        "raw": m.raw, "spo": m.spo, "brax_ppo": m.brax, "ratios": ratios,
        "targets": {"spo_ge_1.0x_brax_ppo": bool(ratios["spo_over_brax_ppo"] >= 1.0),
                    "spo_ge_0.6x_raw": bool(ratios["spo_over_raw"] >= 0.6)},
        "scaling_num_envs": m.env_rows, "scaling_num_seeds": m.seed_rows, "phase_seconds": m.phases,
        "failed_measurements": failed, "failed_attempts_total": hung,
    }


def _print_summary(m: Measured, results: dict) -> None:
    ratios, base1 = results["ratios"], _sps(m.spo)
    print("\n== summary ==")
    print(f"raw {_sps(m.raw):,.0f} | SPO {_sps(m.spo):,.0f} | Brax PPO {_sps(m.brax):,.0f} steps/s  ->  "
          f"SPO/BraxPPO {ratios['spo_over_brax_ppo']:.2f}x, SPO/raw {ratios['spo_over_raw']:.2f}x "
          f"(best-of {ratios['best_spo_over_brax_ppo']:.2f}x, {ratios['best_spo_over_raw']:.2f}x)")
    print("num_envs | SPO steps/s (best) | raw steps/s (best) | SPO/raw | SPO compile s")
    for row in m.env_rows:
        s_, r_ = row["spo"], row["raw"]
        print(f"{row['num_envs']:>8} | {_sps(s_):>9,.0f} ({_sps(s_, 'sps_best'):,.0f}) | "
              f"{_sps(r_):>9,.0f} ({_sps(r_, 'sps_best'):,.0f}) | {_ratio(_sps(s_), _sps(r_)):.2f} | "
              f"{_sps(s_, 'compile_s'):.1f}")
    print("num_seeds | total steps/s (best) | per-seed steps/s | vs 1 seed | SPO compile s")
    for row in m.seed_rows:
        s_ = row["spo"]
        print(f"{row['num_seeds']:>9} | {_sps(s_):>11,.0f} ({_sps(s_, 'sps_best'):,.0f}) | "
              f"{_sps(s_, 'sps_per_seed_median'):>16,.0f} | {_ratio(_sps(s_), base1):.2f}x | "
              f"{_sps(s_, 'compile_s'):.1f}")
    print(f"phase seconds: {', '.join(f'{k} {v:.0f}' for k, v in m.phases.items())}")
    if results["failed_measurements"] or results["failed_attempts_total"]:
        print(f"FAILED measurements: {results['failed_measurements']}; failed attempts (retried): "
              f"{results['failed_attempts_total']}")


def _headline_section(args, m: Measured, results: dict) -> tuple:
    ratios, targets, brax = results["ratios"], results["targets"], m.brax
    rows = [("raw Brax stepping, random actions (ceiling)", m.raw),
            ("barpo_jax SPO (chunk_fn, compile excluded)", m.spo)]
    table = [(what, _sps(r), _sps(r, "sps_best"), _sps(r, "compile_s"), r.get("steps_per_call", "-"), _lo(r))
             for what, r in rows]
    table.append(("Brax PPO (its `training/sps`, epochs without compilation)", _sps(brax), _sps(brax, "sps_best"),
                  "see epochs", brax.get("env_steps_per_epoch", "-"), _lo(brax)))
    text = (f"SPO/BraxPPO = **{_f2(ratios['spo_over_brax_ppo'])}x** (target >= 1.0: "
            f"{'met' if targets['spo_ge_1.0x_brax_ppo'] else 'NOT met'}); "
            f"SPO/raw = **{_f2(ratios['spo_over_raw'])}x** (target >= 0.6: "
            f"{'met' if targets['spo_ge_0.6x_raw'] else 'NOT met'}); "
            f"BraxPPO/raw = {_f2(ratios['brax_ppo_over_raw'])}x. On best-of figures: SPO/BraxPPO "
            f"{_f2(ratios['best_spo_over_brax_ppo'])}x, SPO/raw {_f2(ratios['best_spo_over_raw'])}x. "
            f"Brax figure: {brax.get('sps_source', brax.get('error'))}.")
    return (f"Steps/s at num_envs={args.num_envs}, 1 seed ({args.env}, backend {args.backend})",
            ("what", "env steps/s (median)", "best", "compile s", "steps per timed call", "load 1-min before -> after"),
            table, text)


def _sections(args, m: Measured, results: dict) -> list:
    """The markdown tables: headline, Brax's epochs, both scaling lists, phase times."""
    base1 = _sps(m.spo)
    env_table = [(row["num_envs"], _sps(row["spo"]), _sps(row["spo"], "sps_best"),
                  _sps(row["raw"]) if row["raw"] else "-", _sps(row["raw"], "sps_best") if row["raw"] else "-",
                  _f2(_ratio(_sps(row["spo"]), _sps(row["raw"]))) if row["raw"] else "-",
                  _sps(row["spo"], "compile_s"), _lo(row["spo"]), _lo(row["raw"])) for row in m.env_rows]
    seed_table = [(row["num_seeds"], _sps(row["spo"]), _sps(row["spo"], "sps_best"),
                   _sps(row["spo"], "sps_per_seed_median"), f"{_f2(_ratio(_sps(row['spo']), base1))}x",
                   _sps(row["spo"], "compile_s"), _lo(row["spo"])) for row in m.seed_rows]
    return [
        _headline_section(args, m, results),
        ("Brax PPO epochs", ("epoch", "env steps so far", "training/sps", "progress_fn-interval steps/s",
                             "compile s in interval", "used"),
         [(e["epoch"], e["step"], e["training_sps"], e["progress_interval_sps"], e["compile_s_in_interval"],
           e["clean"]) for e in m.brax.get("per_epoch", [])]),
        ("SPO scaling with num_envs (1 seed)",
         ("num_envs", "SPO steps/s (median)", "SPO best", "raw steps/s (median)", "raw best", "SPO/raw (median)",
          "SPO compile s", "load SPO", "load raw"), env_table),
        (f"SPO scaling with num_seeds (num_envs={args.num_envs} per seed)",
         ("num_seeds", "total env steps/s (median)", "best", "per-seed steps/s", "speed-up vs 1 seed", "compile s",
          "load"), seed_table),
        ("Wall time per phase (s, incl. process start, imports and compilation)", ("phase", "seconds"),
         [(k_, f"{v:.0f}") for k_, v in m.phases.items()]),
    ]


def _notes(m: Measured) -> list:
    return [
        "raw: `VecEnv.step` (auto-reset included) with uniform random actions in [-1, 1], scanned inside one jit; "
        "the final env state is returned so no physics is dead-code eliminated.",
        "SPO: `Trainer.chunk_fn(n)` AOT-compiled (`.lower().compile()`, reported as compile s), one untimed "
        "warm-up call, then the timed calls; steps/call = n x num_envs x unroll_length x num_seeds. "
        "Median over the timed calls is the headline (best alongside).",
        "Brax PPO: `brax.training.agents.ppo.train` with run_evals=False; `training/sps` is Brax's own per-epoch "
        "figure (env steps of the epoch / wall time of its pmapped epoch call, which excludes host work between "
        "epochs). Epochs in which JAX reported any tracing/compilation are not used (on jax 0.10 Brax's pmapped "
        "epoch is compiled twice, in epochs 0 and 1). The progress_fn-timestamp figure is given alongside.",
        "Brax needs `jax.device_put_replicated`, removed in jax 0.10: benchmarks/brax_compat.py defines it.",
        "Every measurement runs in its own child process with a timeout (retried once): one earlier in-process "
        "run deadlocked inside XLA's CPU runtime (all threads idle on futexes in block_until_ready).",
        _load_note([m.raw, m.spo, m.brax]),
    ]


def _load_note(measurements) -> str:
    """What the recorded load says about the headline figures. The load before the first
    measurement tells whether anything else ran; later ones also carry the decaying load
    of the measurement before them, so they cannot tell it."""
    first = next((m["load_before"][0] for m in measurements if m.get("load_before")), float("nan"))
    head = "Load averages (1/5/15 min) are recorded before/after every measurement. "
    if first < 0.5:
        return head + (f"The machine was otherwise idle (1-min load {first:.2f} before the first measurement; "
                       "the later ones include the previous measurement's own decaying load), so these are "
                       "quiet-machine figures.")
    return head + (f"Other processes shared the cores (1-min load {first:.2f} before the first measurement), so "
                   "treat differences below ~20-30% as noise; the best-of figure is the least-disturbed estimate.")


# ----------------------------------------------------------------------------------------

def main(argv=None):
    p = _matched.parser(__doc__, "inverted_pendulum", "5 unroll, 32 minibatches, 4 epochs")
    p.add_argument("--quick", action="store_true", help="small lists and short calls (smoke test)")
    p.add_argument("--no-scaling-raw", action="store_true", help="skip raw stepping in the num_envs scaling")
    p.add_argument("--scale-envs", default=None, help="comma list overriding the num_envs scaling list")
    p.add_argument("--scale-seeds", default=None, help="comma list overriding the num_seeds scaling list")
    p.add_argument("--target-steps", type=int, default=None, help="env steps per timed call")
    p.add_argument("--repeats", type=int, default=None, help="timed calls per measurement")
    p.add_argument("--out", default=None, help="output stem: writes <out>.json and <out>.md; "
                                                "default benchmarks/results/throughput_<label>")
    args = p.parse_args(argv)
    d = _matched.settle(args, DEFAULTS, QUICK, ("target_steps", "repeats"), "throughput")
    if args.scale_envs:
        d["scale_envs"] = tuple(int(x) for x in args.scale_envs.split(","))
    if args.scale_seeds:
        d["scale_seeds"] = tuple(int(x) for x in args.scale_seeds.split(","))
    title = f"Throughput: raw Brax vs barpo_jax SPO vs Brax PPO ({args.device_label}, {args.env}, {args.backend})"
    _matched.measure_and_write("throughput", run_throughput, args, d, title, clean)


if __name__ == "__main__":
    main()
