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
_HP = SimpleNamespace(clip_eps=0.2, kappa=0.7, kappa_reg=0.3, car_temperature=float("inf"), car_reg=0.4)


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


def test_plus_kl_regulariser_adds_kappa_reg_times_the_lineage_regulariser():
    loss, aux = _outer(methods.plus_kl_regulariser(methods.clean))
    # SA-PPO's sum(((mean(s') - mean(s)) / std)^2), twice the KL: unit std, clean mean 0.
    reg = np.mean(np.asarray(_ADV_OBS)[:, 0] ** 2)
    np.testing.assert_allclose(float(aux["kl_reg"]), reg, rtol=1e-5)
    np.testing.assert_allclose(loss, _surrogate_np(_OBS).mean() + 0.3 * reg, rtol=1e-5)


def test_sa_ppo_regulariser_holds_the_clean_mean_constant():
    """As in SA-PPO's code, the gradient reaches pi(nu(s)), not the clean policy's mean."""
    class Lin:
        def dist(self, w, obs):
            return w * obs, jnp.ones_like(obs)
    reg = lambda w, clean_obs, adv_obs: methods.plus_kl_regulariser(lambda *a: (0.0, {}))(
        Lin(), w, _BATCH._replace(obs=clean_obs), adv_obs, _HP)[0]
    # mean(s') = w * 0.5 and mean(s) = w * 1: only d/dw of (0.5 w - const)^2 survives.
    g = jax.grad(reg)(2.0, jnp.ones((1, 1)), jnp.full((1, 1), 0.5))
    np.testing.assert_allclose(float(g), 0.3 * 2 * (0.5 * 2.0 - 2.0) * 0.5, rtol=1e-5)


def test_softmax_aggregate_is_the_mean_at_infinite_temperature_and_tends_to_the_worst_sample():
    surr = _surrogate_np(_ADV_OBS)
    mean, aux = _outer(methods.softmax_aggregate)
    np.testing.assert_allclose(mean, surr.mean(), rtol=1e-5)
    np.testing.assert_allclose(float(aux["car_max_weight"]), 1 / 3, rtol=1e-5)
    worst, aux = _outer(methods.softmax_aggregate, SimpleNamespace(**{**vars(_HP), "car_temperature": 1 / 200}))
    np.testing.assert_allclose(worst, surr.max(), rtol=1e-4)
    assert float(aux["car_max_weight"]) > 0.99
    # CAR-RL's weights are proportional to exp(loss / T), T its robust_soft_lambda
    t = 0.5
    soft, _ = _outer(methods.softmax_aggregate, SimpleNamespace(**{**vars(_HP), "car_temperature": t}))
    w = np.exp(surr / t) / np.exp(surr / t).sum()
    np.testing.assert_allclose(soft, np.sum(w * surr), rtol=1e-5)


def test_car_ppo_is_the_clean_loss_plus_car_reg_times_the_weighted_adversarial_loss():
    car, aux = _outer(METHODS["car_ppo"].outer)
    np.testing.assert_allclose(car, _surrogate_np(_OBS).mean() + 0.4 * _surrogate_np(_ADV_OBS).mean(), rtol=1e-5)
    np.testing.assert_allclose(float(aux["adv_loss"]), _surrogate_np(_ADV_OBS).mean(), rtol=1e-5)
    assert METHODS["car_ppo"].inner is methods.SURROGATE  # CAR-RL's car_pgd: PGD on the surrogate


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
    # CAR-PPO's loss is clean + car_reg * (adversarial term): SPO at car_reg = 0. RADIAL and
    # WocaR add nothing with their weights at 0 (WocaR's worst-case critic head then gets no
    # gradient and is compared only for the shared policy and critic).
    cfg = tiny(algo=algo, eps=0.0, kappa=0.0, kappa_reg=0.0, car_reg=0.0, radial_weight=0.0,
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
    if "mean_bound_width" in r.metrics:                # RADIAL: the bounds open up with eps
        assert (r.metrics["mean_bound_width"][:, -1] > 0).all()
    if "worst_q_td" in r.metrics:                      # WocaR: the worst-case critic trains
        assert np.isfinite(r.metrics["worst_q_td"]).all()


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
        clean = nz.normalize(stats, ro.tr.obs, cfg.observation_clip).reshape(-1, ro.obs.shape[-1])
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


# ---- the bound-based combinators (RADIAL-PPO, WocaR-PPO) on a small real network -----------

def _bound_case(seed=0, n=16):
    ac = networks.ActorCritic(5, 2, worst_case_critic=True)
    params = ac.init(jax.random.PRNGKey(seed))
    params["policy"]["params"]["MLP_0"]["Dense_2"]["kernel"] *= 50.0  # a policy whose mean moves visibly
    k = jax.random.split(jax.random.PRNGKey(seed + 1), 5)
    obs = jax.random.normal(k[0], (n, 5))
    mean, std = ac.dist(params, obs)
    action = mean + std * jax.random.normal(k[1], mean.shape)
    logp = networks.log_prob(mean, std, action) + 0.1 * jax.random.normal(k[2], (n,))
    batch = ppo.Batch(obs, obs, action, logp, jax.random.normal(k[3], (n,)), jnp.zeros(n),
                      next_obs=jax.random.normal(k[4], (n, 5)), reward=jnp.ones(n),
                      terminated=(jnp.arange(n) % 4 == 0).astype(jnp.float32))
    return ac, params, batch


def _hp(**kw):
    return SimpleNamespace(**{**dict(clip_eps=0.2, eps=0.0, radial_weight=1.0, wocar_weight=0.0, wocar_q_coef=1.0,
                                     gamma=0.9, kappa_reg=0.0), **kw})


def test_bound_worst_surrogate_is_the_clean_loss_at_eps_zero_and_bounds_the_loss_inside_the_ball():
    ac, params, batch = _bound_case()
    clean = ppo.surrogate_loss(ac, params, batch.obs, batch, 0.2)
    worst0, width0 = methods.bound_worst_surrogate(ac, params, batch, _hp(eps=0.0))
    np.testing.assert_allclose(worst0, clean, rtol=1e-5, atol=1e-6)
    assert float(width0) < 1e-5
    eps = 0.1
    worst, width = methods.bound_worst_surrogate(ac, params, batch, _hp(eps=eps))
    assert float(width) > 1e-3
    pts = batch.obs[None] + eps * jax.random.uniform(jax.random.PRNGKey(9), (128,) + batch.obs.shape, minval=-1, maxval=1)
    inside = jax.vmap(lambda x: ppo.surrogate_loss(ac, params, x, batch, 0.2))(pts)   # [128, B]
    assert bool(jnp.all(inside <= worst[None] + 1e-5))
    assert bool(jnp.all(worst >= clean - 1e-6)) and float(jnp.max(worst - clean)) > 1e-3


def test_plus_bound_worst_mixes_clean_and_worst_case_as_radial_rl_does():
    ac, params, batch = _bound_case()
    clean = float(methods.clean(ac, params, batch, None, _hp())[0])
    worst = float(jnp.mean(methods.bound_worst_surrogate(ac, params, batch, _hp(eps=0.1))[0]))
    half, aux = methods.plus_bound_worst(methods.clean)(ac, params, batch, None, _hp(eps=0.1))
    np.testing.assert_allclose(float(half), 0.5 * clean + 0.5 * worst, rtol=1e-5)
    assert "mean_bound_width" in aux
    off, _ = methods.plus_bound_worst(methods.clean)(ac, params, batch, None, _hp(eps=0.1, radial_weight=0.0))
    np.testing.assert_allclose(float(off), clean, rtol=1e-6)


def test_worst_case_advantage_adds_the_normalised_worst_q_to_the_advantage():
    ac, params, batch = _bound_case()
    clean = float(methods.clean(ac, params, batch, None, _hp())[0])
    np.testing.assert_allclose(float(methods.worst_case_advantage(ac, params, batch, None, _hp())[0]), clean,
                               rtol=1e-6)
    q = ac.worst_q(params, batch.obs, batch.action)
    robust = batch._replace(advantage=batch.advantage + 0.8 * (q - q.mean()) / (q.std() + 1e-8))
    want = float(jnp.mean(ppo.surrogate_loss(ac, params, batch.obs, robust, 0.2)))
    got = float(methods.worst_case_advantage(ac, params, batch, None, _hp(wocar_weight=0.8))[0])
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_worst_case_td_is_sarsa_on_the_mean_at_eps_zero_lower_in_the_ball_and_trains_only_its_head():
    ac, params, batch = _bound_case()
    mean_next = ac.dist(params, batch.next_obs)[0]
    q = ac.worst_q(params, batch.obs, batch.action)
    target = batch.reward + 0.9 * (1 - batch.terminated) * ac.worst_q(params, batch.next_obs, mean_next)
    np.testing.assert_allclose(float(methods.worst_case_td(ac, params, batch, _hp())),
                               float(jnp.mean(jnp.square(q - target))), rtol=1e-5)
    # with eps > 0 the bootstrap moves to the worst action in the IBP box, and the TD loss
    # trains the worst-case head only (the solved action and the target are constants)
    td = lambda p, e: methods.worst_case_td(ac, p, batch, _hp(eps=e))
    assert float(td(params, 0.3)) != float(td(params, 0.0))
    g = jax.grad(td)(params, 0.3)
    assert all(float(jnp.abs(x).sum()) == 0.0 for x in jax.tree.leaves({k: g[k] for k in ("policy", "value")}))
    assert float(sum(jnp.abs(x).sum() for x in jax.tree.leaves(g["worst_q"]))) > 0


def test_the_worst_case_head_leaves_the_policy_and_critic_init_unchanged():
    key = jax.random.PRNGKey(4)
    plain = networks.ActorCritic(5, 2).init(key)
    with_head = networks.ActorCritic(5, 2, worst_case_critic=True).init(key)
    assert set(with_head) == {"policy", "value", "worst_q"}
    for a, b in zip(_leaves(plain), _leaves({k: with_head[k] for k in plain}), strict=True):
        np.testing.assert_array_equal(a, b)
    assert METHODS["wocar_ppo"].worst_case_critic and not METHODS["radial_ppo"].worst_case_critic
