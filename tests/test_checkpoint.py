"""Checkpoints: every backend and method, readable trees, failures that never hang.

The subprocess tests carry a generous `timeout` only as a hang detector: a failed save
or an interrupt must end the process within seconds, not minutes.
"""
import os
import signal
import subprocess
import sys
import time
from typing import NamedTuple

import jax
import numpy as np
import pytest

import barpo_jax as bj
from barpo_jax import checkpoint
from barpo_jax.learner import Trainer

from helpers import PHYSICS_ENV, leaves as _leaves, tiny

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HANG = 300  # seconds: only a hang detector


class _Pair(NamedTuple):
    weights: np.ndarray
    empty: np.ndarray


def _small_tree():
    return {"agent": _Pair(np.arange(6, dtype=np.float32).reshape(2, 3), np.zeros((0, 4), np.float32)),
            "steps": [np.array(7, np.int32), np.array([1.5, -2.0])]}


def test_to_tree_names_fields_and_from_tree_rebuilds_the_pytree():
    tree = _small_tree()
    saved = checkpoint.to_tree(tree)
    # named by field names, dict keys and list indices; the zero-size leaf is left out
    assert set(saved) == {"agent", "steps"} and set(saved["agent"]) == {"weights"}
    assert set(saved["steps"]) == {"0", "1"}
    back = checkpoint.from_tree(saved, tree, "here")
    assert jax.tree.structure(back) == jax.tree.structure(tree)
    for a, b in zip(jax.tree.leaves(back), jax.tree.leaves(tree), strict=True):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)


def test_from_tree_names_a_missing_reshaped_or_unknown_field():
    tree = _small_tree()
    saved = checkpoint.to_tree(tree)
    with pytest.raises(checkpoint.CheckpointError, match="no field 'agent.weights'"):
        checkpoint.from_tree({**saved, "agent": {}}, tree, "here")
    with pytest.raises(checkpoint.CheckpointError, match="'agent.weights' has shape"):
        checkpoint.from_tree({**saved, "agent": {"weights": np.zeros((3, 2))}}, tree, "here")
    with pytest.raises(checkpoint.CheckpointError, match="does not know .*extra"):
        checkpoint.from_tree({**saved, "extra": np.ones(1)}, tree, "here")


def test_metrics_written_are_read_back_without_a_trainer(tmp_path):
    """Study tools (compare, study_status, carry) read a run's metrics from metrics.json alone."""
    out = str(tmp_path)
    assert checkpoint.read_metrics(out) is None   # nothing written yet
    history = {"episode_return": np.array([[1.0, np.nan, 3.0], [4.0, 5.0, np.inf]]), "kl": np.zeros((2, 3))}
    checkpoint.write_metrics(out, history)
    back = checkpoint.read_metrics(out)
    assert sorted(back) == ["episode_return", "kl"] and back["episode_return"].shape == (2, 3)
    np.testing.assert_array_equal(back["episode_return"], [[1.0, np.nan, 3.0], [4.0, 5.0, np.nan]])  # inf -> NaN


def test_resuming_with_more_seeds_names_the_second_run_that_adds_them(tmp_path):
    out = str(tmp_path / "run")
    cfg = bj.TrainConfig(env="inverted_pendulum", backend="spring", num_seeds=3, seed=2)
    checkpoint.prepare_run_dir(out, cfg, resume=False)
    os.makedirs(os.path.join(out, "checkpoints", "4"))  # what has_checkpoint looks for
    with pytest.raises(bj.ConfigError, match=r"num_seeds: saved 3 vs now 5.*--seed 5 --seeds K --out RUN2.*"
                                             r"barpo compare .*run\+RUN2"):
        checkpoint.prepare_run_dir(out, cfg.replace(num_seeds=5), resume=True)
    with pytest.raises(bj.ConfigError) as other:  # another field: no word of seeds
        checkpoint.prepare_run_dir(out, cfg.replace(learning_rate=1e-3), resume=True)
    assert "add seeds" not in str(other.value)


@pytest.mark.parametrize("backend", [b if b == "spring" else pytest.param(b, marks=pytest.mark.slow) for b in bj.BACKENDS])
def test_round_trip_every_backend_and_method(tmp_path, backend):
    """The learner state survives save/restore bit for bit on every backend (MJX states
    have zero-size leaves). A method changes the state tree only by carrying a learned
    adversary or WocaR's worst-case critic head (params and Adam moments under
    'worst_q'), so every method's template is SPO's or ATLA's plus that head, and those
    three are round-tripped for real. That claim is about the methods, not the physics, so
    it is checked on the fastest backend only (tracing MJX's reset ten times cost minutes).
    Spring runs in the default tier, the other backends in the slow tier."""
    cfg = {algo: tiny(env=PHYSICS_ENV, backend=backend, algo=algo, num_envs=4, unroll_length=4, num_minibatches=2)
           for algo in bj.ALGOS}
    checked = bj.ALGOS if backend == "spring" else ("spo", "atla_ppo", "wocar_ppo")
    shapes = {algo: Trainer.cached(cfg[algo]).checkpoint_template([0, 1]) for algo in checked}
    paths = lambda t: [(jax.tree_util.keystr(p), leaf) for p, leaf in jax.tree_util.tree_leaves_with_path(t)]
    for algo in checked:
        ref = "atla_ppo" if Trainer.cached(cfg[algo]).adv_ac is not None else "spo"
        own = paths(shapes[algo])
        assert [x for x in own if "worst_q" not in x[0]] == paths(shapes[ref]), algo
        assert any("worst_q" in x[0] for x in own) == (algo == "wocar_ppo"), algo
    for algo in ("spo", "atla_ppo", "wocar_ppo"):
        trainer = Trainer.cached(cfg[algo])
        state = trainer.init_runs([0, 1])
        out = str(tmp_path / f"{backend}-{algo}")
        checkpoint.save(out, cfg[algo], trainer.portable(state), {"loss": np.zeros((2, 1))}, 1)
        back, metrics, it = checkpoint.restore(out, trainer.checkpoint_template([0, 1]))
        back = trainer.restored(back)
        assert it == 1 and metrics["loss"].shape == (2, 1)
        assert jax.tree.structure(back) == jax.tree.structure(state)
        for a, b in zip(_leaves(state), _leaves(back), strict=True):
            np.testing.assert_array_equal(a, b)
        if algo == "atla_ppo":
            assert jax.tree.leaves(back.adv), "the learned adversary's state is checkpointed"


def test_checkpoint_is_a_readable_tree_stored_once(tmp_path):
    cfg = tiny()
    trainer = Trainer.cached(cfg)
    tree = checkpoint.to_tree(trainer.portable(trainer.init_runs([0])))
    assert set(tree) == {"agent", "adv", "stats", "returns", "env", "key", "iteration"} - {"adv"}
    assert "log_std" in tree["agent"]["params"]["policy"]["params"]
    assert "inner" in tree["env"] and "first" not in tree["env"], "the env state is stored once"


def test_added_or_reshaped_field_names_itself(tmp_path):
    cfg = tiny()
    trainer = Trainer.cached(cfg)
    saved = checkpoint.to_tree(trainer.portable(trainer.init_runs([0])))
    template = trainer.checkpoint_template([0])
    del saved["returns"]
    with pytest.raises(checkpoint.CheckpointError, match="no field 'returns"):
        checkpoint.from_tree(saved, template, "x")
    saved = checkpoint.to_tree(trainer.portable(trainer.init_runs([0])))
    saved["stats"]["mean"] = np.zeros((1, 99), np.float32)
    with pytest.raises(checkpoint.CheckpointError, match="'stats.mean' has shape"):
        checkpoint.from_tree(saved, template, "x")
    saved = checkpoint.to_tree(trainer.portable(trainer.init_runs([0])))
    saved["extra"] = {"field": np.zeros(3)}
    with pytest.raises(checkpoint.CheckpointError, match="extra.field"):
        checkpoint.from_tree(saved, template, "x")


@pytest.mark.slow
def test_mjx_train_checkpoint_resume_equals_whole(tmp_path):
    """The default accelerator backend end to end: train, checkpoint, resume, load."""
    cfg = tiny(env=PHYSICS_ENV, backend="mjx", num_envs=8, unroll_length=8, num_minibatches=2, num_timesteps=8 * 8 * 4,
               episode_length=20)
    whole = bj.train(cfg, progress=False)
    out = str(tmp_path / "run")
    bj.train(cfg, out=out, progress=False, max_iterations=2)
    resumed = bj.train(cfg, out=out, resume=True, progress=False)
    assert resumed.iterations == 4
    for a, b in zip(_leaves(whole.params), _leaves(resumed.params), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert not [n for n in os.listdir(os.path.join(out, "checkpoints")) if "tmp" in n]


def _python(code, *args, timeout=HANG):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.path.join(ROOT, "tests"))
    return subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


FAILING_SAVE = """
import sys, errno
import orbax.checkpoint as ocp
from helpers import TINY
real, calls = ocp.CheckpointManager.save, []
def save(self, *a, **k):
    calls.append(1)
    if len(calls) > 1:
        raise OSError(errno.ENOSPC, "No space left on device")
    return real(self, *a, **k)
ocp.CheckpointManager.save = save
from barpo_jax.cli import main
args = ["train", "--no-progress", "--out", sys.argv[1], "--steps", str(32 * 16 * 8)]
for k, v in TINY.items():
    args += ["--set", f"{k}={v}"]
sys.exit(main(args))
"""


def test_failed_save_exits_2_fast_and_keeps_the_last_good_checkpoint(tmp_path):
    out = str(tmp_path / "run")
    t0 = time.monotonic()
    r = _python(FAILING_SAVE, out)
    took = time.monotonic() - t0
    assert r.returncode == 2, r.stderr[-3000:]
    err = [x for x in r.stderr.splitlines() if x.startswith("barpo:")]
    assert len(err) == 1 and "No space left" in err[0] and "iteration 2" in err[0], r.stderr[-2000:]
    assert "Traceback" not in r.stderr
    assert took < HANG / 2, took
    assert not [n for n in os.listdir(os.path.join(out, "checkpoints")) if "tmp" in n]
    assert bj.load(out).iterations == 2  # the last good checkpoint is intact and loads


INTERRUPTED = """
import sys, os, signal
# Ctrl-C as from a terminal: a suite started in the background (`cmd &` from a script)
# hands its children SIGINT ignored, which the CLI rightly keeps ignored.
signal.signal(signal.SIGINT, signal.default_int_handler)
from helpers import TINY
from barpo_jax.cli import main
args = ["train", "--no-progress", "--out", sys.argv[1], "--steps", str(32 * 16 * 400)]
for k, v in {**TINY, "chunk_iterations": 1}.items():
    args += ["--set", f"{k}={v}"]
sys.exit(main(args))
"""


def test_sigterm_stops_as_ctrl_c_inside_the_block_and_is_restored_after():
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt):
        with checkpoint.stop_on_sigterm():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)   # the handler runs at the next bytecode; never reached
    assert signal.getsignal(signal.SIGTERM) is before   # a library caller keeps its own handling


def test_ctrl_c_is_handled_inside_the_block_unless_ignored(python_sigint):
    with checkpoint.stop_on_sigterm():   # Ctrl-C is made unlosable the same way
        assert signal.getsignal(signal.SIGINT) is checkpoint._terminate_as_interrupt
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # a background job's ignored SIGINT stays ignored
    try:
        with checkpoint.stop_on_sigterm():
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture
def python_sigint():
    """Python's own Ctrl-C handler, as in a command (a pytest-xdist worker has another)."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


def test_a_ctrl_c_swallowed_where_it_was_raised_still_stops_at_the_next_chunk(tmp_path, python_sigint):
    """Wherever Python runs the SIGINT handler, something may swallow its KeyboardInterrupt
    without a trace (asyncio's runner cancels its task instead; a bare `except
    BaseException`): training then ran on to its end and exited 0."""
    out, chunks = str(tmp_path / "run"), []

    def ctrl_c_swallowed_once(env_steps, metrics):
        if not chunks:
            try:
                signal.getsignal(signal.SIGINT)(signal.SIGINT, None)   # the handler, as the signal runs it
            except KeyboardInterrupt:
                pass   # swallowed, no trace anywhere
        chunks.append(env_steps)
    with checkpoint.stop_on_sigterm(), pytest.raises(KeyboardInterrupt):
        bj.train(tiny(), out=out, progress=False, callback=ctrl_c_swallowed_once)
    assert len(chunks) == 1 and checkpoint.latest_step(out) == 2   # stopped and saved after the first chunk


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl_c", "kill"])
def test_ctrl_c_or_kill_exits_130_and_resumes(tmp_path, sig):
    """SIGTERM too: a study started with `cmd &` from a script has SIGINT ignored, and is
    stopped with `kill`."""
    out = str(tmp_path / "run")
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.path.join(ROOT, "tests"))
    p = subprocess.Popen([sys.executable, "-c", INTERRUPTED, out], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + HANG
    while not checkpoint.has_checkpoint(out) and time.monotonic() < deadline and p.poll() is None:
        time.sleep(0.5)
    assert checkpoint.has_checkpoint(out), "no checkpoint appeared"
    p.send_signal(sig)
    stopping = time.monotonic()
    _, err = p.communicate(timeout=HANG)   # a hang detector: under a loaded CI machine 60 s was not enough
    print(f"stopped {time.monotonic() - stopping:.1f} s after the signal")
    assert p.returncode == 130, err[-2000:]
    assert "interrupted" in err and "Traceback" not in err
    assert not [n for n in os.listdir(os.path.join(out, "checkpoints")) if "tmp" in n]
    done = bj.load(out).iterations
    assert 1 <= done < 400
    cfg = checkpoint.read_config(out)
    more = bj.train(cfg, out=out, resume=True, progress=False, max_iterations=done + 1)
    assert more.iterations == done + 1


@pytest.mark.slow
def test_checkpoint_every_s_saves_between_chunk_cadence(tmp_path, monkeypatch):
    saves = []
    real = checkpoint.save
    monkeypatch.setattr(checkpoint, "save", lambda *a, **k: (saves.append(a[-1]), real(*a, **k)))
    cfg = tiny(num_timesteps=32 * 16 * 8, chunk_iterations=2, checkpoint_every=100, checkpoint_every_s=1e-6)
    bj.train(cfg, out=str(tmp_path / "run"), progress=False)
    assert saves == [2, 4, 6, 8]
    saves.clear()
    bj.train(cfg.replace(checkpoint_every_s=None), out=str(tmp_path / "run2"), progress=False)
    assert saves == [8]


def test_a_sigterm_whose_interrupt_was_lost_still_stops_at_the_next_chunk(tmp_path, capsys):
    """Python runs a signal handler in whatever frame is current; in a callback whose
    exceptions are ignored (jax's gc callback) the KeyboardInterrupt is lost, and a killed
    run used to train on to the end and exit 0. The loop then stops after the chunk."""
    out = str(tmp_path / "run")
    chunks = []

    class Unraisable:  # what Python hands sys.unraisablehook when a callback's exception is ignored
        exc_type, exc_value, exc_traceback, err_msg, object = KeyboardInterrupt, KeyboardInterrupt(), None, None, None

    def interrupt_swallowed_once(env_steps, metrics):   # runs after each chunk, as the gc callback ran
        if not chunks:
            try:
                checkpoint._terminate_as_interrupt(signal.SIGTERM, None)
            except KeyboardInterrupt:
                sys.unraisablehook(Unraisable())
        chunks.append(env_steps)
    with checkpoint.stop_on_sigterm(), pytest.raises(KeyboardInterrupt):
        bj.train(tiny(), out=out, progress=False, callback=interrupt_swallowed_once)
    assert len(chunks) == 1 and checkpoint.latest_step(out) == 2   # stopped and saved after the first chunk
    checkpoint.raise_if_terminated()   # acted on once: nothing left pending
    assert "Traceback" not in capsys.readouterr().err and "KeyboardInterrupt" not in capsys.readouterr().err
    # Ctrl-C (Python's own handler, no flag) lost the same way: the hook alone keeps it pending.
    with checkpoint.stop_on_sigterm():
        sys.unraisablehook(Unraisable())
        with pytest.raises(KeyboardInterrupt):
            checkpoint.raise_if_terminated()
    assert capsys.readouterr().err == ""
    # A hook installed inside the block (a restore's silencing of its orphaned reads) outlives
    # it, and the kept interrupt is no longer acted on once the block is over.
    before = sys.unraisablehook
    with checkpoint.stop_on_sigterm():
        checkpoint._silence_closed_loop_callbacks()
        inside = sys.unraisablehook
    assert sys.unraisablehook is inside is not before
    sys.unraisablehook = before
    with checkpoint.stop_on_sigterm():
        pass
    assert sys.unraisablehook is before
