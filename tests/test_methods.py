"""Robust training methods: each outer-loss combinator on hand-made inputs, composition
properties and smoke training."""
from types import SimpleNamespace

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import barpo_jax as bj
from barpo_jax import methods, networks, ppo
from barpo_jax.methods import METHODS

from helpers import leaves as _leaves, tiny


# ---- the outer-loss combinators on hand-made inputs ------------------------------------
# A fake network whose Gaussian mean is the observation itself (std 1), so the policy ratio
# at any fed observation is known in closed form.

class _Ident:
    def dist(self, params, obs):
        return obs, jnp.ones_like(obs)


_OBS = jnp.zeros((3, 1))                        # clean observations
_ADV_OBS = jnp.array([[0.5], [-1.0], [0.2]])    # "perturbed" observations
_LOGP_OLD = networks.log_prob(_OBS, jnp.ones_like(_OBS), _OBS) - jnp.log(jnp.array([2.0, 0.5, 1.0]))
_BATCH = ppo.Batch(_OBS, _OBS, _OBS, _LOGP_OLD, jnp.array([1.0, 1.0, -2.0]), jnp.zeros(3))
_HP = SimpleNamespace(clip_eps=0.2, kappa=0.7, kappa_reg=0.3, car_lambda=0.0)


def _surrogate_np(fed, clip=0.2):
    """-min(r A, clip(r) A) in numpy, r from the unit-std Gaussian with mean `fed` at action 0."""
    fed = np.asarray(fed)[:, 0]
    logp = -0.5 * fed ** 2 - 0.5 * np.log(2 * np.pi)
    r = np.exp(logp - np.asarray(_LOGP_OLD))
    a = np.asarray(_BATCH.advantage)
    return -np.minimum(r * a, np.clip(r, 1 - clip, 1 + clip) * a)


def _outer(f, hp=_HP):
    loss, aux = f(_Ident(), None, _BATCH, _ADV_OBS, hp)
    return float(loss), aux


def test_clean_evaluates_at_the_clean_observation_and_ignores_the_perturbed_one():
    loss, aux = _outer(methods.clean)
    np.testing.assert_allclose(loss, np.mean([-1.2, -0.5, 2.0]), rtol=1e-5)  # ratios 2, 0.5, 1 (clip 0.2)
    assert aux == {}


def test_at_perturbed_evaluates_at_the_perturbed_observation():
    loss, _ = _outer(methods.at_perturbed)
    np.testing.assert_allclose(loss, _surrogate_np(_ADV_OBS).mean(), rtol=1e-5)
    assert abs(loss - _outer(methods.clean)[0]) > 1e-3


def test_plus_guidance_adds_kappa_times_the_clean_loss():
    guided, _ = _outer(methods.plus_guidance(methods.at_perturbed))
    np.testing.assert_allclose(guided, _surrogate_np(_ADV_OBS).mean() + 0.7 * _surrogate_np(_OBS).mean(), rtol=1e-5)
    unguided, _ = _outer(methods.plus_guidance(methods.at_perturbed), SimpleNamespace(**{**vars(_HP), "kappa": 0.0}))
    np.testing.assert_allclose(unguided, _outer(methods.at_perturbed)[0], rtol=1e-6)


def test_plus_kl_regulariser_adds_kappa_reg_times_the_kl_to_the_perturbed_policy():
    loss, aux = _outer(methods.plus_kl_regulariser(methods.clean))
    kl = np.mean(0.5 * np.asarray(_ADV_OBS)[:, 0] ** 2)  # unit std: KL = (mean difference)^2 / 2
    np.testing.assert_allclose(float(aux["kl_reg"]), kl, rtol=1e-5)
    np.testing.assert_allclose(loss, _surrogate_np(_OBS).mean() + 0.3 * kl, rtol=1e-5)


def test_softmax_aggregate_is_the_mean_at_lambda_zero_and_tends_to_the_worst_sample():
    surr = _surrogate_np(_ADV_OBS)
    mean, aux = _outer(methods.softmax_aggregate)
    np.testing.assert_allclose(mean, surr.mean(), rtol=1e-5)
    np.testing.assert_allclose(float(aux["car_max_weight"]), 1 / 3, rtol=1e-5)
    worst, aux = _outer(methods.softmax_aggregate, SimpleNamespace(**{**vars(_HP), "car_lambda": 200.0}))
    np.testing.assert_allclose(worst, surr.max(), rtol=1e-4)
    assert float(aux["car_max_weight"]) > 0.99


def test_the_methods_compose_the_combinators_as_documented():
    assert METHODS["spo"].inner is None and METHODS["spo"].outer is methods.clean
    assert METHODS["arpo"].inner is methods.SURROGATE and METHODS["arpo"].outer is methods.at_perturbed
    assert METHODS["barpo_unguided"].inner is methods.KL and METHODS["barpo_unguided"].outer is methods.at_perturbed
    # barpo = barpo_unguided + kappa * clean, on the same inputs
    barpo, _ = _outer(METHODS["barpo"].outer)
    np.testing.assert_allclose(barpo, _outer(METHODS["barpo_unguided"].outer)[0] + 0.7 * _outer(methods.clean)[0],
                               rtol=1e-5)


@pytest.fixture(scope="module")
def spo_params():
    return bj.train(tiny(algo="spo", eps=0.0), progress=False).params


@pytest.mark.parametrize("algo", [a for a in bj.ALGOS if a != "spo"])
def test_eps_zero_kappa_zero_reduces_to_spo(algo, spo_params):
    # CAR-PPO's soft-max aggregation is the plain mean only at lambda = 0; RADIAL and WocaR
    # add nothing with their weights at 0 (WocaR's worst-case critic head then gets no gradient
    # and is compared only for the shared policy and critic).
    cfg = tiny(algo=algo, eps=0.0, kappa=0.0, kappa_reg=0.0, car_lambda=0.0, radial_weight=0.0,
               wocar_weight=0.0, wocar_q_coef=0.0)
    params = bj.train(cfg, progress=False).params
    shared = {k: params[k] for k in spo_params}
    for a, b in zip(_leaves(shared), _leaves(spo_params), strict=True):
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
