"""Robust Sarsa Q learner: TD fixed point, action smoothness, jit + vmap."""
import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from barpo_jax import networks, normalize
from barpo_jax.attacks import robust_sarsa as rs
from barpo_jax.envs import EnvState, StepOut


class _Inner(NamedTuple):
    obs: jnp.ndarray  # [n, 1] = x / K
    x: jnp.ndarray    # [n] int32 ring position


class RingEnv:
    """A hand-made VecEnv look-alike with a known Q: a ring of K positions x -> x + 1 (mod K).

    obs = [x / K], reward r(x) = 1 + x (the position acted in), whatever the action.
    * ``terminate`` = 1: the step that wraps K - 1 -> 0 truly terminates, so
      Q(x) = sum_{j < K - x} gamma^j r(x + j).
    * ``terminate`` = 0: nothing terminates, the time limit truncates every L steps
      and the env auto-resets to its start position. Sarsa must bootstrap through
      the truncation from the position the step *reached* (final_obs), so
      Q(x) = sum_{j < K} gamma^j r((x + j) mod K) / (1 - gamma^K); bootstrapping from
      the reset position, or not at all, gives other values.
    ``terminate`` may be a traced scalar (one compile for both). Start positions are
    random per environment, so every position is visited.
    """

    obs_size, action_size = 1, 1

    def __init__(self, num_envs: int, K: int, L: int, terminate):
        self.num_envs, self.K, self.L, self.terminate, self.episode_length = num_envs, K, L, terminate, L

    def _inner(self, x):
        return _Inner((x / self.K)[:, None].astype(jnp.float32), x)

    def reset(self, key) -> EnvState:
        inner = self._inner(jax.random.randint(key, (self.num_envs,), 0, self.K))
        return EnvState(inner, inner, jnp.zeros((self.num_envs,), jnp.int32),
                        jnp.zeros((self.num_envs,), jnp.float32))

    def step(self, state: EnvState, action):
        x, steps = state.inner.x, state.steps + 1
        reward = 1.0 + x + 0.0 * action[:, 0]
        nxt = self._inner((x + 1) % self.K)
        term = (x + 1 >= self.K) * self.terminate
        trunc = (steps >= self.L) * (1.0 - self.terminate)
        done = (term + trunc) > 0
        x = jnp.where(done, state.first.x, nxt.x)
        new = EnvState(self._inner(x), state.first, jnp.where(done, 0, steps), state.ep_return)
        return new, StepOut(new.inner.obs, nxt.obs, reward, term, trunc, 0.0 * reward)

    def true_q(self, gamma):
        r = 1.0 + np.arange(self.K)
        if self.terminate:
            return np.array([sum(gamma ** j * r[x + j] for j in range(self.K - x)) for x in range(self.K)])
        ring = [sum(gamma ** j * r[(x + j) % self.K] for j in range(self.K)) for x in range(self.K)]
        return np.array(ring) / (1.0 - gamma ** self.K)


def _linear_policy(p, x):
    return p["w"] * x, jnp.ones_like(x)


def test_td_fixed_point_jitted_and_vmapped_over_victims():
    """Sarsa reaches the known Q through a truncation and through a termination.

    Run as the attack's caller runs it: jit of a vmap over (victim params, stats,
    key), with ``policy_dist`` built inside from the params; the two lanes are two
    victims on two variants of the ring (the reward ignores the action, so the true
    Q at (s, mu(s)) is the same for any victim).
    """
    K, L, gamma = 4, 2, 0.5
    cfg = rs.RSConfig(num_envs=16, unroll_length=8, iterations=200, gamma=gamma, reg=0.0,
                      learning_rate=3e-3)
    obs = (jnp.arange(K) / K)[:, None].astype(jnp.float32)

    def run(p, stats, key, terminate):
        q, m = rs.fit(RingEnv(16, K, L, terminate), lambda x: _linear_policy(p, x), stats, key, cfg)
        act = networks.to_env_action(_linear_policy(p, normalize.normalize(stats, obs, normalize.CLIP))[0])
        return q, rs.q_value(q, normalize.normalize(stats, obs, normalize.CLIP), act), m

    params = {"w": jnp.array([0.5, -0.3])}
    stats = jax.vmap(lambda _: normalize.init(1))(jnp.arange(2))
    keys = jax.random.split(jax.random.PRNGKey(0), 2)
    q, got, m = jax.jit(jax.vmap(run))(params, stats, keys, jnp.array([0.0, 1.0]))

    for i, terminate in enumerate((0, 1)):
        want = RingEnv(16, K, L, terminate).true_q(gamma)
        np.testing.assert_allclose(got[i], want, atol=0.02, err_msg=f"terminate={terminate}")
    assert all(v.shape == (2, cfg.iterations) and np.all(np.isfinite(v)) for v in m.values())
    assert np.all(m["td_loss"][:, -10:].mean(-1) < 1e-2)
    assert q["scale"].shape == (2,)
    for leaf in jax.tree.leaves(q["mlp"]):
        assert leaf.shape[0] == 2 and np.all(np.isfinite(leaf))
        assert not np.allclose(leaf[0], leaf[1])  # two lanes, two different Q networks


ITERS = 100


@pytest.fixture(scope="module")
def pendulum_runs():
    """A random victim on a real Brax task, fitted with reg = 0 and reg = 1 (one compile),
    and Monte-Carlo returns of that victim from the states of a fresh rollout."""
    from barpo_jax.envs import VecEnv

    env = VecEnv("inverted_pendulum", "spring", 32, 100)
    ac = networks.ActorCritic(env.obs_size, env.action_size)
    cfg = rs.RSConfig(num_envs=32, unroll_length=16, iterations=ITERS, gamma=0.9, action_eps=0.05)
    params, stats = ac.init(jax.random.PRNGKey(0)), normalize.init(env.obs_size)

    def mu(obs):
        return networks.to_env_action(ac.dist(params, normalize.normalize(stats, obs, normalize.CLIP))[0])

    def run(reg):  # float RSConfig fields may be traced: one compile for both. Both regularisers
        # (certified and sampled) at weight `reg`: lane 0 has none, lane 1 is the default
        return rs.fit(env, lambda x: ac.dist(params, x), stats, jax.random.PRNGKey(1),
                      dataclasses.replace(cfg, reg=reg, sampled_reg=reg))

    q, m = jax.jit(jax.vmap(run))(jnp.array([0.0, 1.0]))

    # Ground truth: Monte-Carlo discounted returns of the victim from the states of a
    # fresh rollout without time limit, 100 steps past the last state scored (the
    # unseen tail is then worth at most gamma^100 / (1 - gamma) ~ 3e-4).
    long_env = VecEnv("inverted_pendulum", "spring", 32, 10**6)

    def monte_carlo(key):
        def step(s, _):
            o = s.inner.obs
            s, out = long_env.step(s, mu(o))
            return s, (o, out.reward, out.terminated)

        _, (obs, rew, term) = jax.lax.scan(step, long_env.reset(key), None, length=150)

        def back(g, x):
            g = x[0] + cfg.gamma * (1.0 - x[1]) * g
            return g, g

        _, ret = jax.lax.scan(back, jnp.zeros_like(rew[0]), (rew, term), reverse=True)
        obs = obs[:50].reshape(-1, env.obs_size)
        return obs, ret[:50].reshape(-1)

    def sensitivity(qp, o, a):
        """Largest change of Q when the victim's action moves to either end of the eps ball."""
        q0 = rs.q_value(qp, o, a)
        return jnp.mean(jnp.maximum(jnp.abs(rs.q_value(qp, o, a + cfg.action_eps) - q0),
                                    jnp.abs(rs.q_value(qp, o, a - cfg.action_eps) - q0)))

    @jax.jit
    def evaluate(q):
        obs, ret = monte_carlo(jax.random.PRNGKey(7))
        a, o = mu(obs), normalize.normalize(stats, obs, normalize.CLIP)
        return ret, jax.vmap(lambda qp: rs.q_value(qp, o, a))(q), jax.vmap(lambda qp: sensitivity(qp, o, a))(q)

    ret, q_mc, sens = evaluate(q)
    return q, m, np.asarray(sens), np.asarray(q_mc), np.asarray(ret)


def test_real_task_q_matches_monte_carlo_returns(pendulum_runs):
    q, m, _, q_mc, ret = pendulum_runs
    for leaf in jax.tree.leaves(q):
        assert leaf.shape[0] == 2 and np.all(np.isfinite(leaf))
    for k, v in m.items():
        assert v.shape == (2, ITERS) and np.all(np.isfinite(v)), k
    # Q tracks the victim's Monte-Carlo returns, with and without the regulariser. The
    # random victim drops the pole within tens of steps, so the returns range from 1
    # (about to fall) to 1 / (1 - gamma) = 10 (far from falling).
    assert ret.min() < 5.0 < 9.0 < ret.max()
    for qv in q_mc:
        assert np.corrcoef(qv, ret)[0, 1] > 0.9
        assert np.sqrt(np.mean(np.square(qv - ret))) < 0.5


def test_regulariser_smooths_q_in_the_action(pendulum_runs):
    _, m, sens, _, _ = pendulum_runs
    train_sens = m["action_sensitivity"][:, -10:].mean(-1)  # [reg]
    assert train_sens[1] < 0.3 * train_sens[0], train_sens
    assert sens[1] < 0.3 * sens[0], sens
    # the certified term is what is trained: Q's IBP width over the action box collapses
    width = m["bound_width"][:, -10:].mean(-1)
    assert width[1] < 0.3 * width[0], width


def test_q_bounds_are_sound_and_exact_at_zero_radius():
    cfg = rs.RSConfig(hidden=(16, 16))
    q = rs.init_q(jax.random.PRNGKey(0), 3, 2, cfg)
    obs = jax.random.normal(jax.random.PRNGKey(1), (8, 3))
    act = jax.random.uniform(jax.random.PRNGKey(2), (8, 2), minval=-1, maxval=1)
    lo, hi = rs.q_bounds(q, obs, act, 0.0, 0.0)
    np.testing.assert_allclose(lo, rs.q_value(q, obs, act), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(hi, rs.q_value(q, obs, act), rtol=1e-5, atol=1e-5)
    lo, hi = rs.q_bounds(q, obs, act, 0.1, 0.2)
    k1, k2 = jax.random.split(jax.random.PRNGKey(3))
    do = 0.1 * jax.random.uniform(k1, (256,) + obs.shape, minval=-1, maxval=1)
    da = 0.2 * jax.random.uniform(k2, (256,) + act.shape, minval=-1, maxval=1)
    v = jax.vmap(lambda a, b: rs.q_value(q, obs + a, act + b))(do, da)
    assert bool(jnp.all(v >= lo - 1e-4)) and bool(jnp.all(v <= hi + 1e-4))
    # (that it keeps the TD fit is checked against Monte-Carlo returns above)


