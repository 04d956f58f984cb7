"""Exact optimisation landscapes of SPO, ARPO and BARPO on a tiny ISA-MDP.

Why this module exists: the claim of Li et al. (ICLR 2026, arXiv 2512.01228)
is about the *landscape* of the robust objective, not about sampling noise.
In a finite state-adversarial MDP every quantity (values, the strongest
adversary, the KL adversary, policy gradients) can be computed exactly, so
the claim can be checked without any Monte-Carlo error:

* SPO   maximises the natural value ``rho . V^pi``;
* ARPO  maximises ``min_nu rho . V^{pi o nu}`` (strongest observation adversary);
  its gradient is taken with the minimising adversary held fixed (Danskin);
* BARPO maximises ``rho . V^{pi o nu_KL} + kappa * rho . V^pi`` where the inner
  adversary ``nu_KL(s) = argmax_{o in N(s)} KL(pi(.|s) || pi(.|o))``.

Everything on the hot path is pure JAX (jit/vmap friendly). Building the MDP
and checking its intrinsic-state-adversarial (ISA) consistency is done once,
eagerly. Run ``python3 -m barpo_jax.landscape --out DIR`` for the study.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time
from dataclasses import dataclass
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

METHODS: tuple[str, ...] = ("SPO", "ARPO", "BARPO", "BARPO+SPO")

# --------------------------------------------------------------------------
# The finite state-adversarial MDP
# --------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class FiniteSAMDP:
    """A finite MDP plus an observation neighbourhood ``N(s)`` per state.

    Observations are states: the adversary replaces the true state ``s`` by an
    observed state ``o`` with ``nbhd[s, o] == True`` (``s`` is always in
    ``N(s)``, so "no attack" is one of the adversary's options).
    ``eq=False`` keeps hashing by identity (fields are arrays).
    """

    P: np.ndarray  # [S, A, S] transition probabilities
    R: np.ndarray  # [S, A] expected rewards
    rho: np.ndarray  # [S] initial-state distribution
    nbhd: np.ndarray  # [S, S] bool, nbhd[s, o] <=> o in N(s)
    gamma: float
    state_names: tuple[str, ...]
    action_names: tuple[str, ...]

    @property
    def n_states(self) -> int:
        return int(self.P.shape[0])

    @property
    def n_actions(self) -> int:
        return int(self.P.shape[1])


@dataclass(frozen=True)
class ChainConfig:
    """Parameters of the default "slippery corridor with an exit" ISA-MDP.

    States ``c0..c{n-1}`` form a corridor, ``T`` is absorbing. In ``c_i``
    action ``go`` advances with probability ``p_advance`` (else the agent
    slips and stays); ``go`` in the last cell pays ``goal_reward`` on success.
    ``stop`` pays ``stop_reward`` immediately and ends the episode. The agent's
    position sensor can be spoofed by up to ``radius`` cells.
    """

    n_chain: int = 4
    gamma: float = 0.9
    p_advance: float = 0.9
    stop_reward: float = 1.0
    goal_reward: float = 2.0
    rho_start: float = 0.7  # mass on c0, the rest spread over c1..c{n-1}
    radius: int = 1


def make_mdp(
    P,
    R,
    rho,
    nbhd,
    gamma: float,
    state_names=None,
    action_names=None,
    check: bool = True,
) -> FiniteSAMDP:
    """Validate shapes/probabilities, build the MDP and (by default) verify ISA.

    The ISA check runs at build time so that no study can silently run on an
    MDP where the robust and the natural optimum differ.
    """
    P = np.asarray(P, dtype=np.float64)
    R = np.asarray(R, dtype=np.float64)
    rho = np.asarray(rho, dtype=np.float64)
    nbhd = np.asarray(nbhd, dtype=bool)
    S, A, S2 = P.shape
    if S2 != S or R.shape != (S, A) or rho.shape != (S,) or nbhd.shape != (S, S):
        raise ValueError("inconsistent shapes for P, R, rho, nbhd")
    if not np.allclose(P.sum(-1), 1.0) or (P < 0).any():
        raise ValueError("P[s, a] must be probability vectors")
    if not np.isclose(rho.sum(), 1.0) or (rho < 0).any():
        raise ValueError("rho must be a probability vector")
    if not nbhd[np.arange(S), np.arange(S)].all():
        raise ValueError("every state must belong to its own neighbourhood")
    if not 0.0 <= gamma < 1.0:
        raise ValueError("gamma must be in [0, 1)")
    mdp = FiniteSAMDP(
        P=P,
        R=R,
        rho=rho,
        nbhd=nbhd,
        gamma=float(gamma),
        state_names=tuple(state_names or (f"s{i}" for i in range(S))),
        action_names=tuple(action_names or (f"a{i}" for i in range(A))),
    )
    if check:
        check_isa_consistency(mdp)
    return mdp


def make_chain_mdp(cfg: ChainConfig = ChainConfig()) -> FiniteSAMDP:
    """The default toy ISA-MDP (see :class:`ChainConfig` and docs/landscape.md)."""
    n = cfg.n_chain
    S, A = n + 1, 2
    GO, STOP = 0, 1
    T = n
    P = np.zeros((S, A, S))
    R = np.zeros((S, A))
    for i in range(n):
        nxt = i + 1 if i + 1 < n else T
        P[i, GO, nxt] += cfg.p_advance
        P[i, GO, i] += 1.0 - cfg.p_advance
        if i == n - 1:
            R[i, GO] = cfg.p_advance * cfg.goal_reward
        P[i, STOP, T] = 1.0
        R[i, STOP] = cfg.stop_reward
    P[T, :, T] = 1.0
    rho = np.zeros(S)
    rho[0] = cfg.rho_start if n > 1 else 1.0
    if n > 1:
        rho[1:n] = (1.0 - cfg.rho_start) / (n - 1)
    nbhd = np.zeros((S, S), dtype=bool)
    for i in range(n):
        for j in range(n):
            nbhd[i, j] = abs(i - j) <= cfg.radius
    nbhd[T, T] = True
    names = tuple(f"c{i}" for i in range(n)) + ("T",)
    return make_mdp(P, R, rho, nbhd, cfg.gamma, names, ("go", "stop"))


# --------------------------------------------------------------------------
# Exact dynamic programming (pure JAX)
# --------------------------------------------------------------------------


def _arrays(mdp: FiniteSAMDP, dtype=None):
    dtype = dtype or jnp.result_type(float)
    return (
        jnp.asarray(mdp.P, dtype),
        jnp.asarray(mdp.R, dtype),
        jnp.asarray(mdp.rho, dtype),
        jnp.asarray(mdp.nbhd),
    )


def policy_from_logits(theta: jax.Array) -> jax.Array:
    """Tabular softmax over *observed* states: ``pi[o, a]``."""
    return jax.nn.softmax(theta, axis=-1)


def perceived_policy(pi: jax.Array, nu: jax.Array) -> jax.Array:
    """Behaviour in true state s under adversary ``nu`` (one-hot ``[S, S]``).

    The agent in state ``s`` acts with ``pi(.|nu(s))``; as a matrix product
    this stays differentiable in ``pi`` for a fixed (stop-gradient) ``nu``.
    """
    return nu @ pi


def policy_evaluation(mdp: FiniteSAMDP, pi_s: jax.Array) -> jax.Array:
    """Exact ``V`` of a state-indexed policy via ``(I - gamma P_pi) V = r_pi``."""
    P, R, _, _ = _arrays(mdp, pi_s.dtype)
    P_pi = jnp.einsum("sa,sat->st", pi_s, P)
    r_pi = jnp.sum(pi_s * R, axis=-1)
    eye = jnp.eye(P.shape[0], dtype=pi_s.dtype)
    return jnp.linalg.solve(eye - mdp.gamma * P_pi, r_pi)


def natural_value(mdp: FiniteSAMDP, theta: jax.Array) -> jax.Array:
    return policy_evaluation(mdp, policy_from_logits(theta))


def value_under_adversary(mdp: FiniteSAMDP, theta: jax.Array, nu: jax.Array) -> jax.Array:
    return policy_evaluation(mdp, perceived_policy(policy_from_logits(theta), nu))


def optimal_q(mdp: FiniteSAMDP, tol: float = 1e-12, max_iter: int = 100_000) -> np.ndarray:
    """Natural optimal ``Q*`` by value iteration (float64 numpy; build-time only)."""
    P, R, g = mdp.P, mdp.R, mdp.gamma
    V = np.zeros(mdp.n_states)
    for _ in range(max_iter):
        Q = R + g * P @ V
        V_new = Q.max(-1)
        if np.max(np.abs(V_new - V)) < tol:
            V = V_new
            break
        V = V_new
    return R + g * P @ V


def optimal_action_sets(mdp: FiniteSAMDP, tol: float = 1e-8) -> np.ndarray:
    """Boolean ``[S, A]``: actions within ``tol`` of ``max_a Q*(s, a)``."""
    Q = optimal_q(mdp)
    return Q >= Q.max(-1, keepdims=True) - tol


def check_isa_consistency(mdp: FiniteSAMDP, tol: float = 1e-8) -> np.ndarray:
    """Verify the intrinsic-state-adversarial condition; return an ORP.

    Two conditions, both raising ``ValueError`` when violated:

    1. (pairwise, as in the paper) for every ``s`` and ``s' in N(s)`` every
       optimal action of ``s`` is also optimal in ``s'``: a perturbation inside
       the neighbourhood never changes what the optimal action is;
    2. (what the ORP needs) for every observation ``o`` some action is optimal
       in *all* true states that can be shown as ``o``.

    Condition 2 yields a deterministic policy ``orp[o]`` that plays an optimal
    action whatever the adversary shows; its value under every adversary is
    ``V*``, so ``rho . V*`` is the exact robust optimum used as the target.
    """
    opt = optimal_action_sets(mdp, tol)
    S = mdp.n_states
    for s in range(S):
        for o in np.flatnonzero(mdp.nbhd[s]):
            if not np.all(opt[o][opt[s]]):
                raise ValueError(
                    f"ISA violated: optimal action(s) {np.flatnonzero(opt[s]).tolist()} of "
                    f"{mdp.state_names[s]} are not optimal in neighbour {mdp.state_names[o]} "
                    f"(optimal there: {np.flatnonzero(opt[o]).tolist()})"
                )
    orp = np.zeros(S, dtype=np.int64)
    for o in range(S):
        shown_in = np.flatnonzero(mdp.nbhd[:, o])
        common = np.all(opt[shown_in], axis=0)
        if not common.any():
            raise ValueError(f"ISA violated: no action is optimal in every state shown as {mdp.state_names[o]}")
        orp[o] = int(np.argmax(common))
    return orp


def robust_optimum(mdp: FiniteSAMDP) -> float:
    """Exact robust optimum ``rho . V*`` (valid because ISA holds)."""
    check_isa_consistency(mdp)
    V = optimal_q(mdp).max(-1)
    return float(mdp.rho @ V)


def _adversary_q(mdp: FiniteSAMDP, pi: jax.Array, V: jax.Array) -> jax.Array:
    """Adversary's Q[s, o]: victim return if shown ``o`` in ``s``; +inf off N(s)."""
    P, R, _, nbhd = _arrays(mdp, pi.dtype)
    q_sa = R + mdp.gamma * jnp.einsum("sat,t->sa", P, V)  # victim Q under V
    q_so = q_sa @ pi.T  # [S, O]: sum_a pi(a|o) q(s, a)
    return jnp.where(nbhd, q_so, jnp.inf)


def strongest_adversary(mdp: FiniteSAMDP, pi: jax.Array, max_iter: int = 64) -> jax.Array:
    """Exact deterministic value-minimising adversary for a fixed ``pi``.

    The adversary solves its own MDP (state s, action o in N(s), transition
    ``sum_a pi(a|o) P(.|s,a)``, cost = victim reward). Policy iteration is
    used because it terminates at the exact optimum in a handful of linear
    solves (value iteration only gets there asymptotically); the switching
    margin keeps it from cycling on float ties. Returns a one-hot ``[S, S]``.
    """
    S = mdp.n_states
    eye = jnp.eye(S, dtype=pi.dtype)
    eps = 1e-6 if pi.dtype == jnp.float32 else 1e-12

    def improve(nu):
        V = policy_evaluation(mdp, perceived_policy(pi, nu))
        Q = _adversary_q(mdp, pi, V)
        cur = jnp.sum(jnp.where(nu > 0, Q, 0.0), axis=-1)
        best = jnp.argmin(Q, axis=-1)
        switch = Q[jnp.arange(S), best] < cur - eps * (1.0 + jnp.abs(cur))
        new = jnp.where(switch[:, None], jax.nn.one_hot(best, S, dtype=pi.dtype), nu)
        return new, jnp.any(switch)

    def cond(c):
        _, changed, it = c
        return changed & (it < max_iter)

    def body(c):
        nu, _, it = c
        nu, changed = improve(nu)
        return nu, changed, it + 1

    nu, _, _ = jax.lax.while_loop(cond, body, (eye, jnp.array(True), jnp.array(0)))
    return nu


def adversary_value_iteration(mdp: FiniteSAMDP, pi: jax.Array, n_iter: int = 2000) -> jax.Array:
    """Value of the strongest adversary by plain value iteration (cross-check)."""
    V0 = jnp.zeros(mdp.n_states, pi.dtype)

    def body(V, _):
        return jnp.min(_adversary_q(mdp, pi, V), axis=-1), None

    V, _ = jax.lax.scan(body, V0, None, length=n_iter)
    return V


def kl_adversary(mdp: FiniteSAMDP, pi: jax.Array) -> jax.Array:
    """BARPO's inner adversary: ``argmax_{o in N(s)} KL(pi(.|s) || pi(.|o))``.

    Exact by enumeration over the neighbourhood. Ties with "no attack" (all
    KLs ~0) resolve to the identity, so a neighbourhood-consistent policy is
    left unperturbed. Returns a one-hot ``[S, S]``.
    """
    S = mdp.n_states
    nbhd = jnp.asarray(mdp.nbhd)
    logp = jnp.log(jnp.clip(pi, 1e-30, 1.0))
    kl = jnp.sum(pi[:, None, :] * (logp[:, None, :] - logp[None, :, :]), axis=-1)  # [s, o]
    kl = jnp.where(nbhd, kl, -jnp.inf)
    best = jnp.argmax(kl, axis=-1)
    tiny = 1e-7 if pi.dtype == jnp.float32 else 1e-14
    best = jnp.where(kl[jnp.arange(S), best] > tiny, best, jnp.arange(S))
    return jax.nn.one_hot(best, S, dtype=pi.dtype)


# --------------------------------------------------------------------------
# Objectives (scalar, differentiable in theta)
# --------------------------------------------------------------------------


def spo_objective(mdp: FiniteSAMDP, theta: jax.Array) -> jax.Array:
    rho = jnp.asarray(mdp.rho, theta.dtype)
    return rho @ natural_value(mdp, theta)


def robust_value(mdp: FiniteSAMDP, theta: jax.Array) -> jax.Array:
    """``min_nu rho . V^{pi o nu}`` evaluated exactly (the quantity we report)."""
    pi = policy_from_logits(theta)
    nu = strongest_adversary(mdp, jax.lax.stop_gradient(pi))
    rho = jnp.asarray(mdp.rho, theta.dtype)
    return rho @ policy_evaluation(mdp, perceived_policy(pi, nu))


def arpo_objective(mdp: FiniteSAMDP, theta: jax.Array) -> jax.Array:
    """Robust value whose autodiff gradient is the Danskin gradient.

    The argmin ``nu*`` is computed from a stop-gradient copy of ``pi``; only
    the value of the victim under the *fixed* ``nu*`` is differentiated.
    Where the minimiser is unique this equals the true gradient of the min.
    Note: the strongest adversary minimises every state's value at once, so
    it is also the minimiser of ``rho . V`` for any ``rho``.
    """
    return robust_value(mdp, theta)


def barpo_objective(mdp: FiniteSAMDP, theta: jax.Array, kappa: float = 0.0) -> jax.Array:
    """Outer BARPO objective: value under the (fixed) KL adversary + kappa * SPO."""
    pi = policy_from_logits(theta)
    nu = kl_adversary(mdp, jax.lax.stop_gradient(pi))
    rho = jnp.asarray(mdp.rho, theta.dtype)
    j = rho @ policy_evaluation(mdp, perceived_policy(pi, nu))
    return j + kappa * (rho @ policy_evaluation(mdp, pi))


def objective_fn(mdp: FiniteSAMDP, method: str, kappa: float) -> Callable[[jax.Array], jax.Array]:
    if method == "SPO":
        return lambda th: spo_objective(mdp, th)
    if method == "ARPO":
        return lambda th: arpo_objective(mdp, th)
    if method == "BARPO":
        return lambda th: barpo_objective(mdp, th, 0.0)
    if method == "BARPO+SPO":
        return lambda th: barpo_objective(mdp, th, kappa)
    raise ValueError(f"unknown method {method!r}")
