"""Evaluation during training, TensorBoard scalars and the per-chunk callback (tracking.py)."""
import glob
import os

import numpy as np
import pytest

import barpo_jax as bj
from barpo_jax.plots import learning_curve
from helpers import tiny


def scalars(run_dir, tag) -> list:
    """(step, value) of one tag in a TensorBoard run directory, read from its event files
    (TFRecord framing: length, its crc, the Event proto, its crc)."""
    import struct

    from tensorboardX.proto.event_pb2 import Event
    out = []
    for path in sorted(glob.glob(os.path.join(str(run_dir), "events.out.tfevents.*"))):
        data = open(path, "rb").read()
        at = 0
        while at < len(data):
            (length,) = struct.unpack("<Q", data[at:at + 8])
            event = Event.FromString(data[at + 12:at + 12 + length])
            at += 12 + length + 4
            out += [(event.step, v.simple_value) for v in event.summary.value if v.tag == tag]
    return out


def test_eval_during_training_logs_curves_that_match_a_final_evaluate(tmp_path):
    cfg = tiny(num_seeds=2, eps=0.2, num_timesteps=32 * 16 * 6, eval_every=4, eval_attacks="random",
               eval_episodes=3)
    assert cfg.eval_attacks == ("random",)
    calls = []
    result = bj.train(cfg, progress=False, logdir=str(tmp_path / "tb"), callback=lambda step, m: calls.append((step, m)))

    # chunks of 2 iterations: evaluated after the first chunk (2), once 4 more passed (6, also the end)
    natural = result.metrics["eval_natural"]
    assert natural.shape == (2, 6) and set(result.metrics) >= {"eval_natural", "eval_random"}
    assert [i for i in range(6) if np.isfinite(natural[:, i]).all()] == [1, 5]
    assert np.isnan(natural[:, [0, 2, 3, 4]]).all()

    # the last evaluation is what evaluate() gives for the final parameters, same episodes
    report = bj.evaluate(result, attacks=["random"], episodes=3, progress=False, masking_check=False,
                         learned_scan="none")
    for attack, name in (("none", "eval_natural"), ("random", "eval_random")):
        np.testing.assert_allclose(result.metrics[name][:, -1], report.returns[:, report.attacks.index(attack)],
                                   rtol=1e-5)

    # one callback per chunk, env steps per run, across-seed means and per-seed values
    assert [s for s, _ in calls] == [2 * cfg.batch_size, 4 * cfg.batch_size, 6 * cfg.batch_size]
    last = calls[-1][1]
    assert last["iteration"] == 6 and last["per_seed"]["eval_random"].shape == (2,)
    assert last["eval_random"] == pytest.approx(float(np.mean(result.metrics["eval_random"][:, -1])))

    # TensorBoard: one event file per seed and one for the mean, holding the eval scalars
    dirs = sorted(os.path.basename(d) for d in glob.glob(str(tmp_path / "tb" / "*")))
    assert dirs == ["mean", "seed_0", "seed_1"]
    rnd = scalars(tmp_path / "tb" / "seed_1", "eval_random")
    assert [step for step, _ in rnd] == [2 * cfg.batch_size, 6 * cfg.batch_size]
    assert rnd[-1][1] == pytest.approx(float(result.metrics["eval_random"][1, -1]), rel=1e-5)
    assert len(scalars(tmp_path / "tb" / "mean", "episode_return")) >= 1

    # the learning-curve plot gets its evaluation panel
    fig = learning_curve(result.metrics, cfg, str(tmp_path / "lc.png"))
    assert len(fig.axes) == 2 and os.path.getsize(tmp_path / "lc.png") > 0


def test_eval_attacks_must_be_built_in_and_cheap():
    with pytest.raises(bj.ConfigError, match="sa_rl.*barpo eval"):
        bj.train(tiny(eval_every=2, eval_attacks="sa_rl"), progress=False)
    with pytest.raises(bj.ConfigError, match="eval_every"):
        tiny(eval_every=-1)
