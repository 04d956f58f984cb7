"""Training a saved run longer: `train(cfg, out, resume=True, extend=True)` and
`barpo train --resume --steps N` continue it to the new total, with the learning-rate
anneal and the eps ramp re-defined over that total from the saved iteration on."""
import json
import os
import shutil

import numpy as np
import pytest

import barpo_jax as bj
from barpo_jax.learner import Trainer

from helpers import assert_trees_close, run_cli, tiny

STEPS = 32 * 16  # env steps per iteration of `tiny`


def _cfg(iterations: int) -> bj.TrainConfig:
    """A linear anneal and an eps ramp to 75 % of the run, so both schedules show a new total."""
    return tiny(num_timesteps=STEPS * iterations, lr_schedule="linear", eps_ramp_fraction=0.75, eps=0.1)


def _config_json(out: str) -> dict:
    with open(os.path.join(out, "config.json")) as f:
        return json.load(f)


def test_extension_continues_to_the_new_total_on_schedules_of_that_total_deterministically(tmp_path, monkeypatch):
    out, copy = str(tmp_path / "run"), str(tmp_path / "copy")
    first = bj.train(_cfg(4), out=out, progress=False)
    shutil.copytree(out, copy)
    traced, learn = [], Trainer.learn   # the schedules are data: the new total traces (compiles) nothing new
    monkeypatch.setattr(Trainer, "learn", lambda self, *a: traced.append(1) or learn(self, *a))
    longer = bj.train(_cfg(8), out=out, resume=True, extend=True, progress=False)
    assert not traced and Trainer.cached(_cfg(8))._programs is Trainer.cached(_cfg(4))._programs
    assert longer.iterations == 8 and longer.env_steps == 8 * STEPS
    for name, column in first.metrics.items():   # the history continues: old iterations kept as they were
        assert longer.metrics[name].shape == (1, 8)
        np.testing.assert_array_equal(longer.metrics[name][:, :4], column)
    saved = _config_json(out)
    assert saved["num_timesteps"] == 8 * STEPS
    assert saved["extended"] == [{"from_steps": 4 * STEPS, "to_steps": 8 * STEPS, "at_iteration": 4}]
    loaded = bj.load(out)
    assert loaded.config == _cfg(8) and loaded.iterations == 8
    assert_trees_close(loaded.params, longer.params, rtol=0, atol=0)
    # The rate actually used: the old total's anneal up to iteration 4, the new total's after.
    i = np.arange(8)
    lr0 = _cfg(4).learning_rate
    expected_lr = np.where(i < 4, lr0 * (1 - i / 4), lr0 * (1 - i / 8))
    np.testing.assert_allclose(longer.metrics["learning_rate"][0], expected_lr, rtol=1e-6)
    # eps ramps to 75 % of the total: done by iteration 3 of 4, then re-ramped to iteration 6 of 8.
    expected_eps = 0.1 * np.where(i < 4, np.minimum(i / 3, 1), np.minimum(i / 6, 1))
    np.testing.assert_allclose(longer.metrics["eps"][0], expected_eps, rtol=1e-6)
    # The same extension from the same checkpoint gives the same numbers.
    again = bj.train(_cfg(8), out=copy, resume=True, extend=True, progress=False)
    assert_trees_close(again.params, longer.params, rtol=0, atol=0)
    for name in longer.metrics:
        np.testing.assert_array_equal(again.metrics[name], longer.metrics[name])


def test_a_new_total_needs_extend_and_must_pass_what_is_done_cli_and_library(tmp_path, capsys):
    out = str(tmp_path / "run")
    bj.train(_cfg(4), out=out, progress=False)
    before = _config_json(out)
    with pytest.raises(bj.ConfigError, match="num_timesteps.*extend=True"):
        bj.train(_cfg(6), out=out, resume=True, progress=False)
    for steps in (3 * STEPS, 4 * STEPS - 100):   # fewer iterations than done; as many (a new total, 4 iterations)
        code, _, err = run_cli(capsys, "train", "--resume", "--steps", str(steps), "--out", out, "--no-progress")
        assert code == 2 and err.count("\n") == 1 and "done already (iteration 4)" in err, err
    assert _config_json(out) == before and bj.load(out).iterations == 4   # refused: nothing changed
    code, printed, err = run_cli(capsys, "train", "--resume", "--steps", str(6 * STEPS), "--out", out, "--no-progress")
    assert code == 0, err
    assert json.loads(printed.splitlines()[0])["iterations"] == 6
    change = [{"from_steps": 4 * STEPS, "to_steps": 6 * STEPS, "at_iteration": 4}]
    assert _config_json(out)["extended"] == change
    with open(os.path.join(out, "summary.json")) as f:
        assert json.load(f)["extended"] == change
    # config.json still reads back as a config: as --config, and resumed at its new total.
    code, _, err = run_cli(capsys, "train", "--config", os.path.join(out, "config.json"), "--resume", "--out", out,
                           "--no-progress")
    assert code == 0 and bj.load(out).iterations == 6, err
