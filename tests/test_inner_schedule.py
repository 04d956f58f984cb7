"""`inner_schedule`: when the loss's inner solve runs (per minibatch, per epoch, per rollout)."""
import jax
import numpy as np
import pytest

import barpo_jax as bj
from barpo_jax.config import hyperparams
from barpo_jax.learner import Trainer
from barpo_jax.methods import METHODS

from helpers import leaves, tiny


def test_minibatch_is_the_default_and_differs_from_solving_once_per_epoch():
    assert tiny(algo="barpo") == tiny(algo="barpo", inner_schedule="minibatch")  # the default: one program
    kw = dict(algo="barpo", eps=0.2, eps_ramp_fraction=0.0)
    per_minibatch = bj.train(tiny(**kw), progress=False)
    per_epoch = bj.train(tiny(**kw, inner_schedule="epoch"), progress=False)
    # The schedule reaches the program: a fresh solve per minibatch trains other parameters.
    assert any(not np.array_equal(x, y) for x, y in zip(leaves(per_minibatch.params), leaves(per_epoch.params)))
    assert (per_minibatch.metrics["inner_kl"] > 0).all()


def test_unknown_schedule_is_a_config_error():
    with pytest.raises(bj.ConfigError, match="inner_schedule"):
        tiny(inner_schedule="sometimes")


@pytest.mark.parametrize("algo", ["barpo", "arpo"])  # the KL (SGLD) and the surrogate (PGD) inner levels
def test_solved_ahead_perturbations_stay_in_the_ball(algo):
    eps = 0.2
    cfg = tiny(algo=algo, eps=eps, eps_ramp_fraction=0.0)
    trainer = Trainer(cfg)
    first = lambda t: jax.tree.map(lambda x: x[0], t)
    ts, hp = first(trainer.init_runs([0])), first(hyperparams(cfg, 1))
    key = jax.random.PRNGKey(4)

    @jax.jit
    def ahead(ts):
        _, _, _, ro = trainer.collect(ts, hp.eps, hp, key)
        batch = trainer.agent_batch(ts.agent.params, ro, hp)
        return batch, METHODS[algo].solve_ahead(trainer.ac, ts.agent.params, batch, key, eps, hp, cfg.inner_steps,
                                                True)

    batch, solved = jax.device_get(ahead(ts))
    dist = np.abs(solved.obs_adv - batch.obs).max()
    assert 0.5 * eps < dist <= eps + 1e-5
    np.testing.assert_array_equal(solved.advantage, batch.advantage)  # normalised only for the solve


@pytest.mark.parametrize("schedule", ["epoch", "rollout"])
def test_schedules_train_and_reduce_to_spo_at_eps_zero(schedule):
    spo = bj.train(tiny(algo="spo"), progress=False)
    zero = bj.train(tiny(algo="barpo", eps=0.0, kappa=0.0, inner_schedule=schedule), progress=False)
    for a, b in zip(leaves(zero.params), leaves(spo.params), strict=True):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6)
    r = bj.train(tiny(algo="barpo", eps=0.2, eps_ramp_fraction=0.0, inner_schedule=schedule), progress=False)
    assert all(np.isfinite(x).all() for x in leaves(r.params))
    assert (r.metrics["inner_kl"] > 0).all()  # the solved-ahead perturbation reaches the loss
