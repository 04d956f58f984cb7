"""Shared test helpers (imported by test files; conftest.py only holds fixtures).

Tiny settings (`TINY`, `tiny`): a point mass written in jnp (`PointMass`, registered with
Brax as `POINT_MASS`), short episodes, few envs. Most tests check the trainer, the attacks
and the saved runs, not physics, and a training program on the point mass compiles about
3x faster than on the smallest Brax physics (spring inverted_pendulum: 24 s against 9 s for
SPO on a 2-core CPU), and compiling is most of the suite's time. Tests about physics,
backends or rendering ask for `PHYSICS` (spring inverted_pendulum) instead."""
import jax
import jax.numpy as jnp
import numpy as np
from brax import envs as brax_envs
from brax.envs.base import Env, State

import barpo_jax as bj


class PointMass(Env):
    """A 1-D point mass pushed by the action, rewarded for staying near the origin; it
    terminates when it strays past |x| > 2, so episodes end at different times. Its
    observation is (position, velocity): an observation attack can make the policy push
    the wrong way, and the return falls."""

    def reset(self, rng):
        obs = jax.random.uniform(rng, (2,), minval=-1.0, maxval=1.0)
        return State(None, obs, jnp.zeros(()), jnp.zeros(()), {}, {})

    def step(self, state, action):
        pos, vel = state.obs
        vel = vel + 0.1 * jnp.clip(action[0], -1.0, 1.0)
        pos = pos + 0.1 * vel
        return state.replace(obs=jnp.stack([pos, vel]), reward=1.0 - pos ** 2,
                             done=(jnp.abs(pos) > 2.0).astype(jnp.float32))

    @property
    def observation_size(self):
        return 2

    @property
    def action_size(self):
        return 1

    @property
    def backend(self):
        return "none"  # no physics engine: not one of barpo's backends, so the config's is kept


POINT_MASS = "barpo_test_point_mass"
brax_envs.register_environment(POINT_MASS, PointMass)

PHYSICS_ENV = "inverted_pendulum"
PHYSICS = dict(env=PHYSICS_ENV, backend="spring")  # the smallest Brax physics
TINY = dict(env=POINT_MASS, backend="spring", num_envs=32, unroll_length=16, num_minibatches=4,
            num_epochs=2, episode_length=100, chunk_iterations=2)


def tiny(**kw) -> bj.TrainConfig:
    fields = dict(TINY, num_timesteps=32 * 16 * 4)  # 4 iterations
    fields.update(kw)
    return bj.TrainConfig(**fields)


def leaves(tree) -> list:
    """The leaves of a pytree as numpy arrays."""
    return [np.asarray(x) for x in jax.tree.leaves(tree)]


def assert_trees_close(a, b, **kw):
    for x, y in zip(leaves(a), leaves(b), strict=True):
        np.testing.assert_allclose(x, y, **kw)


def random_policy(obs_size=6, action_size=3, seed=0):
    """An untrained actor-critic and its parameters."""
    from barpo_jax import networks
    ac = networks.ActorCritic(obs_size, action_size)
    return ac, ac.init(jax.random.PRNGKey(seed))


# A run that trains in seconds: `barpo train *SMALL --out DIR` (8 iterations, two chunks).
SMALL = ["--env", "inverted_pendulum", "--backend", "spring", "--steps", "4096", "--envs", "32", "--episode-length",
         "50", "--set", "unroll_length=16", "--set", "num_minibatches=4", "--set", "chunk_iterations=4",
         "--no-progress"]


def run_cli(capsys, *argv):
    """barpo_jax.cli.main in this process: (status, stdout, stderr); argparse's exits become a status."""
    from barpo_jax import cli
    try:
        code = cli.main(list(argv))
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err
