"""The `barpo` command line: a small run end to end, and bad input."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMALL = ["--env", "inverted_pendulum", "--backend", "spring", "--steps", "4096", "--envs", "32", "--episode-length",
         "50", "--set", "unroll_length=16", "--set", "num_minibatches=4", "--set", "chunk_iterations=4",
         "--no-progress"]


def barpo(*args, timeout=600):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "barpo_jax", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_help():
    r = barpo("--help")
    assert r.returncode == 0 and "train" in r.stdout and "eval" in r.stdout


@pytest.mark.slow
def test_train_report_eval_resume(tmp_path):
    out = str(tmp_path / "run")
    r = barpo("train", *SMALL, "--seeds", "2", "--out", out)
    assert r.returncode == 0, r.stderr[-3000:]
    assert os.path.isfile(os.path.join(out, "learning_curve.png"))
    r = barpo("report", out)
    assert r.returncode == 0 and "2 run(s)" in r.stdout, r.stderr[-3000:]
    r = barpo("eval", out, "--attacks", "random,mad", "--episodes", "3", "--no-progress")
    assert r.returncode == 0, r.stderr[-3000:]
    assert "| seed 0" in r.stdout and os.path.isfile(os.path.join(out, "robustness_eps0.1.png"))
    assert "eps = 0.1" in r.stdout  # the run's own eps (inverted_pendulum's default), printed
    r = barpo("eval", out, "--attacks", "random", "--episodes", "2", "--eps", "0.2", "--no-progress")
    assert r.returncode == 0, r.stderr[-3000:]
    assert os.path.isfile(os.path.join(out, "robustness_eps0.2.json"))
    assert os.path.isfile(os.path.join(out, "robustness_eps0.1.json")), "a second budget keeps the first report"
    r = barpo("train", *SMALL, "--seeds", "2", "--out", out)  # already there: refuse, keep it
    assert r.returncode == 2 and "--resume" in r.stderr and "Traceback" not in r.stderr
    r = barpo("train", "--out", out, "--resume", "--no-progress")  # finished run resumes as a no-op
    assert r.returncode == 0, r.stderr[-3000:]


@pytest.mark.parametrize("args, fragment", [
    (["train", "--env", "nope", "--out", "x"], "unknown env"),
    (["train", "--algo", "nope", "--out", "x"], "unknown algo"),
    (["train", "--backend", "nope", "--out", "x"], "unknown backend"),
    (["train", "--steps", "-5", "--out", "x"], "num_timesteps must be a positive integer"),
    (["train", "--seeds", "0", "--out", "x"], "num_seeds"),
    (["train", "--eps", "-1", "--out", "x"], "eps must be >= 0"),
    (["train", "--envs", "30", "--set", "unroll_length=1", "--out", "x"], "does not divide"),
    (["eval", "/nonexistent/run"], "no run found"),
    (["report", "/nonexistent/run"], "no run found"),
])
def test_bad_input_exits_2_with_one_line(args, fragment):
    r = barpo(*args)
    assert r.returncode == 2, (r.returncode, r.stderr[-2000:])
    assert fragment in r.stderr and "Traceback" not in r.stderr
