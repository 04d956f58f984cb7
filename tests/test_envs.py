"""barpo_jax.envs: the batched wrapper keeps termination and time-limit truncation apart,
auto-resets on either, and reports the observation reached before the reset.

A counting fake task stands in for Brax (no physics to compile): its observation is the
step count, its reward the step count, and an action > 0 terminates the episode.

Then the three kinds of env a config accepts (docs/envs.md): a name registered with Brax, an
Env object, and a MuJoCo Playground env; each trains two tiny iterations."""
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from barpo_jax import envs

from helpers import PointMass  # a Brax Env written in jnp, no physics engine


class _State(NamedTuple):
    obs: jnp.ndarray
    reward: jnp.ndarray
    done: jnp.ndarray
    t: jnp.ndarray


class _Counter:
    observation_size, action_size = 1, 1

    def reset(self, key):
        return _State(jnp.zeros(1), jnp.zeros(()), jnp.zeros(()), jnp.zeros(()))

    def step(self, s, action):
        t = s.t + 1
        return _State(t[None], t, (action[0] > 0).astype(jnp.float32), t)


@pytest.fixture
def vec_env(monkeypatch):
    monkeypatch.setattr(envs, "make_brax_env", lambda name, backend: _Counter())
    return envs.VecEnv("counter", "none", num_envs=2, episode_length=3)


def _run(env, actions):
    """Step through `actions` ([T, n]); the StepOuts stacked over time, and the last state."""
    state, outs = env.reset(jax.random.PRNGKey(0)), []
    for a in actions:
        state, out = env.step(state, jnp.asarray(a, jnp.float32)[:, None])
        outs.append(out)
    return jax.tree.map(lambda *x: np.stack(x), *outs), state


def test_time_limit_truncates_bootstrappably_and_auto_resets(vec_env):
    out, state = _run(vec_env, np.zeros((4, 2)))
    np.testing.assert_array_equal(out.truncated[:, 0], [0, 0, 1, 0])      # episode_length = 3
    np.testing.assert_array_equal(out.terminated, np.zeros((4, 2)))
    np.testing.assert_array_equal(out.final_obs[2, :, 0], [3, 3])        # reached before the reset
    np.testing.assert_array_equal(out.obs[2, :, 0], [0, 0])              # auto-reset to the initial state
    np.testing.assert_array_equal(out.episode_return[:, 0], [0, 0, 1 + 2 + 3, 0])
    np.testing.assert_array_equal(np.asarray(state.steps), [1, 1])      # counting again after the reset
    np.testing.assert_array_equal(np.asarray(state.ep_return), [1, 1])


def test_termination_is_not_truncation_even_at_the_time_limit(vec_env):
    # env 0 terminates at step 1; env 1 terminates exactly at the time limit (step 3)
    out, _ = _run(vec_env, [[1, 0], [0, 0], [0, 1], [0, 0]])
    np.testing.assert_array_equal(out.terminated, [[1, 0], [0, 0], [0, 1], [0, 0]])
    np.testing.assert_array_equal(out.truncated, [[0, 0], [0, 0], [0, 0], [1, 0]])  # env 0: 3 steps after its reset
    np.testing.assert_array_equal(out.episode_return[0], [1, 0])
    np.testing.assert_array_equal(out.episode_return[3], [1 + 2 + 3, 0])


class _Drawn(_Counter):
    """The counter whose start state is a draw from its key (as a Brax task's reset noise)."""

    def reset(self, key):
        return _State(jax.random.uniform(key, (1,)), jnp.zeros(()), jnp.zeros(()), jnp.zeros(()))


@pytest.mark.parametrize("fresh", [True, False])
def test_successive_episodes_of_an_env_start_from_fresh_draws(monkeypatch, fresh):
    monkeypatch.setattr(envs, "make_brax_env", lambda name, backend: _Drawn())
    env = envs.VecEnv("drawn", "none", num_envs=2, episode_length=2, fresh_starts=fresh)
    out, _ = _run(env, np.zeros((8, 2)))
    starts = out.obs[1::2, :, 0]                       # the 4 restarts of each env (after steps 2, 4, 6, 8)
    first = np.asarray(env.reset(jax.random.PRNGKey(0)).inner.obs[:, 0])
    if fresh:
        assert len(np.unique(starts)) == starts.size and not np.isin(first, starts).any()
        again, _ = _run(env, np.zeros((8, 2)))         # deterministic by seed
        np.testing.assert_array_equal(again.obs, out.obs)
    else:                                              # back to the one first state of each env
        np.testing.assert_array_equal(starts, np.broadcast_to(first, starts.shape))


def test_fresh_starts_on_brax_physics_and_old_runs_keep_their_one_start(tmp_path):
    import barpo_jax as bj
    from barpo_jax import checkpoint
    env = envs.VecEnv("inverted_pendulum", "spring", num_envs=2, episode_length=3, fresh_starts=True)
    out, _ = _run(env, np.zeros((6, 2)))
    assert not np.allclose(out.obs[2], out.obs[5])    # env restarts after step 3 and step 6: two draws
    # A run saved before the field existed resumes as it trained: no fresh starts, no reward clip.
    cfg = _tiny_env_config("inverted_pendulum", backend="spring")
    fields = {k: v for k, v in cfg.to_dict().items() if k not in ("fresh_starts", "reward_clip")}
    (tmp_path / "config.json").write_text(__import__("json").dumps(fields))
    old = checkpoint.read_config(str(tmp_path))
    assert cfg.fresh_starts and not old.fresh_starts and old.reward_clip == 0.0
    assert bj.TrainConfig(env="hopper", backend="positional").fresh_starts


# ---- which envs a config accepts (docs/envs.md) ------------------------------------------

def _tiny_env_config(env, **kw):
    """Two PPO iterations of 8 envs x 4 steps: enough to compile and run every part."""
    import barpo_jax as bj
    fields = dict(env=env, num_envs=8, unroll_length=4, num_minibatches=2, num_epochs=1, episode_length=20,
                  num_timesteps=8 * 4 * 2, chunk_iterations=2)
    fields.update(kw)
    return bj.TrainConfig(**fields)


def _assert_trained(result, cfg):
    assert result.iterations == cfg.num_iterations
    assert all(np.isfinite(np.asarray(v)).all() for k, v in result.metrics.items() if k != "episode_return")
    action = result.policy()(jnp.zeros(result.actor_critic().obs_size))
    assert action.shape == (result.actor_critic().action_size,)


def test_an_env_registered_with_brax_trains_with_the_base_presets():
    import brax.envs

    import barpo_jax as bj
    brax.envs.register_environment("barpo_test_point_mass", PointMass)
    cfg = _tiny_env_config("barpo_test_point_mass", backend="spring")
    assert cfg.eps == bj.config.DEFAULT_EPS and cfg.gamma == bj.config._BASE["gamma"]  # no tuned preset
    assert bj.TrainConfig.from_dict(cfg.to_dict()) == cfg
    _assert_trained(bj.train(cfg, progress=False), cfg)


def test_an_env_object_trains_and_only_its_own_process_can_reload_it_by_name(tmp_path, monkeypatch):
    import barpo_jax as bj
    env = PointMass()
    cfg = _tiny_env_config(env, backend="spring", algo="barpo", eps=0.1)
    assert cfg.env.startswith("object:PointMass-") and _tiny_env_config(env, backend="spring").env == cfg.env
    assert bj.TrainConfig.from_dict(cfg.to_dict()) == cfg  # same process: the name resolves
    out = str(tmp_path / "run")
    _assert_trained(bj.train(cfg, out=out, progress=False), cfg)

    monkeypatch.delitem(bj.config.ENV_OBJECTS, cfg.env)  # as in a fresh process
    with pytest.raises(bj.ConfigError, match=r"pass the object again .*register its class") as e:
        bj.load(out)
    assert "\n" not in str(e.value)
    again = bj.load(out, env=PointMass())  # the fix the message names
    assert again.iterations == cfg.num_iterations and again.config.env.startswith("object:PointMass-")
    assert again.config.diff(cfg) == {"env": (again.config.env, cfg.env)}


@pytest.mark.parametrize("env, fragment", [
    ("nope", r"unknown env 'nope': built-in tasks are ant, .*brax.envs.register_environment"),
    (3, "Env object .*a int lacks reset"),
    ("object:Gone-7", "pass the object again"),
])
def test_an_unknown_env_names_the_fix_in_one_line(env, fragment):
    import barpo_jax as bj
    with pytest.raises(bj.ConfigError, match=fragment) as e:
        bj.TrainConfig(env=env, backend="spring")
    assert "\n" not in str(e.value)


def test_a_playground_env_without_the_package_names_the_extra(monkeypatch):
    import sys

    import barpo_jax as bj
    monkeypatch.setitem(sys.modules, "mujoco_playground", None)  # import fails as if not installed
    with pytest.raises(bj.ConfigError, match=r"pip install 'barpo-jax\[playground\]'"):
        bj.TrainConfig(env="playground:CartpoleBalance")


@pytest.mark.slow  # MJX compiles for over a minute on a 2-core CPU
def test_a_playground_env_trains_on_mjx_in_pure_jax(tmp_path):
    pytest.importorskip("mujoco_playground", reason="MuJoCo Playground not installed (pip install "
                                                    "'barpo-jax[playground]')")
    import barpo_jax as bj
    assert bj.TrainConfig(env="playground:CartpoleBalance").episode_length == 1000  # its own config's
    with pytest.raises(bj.ConfigError, match="runs on MJX"):
        bj.TrainConfig(env="playground:CartpoleBalance", backend="spring")
    with pytest.raises(bj.ConfigError, match="unknown MuJoCo Playground env 'Nope'"):
        bj.TrainConfig(env="playground:Nope")
    cfg = _tiny_env_config("playground:CartpoleBalance")
    assert cfg.backend == "mjx" and cfg.episode_length == 20
    result = bj.train(cfg, progress=False)
    _assert_trained(result, cfg)
    # and it can be watched: the Brax viewer of its MuJoCo model, clean and attacked
    shown = bj.render(result, attack="random", eps=0.1, path=str(tmp_path / "pg.html"), episode_length=10)
    page = (tmp_path / "pg.html").read_text()
    assert shown.steps == {"none": 10, "random": 10} and "<iframe" in page and "Brax visualizer" in page
