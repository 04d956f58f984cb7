"""barpo_jax.config: validation, presets (per task and backend), round trip."""
import pytest

import barpo_jax as bj


@pytest.mark.parametrize("kw, fragment", [
    (dict(env="nope"), "unknown env"),
    (dict(algo="nope"), "unknown algo"),
    (dict(backend="nope"), "unknown backend"),
    (dict(num_timesteps=0), "num_timesteps must be a positive integer"),
    (dict(num_seeds=0), "num_seeds"),
    (dict(eps=-0.1), "eps must be >= 0"),
    (dict(num_envs=30, unroll_length=1, num_minibatches=4), "does not divide"),
])
def test_config_rejects_bad_input(kw, fragment):
    with pytest.raises(bj.ConfigError, match=fragment):
        bj.TrainConfig(**{"env": "hopper", **kw})


def test_config_presets_and_roundtrip():
    cfg = bj.TrainConfig(env="walker2d", algo="barpo", backend="mjx")  # the accelerator preset
    assert cfg.eps == 0.05 and cfg.kappa == 1.0 and cfg.num_envs == 2048
    assert bj.TrainConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.diff(cfg.replace(eps=0.1)) == {"eps": (0.05, 0.1)}


def test_presets_depend_on_the_backend():
    cpu = bj.TrainConfig(env="hopper", backend="positional")
    gpu = bj.TrainConfig(env="hopper", backend="mjx")
    assert cpu.reward_normalization and cpu.lr_schedule == "linear" and cpu.num_envs == 32
    assert not gpu.reward_normalization and gpu.num_envs == 2048
    assert bj.TrainConfig(env="hopper", backend="positional", num_envs=64).num_envs == 64  # user wins
    assert bj.TrainConfig(env="hopper").backend in bj.BACKENDS  # auto-resolved and recorded
