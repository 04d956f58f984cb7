#!/usr/bin/env python3
"""Learning parity: barpo_jax SPO vs Brax's own PPO, trained with matched settings on one task.

Both are evaluated at identical env-step counts with deterministic policies (SPO: the
policy of `TrainResult.policy`; Brax: the mode of its tanh-normal), `--eval-episodes`
episodes per point; a PNG of return vs env steps is written. Each side trains in its own
process (`benchmarks.isolate`); load averages are recorded before and after.

Examples (from the repository root):
  python3 -m benchmarks.studies.parity --out benchmarks/results/parity_cpu
  python3 -m benchmarks.studies.parity --env hopper --backend positional --out benchmarks/results/parity_hopper_cpu
  python3 -m benchmarks.studies.parity --render-from benchmarks/results/parity_cpu.json --out benchmarks/results/parity_cpu
  python3 -m benchmarks.studies.parity --quick --out /tmp/parity    # smoke test
"""
from __future__ import annotations

import json
import math
import os
import time

import jax
import numpy as np

from benchmarks import _matched, _provenance, brax_ppo
from benchmarks._provenance import load_change as _lo
from benchmarks.isolate import clean, isolated


# Defaults per device label: CPU sized for a 2-core machine, GPU per the brief.
DEFAULTS = {
    "cpu": dict(env="inverted_double_pendulum", num_envs=256, steps=1_200_000, points=6, seeds=2, timeout_s=600),
    "gpu": dict(env="hopper", num_envs=2048, steps=20_000_000, points=11, seeds=3, timeout_s=1800),
}
QUICK = dict(steps=51_200, points=3, seeds=1)


def load() -> list:
    return _provenance.load_averages()


def train_spo(cfg: dict, seeds: list, k: int, n_points: int, episodes: int) -> dict:
    """SPO side of the parity run: chunk_fn(k) between evaluation points, deterministic evaluation."""
    import barpo_jax as bj
    from barpo_jax import acting
    from barpo_jax.config import hyperparams
    from barpo_jax.envs import VecEnv
    from barpo_jax.learner import Trainer

    cfg = bj.TrainConfig.from_dict(cfg)
    per_iter = cfg.batch_size
    lb = load()
    t0 = time.perf_counter()
    tr = Trainer(cfg)
    state = tr.init_runs(seeds)
    hp = hyperparams(cfg, len(seeds))
    chunk = tr.chunk_fn(k)
    eval_env = VecEnv(cfg.env, cfg.backend, episodes, cfg.episode_length)
    policy = bj.TrainResult(cfg, state, {}, 0, seeds=seeds).policy_apply()  # TrainResult.policy, unbound

    def eval_one(params, stats, key):
        return acting.episode_returns(eval_env, lambda _k, obs: policy(params, stats, obs), key)

    eval_all = jax.jit(jax.vmap(eval_one, in_axes=(0, 0, None)))
    points, t_train, t_eval, history = [], 0.0, 0.0, []
    for i in range(n_points):
        if i > 0:
            t = time.perf_counter()
            state, m = chunk(state, hp)
            m = jax.device_get(m)
            t_train += time.perf_counter() - t
            history.append(np.asarray(m["episode_return"]))
        t = time.perf_counter()
        rets = np.asarray(eval_all(state.agent.params, state.stats, jax.random.PRNGKey(1000 + i)))
        t_eval += time.perf_counter() - t
        tr_ret = (np.nanmean(history[-1], axis=1) if history and np.isfinite(history[-1]).any()
                  else np.full(len(seeds), np.nan))
        points.append({"env_steps": i * k * per_iter, "eval_mean_per_seed": rets.mean(1).tolist(),
                       "eval_std_per_seed": rets.std(1).tolist(), "eval_mean": float(rets.mean()),
                       "train_episode_return_per_seed": tr_ret.tolist()})
        tr_show = np.nanmean(tr_ret) if np.isfinite(tr_ret).any() else float("nan")
        print(f"  SPO  step {i * k * per_iter:>9,}: eval return {rets.mean():9.1f} +- {rets.std():7.1f}"
              f"   (training-episode return {tr_show:8.1f})  [{time.perf_counter() - t0:.0f}s]", flush=True)
    return {"points": points, "wall_s": time.perf_counter() - t0, "train_s_incl_first_compile": t_train,
            "eval_s_incl_compile": t_eval, "load_before": lb, "load_after": load()}


def train_brax(cfg: dict, seed: int, total: int, n_points: int, episodes: int) -> dict:
    import barpo_jax as bj

    cfg = bj.TrainConfig.from_dict(cfg)
    kw = brax_ppo.kwargs(cfg, cfg.num_envs)
    lb = load()
    recs = []
    t0 = time.perf_counter()

    def progress(step, metrics):
        recs.append({"env_steps": int(step), "eval_mean": float(metrics.get("eval/episode_reward", np.nan)),
                     "eval_std": float(metrics.get("eval/episode_reward_std", np.nan)),
                     "training_sps": float(metrics.get("training/sps", np.nan)),
                     "wall_s": time.perf_counter() - t0})
        print(f"  Brax step {int(step):>9,}: eval return {recs[-1]['eval_mean']:9.1f} +- "
              f"{recs[-1]['eval_std']:7.1f}  [{recs[-1]['wall_s']:.0f}s]", flush=True)

    brax_ppo.train(cfg.env, cfg.backend, num_timesteps=total, num_evals=n_points, num_eval_envs=episodes,
                   deterministic_eval=True, run_evals=True, progress_fn=progress, seed=seed, **kw)
    return {"seed": seed, "points": recs, "wall_s": time.perf_counter() - t0, "load_before": lb,
            "load_after": load(),
            "brax_kwargs": brax_ppo.describe(kw)}


def run_parity(args, d) -> tuple[dict, list, list]:
    import barpo_jax as bj

    env, backend = args.env, args.backend
    n_points = d["points"]  # evaluation points including step 0
    over = {k: v for k, v in dict(unroll_length=args.unroll_length, num_minibatches=args.num_minibatches,
                                  num_epochs=args.num_epochs).items() if v is not None}
    # Matched to what Brax's PPO can express: its preset-style PPO values for the task and
    # none of the lineage extras (return normalisation, lr anneal, value clipping) that the
    # CPU presets switch on, since Brax PPO has no counterpart for them.
    from barpo_jax.config import _BASE, PPO_PRESETS
    brax_like = {k: v for k, v in {**_BASE, **PPO_PRESETS.get(env, {})}.items() if k not in ("num_timesteps",
                                                                                          "num_envs")}
    # One optimiser at one rate, as Brax's PPO has; episode starts as --fresh-starts says, for
    # both sides (Brax's PPO gets them from brax_ppo.fresh_start_wrap).
    brax_like.update(value_learning_rate=brax_like["learning_rate"], fresh_starts=args.fresh_starts)
    probe = bj.TrainConfig(env=env, algo="spo", backend=backend, num_envs=args.num_envs,
                           episode_length=args.episode_length, **{**brax_like, **over})
    per_iter = probe.batch_size
    k = max(1, math.ceil(d["steps"] / ((n_points - 1) * per_iter)))  # iterations between eval points
    total = k * (n_points - 1) * per_iter
    seeds = list(range(d["seeds"]))
    cfg = probe.replace(num_timesteps=total, num_seeds=len(seeds), chunk_iterations=k)
    assert cfg.num_iterations == k * (n_points - 1)
    episodes = args.eval_episodes
    timeout = d["timeout_s"]
    print(f"[parity] env={env} backend={backend} num_envs={cfg.num_envs} unroll={cfg.unroll_length} "
          f"minibatches={cfg.num_minibatches} epochs={cfg.num_epochs} steps={total:,} points={n_points} "
          f"(every {k * per_iter:,} steps) seeds={seeds} eval episodes={episodes}", flush=True)

    t = time.perf_counter()
    spo_res = isolated("benchmarks.studies.parity:train_spo", timeout, cfg=cfg.to_dict(), seeds=seeds, k=k, n_points=n_points,
                       episodes=episodes)
    spo_process_s = time.perf_counter() - t
    brax_runs = []
    t = time.perf_counter()
    for s in seeds:
        brax_runs.append(isolated("benchmarks.studies.parity:train_brax", timeout, cfg=cfg.to_dict(), seed=s, total=total,
                                  n_points=n_points, episodes=episodes))
    brax_process_s = time.perf_counter() - t
    brax_kwargs = next((r["brax_kwargs"] for r in brax_runs if r.get("brax_kwargs")), {})
    results = {"mode": "parity", "device_label": args.device_label, "env": env, "backend": backend,
               "settings": {"num_envs": cfg.num_envs, "unroll_length": cfg.unroll_length,
                            "num_minibatches": cfg.num_minibatches, "num_epochs": cfg.num_epochs,
                            "total_env_steps": total, "eval_points": n_points, "steps_between_points": k * per_iter,
                            "seeds": seeds, "eval_episodes": episodes, "quick": args.quick,
                            "learning_rate": cfg.learning_rate, "gamma": cfg.gamma, "gae_lambda": cfg.gae_lambda,
                            "clip_eps": cfg.clip_eps, "entropy_coef": cfg.entropy_coef,
                            "value_coef": cfg.value_coef, "reward_scaling": cfg.reward_scaling,
                            "max_grad_norm": cfg.max_grad_norm, "episode_length": cfg.episode_length,
                            "fresh_starts": cfg.fresh_starts},
               "spo_config": cfg.to_dict(), "spo": spo_res, "brax_ppo": brax_runs, "brax_kwargs": brax_kwargs,
               "process_seconds": {"spo": spo_process_s, "brax_ppo": brax_process_s}, "png": args.out + ".png",
               "failed": [r.get("what") for r in [spo_res] + brax_runs if r.get("error")]}
    return parity_report(clean(results), args.out)


def _nanf(v) -> float:
    return float("nan") if v is None else float(v)


def _fmt_seeds(vals) -> str:
    """Mean over the finite per-seed values, then each seed's value: '1234.5 (1200, 1269)'."""
    vals = [_nanf(v) for v in vals]
    fin = [v for v in vals if math.isfinite(v)]
    if not fin:
        return "-"
    return f"{np.mean(fin):.1f}" + (f" ({', '.join(f'{v:.0f}' for v in vals)})" if len(vals) > 1 else "")


def _plot_parity(results: dict, spo_points: list, ok_brax: list, png: str) -> None:
    """Return vs env steps, one line per seed: SPO's deterministic evaluation (±1 episode
    std) and its training-episode return beside Brax PPO's evaluation."""
    from barpo_jax.plots import finish, subplots
    st = results["settings"]
    fig, ax = subplots(png, figsize=(7.5, 4.8))
    x = np.array([p["env_steps"] for p in spo_points])
    for j, _ in enumerate(st["seeds"] if spo_points else []):
        m = np.array([_nanf(p["eval_mean_per_seed"][j]) for p in spo_points])
        sd = np.array([_nanf(p["eval_std_per_seed"][j]) for p in spo_points])
        ax.plot(x, m, "o-", color="C0", alpha=0.9, label="barpo_jax SPO (deterministic eval)" if j == 0 else None)
        ax.fill_between(x, m - sd, m + sd, color="C0", alpha=0.12)
        tr_r = np.array([_nanf(p["train_episode_return_per_seed"][j]) for p in spo_points])
        ax.plot(x, tr_r, ":", color="C0", alpha=0.6,
                label="SPO training-episode return (stochastic policy)" if j == 0 else None)
    for j, run in enumerate(ok_brax):
        bx = np.array([p["env_steps"] for p in run["points"]])
        m = np.array([_nanf(p["eval_mean"]) for p in run["points"]])
        sd = np.array([_nanf(p["eval_std"]) for p in run["points"]])
        ax.plot(bx, m, "s-", color="C3", alpha=0.9, label="Brax PPO (deterministic eval)" if j == 0 else None)
        ax.fill_between(bx, m - sd, m + sd, color="C3", alpha=0.12)
    ax.set_xlabel("env steps")
    ax.set_ylabel(f"episode return (mean of {st['eval_episodes']} episodes, ±1 std)")
    ax.set_title(f"{results['env']} ({results['backend']}): SPO vs Brax PPO, num_envs={st['num_envs']}, "
                 f"{len(st['seeds'])} seed(s) each (one line per seed)", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    finish(fig, png)


def _parity_rows(spo_points: list, ok_brax: list) -> list:
    """One row per evaluation point: SPO's and Brax's evaluation means (per seed) and
    within-seed episode spread, and SPO's training-episode return."""
    rows = []
    for i, p in enumerate(spo_points):
        b = [run["points"][i] for run in ok_brax if i < len(run["points"])]
        rows.append((p["env_steps"], _fmt_seeds(p["eval_mean_per_seed"]),
                     f"{np.mean([_nanf(v) for v in p['eval_std_per_seed']]):.1f}",
                     _fmt_seeds([q["eval_mean"] for q in b]) if b else "-",
                     f"{np.mean([_nanf(q['eval_std']) for q in b]):.1f}" if b else "-",
                     _fmt_seeds(p["train_episode_return_per_seed"])))
    return rows


def parity_report(results: dict, out: str) -> tuple[dict, list, list]:
    """PNG + markdown sections from a parity results dict (also used by --render-from)."""
    st, spo_res, brax_runs = results["settings"], results["spo"], results["brax_ppo"]
    spo_points = spo_res.get("points", [])
    ok_brax = [r for r in brax_runs if r.get("points")]
    spo_steps = [p["env_steps"] for p in spo_points]
    matched = bool(ok_brax) and bool(spo_points) and all(
        [p["env_steps"] for p in r["points"]] == spo_steps for r in ok_brax)
    results["eval_steps_matched"] = matched
    results["png"] = png = out + ".png"
    _plot_parity(results, spo_points, ok_brax, png)
    rows = _parity_rows(spo_points, ok_brax)
    print("\n== parity ==")
    print("env steps | SPO eval mean (per seed) | SPO episode std | Brax PPO eval mean (per seed) | Brax episode std "
          "| SPO training-episode return (per seed)")
    for r in rows:
        print(" | ".join(f"{c:,}" if isinstance(c, int) else str(c) for c in r))
    ps = results.get("process_seconds", {})
    print(f"process seconds: SPO {ps.get('spo', float('nan')):.0f}, Brax PPO {ps.get('brax_ppo', float('nan')):.0f}; "
          f"steps matched: {matched}")
    brax_kwargs = results.get("brax_kwargs") or next((r["brax_kwargs"] for r in brax_runs if r.get("brax_kwargs")), {})
    sections = [
        (f"Return vs env steps: {results['env']} (backend {results['backend']}), {len(st['seeds'])} seed(s) each",
         ("env steps", "SPO eval return: mean over seeds (per seed)", "SPO std over episodes",
          "Brax PPO eval return: mean over seeds (per seed)", "Brax std over episodes",
          "SPO training-episode return (per seed)"), rows,
         f"![return vs env steps]({os.path.basename(png)})\n\nEach evaluation: {st['eval_episodes']} deterministic "
         "episodes per seed; 'std over episodes' is the within-seed spread averaged over seeds."),
        ("Wall time (s, incl. process start, imports, compilation and evaluation)",
         ("side", "seconds", "load 1-min before -> after"),
         [("SPO (all seeds in one vmapped program)", ps.get("spo", "-"), _lo(spo_res)),
          ("Brax PPO (one train() per seed)", ps.get("brax_ppo", "-"),
           _lo({"load_before": (ok_brax or [{}])[0].get("load_before"),
                "load_after": (ok_brax or [{}])[-1].get("load_after")}))]),
        ("Settings (shared)", ("setting", "value"),
         list(st.items()) + [(f"brax {k_}", v) for k_, v in brax_kwargs.items()]),
    ]
    return results, sections, _parity_notes(matched)


def _parity_notes(matched: bool) -> list:
    return [
        "Both sides are evaluated with deterministic policies (SPO: the clipped Gaussian mean; Brax PPO: the mode "
        "of its tanh-normal) on fresh episodes of up to episode_length steps, at identical env-step counts "
        f"(matched: {matched}).",
        "SPO evaluation: `barpo_jax.acting.episode_returns` on a separate `VecEnv(num_envs=eval episodes)` with "
        "the policy of `TrainResult.policy(seed)` (observations normalised with the frozen running statistics, "
        "action = clipped mean), jitted once with the parameters as arguments. 'SPO training-episode return' is "
        "`metrics['episode_return']` averaged over the iterations since the previous point (stochastic policy, "
        "episodes that ended during training).",
        "Brax evaluation: `eval/episode_reward` and `eval/episode_reward_std` from ppo.train's Evaluator with "
        "deterministic_eval=True and num_eval_envs = eval episodes.",
        "Matched: num_envs, unroll_length, num_minibatches, num_updates_per_batch = num_epochs, batch_size = "
        "num_envs // num_minibatches, learning rate, entropy cost, discount, GAE lambda, clip epsilon, value "
        "coefficient, reward scaling, max grad norm, advantage and observation normalisation, 64-64 tanh networks, "
        "episode length, episode starts (fresh_starts: on both sides a new reset draw for every episode, Brax's PPO "
        "through benchmarks.brax_ppo.fresh_start_wrap; or on neither), and one Adam at one rate for actor and critic. "
        "Not matched (each library's defaults kept): action distribution (Brax: tanh-normal with "
        "softplus std; SPO: clipped Gaussian with state-independent log-std, init -0.5), Adam eps (1e-8 vs 1e-5), "
        "truncation bootstrap (Brax off by default, SPO on), weight initialisers.",
        "Under jax 0.10 Brax's pmapped training epoch is compiled twice (first and second epoch) and its eval "
        "unroll is recompiled on some evaluations (10-15 s each on this CPU); Brax's wall time includes that, "
        "SPO's includes its one compilation of chunk_fn and of the evaluation program.",
        "The two sides start from different initial policies (each library's initialisation), hence the "
        "different returns at step 0. SPO seeds run vmapped in one program; a seed's trajectory is not bitwise "
        "identical to the same seed run alone (different batch shapes change float reductions), while Brax runs "
        "are reproducible run to run.",
    ]


# ----------------------------------------------------------------------------------------

def main(argv=None):
    p = _matched.parser(__doc__, "inverted_double_pendulum", "task preset")
    p.add_argument("--quick", action="store_true", help="few steps, points and seeds (smoke test)")
    p.add_argument("--steps", type=int, default=None, help="env steps per seed")
    p.add_argument("--points", type=int, default=None, help="evaluation points including step 0")
    p.add_argument("--seeds", type=int, default=None)
    p.add_argument("--timeout-s", type=int, default=None, help="limit per training process")
    p.add_argument("--eval-episodes", type=int, default=64)
    p.add_argument("--render-from", default=None, metavar="JSON",
                   help="re-write <out>.md/.png of a parity run from its JSON (no measurement)")
    p.add_argument("--out", default=None, help="output stem: writes <out>.json, <out>.md and <out>.png; "
                                                "default benchmarks/results/parity_<label>")
    args = p.parse_args(argv)

    d = _matched.settle(args, DEFAULTS, QUICK, ("steps", "points", "seeds", "timeout_s"), "parity")

    if args.render_from:
        with open(args.render_from) as f:
            saved = json.load(f)
        prov, res = saved["provenance"], saved["results"]
        results, sections, notes = parity_report(res, args.out)
        notes = list(notes) + [f"Total wall time of the measured run: {res.get('wall_s_total', float('nan')):.0f} s; "
                               f"load average at end {prov.get('load_avg_at_end')}. Markdown/PNG re-rendered from "
                               "the JSON with --render-from."]
        title = f"SPO vs Brax PPO learning parity ({res['device_label']}, {res['env']}, {res['backend']})"
        _provenance.write_results(args.out, prov, clean(results), sections, title, notes)
        print(f"re-rendered {args.out}.md/.png from {args.render_from}")
        return

    title = f"SPO vs Brax PPO learning parity ({args.device_label}, {args.env}, {args.backend})"
    results = _matched.measure_and_write("parity", run_parity, args, d, title, clean)
    print(f"plot: {results['png']}")


if __name__ == "__main__":
    main()
