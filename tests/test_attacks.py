"""The attack suite and the robustness report."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import barpo_jax as bj
from barpo_jax import attacks, networks


def _victim(obs_size, action_size=2, seed=0):
    ac = networks.ActorCritic(obs_size, action_size)
    return ac, attacks.make_victim(ac, ac.init(jax.random.PRNGKey(seed)))


@pytest.mark.parametrize("shape", [(1, 3), (7, 4), (64, 11)])
@pytest.mark.parametrize("eps", [0.0, 0.01, 0.3])
def test_every_attack_stays_in_the_ball(shape, eps):
    ac, victim = _victim(shape[1])
    obs = 3.0 * jax.random.normal(jax.random.PRNGKey(shape[0]), shape)
    fns = dict(attacks.HEURISTIC)
    for name, spec in attacks.LEARNED_SPECS.items():  # learned attacks with random (unfitted) parameters
        adv_ac = networks.ActorCritic(shape[1], spec.action_size(type("E", (), {"obs_size": shape[1],
                                                                                  "action_size": 2})))
        fns[name] = attacks.LEARNED[name].apply(adv_ac.init(jax.random.PRNGKey(5)), adv_ac)
    from barpo_jax.attacks import robust_sarsa as rs
    q = rs.init_q(jax.random.PRNGKey(6), shape[1], 2, rs.RSConfig())
    fns["rs"] = attacks.LEARNED["rs"].apply(q, None)
    for name, fn in fns.items():
        out = fn(jax.random.PRNGKey(9), obs, victim, eps)
        assert out.shape == obs.shape, name
        assert float(jnp.max(jnp.abs(out - obs))) <= eps + 1e-5, name


def test_mad_raises_kl_more_than_random():
    ac, victim = _victim(8)
    obs = jax.random.normal(jax.random.PRNGKey(0), (512, 8))
    kl = lambda o2: float(jnp.mean(networks.kl(*victim.dist(obs), *victim.dist(o2))))
    k = jax.random.PRNGKey(1)
    assert kl(attacks.mad(k, obs, victim, 0.1)) > 2 * kl(attacks.uniform(k, obs, victim, 0.1))


def test_critic_lowers_value_more_than_random():
    ac, victim = _victim(8)
    obs = jax.random.normal(jax.random.PRNGKey(0), (512, 8))
    k = jax.random.PRNGKey(1)
    v0 = victim.value(obs)
    drop_critic = float(jnp.mean(v0 - victim.value(attacks.critic(k, obs, victim, 0.1))))
    drop_random = float(jnp.mean(v0 - victim.value(attacks.uniform(k, obs, victim, 0.1))))
    assert drop_critic > 0 and drop_critic > 5 * abs(drop_random)


def test_eps_zero_every_attack_equals_natural(trained):
    rep = bj.evaluate(trained, attacks="all", eps=0.0, episodes=4, learned_timesteps=4096, progress=False)
    assert rep.attacks[0] == "none" and set(attacks.ALL) <= set(rep.attacks)
    np.testing.assert_allclose(rep.returns, rep.returns[:, :1].repeat(len(rep.attacks), 1), rtol=1e-6)


def test_sa_rl_beats_random_on_a_trained_policy(trained):
    rep = bj.evaluate(trained, attacks=["random", "sa_rl"], eps=1.0, episodes=16, learned_timesteps=150_000,
                      progress=False)
    r = dict(zip(rep.attacks, rep.returns.mean(0)))
    assert r["sa_rl"] < 0.8 * r["random"], r


def test_user_attack_plugs_in_and_report_api(trained, tmp_path):
    def flip(key, obs, victim, eps):  # push every coordinate by eps against the sign of the mean action
        return obs - eps * jnp.sign(obs)
    rep = bj.evaluate(trained, attacks={"flip": flip, "mad": "mad"}, eps=0.2, episodes=4, progress=False)
    assert rep.attacks == ["none", "flip", "mad"]
    assert rep.returns.shape == (2, 3) and rep.worst_case.shape == (2,)
    assert rep.median_agent in (0, 1)
    assert "median" in rep.table() and "flip" in rep.table()
    rep.save(str(tmp_path / "r.json"))
    rep.plot(str(tmp_path / "r.png"))
    back = bj.RobustnessReport.load(str(tmp_path / "r.json"))
    np.testing.assert_allclose(back.returns, rep.returns)


def test_bad_attack_input(trained):
    with pytest.raises(bj.ConfigError, match="unknown attack 'nope'"):
        bj.evaluate(trained, attacks=["nope"], progress=False)
    with pytest.raises(bj.ConfigError, match="eps must be"):
        bj.evaluate(trained, attacks=["random"], eps=-0.1, progress=False)


def test_evaluate_defaults_to_the_runs_own_eps(trained):
    import dataclasses
    run = dataclasses.replace(trained, config=trained.config.replace(eps=0.25))
    report = bj.evaluate(run, attacks=["random"], episodes=2, progress=False)
    assert report.eps == 0.25 and "eps = 0.25" in report.table()
    assert bj.evaluate(run, attacks=["random"], episodes=2, eps=0.05, progress=False).eps == 0.05
