"""The `barpo` command line: a small run end to end, help on every flag, and bad input."""
import argparse
import csv
import json
import os
import subprocess
import sys
from importlib import metadata

import pytest

from barpo_jax import cli
from barpo_jax.config import TrainConfig
from helpers import SMALL, run_cli

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def barpo(*args, timeout=600):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "barpo_jax", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_help():
    r = barpo("--help")
    assert r.returncode == 0 and "train" in r.stdout and "eval" in r.stdout


@pytest.mark.slow
def test_train_report_eval_resume(tmp_path, capsys):
    # In this process (run_cli), so the compiled programs are shared with the other tests;
    # test_bad_input_in_a_fresh_process covers a real `python -m barpo_jax` process.
    out = str(tmp_path / "run")
    code, _, err = run_cli(capsys, "train", *SMALL, "--seeds", "2", "--out", out)
    assert code == 0, err[-3000:]
    assert os.path.isfile(os.path.join(out, "learning_curve.png"))
    code, stdout, err = run_cli(capsys, "report", out)
    assert code == 0 and "2 run(s)" in stdout, err[-3000:]
    code, stdout, err = run_cli(capsys, "eval", out, "--attacks", "random,mad", "--episodes", "3", "--no-progress",
                                "--no-masking-check")
    assert code == 0, err[-3000:]
    assert "| seed 0" in stdout and os.path.isfile(os.path.join(out, "robustness_eps0.1.png"))
    with open(os.path.join(out, "robustness_eps0.1.csv")) as f:
        rows = list(csv.DictReader(f))
    assert [int(row["seed"]) for row in rows] == [0, 1] and "mad_mean" in rows[0] and "worst" in rows[0]
    assert "eps = 0.1" in stdout  # the run's own eps (inverted_pendulum's default), printed
    # --add keeps the finished columns (a marked one survives) and computes only the new attack
    report = os.path.join(out, "robustness_eps0.1.json")
    with open(report) as f:
        saved = json.load(f)
    saved["returns"][0][saved["attacks"].index("random")] = -12345.0
    with open(report, "w") as f:
        json.dump(saved, f)
    code, stdout, err = run_cli(capsys, "eval", out, "--attacks", "flip", "--episodes", "3",
                                "--no-progress", "--no-masking-check", "--add")
    assert code == 0, err[-3000:]
    with open(report) as f:
        added = json.load(f)
    assert added["attacks"] == ["none", "random", "mad", "flip"] and added["returns"][0][1] == -12345.0
    code, _, err = run_cli(capsys, "eval", out, "--attacks", "flip", "--episodes", "4", "--no-progress", "--add")
    assert code == 2 and "--episodes 3" in err and "Traceback" not in err
    code, _, err = run_cli(capsys, "eval", out, "--attacks", "random", "--episodes", "2", "--eps", "0.2",
                           "--no-progress")
    assert code == 0, err[-3000:]
    assert os.path.isfile(os.path.join(out, "robustness_eps0.2.json"))
    assert os.path.isfile(os.path.join(out, "robustness_eps0.1.json")), "a second budget keeps the first report"
    code, _, err = run_cli(capsys, "train", *SMALL, "--seeds", "2", "--out", out)  # already there: refuse, keep it
    assert code == 2 and "--resume" in err and "Traceback" not in err
    code, _, err = run_cli(capsys, "train", "--out", out, "--resume", "--no-progress")  # finished: a no-op
    assert code == 0, err[-3000:]


def test_add_keeps_each_learned_attacks_own_fit():
    import numpy as np
    from barpo_jax.config import ConfigError
    from barpo_jax.evaluate import RobustnessReport
    small = "small: learning rate [0.0003, 0.003] x entropy [0.0, 0.01], strongest on 8 held-out episodes kept per victim"
    report = RobustnessReport("hopper", "barpo", 0.075, 50, ["none", "rs", "sa_rl"], np.zeros((2, 3)),
                              np.zeros((2, 3)), [0, 1], "strong", [], None, {},
                              {"rs": {"timesteps": 1998848}, "sa_rl": {"scan": small, "timesteps": 300000}}, 0)
    add = argparse.Namespace(learned_scan="small", attack_steps=None)
    budgets = cli._kept_fits(report, ["none", "rs", "sa_rl", "pa_ad", "mad"], add)
    assert budgets == {"rs": 1998848, "sa_rl": 300000, "pa_ad": None}   # pa_ad: the command's (the default)
    assert cli._kept_fits(report, ["none", "rs", "pa_ad"], argparse.Namespace(learned_scan="small", attack_steps=7)) \
        == {"rs": 1998848, "pa_ad": 7}
    with pytest.raises(ConfigError, match="--learned-scan small"):   # sa_rl would be refitted over 'none'
        cli._kept_fits(report, ["none", "rs", "sa_rl"], argparse.Namespace(learned_scan="none", attack_steps=None))
    # rs fitted once is kept only at one fit; rs fitted several times only at as many
    with pytest.raises(ConfigError, match="--rs-fits 1 "):
        cli._kept_fits(report, ["none", "rs"], argparse.Namespace(learned_scan="small", attack_steps=None, rs_fits=4))
    from barpo_jax import attacks
    four = attacks.scan("small")._replace(sarsa_fits=4).describe_sarsa()
    report.learned["rs"] = {"scan": four, "timesteps": 1998848}
    with pytest.raises(ConfigError, match="--rs-fits 4 "):
        cli._kept_fits(report, ["none", "rs"], argparse.Namespace(learned_scan="small", attack_steps=None))
    assert cli._kept_fits(report, ["none", "rs"], argparse.Namespace(learned_scan="small", attack_steps=None,
                                                                      rs_fits=4)) == {"rs": 1998848}


def assert_one_error_line(err):
    errors = [line for line in err.splitlines() if line.startswith("barpo: error:")]
    assert len(errors) == 1 and "Traceback" not in err, err
    assert all(line.startswith("barpo: ") for line in err.strip().splitlines()), err  # nothing but our lines


@pytest.mark.parametrize("args, fragment", [
    (["train", "--env", "nope", "--out", "x"], "unknown env"),
    (["train", "--algo", "nope", "--out", "x"], "unknown algo"),
    (["train", "--backend", "nope", "--out", "x"], "unknown backend"),
    (["train", "--steps", "-5", "--out", "x"], "num_timesteps must be a positive integer"),
    (["train", "--seeds", "0", "--out", "x"], "num_seeds"),
    (["train", "--eps", "-1", "--out", "x"], "eps must be >= 0"),
    (["train", "--envs", "30", "--set", "unroll_length=1", "--out", "x"], "does not divide"),
    (["train", "--config", "/nonexistent/config.json", "--out", "x"], "config file"),
    (["train", "--set", "nope=1", "--backend", "spring", "--out", "x"], "unknown config fields"),
    (["train", "--steps", "lots", "--out", "x"], "not a number"),
    (["train", "--env", "hopper"], "required: --out"),
    (["eval", "/nonexistent/run"], "no run found"),
    (["report", "/nonexistent/run"], "no run found"),
    (["compare", "/nonexistent/run"], "no run found"),
    (["fields", "--env", "nope"], "unknown env"),
    (["nope"], "invalid choice"),
])
def test_bad_input_exits_2_with_one_line(capsys, args, fragment):
    code, _, err = run_cli(capsys, *args)
    assert code == 2, (code, err)
    assert fragment in err, err
    assert_one_error_line(err)


@pytest.mark.slow
def test_time_budget_exits_3_and_resume_finishes(tmp_path, capsys):
    out = str(tmp_path / "run")
    code, stdout, _ = run_cli(capsys, "train", *SMALL, "--time-budget", "0", "--out", out)
    assert code == cli.UNFINISHED and "continue with `barpo train --out" in stdout
    assert json.loads(stdout.splitlines()[0])["iterations"] == 4  # one chunk of 4 of the 8 iterations
    # Flags given with --resume change only the fields they name; the rest are the run's own.
    code, _, err = run_cli(capsys, "train", "--out", out, "--resume", "--seeds", "2", "--no-progress")
    assert code == 2 and "num_seeds: saved 1 vs now 2" in err and "env" not in err.split("config (")[1], err
    code, stdout, _ = run_cli(capsys, "train", "--out", out, "--resume", "--seeds", "1", "--set", "chunk_iterations=2",
                              "--time-budget", "0", "--no-progress")
    assert code == cli.UNFINISHED and json.loads(stdout.splitlines()[0])["iterations"] == 6
    code, stdout, _ = run_cli(capsys, "train", "--out", out, "--resume", "--time-budget", "3600", "--no-progress")
    assert code == 0 and json.loads(stdout.splitlines()[0])["iterations"] == 8
    code, _, err = run_cli(capsys, "train", *SMALL, "--time-budget", "-5", "--out", str(tmp_path / "x"))
    assert code == 2 and "--time-budget must be >= 0" in err
    # eval stops after the first column past its budget; the same command continues from the finished ones
    evaluation = ["eval", out, "--attacks", "random,mad", "--episodes", "2", "--no-masking-check", "--no-progress"]
    partial = os.path.join(out, "robustness_eps0.1.partial.json")
    for finished in (1, 2):
        code, stdout, _ = run_cli(capsys, *evaluation, "--time-budget", "0")
        assert code == cli.UNFINISHED and "run the same command again" in stdout
        with open(partial) as f:
            assert len(json.load(f)["attacks"]) == finished
    code, _, err = run_cli(capsys, *evaluation, "--time-budget", "3600")
    assert code == 0 and not os.path.exists(partial), err[-3000:]
    with open(os.path.join(out, "robustness_eps0.1.json")) as f:
        assert json.load(f)["attacks"] == ["none", "random", "mad"]
    code, _, err = run_cli(capsys, *evaluation, "--time-budget", "-1")
    assert code == 2 and "--time-budget must be >= 0" in err


@pytest.mark.parametrize("fault", [ValueError("shapes (3,) and (4,) do not align"), KeyError("stats")])
def test_an_internal_error_shows_its_traceback_and_how_to_report_it(capsys, monkeypatch, fault):
    """A bug is not bad input: a ValueError from deep inside (numpy, jax) must not read as a
    usage error, and its traceback is the evidence a report needs."""
    def broken(args):
        raise fault
    monkeypatch.setattr(cli, "cmd_fields", broken)
    code, _, err = run_cli(capsys, "fields")
    assert code == cli.INTERNAL_ERROR, (code, err)
    assert "Traceback" in err and type(fault).__name__ in err and "internal error in `barpo fields`" in err
    assert "report it" in err


def test_bad_input_in_a_fresh_process_has_no_traceback():
    r = barpo("train", "--algo", "nope", "--backend", "spring", "--out", "x")
    assert r.returncode == 2 and "unknown algo" in r.stderr and "Traceback" not in r.stderr


def _subcommands():
    sub = next(a for a in cli.parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices


def test_every_flag_of_every_command_has_help_and_shows_its_default():
    formatter = cli._Help("barpo")
    for name, p in _subcommands().items():
        assert p.description, name
        for action in p._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            where = f"barpo {name} {action.option_strings or action.dest}"
            assert action.help and len(action.help) > 8, where
            shows_default = "default" in formatter._get_help_string(action)
            is_switch_or_required = action.default is False or action.required or not action.option_strings
            assert shows_default or is_switch_or_required or action.default == [], where
            if action.dest in ("env", "algo", "backend") and name == "train":
                assert "," in action.help, f"{where}: the choices are listed"


def test_help_lists_choices_and_defaults(capsys):
    code, out, _ = run_cli(capsys, "train", "--help")
    assert code == 0
    assert "inverted_pendulum" in out and "barpo_unguided" in out and "ppo = spo" in out
    assert "(default: hopper)" in out and "(default: 1)" in out
    code, out, _ = run_cli(capsys, "eval", "--help")
    assert "(default: 50)" in out and "(default: strong)" in out


def test_version_comes_from_package_metadata(capsys):
    code, out, _ = run_cli(capsys, "--version")
    assert code == 0 and out.strip() == f"barpo-jax {metadata.version('barpo-jax')}"


def test_fields_lists_every_config_field_with_its_preset_source(capsys):
    code, out, _ = run_cli(capsys, "fields")
    assert code == 0
    lines = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert set(lines) == {f for f in TrainConfig.__dataclass_fields__}
    assert "EPS_PRESETS: hopper=0.075" in lines["eps"] and "CPU_PRESETS" in lines["num_envs"]
    assert lines["num_seeds"].split()[1:3] == ["int", "1"]
    code, out, _ = run_cli(capsys, "fields", "--env", "hopper", "--backend", "positional", "--json")
    rows = {r["field"]: r for r in json.loads(out)}
    assert rows["num_envs"]["value"] == 32 and rows["num_envs"]["default"] == "preset"
    assert rows["eps"]["value"] == 0.075


def test_ppo_is_spo():
    cfg = TrainConfig(env="inverted_pendulum", backend="spring", algo="ppo")
    assert cfg.algo == "spo" and cfg == TrainConfig(env="inverted_pendulum", backend="spring", algo="spo")
    assert json.loads(cfg.to_json())["algo"] == "spo"


def _config_of(*argv):
    return cli._train_config(cli.parser().parse_args(["train", *argv, "--out", "x"]))


def test_config_file_is_input_and_flags_override_it(tmp_path):
    saved = TrainConfig(env="inverted_pendulum", backend="spring", algo="barpo", num_envs=32, unroll_length=16,
                        num_minibatches=4, num_timesteps=8192, seed=3, eps=0.2)
    path = tmp_path / "config.json"
    path.write_text(saved.to_json())  # what a run directory holds
    assert _config_of("--config", str(path)) == saved
    assert _config_of("--config", str(path), "--steps", "4096", "--algo", "ppo", "--set", "num_epochs=2") == \
        saved.replace(num_timesteps=4096, algo="spo", kappa=1.0, num_epochs=2)
    assert _config_of("--env", "inverted_pendulum", "--backend", "spring", "--algo", "ppo").algo == "spo"
    path.write_text("[1, 2]")
    with pytest.raises(cli.ConfigError, match="one JSON object"):
        _config_of("--config", str(path))
