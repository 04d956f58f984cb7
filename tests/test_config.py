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


def test_robust_method_weights_are_per_task_from_the_published_configs():
    sa = {t: bj.TrainConfig(env=t, algo="sa_ppo", backend="mjx").kappa_reg
          for t in ("hopper", "walker2d", "humanoid", "halfcheetah", "ant")}
    assert sa == {"hopper": 1.0, "walker2d": 0.1, "humanoid": 0.01, "halfcheetah": 0.1, "ant": 0.003}
    car = {t: (c.car_temperature, c.car_reg) for t in ("hopper", "walker2d", "halfcheetah", "ant")
           for c in [bj.TrainConfig(env=t, algo="car_ppo", backend="mjx")]}
    assert car == {"hopper": (1000.0, 0.3), "walker2d": (100.0, 0.1), "halfcheetah": (1000.0, 1.0),
                   "ant": (1e4, 0.3)}
    assert bj.TrainConfig(env="hopper", algo="sa_ppo", backend="mjx", kappa_reg=0.5).kappa_reg == 0.5  # user wins
    atla = {t: bj.TrainConfig(env=t, algo="atla_ppo", backend="mjx").adv_learning_rate
            for t in ("hopper", "walker2d", "halfcheetah", "ant", "humanoid")}
    assert atla == {"hopper": 3e-3, "walker2d": 1e-3, "halfcheetah": 3e-3, "ant": 3e-5, "humanoid": 3e-4}
    # Other algos keep 3e-4 (only a learned attack's "none" scan reads it), so their saved runs still resume.
    assert bj.TrainConfig(env="hopper", algo="barpo", backend="mjx").adv_learning_rate == 3e-4
    with pytest.raises(bj.ConfigError, match="car_temperature must be > 0"):
        bj.TrainConfig(env="hopper", backend="mjx", car_temperature=0.0)


def test_a_config_from_before_the_car_and_sgld_rename_still_loads():
    old = bj.TrainConfig(env="hopper", algo="car_ppo", backend="mjx").to_dict()
    for k in ("car_temperature", "car_reg", "sgld_temperature"):
        old.pop(k)
    old.update(car_lambda=2.0, sgld_noise=1e-3)
    with pytest.warns(UserWarning, match="before issue 11"):
        cfg = bj.TrainConfig.from_dict(old)
    assert cfg.car_temperature == 0.5 and cfg.car_reg == 0.3  # 1 / the old inverse temperature; reg from the preset
    old.update(algo="spo")
    with pytest.warns(UserWarning):
        assert bj.TrainConfig.from_dict(old).car_temperature == 1000.0  # no effect on spo: the preset


def test_a_number_field_given_a_string_is_named_not_a_type_error():
    # JSON and `--set` deliver a mistyped number as a string; the check names the field.
    for fields in ({"gamma": "abc"}, {"eps": "x"}, {"eps_ramp_start": "nan"}, {"num_envs": "4"}):
        with pytest.raises(bj.ConfigError, match=f"config field {next(iter(fields))} takes a number"):
            bj.TrainConfig.from_dict({"env": "hopper", **fields})
    assert bj.TrainConfig.from_dict({"env": "hopper", "gamma": 0.99}).gamma == 0.99
