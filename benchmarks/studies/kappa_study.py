"""The κ study: BARPO's natural return and worst case against the weight κ of its SPO guidance.

    python -m benchmarks.studies.kappa_study --env hopper --backend positional --seeds 3 --steps 1.5e6 \
        --kappa 0 0.25 0.5 1 2 4 --out benchmarks/results/kappa_hopper_cpu

The paper reports that guidance matters (its κ-sensitivity study). Every (κ, seed) is one
run of one `bj.sweep` program (κ is data, not part of the compiled program), trained into
OUT/sweep/ with checkpoints; all runs are then evaluated in one `bj.evaluate` call, and
OUT/kappa.{json,md,png} give, per κ, each seed's natural return and worst case over the
attacks, the median and the IQM. `--no-masking-check` skips the gradient attacks at twice the
effort: they flag masking but never enter the worst case, and they are about half the
evaluation's time. Resumable like reproduce.py: with `--time-budget S` the
command stops (checkpoint saved) and exits with status 3, and the same command continues.

The time budget, Ctrl-C and `kill PID` (SIGTERM) act between compiled chunks (or attack
columns): a chunk here is 6 iterations of all κ × seed runs at once (732 iterations split
evenly), about 1.5 minutes for 18 hopper runs at the 2,500-2,900 steps/s it ran at on the
2-core CPU beside one other job, and many times that at low priority beside several. A study started in the background from a script (`cmd &`)
has SIGINT ignored, so stop it with `kill PID`: it saves its last chunk and exits 130.

`--reuse KAPPA=RUN` takes one κ's agents from a finished run instead of training them: RUN must
hold the study's config at that κ (only the seed count and the checkpoint cadence may differ)
and a robustness report at the study's eps, episodes and strength with every attack of the
study; seeds cfg.seed .. cfg.seed + SEEDS - 1 of it are the κ's seeds, their worst case taken
over the study's attacks only. A sweep seeds each run as `bj.train` does (seed s starts from
PRNGKey(s)), so the reused seeds are the runs the sweep would have trained, up to the rounding
of κ passed as data; the table's BARPO gives κ = 1 that way at a quarter less compute:

    python -m benchmarks.studies.kappa_study --env hopper --backend positional --seeds 5 --steps 1998848 \
        --kappa 0 0.5 1 2 --reuse 1=runs/table_hopper_lineage/runs/hopper-barpo \
        --attacks random,critic,mad,flip --no-masking-check --out runs/kappa_hopper_lineage
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

import barpo_jax as bj
from barpo_jax import checkpoint
from barpo_jax.attacks import LEARNED, STRONG, resolve
from barpo_jax.cli import UNFINISHED, _kv, _num  # UNFINISHED: the time budget ran out
from barpo_jax.compare import iqm
from barpo_jax.config import LOOP_FIELDS, ConfigError
from barpo_jax.evaluate import lower_median_index, partial_file, report_file
from barpo_jax.plots import finish, subplots
from benchmarks import _provenance as prov
from benchmarks.studies.reproduce import CLAIM_HEADERS, CLAIM_RULE, Budget, interruptible, judge, judged_cells


def args_parser():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--env", default="hopper")
    p.add_argument("--backend", default="positional")
    p.add_argument("--kappa", nargs="+", type=float, default=[0.0, 0.25, 0.5, 1.0, 2.0, 4.0])
    p.add_argument("--seeds", type=_num, default=3, help="seeds per kappa")
    p.add_argument("--steps", type=_num, default=1_500_000, help="env steps per run")
    p.add_argument("--episodes", type=_num, default=50, help="evaluation episodes per (run, attack)")
    p.add_argument("--attacks", default="all")
    p.add_argument("--attack-steps", type=_num, default=None, help="learned-attack budget (default: --steps)")
    p.add_argument("--no-masking-check", action="store_true",
                   help="skip the gradient attacks at twice the steps and restarts (they flag masking but do not "
                        "enter the worst case; about half the evaluation time)")
    p.add_argument("--set", type=_kv, action="append", default=[], metavar="FIELD=VALUE",
                   help="extra TrainConfig fields")
    p.add_argument("--time-budget", type=float, default=None, metavar="SECONDS",
                   help="stop (checkpoint saved) after this long and exit with status 3; the same command continues")
    p.add_argument("--reuse", action="append", default=[], metavar="KAPPA=RUN",
                   help="take kappa KAPPA's seeds from RUN, a finished and evaluated run of this config at that kappa "
                        "(e.g. the table's BARPO), instead of training them")
    p.add_argument("--out", required=True)
    return p


def per_kappa(kappas, returns: dict) -> list:
    """One dict per κ, in `kappas`' order: its runs' natural and worst returns
    (`returns`: {κ: (natural per seed, worst per seed)})."""
    rows = []
    for k in kappas:
        natural, worst = (np.asarray(x, float) for x in returns[k])
        rows.append({"kappa": k, "natural": natural.tolist(), "worst": worst.tolist(),
                     "natural median": float(np.median(natural)), "worst median": float(np.median(worst)),
                     "natural IQM": iqm(natural), "worst IQM": iqm(worst)})
    return rows


def against(rows: list, base: float = 1.0) -> list:
    """Each κ's agents against κ = `base`'s, judged as the claims are (`reproduce.judge`):
    for the worst case and the natural return, the median agents (each κ's seed with the
    lower-median worst case), their ratio, the ratio of IQMs with its interval, the exact
    rank test's p and the verdict. Empty when `base` is not among the rows."""
    by_kappa = {r["kappa"]: r for r in rows}
    if base not in by_kappa:
        return []
    ib = lower_median_index(by_kappa[base]["worst"])
    out = []
    for r in rows:
        m = lower_median_index(r["worst"])
        out.append({"kappa": r["kappa"], "median agent": m,
                    **{which: judge(r[which], m, by_kappa[base][which], ib) for which in ("worst", "natural")}})
    return out


def swept_returns(report, kappas, seeds) -> dict:
    """{κ: (natural, worst) per seed} of the sweep's report (runs grid point major)."""
    natural, worst = np.asarray(report.natural, float), np.asarray(report.worst_case, float)
    return {k: (natural[i * seeds:(i + 1) * seeds], worst[i * seeds:(i + 1) * seeds]) for i, k in enumerate(kappas)}


def parse_reuse(spec: str) -> tuple:
    """'KAPPA=RUN' -> (κ, run directory); a ConfigError naming the form otherwise."""
    kappa, sep, run = spec.partition("=")
    try:
        value = float(kappa)
    except ValueError:
        value = None
    if value is None or not sep or not run:
        raise ConfigError(f"--reuse takes KAPPA=RUN (e.g. 1=runs/table_hopper_lineage/runs/hopper-barpo), "
                          f"got {spec!r}")
    return value, run


def reused_returns(spec: str, cfg, seeds: int, attacks: str, episodes: int, attack_steps: int) -> tuple:
    """(κ, (natural, worst) per seed) of the finished run `--reuse KAPPA=RUN` names: seeds
    cfg.seed .. cfg.seed + seeds - 1 of its report, worst over the study's attacks; a
    ConfigError naming the mismatch when the run is not this study's config at that κ or its
    report lacks what the study's evaluation would hold (mixing them would compare unlike)."""
    kappa, run = parse_reuse(spec)
    differ = checkpoint.read_config(run).diff(cfg.replace(kappa=kappa), ignore=("num_seeds", "seed", *LOOP_FIELDS))
    if differ:
        raise ConfigError(f"--reuse {spec}: that run differs from the study's config in " + ", ".join(
            f"{k} ({theirs!r}, here {ours!r})" for k, (theirs, ours) in differ.items())
            + ": reuse a run of the same config")
    path = report_file(run, cfg.eps)
    if not os.path.isfile(path):
        raise ConfigError(f"--reuse {spec}: no robustness report at eps {cfg.eps:g} in {run}: evaluate it first "
                          f"(barpo eval {run} --attacks {attacks} --episodes {episodes})")
    rep = bj.RobustnessReport.load(path)
    names = [x for x in resolve(attacks) if x != "none"]
    learned_budget = {x: rep.learned.get(x, {}).get("timesteps") for x in names if x in LEARNED}
    problems = [f"it lacks {x}" for x in names if x not in rep.attacks]
    problems += [f"{x} was fitted with {t} steps, here {attack_steps}" for x, t in learned_budget.items()
                 if x in rep.attacks and t != attack_steps]
    problems += [f"{rep.episodes} episodes, here {episodes}"] * (rep.episodes != episodes)
    problems += [f"gradient attacks '{rep.strength}', here '{STRONG.describe()}'"] * (rep.strength != STRONG.describe())
    wanted = list(range(cfg.seed, cfg.seed + seeds))
    problems += [f"seeds {rep.seeds}, the study needs {wanted}"] * (not set(wanted) <= set(rep.seeds))
    if problems:
        raise ConfigError(f"--reuse {spec}: its report {path} does not match the study's evaluation ("
                          + "; ".join(problems) + "): add what it lacks with barpo eval ... --add, or train that kappa")
    rows = [rep.seeds.index(s) for s in wanted]
    worst = rep.returns[np.ix_(rows, [rep.attacks.index(x) for x in names])].min(axis=1)
    return kappa, (rep.natural[rows], worst)


def plot(rows, env, eps, path):
    """Natural and worst-case return against κ: every seed a dot, the median a line."""
    fig, ax = subplots(path, figsize=(6, 4.2))
    ks = np.asarray([r["kappa"] for r in rows])
    pos = np.arange(len(ks))  # κ = 0 belongs on the axis, so the positions are even, labelled by κ
    for which, color in (("natural", "tab:blue"), ("worst", "tab:red")):
        for j, r in enumerate(rows):
            ax.scatter(np.full(len(r[which]), pos[j]), r[which], color=color, alpha=0.35, s=14)
        ax.plot(pos, [r[f"{which} median"] for r in rows], "-o", color=color,
                label=f"{which} (median over seeds)" if which == "natural" else "worst case over attacks (median)")
    ax.set_xticks(pos, [f"{k:g}" for k in ks])
    ax.set_xlabel("κ (weight of the clean PPO loss)")
    ax.set_ylabel("return")
    ax.set_title(f"BARPO on {env}, eps = {eps:g}")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)  # below: no seed hidden
    return finish(fig, path)


def trained_report(a, cfg, kappas, budget):
    """Train the κ values in `kappas` as one sweep in OUT/sweep/ and evaluate it (each step
    resumable); exits UNFINISHED when the time budget stops either."""
    run = os.path.join(a.out, "sweep")
    resume = checkpoint.has_checkpoint(run)
    sw = bj.sweep(cfg, seeds=a.seeds, out=run, resume=resume, time_budget_s=budget.left(), kappa=kappas)
    budget.trained = True
    if sw.result.iterations < sw.result.config.num_iterations:
        print(f"time budget spent at iteration {sw.result.iterations} of {sw.result.config.num_iterations}: run the "
              "same command again to continue", flush=True)
        sys.exit(UNFINISHED)
    report_path = report_file(run, cfg.eps)
    if os.path.isfile(report_path):
        return bj.RobustnessReport.load(report_path)
    if not budget.may_evaluate():  # the next call reaches the evaluation at once
        print("time budget half spent on training: run the same command again to evaluate", flush=True)
        sys.exit(UNFINISHED)
    try:
        report = bj.evaluate(sw.result, attacks=a.attacks, episodes=a.episodes, eps=cfg.eps,
                             learned_timesteps=a.attack_steps or a.steps, masking_check=not a.no_masking_check,
                             time_budget_s=budget.left(), partial_path=partial_file(report_path))
    except bj.EvaluationStopped as stop:
        print(f"{stop}: run the same command again to continue", flush=True)
        sys.exit(UNFINISHED)
    report.save(report_path)
    return report


def write(a, cfg, rows, report, reused, provenance):
    """OUT/kappa.{json,md,png}."""
    plot(rows, cfg.env, cfg.eps, os.path.join(a.out, "kappa.png"))
    setting = (f"BARPO on {cfg.env} ({cfg.backend}), {a.seeds} seeds per kappa, {a.steps:,} env steps per run, eps "
               f"{cfg.eps:g} (training, ramped, and evaluation), {a.episodes} evaluation episodes per cell, attacks: "
               f"{', '.join(x for x in report.attacks if x != 'none')} ({report.strength} strength); masking checks: "
               f"{', '.join(report.checks) if report.checks else 'not run'}")
    if reused:
        setting += "; reused runs (seeds " + f"{cfg.seed}-{cfg.seed + a.seeds - 1}, worst over the same attacks): " + \
            ", ".join(f"kappa {k:g} from {parse_reuse(spec)[1]}" for k, spec in reused.items())
    cells = [[f"{r['kappa']:g}", f"{r['natural median']:.1f}", f"{r['natural IQM']:.1f}", f"{r['worst median']:.1f}",
              f"{r['worst IQM']:.1f}", " / ".join(f"{x:.0f}" for x in r["natural"]),
              " / ".join(f"{x:.0f}" for x in r["worst"])] for r in rows]
    sections = [("Natural return and worst case against kappa",
                 ["kappa", "natural median", "natural IQM", "worst median", "worst IQM", "natural per seed",
                  "worst per seed"], cells, setting)]
    versus = against(rows)
    if versus:
        sections.append(_against_section(versus))
    prov.write_results(os.path.join(a.out, "kappa"), provenance, {"rows": rows, "setting": setting,
                                                                  "against kappa 1": versus}, sections,
                       "The kappa study: BARPO's SPO guidance",
                       notes=["kappa.png plots every seed; the run (a bj.sweep directory) and its robustness report "
                              "are in sweep/."])
    print(open(os.path.join(a.out, "kappa.md")).read())


def _against_section(versus: list) -> tuple:
    """`against` as the claims table's columns (κ = 1 is the paper's default)."""
    cells = [[f"kappa {v['kappa']:g} (median agent: seed {v['median agent']}) / kappa 1, {which}",
              *judged_cells(v[which])] for v in versus for which in ("worst", "natural")]
    return ("Each kappa against kappa = 1", ["comparison", *CLAIM_HEADERS[2:-1]], cells,
            CLAIM_RULE + " Median agent: each kappa's seed with the (lower) median worst case, as in the tables; "
            "ratio of IQMs: percentile bootstrap over each kappa's seeds.")


def main(argv=None):
    a = args_parser().parse_args(argv)
    if a.time_budget is not None and a.time_budget < 0:
        sys.exit(f"kappa_study: error: --time-budget must be >= 0 seconds, got {a.time_budget:g}")
    budget = Budget(a.time_budget)
    provenance = prov.provenance()
    cfg = bj.TrainConfig(**{**dict(env=a.env, algo="barpo", backend=a.backend, num_timesteps=a.steps,
                                   chunk_iterations=10), **dict(a.set)})
    reused = {parse_reuse(spec)[0]: spec for spec in a.reuse}
    if set(reused) - set(a.kappa):
        raise ConfigError(f"--reuse names kappa {', '.join(f'{k:g}' for k in set(reused) - set(a.kappa))}, which "
                          "--kappa does not list: add it to --kappa")
    if set(a.kappa) <= set(reused):
        raise ConfigError("every kappa is reused, so there is nothing to train: drop a --reuse")
    returns = dict(reused_returns(spec, cfg, a.seeds, a.attacks, a.episodes, a.attack_steps or a.steps)
                   for spec in reused.values())   # checked before any training
    trained = [k for k in a.kappa if k not in reused]
    report = trained_report(a, cfg, trained, budget)
    returns.update(swept_returns(report, trained, a.seeds))
    write(a, cfg, per_kappa(a.kappa, returns), report, reused, provenance)


if __name__ == "__main__":
    interruptible(main, "kappa_study")
