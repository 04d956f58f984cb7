"""Shared test helpers (imported by test files; conftest.py only holds fixtures).

Tiny settings: inverted_pendulum on the spring backend (fastest to compile and step
on a 2-core CPU), short episodes, few envs."""
import jax
import numpy as np

import barpo_jax as bj

TINY = dict(env="inverted_pendulum", backend="spring", num_envs=32, unroll_length=16, num_minibatches=4,
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


def run_cli(capsys, *argv):
    """barpo_jax.cli.main in this process: (status, stdout, stderr); argparse's exits become a status."""
    from barpo_jax import cli
    try:
        code = cli.main(list(argv))
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err
