"""The flat-batch physics program (`Trainer.iteration_runs`) gives the numbers of the
program it replaced, `scan(vmap(iteration))` with the physics under the run vmap:
bit for bit on the spring configs; on MJX the rollout and the update (the same code, compiled
inside a different program) agree to float32 rounding."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from barpo_jax.config import hyperparams
from barpo_jax.learner import Trainer, scan_iterations

from helpers import PHYSICS, PHYSICS_ENV, leaves, tiny


def _both(cfg, iterations=2):
    trainer = Trainer(cfg)
    state, hp = trainer.init_runs([0, 1]), hyperparams(cfg, 2)
    hp = hp._replace(eps=hp.eps * np.array([1.0, 0.5], np.float32))  # runs differ in data, not only in seed
    flat = jax.device_get(trainer.chunk_fn(iterations)(state, hp))
    # The program before the flat-batch physics: the physics stepped under the run vmap.
    nested = jax.device_get(jax.jit(scan_iterations(jax.vmap(trainer.iteration), iterations))(state, hp))
    return flat, nested


@pytest.mark.parametrize("cfg", [
    # The same check on Brax physics compiles the spring step twice more (~100 s): slow tier.
    pytest.param(tiny(**PHYSICS, algo="barpo", rollout_under_adversary=True, eps_ramp_fraction=0.0),
                 marks=pytest.mark.slow),
    tiny(algo="atla_ppo", eps_ramp_fraction=0.0),
], ids=["spring-barpo-under-adversary", "point-mass-atla"])
def test_flat_physics_is_bit_identical_to_nested(cfg):
    (s1, m1), (s2, m2) = _both(cfg)
    for a, b in zip(leaves(s1), leaves(s2), strict=True):
        np.testing.assert_array_equal(a, b)
    assert m1.keys() == m2.keys()
    for k in m1:
        np.testing.assert_array_equal(m1[k], m2[k], err_msg=k)
    assert np.asarray(s1.env.steps).shape == (2, cfg.num_envs)  # the [runs, envs] layout is kept


@pytest.mark.slow
def test_flat_physics_on_mjx():
    cfg = tiny(env=PHYSICS_ENV, backend="mjx", num_envs=8, num_minibatches=2, episode_length=10)
    trainer = Trainer(cfg)
    state, hp = trainer.init_runs([0, 1]), hyperparams(cfg, 2)
    keys = jax.random.split(jax.random.PRNGKey(5), 2)
    nested = jax.jit(lambda ts, hp, k: jax.vmap(lambda t, h, kk: trainer.collect(t, h.eps, h, kk))(ts, hp, k))
    flat = jax.jit(lambda ts, hp, k: trainer.collect_runs(ts, hp.eps, hp, k))
    (env_n, _, _, ro), (env_f, tr) = nested(state, hp, keys), flat(state, hp, keys)
    tr = jax.tree.map(lambda x: jnp.swapaxes(x, 0, 1), tr)  # time-major -> [runs, T, ...]
    # 16 steps, resets included. A reset is drawn in its own `lax.cond` branch, which XLA
    # compiles apart in each program, so the two round differently in the last bit (seen:
    # 1.5e-8 absolute on 2 of 32 values), as in test_step_runs_equals_vmapped_step.
    for a, b in zip(leaves((env_n, ro.tr)), leaves((env_f, tr)), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    (s1, m1), (s2, m2) = _both(cfg, iterations=1)
    for a, b in zip(leaves((s1, m1)), leaves((s2, m2)), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


@pytest.mark.slow
def test_step_runs_equals_vmapped_step():
    trainer = Trainer(tiny(**PHYSICS, episode_length=3))
    state = trainer.init_runs([0, 1]).env
    action = jax.random.uniform(jax.random.PRNGKey(1), (2, 32, trainer.env.action_size), minval=-1, maxval=1)
    # Compiled once each: stepped op by op, the physics compiles every primitive apart (a minute).
    step_flat, step_nested = jax.jit(trainer.env.step_runs), jax.jit(jax.vmap(trainer.env.step))
    for _ in range(4):  # crosses the time limit: auto-reset included
        flat = step_flat(state, action)
        nested = step_nested(state, action)
        # Equal up to float rounding: on the flat batch the fresh starts' resets are drawn inside a
        # branch taken only when an episode ended (`VecEnv.step`), compiled apart from the step, and
        # under the vmap both branches are computed and selected, so a reset may round in the last
        # bit differently (1e-7 relative). A wrong restart or key moves values by far more.
        for a, b in zip(leaves(flat), leaves(nested), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-8)
        state = flat[0]
    assert np.asarray(state.reset_key).shape == (2, 2)
