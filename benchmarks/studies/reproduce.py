"""Reproduce the methods table: every method x task x seed, every attack, one command.

    python -m benchmarks.studies.reproduce --quick                       # 2-core CPU, minutes
    python -m benchmarks.studies.reproduce --tasks hopper walker2d halfcheetah ant --seeds 5 \
        --steps 2e6 --out benchmarks/results/table_gpu               # a GPU

Resumable: each (task, method) trains into OUT/runs/<task>-<method>/ with
checkpoints and is evaluated into robustness_eps<eps>.json there (as `barpo eval`);
a rerun skips what is finished, resumes what was interrupted, and adds to a
finished report only what the attack suite gained since (new attacks, a new strength). With `--time-budget S`
the command stops (checkpoint saved) once S seconds are spent and exits with status 3;
the same command run again continues, so a long study splits into calls that each fit a
machine's per-command limit:

    until python -m benchmarks.studies.reproduce ... --time-budget 480; do [ $? -eq 3 ] || break; done

The comparison is
`bj.compare` over those run directories (as `barpo compare`): OUT/comparison.{csv,md},
OUT/natural_vs_worst.png and OUT/learning_curves.png, plus OUT/table.{json,md} with
provenance, and OUT/claims.md: the paper's claims as ratios between methods (median
agents, and IQM with a bootstrap interval), for each task where both methods ran.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

import barpo_jax as bj
from barpo_jax import checkpoint
from barpo_jax.cli import UNFINISHED, _kv, _num  # UNFINISHED: the time budget ran out
from barpo_jax.compare import bootstrap_ratio_ci, iqm, rank_test
from barpo_jax.evaluate import partial_file, report_file
from benchmarks import _provenance as prov


def args_parser():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tasks", nargs="+", default=["inverted_double_pendulum"])
    p.add_argument("--methods", nargs="+", default=list(bj.ALGOS))
    p.add_argument("--seeds", type=_num, default=5)
    p.add_argument("--steps", type=_num, default=1_000_000, help="env steps per seed")
    p.add_argument("--envs", type=_num, default=None, help="parallel envs per seed (default: task preset)")
    p.add_argument("--backend", default="mjx")
    p.add_argument("--episode-length", type=_num, default=1000)
    p.add_argument("--episodes", type=_num, default=50)
    p.add_argument("--attacks", default="all")
    p.add_argument("--attack-steps", type=_num, default=None, help="learned-attack budget (default: --steps)")
    p.add_argument("--set", type=_kv, action="append", default=[], metavar="FIELD=VALUE",
                   help="extra TrainConfig fields for every run")
    p.add_argument("--quick", action="store_true",
                   help="a small CPU setting: inverted_pendulum, spring, 2 seeds, 50k steps, 200-step episodes, 5 eval "
                   "episodes, learned attacks 20k steps")
    p.add_argument("--train-only", action="store_true",
                   help="train (or resume) every run, evaluate nothing: the long part of a CPU study, run first "
                        "in the background; a later call without it evaluates and writes the table")
    p.add_argument("--time-budget", type=float, default=None, metavar="SECONDS",
                   help="stop (checkpoint saved) once this much time is spent and exit with status 3; run the same "
                        "command again to continue. A (task, method)'s evaluation starts only in the first half of "
                        "the budget and stops between attack columns; leave room under the machine's limit for one "
                        "compile and one chunk, or one learned-attack fit and one column (default: no limit)")
    p.add_argument("--out", default=None)
    return p


class Budget:
    """The command's wall-clock budget (None: unlimited). Every call makes progress, however
    small the budget: at least one training chunk, or one evaluation when nothing was
    trained, so the repeated command always ends."""
    def __init__(self, seconds):
        self.seconds, self.t0, self.trained = seconds, time.monotonic(), False

    def left(self):
        return None if self.seconds is None else max(0.0, self.seconds - (time.monotonic() - self.t0))

    def may_evaluate(self) -> bool:
        """An evaluation stops only between columns (its compile and a learned attack's fit
        cannot be split): start one only in the budget's first half."""
        return self.seconds is None or not self.trained or time.monotonic() - self.t0 < 0.5 * self.seconds


def config_for(a, task, method):
    extra = dict(a.set)  # (field, value) pairs parsed by the CLI's --set parser
    fields = dict(env=task, algo=method, backend=a.backend, num_timesteps=a.steps, num_seeds=a.seeds,
                  episode_length=a.episode_length, chunk_iterations=10)
    if a.envs:
        fields["num_envs"] = a.envs
    fields.update(extra)
    return bj.TrainConfig(**fields)


def train_and_evaluate(a, cfg, run, budget: Budget) -> bool:
    """Train (or resume) one (task, method) into `run` and evaluate it there, skipping
    what is done already (a report from before reports were named by eps counts).
    Returns False when the time budget ran out first."""
    report_path = report_file(run, cfg.eps)
    done = [p for p in (report_path, os.path.join(run, "robustness.json")) if os.path.isfile(p)]
    earlier = bj.RobustnessReport.load(done[0]) if done else None
    missing = _missing(earlier, a.attacks)
    if done and not missing:
        print(f"[{cfg.env}/{cfg.algo}] done already ({done[0]})")
        return True
    if budget.trained and budget.left() == 0.0:
        return False  # spent on earlier runs: do not start this one's compile
    trained = checkpoint.has_checkpoint(run)
    result = bj.load(run) if trained else None
    if result is not None and result.iterations >= cfg.num_iterations:
        print(f"[{cfg.env}/{cfg.algo}] trained already ({result.iterations} iterations)")
    else:
        print(f"[{cfg.env}/{cfg.algo}] {'resuming' if trained else 'training'} {cfg.num_seeds} seeds x "
              f"{cfg.num_timesteps:,} steps")
        result = bj.train(cfg, out=run, resume=trained, time_budget_s=budget.left())
        budget.trained = True
        if result.iterations < cfg.num_iterations:
            return False
    if a.train_only:
        return True
    if not budget.may_evaluate():
        return False
    t0 = time.time()
    if earlier is not None:
        print(f"[{cfg.env}/{cfg.algo}] adding to {done[0]}: {missing}")
    reuse = earlier if earlier is not None and earlier.episodes == a.episodes and earlier.eps == cfg.eps else None
    try:
        report = bj.evaluate(result, attacks=a.attacks, episodes=a.episodes, eps=cfg.eps,
                             learned_timesteps=a.attack_steps or a.steps, reuse=reuse,
                             partial_path=partial_file(report_path), time_budget_s=budget.left())
    except bj.EvaluationStopped as stop:
        print(f"[{cfg.env}/{cfg.algo}] {stop}", flush=True)
        return False
    report.save(report_path)
    report.plot(report_path[:-len(".json")] + ".png")
    print(report.table())
    print(f"  evaluated in {time.time() - t0:.0f}s")
    return True


def _missing(report, attacks) -> str:
    """What an earlier report lacks against today's suite ('' if nothing): attacks added
    to the suite since, or gradient attacks searched at another strength. The evaluation
    then recomputes only that (`evaluate(reuse=...)`)."""
    if report is None:
        return "no report"
    names = list(bj.attacks.resolve(attacks))
    new = [n for n in names if n not in report.attacks]
    parts = [f"attacks {', '.join(new)}"] if new else []
    if report.strength != bj.attacks.STRONG.describe():
        parts.append(f"gradient attacks at '{bj.attacks.STRONG.describe()}' (was '{report.strength}')")
    return "; ".join(parts)


# The paper's claims as (label, numerator method, denominator method, which score), and
# the compass goal each is held to (None: the paper states only the direction, > 1).
CLAIMS = (
    ("BARPO worst / ARPO worst", "barpo", "arpo", "worst", 1.3),
    ("BARPO worst / SA-PPO worst", "barpo", "sa_ppo", "worst", 1.0),
    ("BARPO natural / SPO natural", "barpo", "spo", "natural", 0.9),
    ("BARPO-unguided natural / ARPO natural", "barpo_unguided", "arpo", "natural", None),
    ("BARPO-unguided worst / ARPO worst", "barpo_unguided", "arpo", "worst", None),
    ("BARPO natural / ARPO-guided natural (a control the paper does not show)", "barpo", "arpo_guided", "natural",
     None),
    ("BARPO worst / ARPO-guided worst (the same control)", "barpo", "arpo_guided", "worst", None),
) + tuple(  # the paper's "and the baselines'": BARPO's worst case against each of the other four
    (f"BARPO worst / {name} worst", "barpo", algo, "worst", None)
    for name, algo in (("CAR-PPO", "car_ppo"), ("RADIAL-PPO", "radial_ppo"), ("WocaR-PPO", "wocar_ppo"),
                       ("ATLA-PPO", "atla_ppo")))


SETTLED_P = 0.05
CLAIM_HEADERS = ["task", "claim", "median agents", "ratio (median agents)", "ratio of IQMs [95% CI]",
                 "p (exact rank test)", "settled?", "goal met (median agents)"]
CLAIM_RULE = ("Rule: a comparison is settled when the exact two-sided rank test on the per-seed values gives "
              f"p < {SETTLED_P:g}; its direction is then the median agents' ratio's. Otherwise it is not settled, "
              "whatever the ratios say.")
CLAIM_NOTES = ["Ratio of IQMs: bootstrap over each method's seeds independently, 2000 resamples.",
               "p: exact two-sided Wilcoxon-Mann-Whitney test on the per-seed values of the two methods "
               "(`compare.rank_test`).",
               "Goals: BARPO worst >= 1.3x ARPO worst and >= SA-PPO worst, BARPO natural >= 0.9x SPO natural (the "
               "compass); the other rows test the paper's direction (> 1)."]


def claim_scores(a, b, which: str):
    """The two runs' per-seed values and median agents for a claim on `which`; a worst case
    over the attacks both runs were evaluated under (None when they share none)."""
    if which == "natural":
        return a.natural, a.median_agent, b.natural, b.median_agent, a.attacks
    if tuple(a.attacks) == tuple(b.attacks):
        return a.worst, a.median_agent, b.worst, b.median_agent, a.attacks
    common = tuple(x for x in a.attacks if x in b.attacks)
    if not common or not (a.by_attack and b.by_attack):
        return None
    return (*a.worst_over(common), *b.worst_over(common), common)


def claim_rows(comparison) -> list:
    """One row per (task, claim) whose two methods both have robustness reports. A worst
    case is compared over the attacks both reports hold, and a row says so when those are
    not the whole suite (`attacks.ALL`): a worst case over a few attacks is not the claim's."""
    by: dict = {}
    for r in comparison.runs:  # a method listed twice (seeds added, not yet pooled): its first run
        by.setdefault((r.env, r.algo), r)
    rows = []
    for env in dict.fromkeys(r.env for r in comparison.runs):
        for label, num, den, which, goal in CLAIMS:
            a, b = by.get((env, num)), by.get((env, den))
            if a is None or b is None or not (np.isfinite(a.worst).all() and np.isfinite(b.worst).all()):
                continue
            scored = claim_scores(a, b, which)
            if scored is None:
                continue  # no attack in common: their worst cases are not comparable
            xa, ia, xb, ib, over = scored
            label = label if which != "worst" or set(bj.attacks.ALL) - {"none"} <= set(over) else \
                f"{label} (over {', '.join(over)} only)"
            judged = judge(xa, ia, xb, ib)
            median = judged["median ratio"]
            verdict = (f">= {goal:g}: {'yes' if median >= goal else 'no'}" if goal is not None
                       else f"> 1: {'yes' if median > 1 else 'no'}")
            rows.append([env, label, *judged_cells(judged), verdict])
    return rows


def judge(xa, ia, xb, ib) -> dict:
    """Per-seed values `xa` against `xb` (median agents `ia`, `ib`) by CLAIM_RULE: the median
    agents and their ratio, the ratio of IQMs with its bootstrap interval, the exact rank
    test's p, and the verdict."""
    xa, xb = np.asarray(xa, float), np.asarray(xb, float)
    median = float(xa[ia] / xb[ib])
    p = rank_test(xa, xb)
    return {"median agents": [float(xa[ia]), float(xb[ib])], "median ratio": median, "IQM ratio": iqm(xa) / iqm(xb),
            "IQM ratio CI": list(bootstrap_ratio_ci(xa, xb)), "p": p, "seeds": [len(xa), len(xb)],
            "settled": f"settled: {'higher' if median > 1 else 'lower'}" if p < SETTLED_P else "not settled"}


def judged_cells(judged: dict) -> list:
    """`judge`'s result as the claims table's cells, from "median agents" to "settled?"."""
    (a, b), (lo, hi), (na, nb) = judged["median agents"], judged["IQM ratio CI"], judged["seeds"]
    return [f"{a:.1f} / {b:.1f}", f"{judged['median ratio']:.2f}", f"{judged['IQM ratio']:.2f} [{lo:.2f}, {hi:.2f}]",
            f"{format_p(judged['p'])} ({na} vs {nb} seeds)", judged["settled"]]


def format_p(p: float) -> str:
    """Three decimals, or two significant digits below 0.001: with 10 seeds per method the
    smallest exact p is 1.1e-5, which three decimals would print as 0.000."""
    return f"{p:.3f}" if p >= 1e-3 else f"{p:.1e}"


def main(argv=None):
    a = args_parser().parse_args(argv)
    if a.quick:
        a.tasks, a.backend, a.seeds, a.steps, a.episode_length = ["inverted_pendulum"], "spring", 2, 50_000, 200
        a.episodes, a.attack_steps = min(a.episodes, 5), a.attack_steps or 20_000
        a.set = [("num_envs", 256), ("unroll_length", 16), ("num_minibatches", 16)] + a.set
    out = a.out or ("benchmarks/results/table_quick" if a.quick else "benchmarks/results/table")
    os.makedirs(out, exist_ok=True)
    provenance = prov.provenance()
    if a.time_budget is not None and a.time_budget < 0:
        sys.exit(f"reproduce: error: --time-budget must be >= 0 seconds, got {a.time_budget:g}")
    budget = Budget(a.time_budget)
    runs, eps = [], set()
    for task in a.tasks:
        for method in a.methods:
            cfg = config_for(a, task, method)
            run = os.path.join(out, "runs", f"{task}-{method}")
            if not train_and_evaluate(a, cfg, run, budget):
                print(f"time budget of {a.time_budget:g}s spent at {task}/{method}: run the same command again to "
                      "continue", flush=True)
                sys.exit(UNFINISHED)
            runs.append(run)
            eps.add(cfg.eps)
    if a.train_only:
        print(f"trained: {', '.join(runs)}")
        return
    comparison = bj.compare(runs, out=out)
    headers, rows = comparison.cells()
    setting = (f"{a.seeds} seeds per method, {a.steps:,} env steps per seed, backend {a.backend}, episode length "
              f"{a.episode_length}, {a.episodes} evaluation episodes per cell, learned attacks trained for "
              f"{a.attack_steps or a.steps:,} steps, eps = {', '.join(f'{e:g}' for e in sorted(eps))} in training "
              "(ramped) and evaluation")
    prov.write_results(os.path.join(out, "table"), provenance, {r["run"]: r for r in comparison.rows},
                       [("Each method: median agent (the lineage's protocol) and IQM over seeds", headers, rows,
                         setting + ". " + comparison.note())],
                       "SPO / ARPO / BARPO and baselines under every attack",
                       notes=["Per-seed and per-attack numbers are in runs/*/robustness_eps*.json; "
                              "comparison.csv holds the table's numbers; natural_vs_worst.png plots each seed, "
                              "learning_curves.png the training curves (`barpo compare` writes the same)."])
    claims = claim_rows(comparison)
    if claims:
        prov.write_results(os.path.join(out, "claims"), provenance, {"rows": claims},
                           [("The paper's claims and the compass goals, per task", CLAIM_HEADERS, claims, setting,
                             CLAIM_RULE)],
                           "The paper's claims, tested", notes=CLAIM_NOTES)
    print(open(os.path.join(out, "table.md")).read())
    if claims:
        print(open(os.path.join(out, "claims.md")).read())


def interruptible(main, name: str):
    """Run a study's `main` so that Ctrl-C or SIGTERM (`kill PID`) ends it with one line, as
    `barpo` does: the training loop has saved its last chunk by then, and the same command
    continues; bad input (a ConfigError) ends it with one line and status 2."""
    try:
        with checkpoint.stop_on_sigterm():
            main()
    except bj.ConfigError as e:   # bad input: one line naming the fix, no traceback
        print(f"{name}: error: {e}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print(f"{name}: interrupted; the last checkpoint is kept (run the same command again to continue)",
              file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    interruptible(main, "reproduce")
