"""Exactness checks for barpo_jax.landscape (all small, CPU, a few seconds)."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import barpo_jax as bj
from barpo_jax import landscape as L

MDP = L.make_chain_mdp()


def _rand_theta(seed, mdp=MDP, scale=1.5, dtype=jnp.float32):
    rng = np.random.default_rng(seed)
    return jnp.asarray(scale * rng.standard_normal((mdp.n_states, mdp.n_actions)), dtype)


def _iterative_eval(mdp, pi_s, n_iter=3000):
    """Plain numpy iterative policy evaluation V <- r_pi + gamma P_pi V."""
    P_pi = np.einsum("sa,sat->st", pi_s, mdp.P)
    r_pi = (pi_s * mdp.R).sum(-1)
    V = np.zeros(mdp.n_states)
    for _ in range(n_iter):
        V = r_pi + mdp.gamma * P_pi @ V
    return V


def _all_adversaries(mdp):
    """Every deterministic adversary as a one-hot [S, S] matrix."""
    choices = [np.flatnonzero(mdp.nbhd[s]) for s in range(mdp.n_states)]
    for combo in itertools.product(*choices):
        yield np.eye(mdp.n_states)[list(combo)]


ALL_NU = jnp.asarray(np.stack(list(_all_adversaries(MDP))), jnp.float32)
_eval_all = jax.jit(jax.vmap(lambda pi, nu: L.policy_evaluation(MDP, L.perceived_policy(pi, nu)), in_axes=(None, 0)))


def _x64_theta(seed, mdp=MDP):
    return jnp.asarray(np.random.default_rng(seed).standard_normal((mdp.n_states, mdp.n_actions)), jnp.float64)


def _central_diff(f, theta, h=1e-6):
    """Central differences, all 2*S*A evaluations in one vmapped call."""
    E = h * jnp.eye(theta.size, dtype=theta.dtype).reshape((theta.size,) + theta.shape)
    fv = jax.jit(jax.vmap(f))
    return np.asarray((fv(theta + E) - fv(theta - E)) / (2 * h)).reshape(theta.shape)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_linear_solve_matches_iterative_evaluation(seed):
    theta = _rand_theta(seed)
    pi = np.asarray(L.policy_from_logits(theta), np.float64)
    V = np.asarray(L.natural_value(MDP, theta))
    np.testing.assert_allclose(V, _iterative_eval(MDP, pi), rtol=1e-4, atol=1e-5)
    # ... and under an arbitrary adversary: agent in s acts with pi(.|nu(s))
    nu = next(itertools.islice(_all_adversaries(MDP), 7, None))
    V_nu = np.asarray(L.value_under_adversary(MDP, theta, jnp.asarray(nu, jnp.float32)))
    np.testing.assert_allclose(V_nu, _iterative_eval(MDP, nu @ pi), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_strongest_adversary_is_the_brute_force_minimum(seed):
    theta = _rand_theta(seed)
    pi = L.policy_from_logits(theta)
    nu_star = L.strongest_adversary(MDP, pi)
    V_star = np.asarray(L.policy_evaluation(MDP, L.perceived_policy(pi, nu_star)))
    rho = MDP.rho
    all_V = np.asarray(_eval_all(pi, ALL_NU))  # [n_adversaries, S]
    assert np.all(V_star[None] <= all_V + 1e-5)  # state-wise, hence for every rho
    brute = (all_V @ rho).min()
    assert abs(rho @ V_star - brute) < 1e-5
    assert abs(float(L.robust_value(MDP, theta)) - brute) < 1e-5
    # value iteration on the adversary's MDP reaches the same values
    np.testing.assert_allclose(np.asarray(L.adversary_value_iteration(MDP, pi)), V_star, atol=1e-4)
    # warm-starting policy iteration does not change the answer
    nu_warm = L.strongest_adversary(MDP, pi, ALL_NU[-1])
    V_warm = np.asarray(L.policy_evaluation(MDP, L.perceived_policy(pi, nu_warm)))
    np.testing.assert_allclose(V_warm, V_star, atol=1e-5)


def test_isa_check_passes_on_default_and_orp_is_robust_optimal():
    orp = L.check_isa_consistency(MDP)
    assert orp[: MDP.n_states - 1].tolist() == [0] * (MDP.n_states - 1)  # "go" everywhere
    j_star = L.robust_optimum(MDP)
    theta = jnp.asarray(np.where(np.eye(MDP.n_actions)[orp] > 0, 12.0, -12.0), jnp.float32)
    assert abs(float(L.robust_value(MDP, theta)) - j_star) < 1e-3
    assert abs(float(L.spo_objective(MDP, theta)) - j_star) < 1e-3


def test_isa_check_raises_on_inconsistent_mdp():
    # make "stop" optimal in c3 (stop pays more than the goal) while "go" stays optimal in c2;
    # c2 is in N(c3), so a perturbation c3 -> c2 changes the optimal action.
    R = MDP.R.copy()
    R[3, 1] = 3.0
    with pytest.raises(ValueError, match="ISA violated"):
        L.make_mdp(MDP.P, R, MDP.rho, MDP.nbhd, MDP.gamma)
    # without the offending neighbours the same MDP is fine
    nbhd = np.eye(MDP.n_states, dtype=bool)
    L.make_mdp(MDP.P, R, MDP.rho, nbhd, MDP.gamma)


def test_kl_adversary_enumeration_and_identity_tiebreak():
    theta = _rand_theta(5)
    pi = np.asarray(L.policy_from_logits(theta), np.float64)
    nu = np.asarray(L.kl_adversary(MDP, jnp.asarray(pi, jnp.float32))).argmax(1)
    for s in range(MDP.n_states):
        nb = np.flatnonzero(MDP.nbhd[s])
        kls = [np.sum(pi[s] * (np.log(pi[s]) - np.log(pi[o]))) for o in nb]
        if max(kls) > 1e-6:
            assert nu[s] == nb[int(np.argmax(kls))]
    # a policy that is identical on every observation is left unperturbed
    flat = jnp.tile(jnp.asarray([[0.3, -0.2]], jnp.float32), (MDP.n_states, 1))
    nu_flat = np.asarray(L.kl_adversary(MDP, L.policy_from_logits(flat)))
    np.testing.assert_array_equal(nu_flat, np.eye(MDP.n_states))


def test_spo_gradient_matches_finite_differences():
    with jax.enable_x64(True):
        theta = _x64_theta(11)
        f = lambda th: L.spo_objective(MDP, th)  # noqa: E731
        g = np.asarray(jax.grad(f)(theta))
        np.testing.assert_allclose(g, _central_diff(f, theta), rtol=1e-5, atol=1e-8)


def _adversary_gap(mdp, theta):
    """Smallest margin between the best and second-best adversary choice."""
    pi = L.policy_from_logits(theta)
    nu = L.strongest_adversary(mdp, pi)
    V = L.policy_evaluation(mdp, L.perceived_policy(pi, nu))
    Q = np.asarray(L.solvers._adversary_q(mdp, pi, V))
    gaps = []
    for s in range(mdp.n_states):
        q = np.sort(Q[s][np.isfinite(Q[s])])
        if q.size > 1:
            gaps.append(q[1] - q[0])
    return min(gaps)


def test_arpo_danskin_gradient_matches_finite_differences():
    with jax.enable_x64(True):
        for seed in range(20, 40):  # find a point with a unique minimiser (clear margin)
            theta = _x64_theta(seed)
            if _adversary_gap(MDP, theta) > 1e-3:
                break
        else:  # pragma: no cover
            pytest.fail("no point with a unique minimiser found")
        f = lambda th: L.robust_value(MDP, th)  # noqa: E731
        g = np.asarray(jax.grad(f)(theta))
        np.testing.assert_allclose(g, _central_diff(f, theta), rtol=1e-5, atol=1e-8)
        assert np.abs(g).max() > 1e-4  # non-trivial gradient


def test_barpo_gradient_matches_finite_differences_with_fixed_kl_adversary():
    with jax.enable_x64(True):
        theta = _x64_theta(7)
        f = lambda th: L.barpo_objective(MDP, th, 0.7)  # noqa: E731
        g = np.asarray(jax.grad(f)(theta))
        np.testing.assert_allclose(g, _central_diff(f, theta), rtol=1e-5, atol=1e-8)


@pytest.fixture(scope="module")
def small_study():
    return L.run_study(L.StudyConfig(n_inits=16, n_steps=60, n_checkpoints=6))


def test_small_vmapped_study_runs_and_fractions_are_sane(small_study):
    res = small_study
    assert res.final_robust.shape == (len(L.METHODS), 16)
    assert res.robust_curve.shape == (len(L.METHODS), 6, 16)
    for m in res.methods:
        s = res.summary[m]
        # The classification, recounted from the runs by its definition (run_study's docstring).
        i = res.methods.index(m)
        final, curve = res.final_robust[i], res.robust_curve[i]
        np.testing.assert_allclose(final, curve[-1], rtol=1e-6, atol=1e-8)   # the curve ends at the final value
        optimal = final >= res.j_star - res.config.opt_rtol * abs(res.j_star)
        q = max(1, curve.shape[0] // 4)
        stuck = ~optimal & (np.abs(curve[-1] - curve[-1 - q]) < res.config.plateau_tol)
        assert s["frac_optimal"] == optimal.mean() and s["frac_stuck"] == stuck.mean()
        assert s["frac_unconverged"] == (~optimal & ~stuck).mean()
        # robust value never exceeds the natural value nor the robust optimum
        assert np.all(res.final_robust[res.methods.index(m)] <= res.final_natural[res.methods.index(m)] + 1e-4)
    assert np.all(res.final_robust <= res.j_star + 1e-3)
    table = res.table()
    assert all(m in table for m in L.METHODS)


def test_plots_write_png(tmp_path, small_study):
    L.plot_final_values(small_study, str(tmp_path / "hist.png"))
    L.plot_landscape_slice(MDP, str(tmp_path / "slice.png"), n_grid=9, methods=("arpo",))
    assert (tmp_path / "hist.png").stat().st_size > 0
    assert (tmp_path / "slice.png").stat().st_size > 0


def test_gradient_by_true_state_sums_to_autodiff_gradient():
    with jax.enable_x64(True):
        theta = _x64_theta(3)
        nu = jnp.asarray(np.asarray(ALL_NU[11]), jnp.float64)
        parts = L.gradient_by_true_state(MDP, theta, nu)
        g = jax.grad(lambda th: jnp.asarray(MDP.rho) @ L.value_under_adversary(MDP, th, nu))(theta)
        np.testing.assert_allclose(np.asarray(parts.sum(0)), np.asarray(g), rtol=1e-8, atol=1e-12)


def test_method_names_are_the_training_methods_names():
    assert set(L.METHODS) <= set(bj.ALGOS)
    with pytest.raises(ValueError, match="unknown method"):
        L.objective_fn(MDP, "BARPO")


def test_objectives_are_compositions_of_adversary_and_value():
    """Each combinator on one policy: the natural value, the value under the chosen
    adversary, and guidance adding kappa x natural value."""
    theta = _rand_theta(4)
    pi = L.policy_from_logits(theta)
    rho = jnp.asarray(MDP.rho)
    nat = float(rho @ L.natural_value(MDP, theta))
    nu_kl = L.kl_adversary(MDP, pi)
    under_kl = float(rho @ L.value_under_adversary(MDP, theta, nu_kl))
    assert float(L.objective_fn(MDP, "spo")(theta)) == pytest.approx(nat, abs=1e-6)
    assert float(L.objective_fn(MDP, "barpo_unguided")(theta)) == pytest.approx(under_kl, abs=1e-6)
    assert float(L.objective_fn(MDP, "barpo", 0.5)(theta)) == pytest.approx(under_kl + 0.5 * nat, abs=1e-6)
    assert float(L.objective_fn(MDP, "arpo_guided", 0.5)(theta)) == pytest.approx(
        float(L.robust_value(MDP, theta)) + 0.5 * nat, abs=1e-6)
    # the adversary is chosen from stop_gradient(pi): no gradient flows through its choice
    j, nu = L.METHODS["arpo"].value_and_adversary(MDP, theta, jnp.eye(MDP.n_states), 1.0)
    assert float(j) == pytest.approx(float(L.robust_value(MDP, theta)), abs=1e-6)
    np.testing.assert_array_equal(np.asarray(nu), np.asarray(L.strongest_adversary(MDP, pi)))


# ---- variants of the construction: shared parameters, soft KL adversary ---------------

def test_tabular_policy_is_the_original_draw():
    key = jax.random.PRNGKey(0)
    np.testing.assert_array_equal(L.Tabular().init(key, 5, MDP), L.random_logits(key, 5, MDP.n_states, MDP.n_actions))


def _unshown(nu):
    """Observations that the adversary shows in no true state."""
    return np.flatnonzero(np.asarray(nu).sum(0) == 0)


def test_shared_parameters_train_the_observations_the_adversary_never_shows():
    """The cause of BARPO(kappa=0)'s sticking with tabular logits: an observation the KL
    adversary never shows gets exactly zero gradient. Shared weights give it one."""
    shared = L.Shared()
    params = jax.tree.map(lambda x: x[0], shared.init(jax.random.PRNGKey(3), 1, MDP))
    theta = shared.logits(params, MDP)
    # The KL adversary's choice at BARPO's sticky point (docs/landscape.md): c0->c1, c1->c2,
    # c2->c1, c3->c2; c0 and c3 are never shown.
    nu = jnp.eye(MDP.n_states)[jnp.array([1, 2, 1, 2, 4])]
    hidden = _unshown(nu)
    assert hidden.tolist() == [0, 3]
    rho = jnp.asarray(MDP.rho)
    j = lambda th: rho @ L.value_under_adversary(MDP, th, nu)  # noqa: E731
    g_tab = np.asarray(jax.grad(j)(theta))
    np.testing.assert_array_equal(g_tab[hidden], 0.0)                 # tabular: frozen
    g = jax.grad(lambda p: j(shared.logits(p, MDP)))(params)
    stepped = shared.logits(jax.tree.map(lambda p, d: p + 0.1 * d, params, g), MDP)
    assert np.abs(np.asarray(stepped - theta)[hidden]).max() > 1e-4   # shared: moved


def test_soft_kl_adversary_is_a_distribution_on_the_neighbourhood_between_argmax_and_uniform():
    theta = _rand_theta(5)
    pi = L.policy_from_logits(theta)
    nb = np.asarray(MDP.nbhd)
    for t in (0.05, 1.0, 100.0):
        nu = np.asarray(L.soft_kl_adversary(MDP, pi, t))
        np.testing.assert_allclose(nu.sum(1), 1.0, rtol=1e-5)
        assert np.all(nu[~nb] == 0) and np.all(nu[nb] > 0)
    cold = np.asarray(L.soft_kl_adversary(MDP, pi, 1e-4))
    hard = np.asarray(L.kl_adversary(MDP, pi))
    moved = hard.argmax(1) != np.arange(MDP.n_states)  # states where the argmax is not the identity tie-break
    np.testing.assert_allclose(cold[moved], hard[moved], atol=1e-4)
    hot = np.asarray(L.soft_kl_adversary(MDP, pi, 1e6))
    np.testing.assert_allclose(hot, nb / nb.sum(1, keepdims=True), atol=1e-4)
    # the value under a stochastic adversary is that of the mixed perceived policy
    nu = L.soft_kl_adversary(MDP, pi, 1.0)
    V = np.asarray(L.value_under_adversary(MDP, theta, nu))
    np.testing.assert_allclose(V, _iterative_eval(MDP, np.asarray(nu) @ np.asarray(pi)), rtol=1e-4, atol=1e-5)


def test_soft_kl_replaces_only_the_kl_adversary():
    assert L.objectives.method("barpo", 0.5).adversary is not L.objectives.kl
    assert L.objectives.method("barpo", 0.0) is L.METHODS["barpo"]
    assert L.objectives.method("arpo", 0.5) is L.METHODS["arpo"]


def test_small_study_in_the_shared_soft_variant():
    res = L.run_study(L.StudyConfig(n_inits=8, n_steps=30, n_checkpoints=3, policy="shared", kl_temperature=0.5,
                                    methods=("spo", "barpo_unguided")))
    assert res.final_theta.shape == (2, 8, MDP.n_states, MDP.n_actions)
    for m in res.methods:
        s = res.summary[m]
        assert abs(s["frac_optimal"] + s["frac_stuck"] + s["frac_unconverged"] - 1.0) < 1e-9
    assert np.all(res.final_robust <= res.final_natural + 1e-4)
    assert np.all(np.isfinite(res.final_robust))
    with pytest.raises(ValueError, match="unknown policy"):
        L.run_study(L.StudyConfig(n_inits=2, n_steps=2, policy="lstm"))
