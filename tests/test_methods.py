"""Robust training methods: composition properties and smoke training."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import barpo_jax as bj
from barpo_jax import adversary, networks
from barpo_jax.methods import METHODS

from helpers import leaves as _leaves, tiny


@pytest.fixture(scope="module")
def spo_params():
    return bj.train(tiny(algo="spo", eps=0.0), progress=False).params


@pytest.mark.parametrize("algo", [a for a in bj.ALGOS if a != "spo"])
def test_eps_zero_kappa_zero_reduces_to_spo(algo, spo_params):
    # CAR-PPO's soft-max aggregation is the plain mean only at lambda = 0.
    cfg = tiny(algo=algo, eps=0.0, kappa=0.0, kappa_reg=0.0, car_lambda=0.0)
    params = bj.train(cfg, progress=False).params
    for a, b in zip(_leaves(params), _leaves(spo_params), strict=True):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("algo", bj.ALGOS)
def test_each_method_trains_without_nan(algo):
    # Same static config as the eps = 0 test above, so the compiled program is reused.
    r = bj.train(tiny(algo=algo, eps=0.2, rollout_under_adversary=(algo == "barpo")), progress=False)
    assert all(np.isfinite(x).all() for x in _leaves(r.params))
    assert np.isfinite(r.metrics["loss"]).all()
    if METHODS[algo].inner is not None:
        assert (r.metrics["inner_kl"][:, -1] > 0).all()  # once eps has ramped up, the adversary perturbs


def test_atla_really_alternates():
    cfg = tiny(algo="atla_ppo", eps=0.2)
    from barpo_jax.learner import Trainer
    before = Trainer.cached(cfg).init_runs([cfg.seed]).adv.params
    after = bj.train(cfg, progress=False).state.adv.params
    changed = [not np.allclose(a, b) for a, b in zip(_leaves(before), _leaves(after))]
    assert any(changed)


def _random_policy(obs_size=6, action_size=3, seed=0):
    ac = networks.ActorCritic(obs_size, action_size)
    return ac, ac.init(jax.random.PRNGKey(seed))


def test_inner_solver_increases_kl_over_random_start():
    ac, params = _random_policy()
    s = jax.random.normal(jax.random.PRNGKey(1), (256, 6))
    obj = adversary.kl_objective(lambda x: ac.dist(params, x), s)
    key = jax.random.PRNGKey(2)
    start = adversary.uniform_in_ball(jax.random.split(key)[0], s, 0.1)  # the solver's own random start
    solved = adversary.solve(obj, s, key, 0.1, 10)
    assert float(jnp.mean(obj(solved))) > 2 * float(jnp.mean(obj(start)))
    assert float(jnp.max(jnp.abs(solved - s))) <= 0.1 + 1e-6


def test_no_gradient_flows_through_the_inner_argmax():
    ac, params = _random_policy()
    s = jax.random.normal(jax.random.PRNGKey(1), (16, 6))

    def perturbation(p):
        obj = adversary.kl_objective(lambda x: ac.dist(p, x), s)
        return jnp.sum(adversary.solve(obj, s, jax.random.PRNGKey(3), 0.1, 5) ** 2)

    g = jax.grad(perturbation)(params)
    assert all(float(jnp.abs(x).max()) == 0.0 for x in jax.tree.leaves(g))
    # ...while the outer loss at nu(s) still has a gradient wrt the parameters
    def outer(p):
        obj = adversary.kl_objective(lambda x: ac.dist(p, x), s)
        nu = adversary.solve(obj, s, jax.random.PRNGKey(3), 0.1, 5)
        return jnp.sum(ac.dist(p, nu)[0])
    assert any(float(jnp.abs(x).max()) > 0 for x in jax.tree.leaves(jax.grad(outer)(params)))


def test_rollout_under_adversary_trains_around_the_clean_observation():
    """Rollouts under the adversary: the batch keeps the clean observation, the loss-time
    inner solve stays within eps of it (not 2 eps), and the guidance term sees it."""
    from barpo_jax import normalize as nz, ppo
    from barpo_jax.config import hyperparams
    from barpo_jax.learner import Trainer

    eps = 0.2
    cfg = tiny(algo="barpo", eps=eps, eps_ramp_fraction=0.0, rollout_under_adversary=True)
    trainer = Trainer(cfg)
    first = lambda t: jax.tree.map(lambda x: x[0], t)
    ts, hp = first(trainer.init_runs([0])), first(hyperparams(cfg, 1))
    key = jax.random.PRNGKey(3)

    @jax.jit
    def losses(ts):
        _, stats, _, ro = trainer.collect(ts, hp.eps, hp, key)
        clean = nz.normalize(stats, ro.tr.obs).reshape(-1, ro.obs.shape[-1])
        batch = trainer.agent_batch(ts.agent.params, ro, hp)
        ac, p = trainer.ac, ts.agent.params
        nu = METHODS["barpo"].perturb(ac, p, batch, key, eps, hp, cfg.inner_steps)
        guided = METHODS["barpo"].loss(ac, p, batch, key, eps, hp, cfg.inner_steps)[1]["policy_loss"]
        unguided = METHODS["barpo_unguided"].loss(ac, p, batch, key, eps, hp, cfg.inner_steps)[1]["policy_loss"]
        at = lambda obs: jnp.mean(ppo.surrogate_loss(ac, p, obs, batch, hp.clip_eps))
        return clean, batch, nu, guided - unguided, at(clean), at(batch.obs_seen)

    clean, batch, nu, guidance, at_clean, at_seen = jax.device_get(losses(ts))
    np.testing.assert_array_equal(batch.obs, clean)
    rollout_delta = np.abs(batch.obs_seen - clean).max()
    assert 0.5 * eps < rollout_delta <= eps + 1e-5  # the policy really acted on perturbed observations
    assert np.abs(nu - clean).max() <= eps + 1e-5    # total perturbation at loss time: within eps
    assert hp.kappa == 1.0
    # The guidance term is the surrogate at the clean observation, not at the perturbed one.
    assert abs(guidance - at_clean) < 0.05 * abs(at_seen - at_clean), (guidance, at_clean, at_seen)
