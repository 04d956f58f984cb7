"""`barpo`: train, evaluate, report and demo from the shell.

Bad input exits with status 2 and one line on stderr, never a traceback.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

USAGE_ERRORS = 2


def _num(text: str) -> int:
    """Accept 2e6, 2_000_000, 2000000."""
    try:
        value = float(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value != int(value):
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}")
    return int(value)


def _kv(text: str):
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"--set takes field=value, got {text!r}")
    k, v = text.split("=", 1)
    try:
        v = json.loads(v)
    except json.JSONDecodeError:
        pass
    return k, v


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="barpo", description="Adversarially robust RL (SPO / ARPO / BARPO and "
                                "baselines) on Brax, as jitted JAX programs.")
    sub = p.add_subparsers(dest="cmd", required=True)

    t = sub.add_parser("train", help="train num_seeds agents in one program")
    t.add_argument("--env", default="hopper")
    t.add_argument("--algo", default="spo")
    t.add_argument("--backend", default=None, help="mjx, generalized, positional or spring (default: mjx on an accelerator, positional on a CPU)")
    t.add_argument("--steps", type=_num, default=None, help="env steps per seed, e.g. 2e6 (default: task preset)")
    t.add_argument("--envs", type=_num, default=None, help="parallel envs per seed (default: task preset)")
    t.add_argument("--seeds", type=_num, default=1, help="number of seeds trained at once")
    t.add_argument("--seed", type=_num, default=0, help="first seed")
    t.add_argument("--eps", type=float, default=None, help="attack budget (default: task preset)")
    t.add_argument("--kappa", type=float, default=None, help="SPO-guidance weight")
    t.add_argument("--episode-length", type=_num, default=None)
    t.add_argument("--set", type=_kv, action="append", default=[], metavar="FIELD=VALUE",
                   help="any other TrainConfig field, e.g. --set num_minibatches=16")
    t.add_argument("--out", required=True, help="run directory (checkpoints, metrics)")
    t.add_argument("--resume", action="store_true", help="continue the run in --out")
    t.add_argument("--no-progress", action="store_true")

    e = sub.add_parser("eval", help="robustness report of a trained run")
    e.add_argument("run")
    e.add_argument("--attacks", default="all", help="'all' or a comma list: none,random,critic,mad,flip,rs,sa_rl,"
                   "pa_ad (and q_step, not in 'all')")
    e.add_argument("--strength", default="strong", choices=["strong", "lineage"],
                   help="gradient-attack strength: strong (APGD, restarts; default) or lineage (10 steps of eps/10, "
                   "one start, as published tables)")
    e.add_argument("--learned-scan", default=None, choices=["none", "small", "large"],
                   help="hyper-parameter grid of sa_rl/pa_ad, strongest fit per victim kept (default: small on "
                        "a CPU, 4 fits; large on an accelerator, 12 fits; none: one fit at the run's settings)")
    e.add_argument("--no-masking-check", action="store_true",
                   help="skip re-running each gradient attack at twice the steps and restarts")
    e.add_argument("--episodes", type=_num, default=50)
    e.add_argument("--eps", type=float, default=None, help="attack budget (default: the eps the run was trained with)")
    e.add_argument("--out", default=None, help="where to write the report (default: the run directory, files named "
                   "by eps so that evaluations at other budgets are kept)")
    e.add_argument("--attack-steps", type=_num, default=None, help="training budget of each learned attack")
    e.add_argument("--no-progress", action="store_true")

    r = sub.add_parser("report", help="learning-curve PNG and summary of a run")
    r.add_argument("run")

    d = sub.add_parser("demo", help="the main job: a short BARPO training plus a robustness report (CPU-sized)")
    d.add_argument("--out", default="runs/demo")
    d.add_argument("--algo", default="barpo")
    d.add_argument("--env", default="inverted_pendulum")
    d.add_argument("--steps", type=_num, default=300_000)
    d.add_argument("--seeds", type=_num, default=3)
    d.add_argument("--episodes", type=_num, default=20)
    d.add_argument("--eps", type=float, default=0.3, help="attack budget for training and evaluation")
    d.add_argument("--no-progress", action="store_true")
    return p


def _train_config(a):
    import barpo_jax as bj
    fields = dict(env=a.env, algo=a.algo, num_seeds=a.seeds, seed=a.seed)
    for name, value in (("backend", a.backend), ("num_timesteps", a.steps), ("num_envs", a.envs),
                        ("eps", a.eps), ("kappa", a.kappa), ("episode_length", a.episode_length)):
        if value is not None:
            fields[name] = value
    fields.update(dict(a.set))
    return bj.TrainConfig.from_dict(fields)


def cmd_train(a):
    import barpo_jax as bj
    from . import checkpoint
    cfg = checkpoint.read_config(a.out) if a.resume and not _explicit_train_args(a.argv) else _train_config(a)
    result = bj.train(cfg, out=a.out, resume=a.resume, progress=not a.no_progress)
    report_files = write_report(a.out, result)
    print(json.dumps(result.summary()))
    print(f"saved {a.out} ({', '.join(report_files)})")


def _explicit_train_args(argv) -> bool:
    """Did the user name any config field? (If not, --resume continues the saved config.)"""
    return any(x in argv for x in ("--env", "--algo", "--steps", "--envs", "--seeds", "--seed", "--eps",
                                       "--kappa", "--backend", "--episode-length", "--set"))


def write_report(out: str, result) -> list:
    """Learning curve PNG + summary.json in the run directory."""
    from .plots import learning_curve
    learning_curve(result.metrics, result.config, os.path.join(out, "learning_curve.png"))
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(result.summary(), f, indent=2)
    return ["learning_curve.png", "summary.json", "metrics.csv", "metrics.json"]


def cmd_report(a):
    import barpo_jax as bj
    result = bj.load(a.run)
    write_report(a.run, result)
    s = result.summary()
    print(f"{s['env']} / {s['algo']}: {s['runs']} run(s), {s['iterations']} iterations, "
          f"{s['env_steps_per_run']:,} env steps per run")
    for i, r in enumerate(s["final_return_per_run"]):
        print(f"  run {i}: final training-episode return {r:.1f}")
    print(f"wrote {os.path.join(a.run, 'learning_curve.png')}")


def cmd_eval(a):
    import barpo_jax as bj
    result = bj.load(a.run)
    report = bj.evaluate(result, attacks=a.attacks, eps=a.eps, episodes=a.episodes,
                         learned_timesteps=a.attack_steps, progress=not a.no_progress, strength=a.strength,
                         masking_check=not a.no_masking_check, learned_scan=a.learned_scan)
    _write_eval(a.out or a.run, report)


def _write_eval(out, report):
    """robustness_eps<eps>.{json,md,png} in `out`: one set per budget, never overwritten by another."""
    print(report.table())
    stem = os.path.join(out, f"robustness_eps{report.eps:g}")
    os.makedirs(out, exist_ok=True)
    report.save(stem + ".json")
    report.plot(stem + ".png")
    with open(stem + ".md", "w") as f:
        f.write(report.table() + "\n")
    print(f"wrote {stem}.json, .md, .png")


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
    from .config import ConfigError
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser().parse_args(argv)
    args.argv = argv
    from . import compile_cache
    compile_cache.enable()
    try:
        {"train": cmd_train, "eval": cmd_eval, "report": cmd_report, "demo": cmd_demo}[args.cmd](args)
    except (ConfigError, ValueError, FileNotFoundError) as e:
        print(f"barpo: error: {e}", file=sys.stderr)
        return USAGE_ERRORS
    except OSError as e:  # e.g. an unwritable or full --out outside a checkpoint save
        print(f"barpo: error: {e.strerror or e} ({e.filename or 'file system'}): free space or choose a "
              "writable path", file=sys.stderr)
        return USAGE_ERRORS
    except KeyboardInterrupt:
        print("barpo: interrupted; the last checkpoint is kept (continue with --resume)", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
