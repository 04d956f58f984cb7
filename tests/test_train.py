"""Integration tests of the training loop on a small Brax task."""
import asyncio
import ctypes
import json
import logging
import os
import subprocess
import sys

import jax
import numpy as np
import pytest

import barpo_jax as bj
from barpo_jax import acting
from barpo_jax.envs import VecEnv

from helpers import PHYSICS_ENV, assert_trees_close, leaves, tiny

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_determinism_and_multi_seed_equals_single_seed_runs():
    many = bj.train(tiny(num_seeds=3, seed=0), progress=False)
    again = bj.train(tiny(num_seeds=3, seed=0), progress=False)
    assert_trees_close(many.params, again.params, rtol=0, atol=0)  # same seed, same numbers
    for i in range(3):
        one = bj.train(tiny(num_seeds=1, seed=i), progress=False)
        pick = jax.tree.map(lambda x: x[i:i + 1], many.params)
        assert_trees_close(pick, one.params, rtol=1e-5, atol=1e-6)
    # different seeds really differ
    assert not np.allclose(leaves(many.params)[0][0], leaves(many.params)[0][1])


def test_resume_two_halves_equal_one_whole(tmp_path):
    cfg = tiny(num_timesteps=32 * 16 * 8, chunk_iterations=2)
    whole = bj.train(cfg, progress=False)
    out = str(tmp_path / "run")
    half = bj.train(cfg, out=out, progress=False, max_iterations=4)
    assert half.iterations == 4
    resumed = bj.train(cfg, out=out, resume=True, progress=False)
    assert resumed.iterations == 8
    assert_trees_close(whole.params, resumed.params, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(whole.metrics["loss"], resumed.metrics["loss"], rtol=1e-5, atol=1e-6)
    loaded = bj.load(out)
    assert_trees_close(loaded.params, resumed.params, rtol=0, atol=0)
    assert os.path.isfile(os.path.join(out, "metrics.csv"))
    with open(os.path.join(out, "metrics.json")) as f:
        assert len(json.load(f)["loss"][0]) == 8


def test_time_budget_stops_after_one_chunk_and_resume_finishes_the_same_run(tmp_path):
    cfg = tiny(num_timesteps=32 * 16 * 8, chunk_iterations=2)
    whole = bj.train(cfg, progress=False)
    out = str(tmp_path / "run")
    first = bj.train(cfg, out=out, progress=False, time_budget_s=0)  # spent at once: one chunk, then a save
    assert first.iterations == 2 and bj.load(out).iterations == 2
    resumed = bj.train(cfg, out=out, resume=True, progress=False, time_budget_s=3600)
    assert resumed.iterations == 8
    assert_trees_close(whole.params, resumed.params, rtol=1e-5, atol=1e-6)
    with pytest.raises(bj.ConfigError, match="time_budget_s must be >= 0"):
        bj.train(cfg, time_budget_s=-1, progress=False)


def test_resume_refuses_a_different_config_and_keeps_the_run(tmp_path):
    out = str(tmp_path / "run")
    bj.train(tiny(), out=out, progress=False)
    with pytest.raises(bj.ConfigError, match="learning_rate"):
        bj.train(tiny(learning_rate=1e-3), out=out, resume=True, progress=False)
    with pytest.raises(bj.ConfigError, match="already holds a run"):
        bj.train(tiny(), out=out, progress=False)
    with pytest.raises(bj.ConfigError, match="nothing to resume"):
        bj.train(tiny(), out=str(tmp_path / "empty"), resume=True, progress=False)
    assert bj.load(out).iterations == 4


def test_nan_stops_training_and_keeps_last_good_checkpoint(tmp_path):
    out = str(tmp_path / "run")
    good = bj.train(tiny(), out=out, progress=False)
    # Poison the continuation: an infinite reward scale makes the loss NaN.
    from barpo_jax import checkpoint
    cfg_path = os.path.join(out, "config.json")
    with open(cfg_path) as f:
        d = json.load(f)
    bad_cfg = bj.TrainConfig.from_dict({**d, "num_timesteps": 32 * 16 * 8, "reward_scaling": 1e38})
    with open(cfg_path, "w") as f:
        f.write(bad_cfg.to_json())
    with pytest.raises(bj.TrainingDiverged, match="last good checkpoint"):
        bj.train(bad_cfg, out=out, resume=True, progress=False)
    assert checkpoint.has_checkpoint(out)
    kept = bj.load(out)
    assert kept.iterations == 4
    assert_trees_close(kept.params, good.params, rtol=0, atol=0)


def test_corrupt_checkpoint_gives_clear_error(tmp_path):
    out = str(tmp_path / "run")
    bj.train(tiny(), out=out, progress=False)
    ck = os.path.join(out, "checkpoints")
    step = max(os.listdir(ck), key=lambda s: int(s) if s.isdigit() else -1)
    for root, _, files in os.walk(os.path.join(ck, step)):
        for name in files:
            with open(os.path.join(root, name), "wb") as f:
                f.write(b"garbage")
    with pytest.raises(bj.ConfigError, match="unreadable|does not match"):
        bj.load(out)


def _callback_into_a_closed_loop() -> RuntimeError:
    loop = asyncio.new_event_loop()
    loop.close()
    try:
        loop.call_soon_threadsafe(print)
    except RuntimeError as e:
        return e
    raise AssertionError("asyncio accepted a callback on a closed loop")


def test_one_damaged_file_gives_one_line_and_no_tracebacks(tmp_path, monkeypatch):
    """Only one data file damaged: orbax's reads of the others are still in flight when the
    error is raised, and finish into a closed event loop (each an unraisable exception)."""
    out = str(tmp_path / "run")
    bj.train(tiny(env=PHYSICS_ENV), out=out, progress=False)   # a Brax task: a CLI process resumes it below
    step = os.path.join(out, "checkpoints", str(max(int(s) for s in os.listdir(os.path.join(out, "checkpoints")))))
    data = [os.path.join(r, n) for r, _, ns in os.walk(step) for n in ns if os.sep + "d" + os.sep in r + os.sep]
    assert len(data) > 1   # else there is nothing left in flight, and this test tests nothing
    with open(max(data, key=os.path.getsize), "wb") as f:
        f.write(b"garbage")
    seen, printed = [], []
    monkeypatch.setattr(sys, "unraisablehook", seen.append)
    monkeypatch.setattr(sys, "excepthook", lambda *exc: printed.append(exc[1]))
    with pytest.raises(bj.ConfigError, match="unreadable"):
        bj.load(out)

    class Unraisable:  # what Python passes to sys.unraisablehook
        def __init__(self, exc):
            self.exc_type, self.exc_value, self.exc_traceback = type(exc), exc, exc.__traceback__
    closed = _callback_into_a_closed_loop()
    sys.unraisablehook(Unraisable(closed))   # an orphaned read: silenced on both paths
    sys.excepthook(type(closed), closed, closed.__traceback__)
    same_words = RuntimeError("Event loop is closed")   # raised anywhere else: still reported
    others = [Unraisable(ValueError("anything else")), Unraisable(same_words)]
    for other in others:
        sys.unraisablehook(other)
    sys.excepthook(RuntimeError, same_words, None)
    assert seen == others and printed == [same_words]
    # tensorstore reports a callback that raised from its own threads with PyErr_Print, which
    # goes through sys.excepthook: the same call from C is silenced, another error is not.
    printed.clear()
    ctypes.pythonapi.PyRun_SimpleString(b"import asyncio; loop = asyncio.new_event_loop(); loop.close(); "
                                        b"loop.call_soon_threadsafe(print)")
    ctypes.pythonapi.PyRun_SimpleString(b"raise RuntimeError('Event loop is closed')")
    assert [str(e) for e in printed] == ["Event loop is closed"]
    asyncio_log = logging.getLogger("asyncio")   # a failed read's future, collected later: silenced

    def passes(message):
        return bool(asyncio_log.filter(asyncio_log.makeRecord("asyncio", logging.ERROR, __file__, 0, message, (), None)))
    assert not passes(f"Future exception was never retrieved\nfuture: <Future exception=ValueError('reading {step}/d/x')>")
    assert passes(f"Future exception was never retrieved\nfuture: <Future exception=ValueError('reading {tmp_path}/other')>")
    assert passes("Task was destroyed but it is pending!")
    # End to end, the CLI prints the one line and exits 2 (before, the tracebacks followed in
    # about half the runs, so one run is evidence, not proof: the check above is the proof).
    res = subprocess.run([sys.executable, "-m", "barpo_jax", "train", "--resume", "--out", out, "--no-progress"],
                         env=dict(os.environ, PYTHONWARNINGS="ignore"), capture_output=True, text=True, timeout=600)
    assert res.returncode == 2
    assert [line for line in res.stderr.splitlines() if line.strip()] == [
        next(line for line in res.stderr.splitlines() if "unreadable" in line)], res.stderr[-2000:]


def test_policy_learns_on_inverted_pendulum(trained):
    env = VecEnv("inverted_pendulum", "spring", 32, 100)
    key = jax.random.PRNGKey(123)
    rand = acting.episode_returns(env, lambda k, o: jax.random.uniform(k, (o.shape[0], 1), minval=-1, maxval=1), key)
    pol = trained.policy(0)
    learned = acting.episode_returns(env, lambda k, o: pol(o), key)
    assert float(learned.mean()) >= 3 * float(rand.mean()), (float(learned.mean()), float(rand.mean()))
    assert trained.params["policy"]["params"]["log_std"].shape == (2, 1)


@pytest.mark.slow
def test_two_simulated_devices_match_one(tmp_path):
    script = (
        "import sys, numpy as np, jax; sys.path.insert(0, 'tests');"
        "from helpers import tiny; import barpo_jax as bj;"
        "r = bj.train(tiny(num_seeds=2), progress=False);"
        "np.savez(sys.argv[1], *[np.asarray(x) for x in jax.tree.leaves(r.params)]);"
        "print('devices', jax.device_count())")
    outs = {}
    for n in (1, 2):
        env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={n}", PYTHONPATH=ROOT)
        path = str(tmp_path / f"p{n}.npz")
        res = subprocess.run([sys.executable, "-c", script, path], cwd=ROOT, env=env, capture_output=True, text=True,
                             timeout=600)
        assert res.returncode == 0, res.stderr[-2000:]
        assert f"devices {n}" in res.stdout
        outs[n] = np.load(path)
    for k in outs[1].files:
        np.testing.assert_allclose(outs[1][k], outs[2][k], rtol=1e-4, atol=1e-5)


def test_stopping_off_a_chunk_boundary_and_resuming_at_another_chunk_length_equals_one_whole(tmp_path):
    cfg = tiny(num_timesteps=32 * 16 * 8, chunk_iterations=2)
    whole = bj.train(cfg, progress=False)
    out = str(tmp_path / "run")
    assert bj.train(cfg, out=out, progress=False, max_iterations=3).iterations == 3   # chunks 2, 1
    resumed = bj.train(cfg.replace(chunk_iterations=4), out=out, resume=True, progress=False)   # 1, then 4
    assert resumed.iterations == 8 and resumed.metrics["loss"].shape[1] == 8
    assert_trees_close(whole.params, resumed.params, rtol=1e-5, atol=1e-6)


def test_chunks_realign_after_another_chunk_length_and_never_pass_the_end():
    from barpo_jax.loop import chunk_length, next_chunk
    assert chunk_length(12, 5) == 4 and chunk_length(7, 5) == 1
    # Saved at iteration 6 by chunks of 2, resumed with chunks of 4 to 12: 2, then 4s.
    assert [next_chunk(d, 12, 4) for d in (6, 8)] == [2, 4]
    assert next_chunk(8, 10, 4) == 2   # max_iterations=10 stops at 10, not 12
    assert next_chunk(0, 12, 4) == 4


def test_eps_ramp_can_start_late_as_radial_rl_configs_do():
    from barpo_jax.config import hyperparams
    from barpo_jax.learner import Trainer

    def radii(**kw):
        cfg = tiny(algo="radial_ppo", eps=0.1, num_timesteps=32 * 16 * 100, **kw)   # 100 iterations
        trainer, hp = Trainer(cfg), hyperparams(cfg, 1)
        return [float(np.squeeze(trainer.eps_at(np.int32(i), hp))) for i in (0, 25, 50, 75, 99)]
    np.testing.assert_allclose(radii(), [0, 0.1 / 3, 0.2 / 3, 0.1, 0.1], rtol=1e-5)   # the lineage: 0 -> 75 %
    np.testing.assert_allclose(radii(eps_ramp_start=0.25), [0, 0, 0.05, 0.1, 0.1], rtol=1e-5)
    for bad in (0.8, 0.75, -0.1, float("nan")):   # past the ramp's end, at it, negative, not a number
        with pytest.raises(bj.ConfigError, match="eps_ramp_start"):
            tiny(eps_ramp_start=bad)


def test_loop_fields_share_the_compiled_trainer_and_keep_their_own_values():
    from barpo_jax.learner import Trainer
    cfg = tiny()
    other = cfg.replace(chunk_iterations=1, checkpoint_every=3, checkpoint_every_s=5.0, learning_rate=1e-3)
    a, b = Trainer.cached(cfg), Trainer.cached(other)
    assert a._programs is b._programs                          # one set of compiled programs
    assert b.cfg == other and a.cfg == cfg                 # the loop reads each config's own cadence
    assert Trainer.cached(cfg.replace(num_envs=16))._programs is not a._programs   # a shape is another program
