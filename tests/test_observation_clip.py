"""`observation_clip` is one field that every reader of an observation honours: training
rollouts, the deterministic policy, every evaluation column and the exported policy."""
import dataclasses
import json
import os

import jax
import numpy as np
import pytest

import barpo_jax as bj
from barpo_jax import networks
from barpo_jax import normalize as nz
from barpo_jax.config import ConfigError, field_source, hyperparams
from barpo_jax.learner import Trainer

TIGHT = 0.05  # binds on most standardised observations


def _clipped(result, clip):
    return dataclasses.replace(result, config=result.config.replace(observation_clip=clip))


def test_the_preset_is_the_lineages_and_the_range_is_checked():
    from helpers import tiny
    cfg = tiny()
    assert cfg.observation_clip == nz.CLIP == 10.0
    assert "10" in field_source("observation_clip")
    for bad in (0.0, -1.0):
        with pytest.raises(ConfigError, match="observation_clip"):
            tiny(observation_clip=bad)


def test_training_rollouts_are_clipped():
    from helpers import tiny
    first = lambda t: jax.tree.map(lambda x: x[0], t)
    cfg = tiny(observation_clip=TIGHT)
    trainer = Trainer(cfg)
    ts, hp = first(trainer.init_runs([0])), first(hyperparams(cfg, 1))
    _, stats, _, ro = jax.jit(trainer.collect)(ts, hp.eps, hp, jax.random.PRNGKey(0))
    assert np.abs(np.asarray(ro.obs)).max() <= TIGHT + 1e-6
    assert np.abs(np.asarray(nz.normalize(stats, ro.tr.obs, nz.CLIP))).max() > 2 * TIGHT  # the clip binds


def test_the_policy_and_evaluation_read_the_runs_clip(weak):
    tight = _clipped(weak, TIGHT)
    obs = np.random.default_rng(0).normal(size=(16, weak.actor_critic().obs_size)).astype(np.float32) * 3
    params, stats = tight.run(0)
    expect = networks.to_env_action(tight.actor_critic().dist(params, nz.normalize(stats, obs, TIGHT))[0])
    np.testing.assert_allclose(tight.policy(0)(obs), expect, atol=1e-6)
    assert not np.allclose(weak.policy(0)(obs), expect, atol=1e-3)
    kw = dict(attacks=["none"], episodes=4, progress=False, masking_check=False)
    loose_report, tight_report = bj.evaluate(weak, **kw), bj.evaluate(tight, **kw)
    assert not np.array_equal(loose_report.returns, tight_report.returns)


def test_the_exported_policy_records_the_clip(weak, tmp_path):
    files = _clipped(weak, TIGHT).export(str(tmp_path / "policy"), run=0)
    with open(files["spec"]) as f:
        assert json.load(f)["obs_normalization"]["clip"] == TIGHT
    assert os.path.exists(files["spec"])
