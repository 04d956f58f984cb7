"""Exact dynamic programming in pure JAX (jit/vmap friendly): policies, values by linear
solves, the strongest adversary by policy iteration, the KL adversary by enumeration,
and the per-true-state split of a policy gradient."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from .mdp import FiniteSAMDP


def _arrays(mdp: FiniteSAMDP, dtype=None):
    dtype = dtype or jnp.result_type(float)
    return (
        jnp.asarray(mdp.P, dtype),
        jnp.asarray(mdp.R, dtype),
        jnp.asarray(mdp.rho, dtype),
        jnp.asarray(mdp.nbhd),
    )


def policy_from_logits(theta: jax.Array) -> jax.Array:
    """Tabular softmax over *observed* states: ``pi[o, a]``.

    Args:
      theta: [..., S, A] logits, one row per observation.

    Returns:
      Array of ``theta``'s shape, each row a distribution over actions.
    """
    return jax.nn.softmax(theta, axis=-1)


def perceived_policy(pi: jax.Array, nu: jax.Array) -> jax.Array:
    """Behaviour in true state s under adversary ``nu`` (row-stochastic ``[S, S]``).

    The agent in state ``s`` acts with ``pi(.|nu(s))``; a stochastic adversary draws
    ``o ~ nu(.|s)`` afresh at every step, so the agent acts with ``sum_o nu(o|s) pi(.|o)``.
    As a matrix product
    this stays differentiable in ``pi`` for a fixed (stop-gradient) ``nu``.
    (Written as broadcast-and-sum: for these tiny shapes it vectorises better
    under ``vmap`` on CPU than a batched matmul.)

    Args:
      pi: [S_obs, A] policy over observations.
      nu: [S, S_obs] adversary, ``nu[s, o]`` the probability of showing ``o`` in true
        state ``s`` (one-hot rows for a deterministic adversary).

    Returns:
      [S, A] state-indexed policy: row ``s`` is the action distribution in true state ``s``.
    """
    return jnp.sum(nu[:, :, None] * pi[None, :, :], axis=1)


def policy_evaluation(mdp: FiniteSAMDP, pi_s: jax.Array) -> jax.Array:
    """Exact ``V`` of a state-indexed policy via ``(I - gamma P_pi) V = r_pi``.

    One linear solve instead of iterating the Bellman operator, so the value and its
    gradient in ``pi_s`` carry no truncation error.

    Args:
      mdp: the MDP.
      pi_s: [S, A] action distribution in each *true* state (e.g. from
        `perceived_policy`); the computation runs in its dtype.

    Returns:
      [S] state values ``V(s)``.
    """
    P, R, _, _ = _arrays(mdp, pi_s.dtype)
    P_pi = jnp.einsum("sa,sat->st", pi_s, P)
    r_pi = jnp.sum(pi_s * R, axis=-1)
    eye = jnp.eye(P.shape[0], dtype=pi_s.dtype)
    return jnp.linalg.solve(eye - mdp.gamma * P_pi, r_pi)


def natural_value(mdp: FiniteSAMDP, theta: jax.Array) -> jax.Array:
    """Exact value ``V^pi`` of the softmax policy of ``theta`` with no adversary.

    Args:
      mdp: the MDP.
      theta: [S, A] logits.

    Returns:
      [S] state values; ``rho . V^pi`` is SPO's objective.
    """
    return policy_evaluation(mdp, policy_from_logits(theta))


def value_under_adversary(mdp: FiniteSAMDP, theta: jax.Array, nu: jax.Array) -> jax.Array:
    """Exact value ``V^{pi o nu}`` when the agent in true state ``s`` acts on what ``nu`` shows.

    Args:
      mdp: the MDP.
      theta: [S, A] logits.
      nu: [S, S] row-stochastic adversary (see `perceived_policy`).

    Returns:
      [S] state values under the attack.
    """
    return policy_evaluation(mdp, perceived_policy(policy_from_logits(theta), nu))


def _adversary_q(mdp: FiniteSAMDP, pi: jax.Array, V: jax.Array) -> jax.Array:
    """Adversary's Q[s, o]: victim return if shown ``o`` in ``s``; +inf off N(s)."""
    P, R, _, nbhd = _arrays(mdp, pi.dtype)
    q_sa = R + mdp.gamma * jnp.einsum("sat,t->sa", P, V)  # victim Q under V
    q_so = q_sa @ pi.T  # [S, O]: sum_a pi(a|o) q(s, a)
    return jnp.where(nbhd, q_so, jnp.inf)


def strongest_adversary(
    mdp: FiniteSAMDP, pi: jax.Array, nu0: jax.Array | None = None, max_iter: int = 64
) -> jax.Array:
    """Exact deterministic value-minimising adversary for a fixed ``pi``.

    The adversary solves its own MDP (state s, action o in N(s), transition
    ``sum_a pi(a|o) P(.|s,a)``, cost = victim reward). Policy iteration is
    used because it terminates at the exact optimum after a handful of
    linear solves (value iteration only gets there asymptotically; see
    `adversary_value_iteration` for the cross-check). ``nu0`` warm-starts
    it (e.g. from the previous gradient step), which does not change the
    fixed point, only the number of iterations. A relative switching margin
    keeps float ties from cycling.

    Args:
      mdp: the MDP.
      pi: [S, A] victim policy over observations (pass it through ``stop_gradient``
        when differentiating: the result is piecewise constant in ``pi``).
      nu0: [S, S] one-hot adversary to start from (None: the identity, "no attack").
      max_iter: cap on policy-iteration rounds; if it is reached the last iterate is
        returned, which may not be optimal.

    Returns:
      One-hot [S, S] matrix in ``pi``'s dtype, ``nu[s, o] = 1`` for the observation shown
        in true state ``s``; it minimises every state's value ``V^{pi o nu}(s)`` at once.
    """
    S = mdp.n_states
    nu0 = jnp.eye(S, dtype=pi.dtype) if nu0 is None else nu0.astype(pi.dtype)
    eps = 1e-6 if pi.dtype == jnp.float32 else 1e-12

    def improve(nu):
        V = policy_evaluation(mdp, perceived_policy(pi, nu))
        Q = _adversary_q(mdp, pi, V)
        cur = jnp.sum(jnp.where(nu > 0, Q, 0.0), axis=-1)
        best = jnp.argmin(Q, axis=-1)
        switch = jnp.min(Q, axis=-1) < cur - eps * (1.0 + jnp.abs(cur))
        new = jnp.where(switch[:, None], jax.nn.one_hot(best, S, dtype=pi.dtype), nu)
        return new, jnp.any(switch)

    def cond(c):
        _, changed, it = c
        return changed & (it < max_iter)

    def body(c):
        nu, _, it = c
        nu, changed = improve(nu)
        return nu, changed, it + 1

    nu, _, _ = jax.lax.while_loop(cond, body, (nu0, jnp.array(True), jnp.array(0)))
    return nu


def adversary_value_iteration(mdp: FiniteSAMDP, pi: jax.Array, n_iter: int = 2000) -> jax.Array:
    """Value of the strongest adversary by plain value iteration (cross-check).

    Independent of `strongest_adversary`'s policy iteration, so the two can check each
    other.

    Args:
      mdp: the MDP.
      pi: [S, A] victim policy over observations.
      n_iter: Bellman iterations from ``V = 0``; the error shrinks like ``gamma ** n_iter``.

    Returns:
      [S] victim values under the value-minimising adversary.
    """
    V0 = jnp.zeros(mdp.n_states, pi.dtype)

    def body(V, _):
        return jnp.min(_adversary_q(mdp, pi, V), axis=-1), None

    V, _ = jax.lax.scan(body, V0, None, length=n_iter)
    return V


def _kl_to_neighbours(mdp: FiniteSAMDP, pi: jax.Array) -> jax.Array:
    """``KL(pi(.|s) || pi(.|o))`` for every ``o in N(s)``, ``-inf`` elsewhere: ``[S, S]``."""
    logp = jnp.log(jnp.clip(pi, 1e-30, 1.0))
    kl = jnp.sum(pi[:, None, :] * (logp[:, None, :] - logp[None, :, :]), axis=-1)  # [s, o]
    return jnp.where(jnp.asarray(mdp.nbhd), kl, -jnp.inf)


def kl_adversary(mdp: FiniteSAMDP, pi: jax.Array) -> jax.Array:
    """BARPO's inner adversary: ``argmax_{o in N(s)} KL(pi(.|s) || pi(.|o))``.

    Exact by enumeration over the neighbourhood. Ties with "no attack" (all
    KLs ~0) resolve to the identity, so a neighbourhood-consistent policy is
    left unperturbed; other ties go to the lowest-indexed observation.

    Args:
      mdp: the MDP.
      pi: [S, A] policy over observations (``pi[s]`` is also the policy at the true
        state ``s``, since observations are states).

    Returns:
      One-hot [S, S] matrix in ``pi``'s dtype, ``nu[s, o] = 1`` for the observation shown
        in true state ``s``.
    """
    S = mdp.n_states
    kl = _kl_to_neighbours(mdp, pi)
    best = jnp.argmax(kl, axis=-1)
    tiny = 1e-7 if pi.dtype == jnp.float32 else 1e-14
    best = jnp.where(jnp.max(kl, axis=-1) > tiny, best, jnp.arange(S))
    return jax.nn.one_hot(best, S, dtype=pi.dtype)


def soft_kl_adversary(mdp: FiniteSAMDP, pi: jax.Array, temperature) -> jax.Array:
    """A distribution over perturbations instead of the argmax: ``nu(o|s) ∝ exp(KL(pi(.|s) ||
    pi(.|o)) / temperature)`` on ``N(s)``, the Gibbs measure that Langevin dynamics (SGLD) on
    the KL samples. Every neighbour is shown with some probability, so every observation in
    a neighbourhood keeps a gradient; temperature -> 0 approaches `kl_adversary`
    (except its tie-break), temperature -> inf shows a uniform neighbour.

    Args:
      mdp: the MDP.
      pi: [S, A] policy over observations.
      temperature: positive scalar (may be traced).

    Returns:
      [S, S] matrix, ``nu[s, o]`` the probability of showing ``o`` in true state ``s``;
        zero outside ``N(s)``, rows sum to one.
    """
    return jax.nn.softmax(_kl_to_neighbours(mdp, pi) / temperature, axis=-1)


def gradient_by_true_state(mdp: FiniteSAMDP, theta: jax.Array, nu: jax.Array) -> jax.Array:
    """Split ``d(rho . V^{pi o nu}) / d theta`` into per-true-state terms.

    Policy-gradient theorem for the perceived policy: the term of true state
    ``s`` on logit ``theta[o, a]`` is ``nu[s, o] d(s) pi(a|o) A(s, a)``, with
    ``d = rho (I - gamma P)^-1`` the discounted visitation and ``A`` the
    advantage, both under ``pi o nu``. Summing over ``s`` gives the gradient;
    the split shows which true states pull an observation's policy where.

    Args:
      mdp: the MDP.
      theta: [S, A] logits.
      nu: [S, S] adversary, held fixed. The split sums to the exact gradient for a
        one-hot ``nu`` (as `strongest_adversary` and `kl_adversary` return); for a
        stochastic one (`soft_kl_adversary`) the state-only baseline ``V(s)`` differs
        from the per-observation one, and the sum is not the exact gradient.

    Returns:
      [S_true, S_obs, A] array; its sum over the first axis is the gradient with
        respect to ``theta``.
    """
    P, R, rho, _ = _arrays(mdp, theta.dtype)
    pi = policy_from_logits(theta)
    pe = perceived_policy(pi, nu)
    V = policy_evaluation(mdp, pe)
    Q = R + mdp.gamma * jnp.einsum("sat,t->sa", P, V)
    A = Q - V[:, None]
    P_pe = jnp.einsum("sa,sat->st", pe, P)
    d = jnp.linalg.solve((jnp.eye(P.shape[0], dtype=theta.dtype) - mdp.gamma * P_pe).T, rho)
    return nu[:, :, None] * d[:, None, None] * pi[None, :, :] * A[:, None, :]
