"""`barpo`: train, evaluate, render, report and demo from the shell.

Bad input (a `ConfigError`, a missing file, an unwritable path) exits with status 2 and
one line on stderr, never a traceback. Anything else is a fault, not bad input: it exits
with status 1, shows its traceback and says how to report it.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import traceback
from importlib import metadata

from .config import (ALGO_ALIASES, ALGOS, BACKENDS, DEFAULT_EPISODE_LENGTH, TASKS, ConfigError, TrainConfig,
                     field_rows, field_source)

USAGE_ERRORS = 2
INTERNAL_ERROR = 1  # an unexpected exception: its traceback is shown
UNFINISHED = 3  # `--time-budget` spent: `barpo train` continues with --resume, `barpo eval` with the same command


def _num(text: str) -> int:
    """Accept 2e6, 2_000_000, 2000000."""
    try:
        value = float(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value != int(value):
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}")
    return int(value)


def check_time_budget(seconds) -> None:
    """Refuse a --time-budget that is negative or not a number (None: no limit)."""
    if seconds is not None and not seconds >= 0:
        raise ConfigError(f"--time-budget must be >= 0 seconds, got {seconds:g}")


def _kv(text: str):
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"--set takes field=value, got {text!r}")
    k, v = text.split("=", 1)
    try:
        v = json.loads(v)
    except json.JSONDecodeError:
        pass
    return k, v


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (status 2) that points to the help."""

    def error(self, message):
        self.exit(USAGE_ERRORS, f"barpo: error: {message} (see: {self.prog} --help)\n")


class _Help(argparse.ArgumentDefaultsHelpFormatter):
    """Appends each flag's default, except where there is none to show (None, an off
    switch, an empty list) or the help text states it already."""

    def _get_help_string(self, action):
        text = action.help or ""
        if "default" in text or action.default is None or action.default is False or action.default == []:
            return text
        return super()._get_help_string(action)


_DEFAULT = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
ATTACK_NAMES = "none,random,critic,mad,flip,rs,sa_rl,pa_ad (and q_step, not in 'all')"


def _version() -> str:
    """The installed package's version, from its metadata (one source: pyproject.toml)."""
    try:
        return metadata.version("barpo-jax")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="barpo", formatter_class=_Help,
                description="Adversarially robust RL (SPO / ARPO / BARPO and baselines) on Brax, as jitted JAX "
                            "programs. `barpo COMMAND --help` explains each command.")
    p.add_argument("--version", action="version", version=f"barpo-jax {_version()}")
    sub = p.add_subparsers(dest="cmd", required=True, metavar="COMMAND")

    def command(name, text):
        return sub.add_parser(name, help=text, description=text.replace("%%", "%"), formatter_class=_Help)

    _train_parser(command)
    _eval_parser(command)
    _render_parser(command)
    _other_parsers(command)
    return p


def _train_parser(command) -> None:
    """`barpo train`: the config flags, then how the run is logged, saved and split."""
    t = command("train", "train num_seeds agents in one program")
    _config_flags(t)
    _run_flags(t)


def _config_flags(t) -> None:
    """`barpo train`'s TrainConfig flags (a JSON config, the common fields, --set)."""
    t.add_argument("--config", default=None, metavar="FILE.json",
                   help="a TrainConfig as JSON, e.g. a run's saved config.json (its values are kept, presets "
                        "included); the flags below override its fields (default: none, flags and presets only)")
    t.add_argument("--env", default=None, help=f"task: {', '.join(TASKS)}, another name registered in brax.envs, or "
                   f"playground:<Name> (docs/envs.md) (default: {_DEFAULT['env']})")
    aliases = ", ".join(f"{a} = {b}" for a, b in ALGO_ALIASES.items())
    t.add_argument("--algo", default=None,
                   help=f"method: {', '.join(ALGOS)}; alias: {aliases} (default: {_DEFAULT['algo']})")
    t.add_argument("--backend", default=None, help=f"physics: {', '.join(BACKENDS)} (default: mjx on an "
                   "accelerator, positional on a CPU)")
    t.add_argument("--steps", type=_num, default=None, help="env steps per seed, e.g. 2e6 (default: task preset)")
    t.add_argument("--envs", type=_num, default=None, help="parallel envs per seed (default: task preset)")
    t.add_argument("--seeds", type=_num, default=None,
                   help=f"number of seeds trained at once (default: {_DEFAULT['num_seeds']})")
    t.add_argument("--seed", type=_num, default=None, help=f"first seed (default: {_DEFAULT['seed']})")
    t.add_argument("--eps", type=float, default=None, help="l_inf attack budget in normalised-observation units "
                   "(default: task preset, see `barpo fields`)")
    t.add_argument("--kappa", type=float, default=None,
                   help=f"SPO-guidance weight (default: {field_source('kappa')})")
    t.add_argument("--episode-length", type=_num, default=None,
                   help=f"steps before a time-limit truncation (default: {DEFAULT_EPISODE_LENGTH}; a "
                   "playground env's own)")
    t.add_argument("--set", type=_kv, action="append", default=[], metavar="FIELD=VALUE",
                   help="any other TrainConfig field, repeatable, e.g. --set num_minibatches=16 (`barpo fields` "
                        "lists them)")
    t.add_argument("--eval-every", type=_num, default=None, help="evaluate every seed every N iterations during "
                   "training, natural and under --eval-attacks; curves in learning_curve.png (default: 0, off)")
    t.add_argument("--eval-attacks", default=None, help="comma list of built-in attacks for --eval-every, e.g. "
                   f"mad,critic (default: {','.join(_DEFAULT['eval_attacks'])})")
    t.add_argument("--eval-episodes", type=_num, default=None,
                   help=f"episodes per seed and attack in each --eval-every evaluation (default: "
                        f"{_DEFAULT['eval_episodes']})")
    t.add_argument("--logdir", default=None, help="also write TensorBoard scalars here (one run per seed and their "
                   "mean; view with `tensorboard --logdir DIR`; default: none)")
    t.add_argument("--wandb", default=None, metavar="PROJECT",
                   help="also log to this Weights & Biases project: the config, each metric per seed and their mean, "
                        "the --eval-every curves (needs `pip install 'barpo-jax[wandb]'`; WANDB_ENTITY, "
                        "WANDB_MODE=offline and the other WANDB_* variables apply; --resume continues the same W&B "
                        "run; default: none)")


def _run_flags(t) -> None:
    """`barpo train`'s flags for the run itself: logging, its directory, resuming, time, processes."""
    t.add_argument("--out", required=True, help="run directory (config.json, checkpoints, metrics)")
    t.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its saved config; config flags given with it change only the "
                        "fields they name (e.g. --set chunk_iterations=5), and a change the run cannot continue "
                        "under is refused, naming the field. --steps N trains it to a new total N past the "
                        "steps done, its learning-rate anneal and eps ramp re-defined over N from where it "
                        "stands (recorded under 'extended' in config.json)")
    t.add_argument("--time-budget", type=float, default=None, metavar="SECONDS",
                   help="stop and save after the first chunk that ends this long after the start, exiting with "
                        f"status {UNFINISHED}; continue with --resume (for machines that limit each command's time; "
                        "default: no limit)")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    t.add_argument("--coordinator", default=None, metavar="HOST:PORT",
                   help="split the seeds over processes (docs/scaling.md): the address of process 0, the same in "
                        "every process; 'auto' lets JAX read it from the cluster (SLURM, Open MPI); default: one process")
    t.add_argument("--num-processes", type=_num, default=None, help="with --coordinator: processes in the run (default: none)")
    t.add_argument("--process-id", type=_num, default=None, help="with --coordinator: this process, 0 .. N-1 "
                   "(process 0 writes --out; default: none)")


def _eval_parser(command) -> None:
    """`barpo eval`: which attacks, how strong, how many episodes."""
    e = command("eval", "robustness report of a trained run")
    e.add_argument("run", help="run directory written by `barpo train`")
    e.add_argument("--attacks", default="all", help=f"'all' or a comma list of: {ATTACK_NAMES}")
    e.add_argument("--strength", default="strong", choices=["strong", "lineage"],
                   help="gradient-attack strength: strong (APGD, restarts) or lineage (10 steps of eps/10, "
                   "one start, as published tables)")
    e.add_argument("--learned-scan", default=None, choices=["none", "small", "large"],
                   help="hyper-parameter grid of sa_rl/pa_ad, strongest fit per victim kept (default: small on "
                        "a CPU, 4 fits; large on an accelerator, 12 fits; none: one fit at the run's settings)")
    e.add_argument("--rs-fits", type=_num, default=None,
                   help="robust Sarsa Q fits per victim, the strongest on held-out episodes kept (default: the "
                        "scan's: 1, or 4 with --learned-scan large); one fit is one draw, see docs/attacks.md")
    e.add_argument("--no-masking-check", action="store_true",
                   help="skip re-running each gradient attack at twice the steps and restarts")
    e.add_argument("--episodes", type=_num, default=50, help="deterministic episodes per (seed, attack) cell")
    e.add_argument("--eps", type=float, default=None, help="attack budget (default: the eps the run was trained with)")
    e.add_argument("--out", default=None, help="where to write the report (default: the run directory, files named "
                   "by eps so that evaluations at other budgets are kept)")
    e.add_argument("--attack-steps", type=_num, default=None,
                   help="training budget of each learned attack (default: the run's steps, at most 2e6); "
                        "with --add, the attacks the report holds keep the budget they were fitted at")
    e.add_argument("--add", action="store_true",
                   help="keep every column of the finished report this command writes (same eps and episodes) "
                        "and compute only what it lacks: how an attack or the masking check is added to a "
                        "finished report")
    e.add_argument("--time-budget", type=float, default=None, metavar="SECONDS",
                   help="stop after the first column that ends this long after the start, exiting with status "
                        f"{UNFINISHED}; the finished columns wait in robustness_eps<eps>.partial.json and the same "
                        "command continues from them (for machines that limit each command's time; a learned "
                        "attack's fit is not split: --attack-steps bounds it; default: no limit)")
    e.add_argument("--no-progress", action="store_true", help="no progress bars")


def _render_parser(command) -> None:
    """`barpo render`: one episode, clean and attacked."""
    w = command("render", "one deterministic episode of a run, clean and attacked side by side, as a GIF, MP4 or "
                "HTML viewer")
    w.add_argument("run", help="run directory written by `barpo train`")
    w.add_argument("--attack", default="mad", help="none (clean only), random, critic, mad, flip or q_step; the "
                   "learned attacks (rs, sa_rl, pa_ad) need a fit: use `barpo eval` for them")
    w.add_argument("--seed", type=_num, default=0, help="PRNG seed of the episode (the first episode `barpo eval` "
                   "plays with this seed)")
    w.add_argument("--run-index", type=_num, default=0, help="which run of the directory (run i was trained with "
                   "the i-th seed)")
    w.add_argument("--eps", type=float, default=None, help="attack budget (default: the eps the run was trained with)")
    w.add_argument("--strength", default="strong", choices=["strong", "lineage"],
                   help="gradient-attack strength, as in `barpo eval`")
    w.add_argument("--episode-length", type=_num, default=None, help="at most this many steps (default: the run's)")
    w.add_argument("--out", default=None, metavar="FILE.gif|FILE.mp4|FILE.html",
                   help="the file to write; its extension picks the format: .gif or .mp4 (clean | attacked "
                   "frames drawn by MuJoCo, headless) or .html (the Brax viewer, loads its scripts online) "
                   "(default: RUN/render_<attack>[_run<I>]_seed<N>.gif)")


def _other_parsers(command) -> None:
    """`barpo export`, `report`, `compare`, `fields` and `demo`."""
    x = command("export", "one run's deterministic policy as files that run without barpo-jax: arrays (npz) and "
                "their description (json), a numpy-only policy.py, and a jax.export program")
    x.add_argument("run", help="run directory written by `barpo train`")
    x.add_argument("--out", required=True, help="folder to write policy.{npz,json,py,jax_export} into (created if "
                   "missing; files of those names are replaced)")
    x.add_argument("--run-index", type=_num, default=0, help="which run of the directory (run i was trained with "
                   "the i-th seed)")

    r = command("report", "learning-curve PNG and summary of a run")
    r.add_argument("run", help="run directory written by `barpo train`")

    c = command("compare", "one table and plots over several runs: median agent, IQM with bootstrap 95%% CIs")
    c.add_argument("runs", nargs="+", metavar="RUN", help="run directories (each evaluated with `barpo eval`, "
                   "or else compared on its final training return); RUN+RUN2 pools one method's seeds "
                   "trained in two runs (`barpo train --seed`) as one row")
    c.add_argument("--out", default=None, help="write comparison.{csv,md} and the plots here (default: print only)")
    c.add_argument("--eps", type=float, default=None,
                   help="which robustness report to read (default: the one at each run's training eps)")
    c.add_argument("--reps", type=_num, default=2000, help="bootstrap resamples for the confidence intervals")

    f = command("fields", "every TrainConfig field (what --set and --config accept): type, default, preset source")
    f.add_argument("--env", default=None, help="also show the values resolved for this task (default: none)")
    f.add_argument("--algo", default=None, help=f"with --env: the method (default: {_DEFAULT['algo']})")
    f.add_argument("--backend", default=None, help="with --env: the physics (default: automatic)")
    f.add_argument("--json", action="store_true", help="print JSON instead of a table")

    d = command("demo", "the main job: a short BARPO training plus a robustness report (CPU-sized)")
    d.add_argument("--out", default="runs/demo", help="run directory (resumed if it holds the demo already)")
    d.add_argument("--algo", default="barpo", help=f"method: {', '.join(ALGOS)}")
    d.add_argument("--env", default="inverted_pendulum", help="task (spring physics)")
    d.add_argument("--steps", type=_num, default=300_000, help="env steps per seed")
    d.add_argument("--seeds", type=_num, default=3, help="seeds trained at once")
    d.add_argument("--episodes", type=_num, default=20, help="evaluation episodes per (seed, attack)")
    d.add_argument("--eps", type=float, default=0.3, help="attack budget for training and evaluation")
    d.add_argument("--no-progress", action="store_true", help="no progress bars")


_CONFIG_FLAGS = (("env", "env"), ("algo", "algo"), ("seeds", "num_seeds"), ("seed", "seed"), ("backend", "backend"),
                 ("steps", "num_timesteps"), ("envs", "num_envs"), ("eps", "eps"), ("kappa", "kappa"),
                 ("episode_length", "episode_length"), ("eval_every", "eval_every"),
                 ("eval_attacks", "eval_attacks"), ("eval_episodes", "eval_episodes"))


def _read_config_file(path: str) -> dict:
    """The fields of a JSON config file (a run's config.json is one)."""
    try:
        with open(path) as f:
            fields = json.load(f)
    except FileNotFoundError:
        raise ConfigError(f"config file {path!r} not found: check the path") from None
    except json.JSONDecodeError as e:
        raise ConfigError(f"config file {path!r} is not JSON ({e}): fix it or pass flags instead") from None
    if not isinstance(fields, dict):
        raise ConfigError(f"config file {path!r} must hold one JSON object {{field: value}}")
    return fields


def _train_config(a, saved: dict = None) -> TrainConfig:
    """`saved` (a resumed run's fields), then --config's fields, then the flags given, then
    --set: later ones win. Layered on the saved fields, `--resume --seeds 2` names one field
    rather than resetting every unnamed one to its default (the resume then checks that
    nothing it cannot continue has changed)."""
    fields = dict(saved or {})
    fields.update(_read_config_file(a.config) if a.config else {})
    fields.update({name: getattr(a, flag) for flag, name in _CONFIG_FLAGS if getattr(a, flag) is not None})
    fields.update(dict(a.set))
    return TrainConfig.from_dict(fields)


def cmd_train(a):
    import barpo_jax as bj
    from . import checkpoint
    if a.coordinator is not None or a.num_processes is not None or a.process_id is not None:
        from . import distributed   # before anything starts JAX's backend
        distributed.initialize(a.coordinator, a.num_processes, a.process_id)
    # A missing run is left to `train`, which says "nothing to resume" and how to start one.
    saved = checkpoint.read_config(a.out) if a.resume and os.path.isfile(os.path.join(a.out, "config.json")) else None
    cfg = _train_config(a, saved.to_dict() if saved is not None else None)
    check_time_budget(a.time_budget)
    # Layered on the saved fields, a new total is one the user named (--steps): train to it.
    result = bj.train(cfg, out=a.out, resume=a.resume, progress=not a.no_progress, logdir=a.logdir, wandb=a.wandb,
                      time_budget_s=a.time_budget, extend=a.resume)
    import jax
    if jax.process_index() != 0:   # process 0 writes the run directory and reports it
        return 0
    report_files = write_report(a.out, result)
    print(json.dumps(result.summary()))
    print(f"saved {a.out} ({', '.join(report_files)})")
    if result.iterations < cfg.num_iterations:
        print(f"time budget spent at iteration {result.iterations} of {cfg.num_iterations}: continue with "
              f"`barpo train --out {a.out} --resume`")
        return UNFINISHED
    return 0


def cmd_fields(a):
    resolved = None
    if a.env is not None:
        resolved = TrainConfig(env=a.env, algo=a.algo or _DEFAULT["algo"], backend=a.backend)
    rows = field_rows(resolved)
    if a.json:
        print(json.dumps(rows, indent=1, default=str))
        return
    heads = ["field", "type", "default"] + (["value"] if resolved else []) + ["preset (when None)"]
    keys = ["field", "type", "default"] + (["value"] if resolved else []) + ["preset"]
    cells = [[str(r[k]) for k in keys] for r in rows]
    width = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(heads[:-1])]
    line = lambda cs: "  ".join(c.ljust(w) for c, w in zip(cs, width)) + "  " + cs[-1]
    if resolved:
        print(f"values for env={resolved.env}, algo={resolved.algo}, backend={resolved.backend}")
    print(line(heads))
    for c in cells:
        print(line(c).rstrip())


def cmd_compare(a):
    from .compare import compare, pooled_paths
    runs = [pooled_paths(r) for r in a.runs]
    comparison = compare(runs, out=a.out, eps=a.eps, reps=a.reps)
    print(comparison.table())
    if a.out:
        print(f"wrote {', '.join(comparison.files)}")


def write_report(out: str, result) -> list:
    """Learning curve PNG + summary.json in the run directory (with the run's new totals,
    `extended`, when it was trained longer than first set)."""
    from .checkpoint import extensions
    from .plots import learning_curve
    learning_curve(result.metrics, result.config, os.path.join(out, "learning_curve.png"))
    extended = extensions(out)
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump({**result.summary(), **({"extended": extended} if extended else {})}, f, indent=2)
    return ["learning_curve.png", "summary.json", "metrics.csv", "metrics.json"]


def _load_run(path):
    """The TrainResult in a run directory (a sweep's: all its grid points' runs)."""
    import barpo_jax as bj
    result = bj.load(path)
    return result.result if isinstance(result, bj.SweepResult) else result


def cmd_report(a):
    result = _load_run(a.run)
    write_report(a.run, result)
    s = result.summary()
    print(f"{s['env']} / {s['algo']}: {s['runs']} run(s), {s['iterations']} iterations, "
          f"{s['env_steps_per_run']:,} env steps per run")
    for i, r in enumerate(s["final_return_per_run"]):
        print(f"  run {i}: final training-episode return {r:.1f}")
    print(f"wrote {os.path.join(a.run, 'learning_curve.png')}")


def cmd_eval(a):
    import barpo_jax as bj
    from .evaluate import partial_file, report_file
    check_time_budget(a.time_budget)
    result = _load_run(a.run)
    eps = result.config.eps if a.eps is None else a.eps
    # Stopped midway (Ctrl-C, a killed job), the same command resumes from the last finished column.
    finished = report_file(a.out or a.run, eps)
    reuse = _finished_report(finished, a) if a.add and os.path.isfile(finished) else None
    # --add never drops a column: the new report holds the old one's attacks and the named ones.
    attacks = a.attacks if reuse is None else list(dict.fromkeys(reuse.attacks + list(bj.attacks.resolve(a.attacks))))
    budgets = a.attack_steps if reuse is None else _kept_fits(reuse, attacks, a)
    try:
        report = bj.evaluate(result, attacks=attacks, eps=a.eps, episodes=a.episodes,
                             learned_timesteps=budgets, progress=not a.no_progress, strength=a.strength,
                             masking_check=not a.no_masking_check, learned_scan=_scan(a),
                             partial_path=partial_file(finished), reuse=reuse, time_budget_s=a.time_budget)
    except bj.EvaluationStopped as stop:
        print(f"time budget spent after {stop.done} of {stop.total} columns, kept in {stop.partial_path}: "
              "run the same command again to continue")
        return UNFINISHED
    _write_eval(a.out or a.run, report)


def _finished_report(path: str, a):
    """The report `barpo eval --add` adds to: one of built-in attacks on as many episodes."""
    import barpo_jax as bj
    report = bj.RobustnessReport.load(path)
    if report.episodes != a.episodes:
        raise ConfigError(f"--add: {path} was evaluated on {report.episodes} episodes, this command on "
                          f"{a.episodes}: pass --episodes {report.episodes}, or drop --add to evaluate afresh")
    foreign = [n for n in report.attacks if n not in bj.attacks.NAMES and n != "none"]
    if foreign:
        raise ConfigError(f"--add: {path} holds attacks the command line cannot recompute ({', '.join(foreign)}): "
                          "add to it from Python, bj.evaluate(..., reuse=bj.RobustnessReport.load(path))")
    print(f"--add: keeping {', '.join(report.attacks)} from {path}")
    return report


def _scan(a):
    """The command's LearnedScan: --learned-scan's, with --rs-fits robust Sarsa fits where
    given (chosen on the scan's held-out episodes, or 8 for a scan without)."""
    import barpo_jax as bj
    scan = bj.attacks.scan(a.learned_scan)
    fits = getattr(a, "rs_fits", None)
    if fits is None or fits == scan.sarsa_fits:
        return scan
    return bj.attacks.scan(scan._replace(sarsa_fits=fits, select_episodes=scan.select_episodes or 8))


def _kept_fits(report, attacks: list, a) -> dict:
    """Each learned attack's budget for `barpo eval --add`: the one it was fitted at where
    the report holds it (its columns are kept, not refitted), --attack-steps for the new
    ones. A kept policy attack fitted over another scan than this command's is refused:
    evaluate would refit it."""
    import barpo_jax as bj
    scan = _scan(a)
    for name, info in report.learned.items():
        item = bj.attacks.LEARNED.get(name)
        if name not in report.attacks or item is None or item.fitted_alike(info, scan):
            continue
        if item.scan_label is not None:   # robust Sarsa: its number of fits
            fits = info["scan"].split(" ")[0] if "scan" in info else "1"
            raise ConfigError(f"--add: {name} in the report was fitted {fits} time(s) per victim; pass "
                              f"--rs-fits {fits} to keep it, or evaluate a copy of the run (`cp -r`) "
                              f"with --rs-fits {scan.sarsa_fits} and no --add")
        raise ConfigError(f"--add: {name} in the report was fitted over the scan '{info['scan']}'; pass "
                          f"--learned-scan {info['scan'].split(':')[0]} to keep it")
    learned = [n for n, item in bj.attacks.resolve(attacks).items() if isinstance(item, bj.attacks.Learned)]
    kept = {n: report.learned[n]["timesteps"] for n in learned
            if n in report.attacks and "timesteps" in report.learned.get(n, {})}
    return {n: kept.get(n, a.attack_steps) for n in learned}


def cmd_render(a):
    import barpo_jax as bj
    from .render import check_attack
    check_attack(a.attack)   # before the run is loaded
    result = _load_run(a.run)
    run = f"_run{a.run_index}" if a.run_index else ""
    out = a.out or os.path.join(a.run, f"render_{a.attack}{run}_seed{a.seed}.gif")
    shown = bj.render(result, seed=a.seed, attack=a.attack, eps=a.eps, path=out, episode_length=a.episode_length,
                      run=a.run_index, strength=a.strength)
    print(shown.summary())


def cmd_export(a):
    result = _load_run(a.run)
    paths = result.export(a.out, run=a.run_index)
    print(f"exported run {a.run_index} of {a.run} to {a.out}: "
          f"{', '.join(os.path.basename(p) for p in paths.values())}")
    print(f"numpy only: import policy (from {a.out}); act = policy.load({a.out!r}); act(obs). "
          f"JAX: jax.export.deserialize(open({paths['program']!r}, 'rb').read()).call(obs_batch)")


def _write_eval(out, report):
    """robustness_eps<eps>.{json,csv,md,png} in `out`: one set per budget, never overwritten by another."""
    from .evaluate import report_file
    print(report.table())
    stem = report_file(out, report.eps)[:-len(".json")]
    os.makedirs(out, exist_ok=True)
    report.save(stem + ".json")
    report.save_csv(stem + ".csv")
    report.plot(stem + ".png")
    with open(stem + ".md", "w") as f:
        f.write(report.table() + "\n")
    print(f"wrote {stem}.json, .csv, .md, .png")


def cmd_demo(a):
    """Short BARPO training on a small task, then every attack, on a 2-core CPU."""
    import barpo_jax as bj
    from . import checkpoint
    cfg = bj.TrainConfig(env=a.env, algo=a.algo, backend="spring", num_timesteps=a.steps, num_envs=256,
                         unroll_length=16, num_minibatches=16, num_epochs=4, episode_length=200,
                         num_seeds=a.seeds, chunk_iterations=5, eps=a.eps)
    resume = checkpoint.has_checkpoint(a.out)
    if resume:
        print(f"resuming the demo run in {a.out}")
    result = bj.train(cfg, out=a.out, resume=resume, progress=not a.no_progress)
    write_report(a.out, result)
    report = bj.evaluate(result, attacks="all", eps=cfg.eps, episodes=a.episodes, learned_timesteps=a.steps // 2,
                         progress=not a.no_progress)
    _write_eval(a.out, report)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser().parse_args(argv)
    from . import checkpoint, compile_cache
    from .quiet import quiet_third_party
    quiet_third_party()   # Brax's "not maintained" warning, MJX's "Failed to import warp": not ours to show
    compile_cache.enable()
    try:
        handler = {"train": cmd_train, "eval": cmd_eval, "report": cmd_report, "demo": cmd_demo,
                   "fields": cmd_fields, "compare": cmd_compare, "render": cmd_render,
                   "export": cmd_export}[args.cmd]
        with checkpoint.stop_on_sigterm():   # `kill PID` saves and stops as Ctrl-C does
            code = handler(args) or 0  # a command returns a status only when it is not 0 (train: UNFINISHED)
    except (ConfigError, FileNotFoundError) as e:   # documented bad input: one line, no traceback
        print(f"barpo: error: {e}", file=sys.stderr)
        return USAGE_ERRORS
    except OSError as e:  # e.g. an unwritable or full --out outside a checkpoint save
        print(f"barpo: error: {e.strerror or e} ({e.filename or 'file system'}): free space or choose a "
              "writable path", file=sys.stderr)
        return USAGE_ERRORS
    except KeyboardInterrupt:
        print("barpo: interrupted; " + {
            "eval": "the finished attack columns are kept (the same command continues from them)",
            "train": "the last checkpoint is kept (continue with --resume)",
        }.get(args.cmd, "the last checkpoint is kept (run the same command again to continue)"), file=sys.stderr)
        return 130
    except Exception:   # not bad input but a fault in barpo-jax or below it: keep the evidence
        traceback.print_exc()
        print(f"barpo: internal error in `barpo {args.cmd}` (the traceback above), not a problem with your input. "
              f"Please report it with the command, `barpo --version` and this traceback; what was saved under "
              f"--out before it is kept.", file=sys.stderr)
        return INTERNAL_ERROR
    return code


if __name__ == "__main__":
    sys.exit(main())
