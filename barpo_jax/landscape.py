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

#: "ARPO+SPO" is a control that is not in the paper: the same SPO guidance
#: added to ARPO, to tell the effect of the KL adversary from that of guidance.
METHODS: tuple[str, ...] = ("SPO", "ARPO", "BARPO", "BARPO+SPO", "ARPO+SPO")

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
    gamma: float = 0.8
    p_advance: float = 0.9
    stop_reward: float = 1.0
    goal_reward: float = 2.5
    rho_start: float = 0.7  # mass on c0, the rest spread over c1..c{n-1}
    radius: int = 1
    wait_action: bool = False  # add a third action "wait" (stay put, reward 0)


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
    S, A = n + 1, (3 if cfg.wait_action else 2)
    GO, STOP, WAIT = 0, 1, 2
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
        if cfg.wait_action:
            P[i, WAIT, i] = 1.0
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
    return make_mdp(P, R, rho, nbhd, cfg.gamma, names, ("go", "stop", "wait")[:A])


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
    (Written as broadcast-and-sum: for these tiny shapes it vectorises better
    under ``vmap`` on CPU than a batched matmul.)
    """
    return jnp.sum(nu[:, :, None] * pi[None, :, :], axis=1)


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


def strongest_adversary(
    mdp: FiniteSAMDP, pi: jax.Array, nu0: jax.Array | None = None, max_iter: int = 64
) -> jax.Array:
    """Exact deterministic value-minimising adversary for a fixed ``pi``.

    The adversary solves its own MDP (state s, action o in N(s), transition
    ``sum_a pi(a|o) P(.|s,a)``, cost = victim reward). Policy iteration is
    used because it terminates at the exact optimum after a handful of
    linear solves (value iteration only gets there asymptotically; see
    :func:`adversary_value_iteration` for the cross-check). ``nu0`` warm-starts
    it (e.g. from the previous gradient step), which does not change the
    fixed point, only the number of iterations. A relative switching margin
    keeps float ties from cycling. Returns a one-hot ``[S, S]`` matrix.
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
    best = jnp.where(jnp.max(kl, axis=-1) > tiny, best, jnp.arange(S))
    return jax.nn.one_hot(best, S, dtype=pi.dtype)


# --------------------------------------------------------------------------
# Objectives (scalar, differentiable in theta)
# --------------------------------------------------------------------------


def _rho(mdp: FiniteSAMDP, dtype) -> jax.Array:
    return jnp.asarray(mdp.rho, dtype)


def spo_objective(mdp: FiniteSAMDP, theta: jax.Array) -> jax.Array:
    """Natural objective ``rho . V^pi``."""
    return _rho(mdp, theta.dtype) @ natural_value(mdp, theta)


def arpo_objective_and_adversary(
    mdp: FiniteSAMDP, theta: jax.Array, nu0: jax.Array | None = None
) -> tuple[jax.Array, jax.Array]:
    """Robust value ``min_nu rho . V^{pi o nu}`` and the minimising adversary.

    ``nu*`` is computed from a stop-gradient copy of ``pi``, so autodiff only
    differentiates the victim's value under the *fixed* ``nu*``: this is the
    Danskin gradient, equal to the true gradient of the min wherever the
    minimiser is unique. The strongest adversary minimises every state's
    value at once, hence also ``rho . V`` for any ``rho``.
    """
    pi = policy_from_logits(theta)
    nu = strongest_adversary(mdp, jax.lax.stop_gradient(pi), nu0)
    j = _rho(mdp, theta.dtype) @ policy_evaluation(mdp, perceived_policy(pi, nu))
    return j, nu


def robust_value(mdp: FiniteSAMDP, theta: jax.Array) -> jax.Array:
    """Exact value under the strongest adversary (the quantity we report, and ARPO's
    objective: ``jax.grad`` of it is the Danskin gradient)."""
    return arpo_objective_and_adversary(mdp, theta)[0]


def barpo_objective(mdp: FiniteSAMDP, theta: jax.Array, kappa: float = 0.0) -> jax.Array:
    """Outer BARPO objective: value under the (fixed) KL adversary + kappa * SPO.

    The inner argmax is stop-gradient, as in the bilevel formulation: the
    outer player optimises its value against the adversary the inner level
    picked, it does not differentiate through the adversary's choice.
    """
    pi = policy_from_logits(theta)
    nu = kl_adversary(mdp, jax.lax.stop_gradient(pi))
    rho = _rho(mdp, theta.dtype)
    j = rho @ policy_evaluation(mdp, perceived_policy(pi, nu))
    if isinstance(kappa, (int, float)) and kappa == 0:
        return j  # skip the (zero-weighted) natural-value solve
    return j + kappa * (rho @ policy_evaluation(mdp, pi))


def objective_fn(mdp: FiniteSAMDP, method: str, kappa: float = 1.0) -> Callable[[jax.Array], jax.Array]:
    """Scalar objective of ``method`` (one of :data:`METHODS`) as ``theta -> J``."""
    if method == "SPO":
        return lambda th: spo_objective(mdp, th)
    if method == "ARPO":
        return lambda th: robust_value(mdp, th)
    if method == "BARPO":
        return lambda th: barpo_objective(mdp, th, 0.0)
    if method == "BARPO+SPO":
        return lambda th: barpo_objective(mdp, th, kappa)
    if method == "ARPO+SPO":
        return lambda th: robust_value(mdp, th) + kappa * spo_objective(mdp, th)
    raise ValueError(f"unknown method {method!r}; expected one of {METHODS}")


# --------------------------------------------------------------------------
# The many-initialisation study
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class StudyConfig:
    """Settings of :func:`run_study`.

    Initial policies are drawn uniformly from the simplex at every observed
    state (``theta = log Dirichlet(1)``), so no method is favoured by the
    initialisation. Plain gradient ascent is the default because the claim is
    about stationary points of the exact gradient field; Adam is available.
    """

    mdp: ChainConfig = ChainConfig()
    n_inits: int = 1000
    n_steps: int = 3000
    lr: float = 2.0
    optimizer: str = "sgd"  # "sgd" (plain gradient ascent) or "adam"
    kappa: float = 1.0  # SPO-guidance weight of "BARPO+SPO" (and of the "ARPO+SPO" control)
    seed: int = 0
    methods: tuple[str, ...] = METHODS
    n_checkpoints: int = 20  # robust value is recorded this many times
    opt_rtol: float = 0.01  # "optimal": J_R >= J* - opt_rtol * |J*|
    plateau_tol: float = 1e-3  # "stuck": non-optimal and J_R moved < this over the last quarter


class _TrainOut(NamedTuple):
    theta: jax.Array  # [N, S, A] final logits
    robust_curve: jax.Array  # [N, K] robust value at checkpoints (after vmap)
    final_natural: jax.Array  # [N]
    final_robust: jax.Array  # [N]
    final_grad_norm: jax.Array  # [N] norm of the method's own gradient at the end


@dataclass(frozen=True, eq=False)
class StudyResult:
    """Outcome of :func:`run_study` (arrays are numpy, one row per method)."""

    config: StudyConfig
    j_star: float
    methods: tuple[str, ...]
    theta0: np.ndarray  # [N, S, A]
    final_theta: np.ndarray  # [M, N, S, A]
    final_robust: np.ndarray  # [M, N]
    final_natural: np.ndarray  # [M, N]
    final_grad_norm: np.ndarray  # [M, N]
    robust_curve: np.ndarray  # [M, K, N]
    checkpoint_steps: np.ndarray  # [K]
    summary: dict
    seconds: float

    def table(self) -> str:
        """Markdown table of the per-method summary."""
        head = (
            "| method | optimal | stuck | unconverged | mean J_R | mean J_nat | mean J_R (stuck) |\n"
            "|---|---|---|---|---|---|---|\n"
        )
        rows = []
        for m in self.methods:
            s = self.summary[m]
            stuck_v = "-" if s["mean_robust_stuck"] is None else f"{s['mean_robust_stuck']:.3f}"
            rows.append(
                f"| {m} | {s['frac_optimal']:.3f} | {s['frac_stuck']:.3f} | {s['frac_unconverged']:.3f} "
                f"| {s['mean_robust']:.3f} | {s['mean_natural']:.3f} | {stuck_v} |"
            )
        return head + "\n".join(rows) + f"\n\nJ* (robust optimum = rho . V*) = {self.j_star:.4f}"


def random_logits(key: jax.Array, n: int, n_states: int, n_actions: int) -> jax.Array:
    """Logits of ``n`` policies drawn uniformly from the simplex per state."""
    p = jax.random.dirichlet(key, jnp.ones(n_actions), (n, n_states))
    return jnp.log(jnp.clip(p, 1e-12, 1.0))


def _make_optimizer(cfg: StudyConfig) -> optax.GradientTransformation:
    if cfg.optimizer == "sgd":
        return optax.sgd(cfg.lr)
    if cfg.optimizer == "adam":
        return optax.adam(cfg.lr)
    raise ValueError(f"unknown optimizer {cfg.optimizer!r}")


def _objective_with_aux(mdp: FiniteSAMDP, method: str, kappa: float):
    """``(theta, nu_prev) -> (J, nu)``; only ARPO uses/updates the warm start."""
    if method == "ARPO":
        return lambda th, nu: arpo_objective_and_adversary(mdp, th, nu)
    if method == "ARPO+SPO":

        def guided(th, nu):
            j, nu = arpo_objective_and_adversary(mdp, th, nu)
            return j + kappa * spo_objective(mdp, th), nu

        return guided
    f = objective_fn(mdp, method, kappa)
    return lambda th, nu: (f(th), nu)


def make_trainer(mdp: FiniteSAMDP, cfg: StudyConfig) -> Callable[[jax.Array], dict[str, _TrainOut]]:
    """One jitted program: for every method, vmap over inits, scan over steps."""
    tx = _make_optimizer(cfg)
    S = mdp.n_states
    K = cfg.n_checkpoints
    inner = max(1, cfg.n_steps // K)

    def train_one(method: str, theta0: jax.Array) -> _TrainOut:
        vg = jax.value_and_grad(_objective_with_aux(mdp, method, cfg.kappa), has_aux=True)

        def step(carry, _):
            th, st, nu = carry
            (_, nu), g = vg(th, nu)
            upd, st = tx.update(jax.tree_util.tree_map(jnp.negative, g), st, th)  # ascent
            return (optax.apply_updates(th, upd), st, nu), None

        def chunk(carry, _):
            carry, _ = jax.lax.scan(step, carry, None, length=inner)
            return carry, robust_value(mdp, carry[0])

        init = (theta0, tx.init(theta0), jnp.eye(S, dtype=theta0.dtype))
        (th, _, nu), curve = jax.lax.scan(chunk, init, None, length=K)
        (_, _), g = vg(th, nu)
        return _TrainOut(
            theta=th,
            robust_curve=curve,
            final_natural=spo_objective(mdp, th),
            final_robust=curve[-1],
            final_grad_norm=jnp.sqrt(jnp.sum(g**2)),
        )

    @jax.jit
    def train_all(theta0: jax.Array) -> dict[str, _TrainOut]:
        return {m: jax.vmap(lambda t, m=m: train_one(m, t))(theta0) for m in cfg.methods}

    return train_all


def _summarise(final_r, final_n, curve, j_star, cfg: StudyConfig) -> dict:
    tol = cfg.opt_rtol * abs(j_star)
    optimal = final_r >= j_star - tol
    q = max(1, curve.shape[0] // 4)
    moved = np.abs(curve[-1] - curve[-1 - q]) if curve.shape[0] > q else np.full_like(final_r, np.inf)
    stuck = (~optimal) & (moved < cfg.plateau_tol)
    unconv = (~optimal) & (~stuck)
    return {
        "frac_optimal": float(optimal.mean()),
        "frac_stuck": float(stuck.mean()),
        "frac_unconverged": float(unconv.mean()),
        "mean_robust": float(final_r.mean()),
        "mean_natural": float(final_n.mean()),
        "mean_robust_stuck": float(final_r[stuck].mean()) if stuck.any() else None,
        "mean_natural_stuck": float(final_n[stuck].mean()) if stuck.any() else None,
        "n_inits": int(final_r.shape[0]),
    }


def run_study(cfg: StudyConfig = StudyConfig(), mdp: FiniteSAMDP | None = None) -> StudyResult:
    """Run all methods from the same random initial policies; classify the ends.

    An init counts as *optimal* when its final robust value (exact, strongest
    adversary) is within ``opt_rtol`` of the exact robust optimum ``J*``;
    as *stuck* when it is not and its robust value moved by less than
    ``plateau_tol`` over the last quarter of training (a stationary plateau);
    otherwise as *unconverged*. The three fractions sum to one.
    """
    mdp = mdp if mdp is not None else make_chain_mdp(cfg.mdp)
    j_star = robust_optimum(mdp)
    key = jax.random.PRNGKey(cfg.seed)
    theta0 = random_logits(key, cfg.n_inits, mdp.n_states, mdp.n_actions)
    trainer = make_trainer(mdp, cfg)
    t0 = time.perf_counter()
    out = jax.block_until_ready(trainer(theta0))
    seconds = time.perf_counter() - t0
    methods = tuple(cfg.methods)
    fr = np.stack([np.asarray(out[m].final_robust, np.float64) for m in methods])
    fn = np.stack([np.asarray(out[m].final_natural, np.float64) for m in methods])
    curves = np.stack([np.asarray(out[m].robust_curve, np.float64).T for m in methods])  # [M, K, N]
    summary = {m: _summarise(fr[i], fn[i], curves[i], j_star, cfg) for i, m in enumerate(methods)}
    inner = max(1, cfg.n_steps // cfg.n_checkpoints)
    return StudyResult(
        config=cfg,
        j_star=j_star,
        methods=methods,
        theta0=np.asarray(theta0),
        final_theta=np.stack([np.asarray(out[m].theta) for m in methods]),
        final_robust=fr,
        final_natural=fn,
        final_grad_norm=np.stack([np.asarray(out[m].final_grad_norm, np.float64) for m in methods]),
        robust_curve=curves,
        checkpoint_steps=inner * np.arange(1, cfg.n_checkpoints + 1),
        summary=summary,
        seconds=seconds,
    )


def gradient_by_true_state(mdp: FiniteSAMDP, theta: jax.Array, nu: jax.Array) -> jax.Array:
    """Split ``d(rho . V^{pi o nu}) / d theta`` into per-true-state terms.

    Policy-gradient theorem for the perceived policy: the term of true state
    ``s`` on logit ``theta[o, a]`` is ``nu[s, o] d(s) pi(a|o) A(s, a)``, with
    ``d = rho (I - gamma P)^-1`` the discounted visitation and ``A`` the
    advantage, both under ``pi o nu``. Summing over ``s`` gives the gradient;
    the split shows which true states pull an observation's policy where.
    Returns ``[S_true, S_obs, A]``.
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


def describe_runs(mdp: FiniteSAMDP, result: StudyResult, method: str, which: str = "stuck", n: int = 5) -> str:
    """Show a few final policies of ``method`` with both adversaries' choices.

    Used to see *why* runs stick: which observation each adversary shows in
    each true state and which observations receive (almost) no gradient.
    """
    i = result.methods.index(method)
    cfg = result.config
    tol = cfg.opt_rtol * abs(result.j_star)
    fr = result.final_robust[i]
    curve = result.robust_curve[i]
    q = max(1, curve.shape[0] // 4)
    moved = np.abs(curve[-1] - curve[-1 - q])
    mask = {
        "optimal": fr >= result.j_star - tol,
        "stuck": (fr < result.j_star - tol) & (moved < cfg.plateau_tol),
    }[which]
    orp = check_isa_consistency(mdp)
    names = mdp.state_names
    f = objective_fn(mdp, method, cfg.kappa)
    lines = [f"{method}: {int(mask.sum())} {which} runs of {fr.size}; showing up to {n}"]
    idx = np.flatnonzero(mask)[:n]
    if idx.size == 0:
        return lines[0]

    @jax.jit
    @jax.vmap
    def analyse(th):
        pi = policy_from_logits(th)
        return (
            pi[jnp.arange(mdp.n_states), jnp.asarray(orp)],
            jnp.argmax(strongest_adversary(mdp, pi), axis=1),
            jnp.argmax(kl_adversary(mdp, pi), axis=1),
            jnp.linalg.norm(jax.grad(f)(th), axis=-1),
        )

    p_all, nus_all, nuk_all, g_all = map(np.asarray, analyse(jnp.asarray(result.final_theta[i, idx])))
    for r, k in enumerate(idx):
        p_opt, nu_s, nu_k, g = p_all[r], nus_all[r], nuk_all[r], g_all[r]
        lines.append(
            "  pi(a*|o)=" + " ".join(f"{names[o]}:{p_opt[o]:.3f}" for o in range(mdp.n_states))
            + f" | J_R={fr[k]:.3f} J_nat={result.final_natural[i, k]:.3f}"
            + "\n    nu*  : " + " ".join(f"{names[s]}->{names[nu_s[s]]}" for s in range(mdp.n_states))
            + "\n    nu_KL: " + " ".join(f"{names[s]}->{names[nu_k[s]]}" for s in range(mdp.n_states))
            + "\n    |grad| per observation: " + " ".join(f"{names[o]}:{g[o]:.1e}" for o in range(mdp.n_states))
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------
# Plots
# --------------------------------------------------------------------------


def _pyplot():
    """pyplot, switched to Agg unless we are inside a Jupyter kernel."""
    import sys

    import matplotlib

    if "ipykernel" not in sys.modules and "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def logits_from_probs(p_opt: jax.Array, a_opt: jax.Array, n_actions: int) -> jax.Array:
    """Logits putting mass ``p_opt`` on ``a_opt`` and the rest evenly elsewhere."""
    rest = (1.0 - p_opt) / max(n_actions - 1, 1)
    probs = jnp.where(jnp.arange(n_actions) == a_opt, p_opt, rest)
    return jnp.log(jnp.clip(probs, 1e-12, 1.0))


def landscape_slice(
    mdp: FiniteSAMDP,
    obs: tuple[int, int] = (0, 1),
    base_p: float | np.ndarray = 0.99,
    n_grid: int = 61,
    kappa: float = 1.0,
    methods: tuple[str, ...] = METHODS,
) -> dict[str, np.ndarray]:
    """Objectives on a grid over ``pi(a*|o_i), pi(a*|o_j)`` (others fixed).

    ``a*`` is the ORP action of each observation; ``base_p`` is the
    probability of ``a*`` at the observations that are held fixed. Returns the
    grid, every method's objective and its gradient w.r.t. the two grid
    probabilities (to draw the ascent direction field).
    """
    orp = jnp.asarray(check_isa_consistency(mdp))
    S, A = mdp.n_states, mdp.n_actions
    base = jnp.broadcast_to(jnp.asarray(base_p, jnp.float32), (S,))
    grid = jnp.linspace(0.005, 0.995, n_grid, dtype=jnp.float32)
    i, j = obs

    def theta_of(pij):
        p = base.at[i].set(pij[0]).at[j].set(pij[1])
        return jax.vmap(lambda pp, a: logits_from_probs(pp, a, A))(p, orp)

    P1, P2 = jnp.meshgrid(grid, grid, indexing="xy")
    pts = jnp.stack([P1.ravel(), P2.ravel()], -1)

    @jax.jit
    def all_methods(pts):
        res = {}
        for m in methods:
            f = objective_fn(mdp, m, kappa)
            res[m] = jax.vmap(jax.value_and_grad(lambda pij, f=f: f(theta_of(pij))))(pts)
        return res

    out: dict[str, np.ndarray] = {"grid": np.asarray(grid)}
    for m, (v, g) in all_methods(pts).items():
        out[m] = np.asarray(v).reshape(n_grid, n_grid)
        out[m + "_grad"] = np.asarray(g).reshape(n_grid, n_grid, 2)
    return out


def plot_landscape_slice(
    mdp: FiniteSAMDP,
    path: str | None = None,
    obs: tuple[int, int] = (0, 1),
    base_p: float | np.ndarray = 0.99,
    n_grid: int = 61,
    kappa: float = 1.0,
    methods: tuple[str, ...] = ("SPO", "ARPO", "BARPO"),
):
    """Heat maps of the natural / robust / BARPO objectives on a 2-D slice.

    Arrows show the (normalised) gradient-ascent direction of each method's
    own objective; the robust-value panel is the ARPO objective itself.
    """
    plt = _pyplot()
    sl = landscape_slice(mdp, obs, base_p, n_grid, kappa, methods)
    g = sl["grid"]
    titles = {
        "SPO": "natural  rho.V^pi  (SPO)",
        "ARPO": "robust  min_nu rho.V^{pi o nu}  (ARPO)",
        "BARPO": "rho.V under KL adversary  (BARPO)",
        "BARPO+SPO": f"BARPO + {kappa:g} x natural",
        "ARPO+SPO": f"ARPO + {kappa:g} x natural",
    }
    fig, axes = plt.subplots(1, len(methods), figsize=(4.6 * len(methods), 4.2), squeeze=False)
    step = max(1, n_grid // 12)
    names = mdp.state_names
    for ax, m in zip(axes[0], methods):
        im = ax.imshow(sl[m], origin="lower", extent=(g[0], g[-1], g[0], g[-1]), aspect="auto", cmap="viridis")
        gr = sl[m + "_grad"][::step, ::step]
        nrm = np.linalg.norm(gr, axis=-1, keepdims=True) + 1e-12
        u = gr / nrm
        X, Y = np.meshgrid(g[::step], g[::step], indexing="xy")
        ax.quiver(X, Y, u[..., 0], u[..., 1], color="white", scale=25, width=0.004)
        ax.set_title(titles[m], fontsize=9)
        ax.set_xlabel(f"pi(a*|{names[obs[0]]})")
        ax.set_ylabel(f"pi(a*|{names[obs[1]]})")
        fig.colorbar(im, ax=ax, fraction=0.046)
    fig.suptitle(f"2-D slice, other observations at pi(a*)={np.round(np.asarray(base_p), 3)}", fontsize=9)
    fig.tight_layout()
    if path:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        fig.savefig(path, dpi=110)
    return fig


def plot_final_values(result: StudyResult, path: str | None = None):
    """Histogram of final robust values per method, with ``J*`` marked."""
    plt = _pyplot()
    M = len(result.methods)
    fig, axes = plt.subplots(1, M, figsize=(3.6 * M, 3.2), sharey=True, squeeze=False)
    lo = min(result.final_robust.min(), result.j_star) - 0.02
    bins = np.linspace(lo, result.j_star + 0.02, 50)
    for ax, m, v in zip(axes[0], result.methods, result.final_robust):
        s = result.summary[m]
        ax.hist(v, bins=bins, color="tab:blue")
        ax.axvline(result.j_star, color="k", ls="--", lw=1)
        ax.set_title(f"{m}: opt {s['frac_optimal']:.2f}, stuck {s['frac_stuck']:.2f}", fontsize=9)
        ax.set_xlabel("final robust value J_R")
    axes[0][0].set_ylabel(f"# of {result.final_robust.shape[1]} inits")
    fig.tight_layout()
    if path:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        fig.savefig(path, dpi=110)
    return fig


# --------------------------------------------------------------------------
# Robustness of the conclusion to the MDP design / guidance weight
# --------------------------------------------------------------------------

#: Every corridor variant that was tried while designing the default one.
SWEEP_DESIGNS: tuple[tuple[str, dict], ...] = (
    ("default", {}),
    ("radius=2", dict(radius=2)),
    ("radius=3 (all cells confusable)", dict(radius=3)),
    ("deterministic go (p_advance=1)", dict(p_advance=1.0)),
    ("rho_start=0.5", dict(rho_start=0.5)),
    ("n=3, G=1.9", dict(n_chain=3, goal_reward=1.9)),
    ("n=3, G=1.9, radius=2", dict(n_chain=3, goal_reward=1.9, radius=2)),
    ("n=6, G=3.5", dict(n_chain=6, goal_reward=3.5)),
    ("gamma=0.9, G=2.0", dict(gamma=0.9, goal_reward=2.0)),
    ("gamma=0.9, G=2.0, rho_start=0.85, radius=3", dict(gamma=0.9, goal_reward=2.0, rho_start=0.85, radius=3)),
    ("3 actions (+wait)", dict(wait_action=True)),
    ("3 actions (+wait), radius=3", dict(wait_action=True, radius=3)),
)


def design_sweep(base: StudyConfig, designs=SWEEP_DESIGNS, kappas=(0.25, 0.5, 2.0, 4.0)) -> str:
    """Markdown tables: optimal/stuck fractions per design, then per kappa.

    Same measurement as :func:`run_study`; only the MDP (or kappa) changes.
    """
    lines = [
        "| design | J* | " + " | ".join(f"{m} opt / stuck" for m in base.methods) + " |",
        "|---|---|" + "---|" * len(base.methods),
    ]
    for name, kw in designs:
        cfg = dataclasses.replace(base, mdp=dataclasses.replace(base.mdp, **kw))
        r = run_study(cfg)
        cells = [f"{r.summary[m]['frac_optimal']:.2f} / {r.summary[m]['frac_stuck']:.2f}" for m in r.methods]
        lines.append(f"| {name} | {r.j_star:.3f} | " + " | ".join(cells) + " |")
    guided = tuple(m for m in ("BARPO+SPO", "ARPO+SPO") if m in base.methods)
    lines += [
        "",
        "| kappa (default design) | " + " | ".join(f"{m} opt / stuck / mean J_R" for m in guided) + " |",
        "|---|" + "---|" * len(guided),
    ]
    for k in kappas:
        r = run_study(dataclasses.replace(base, kappa=k, methods=guided))
        cells = [
            f"{r.summary[m]['frac_optimal']:.3f} / {r.summary[m]['frac_stuck']:.3f} / {r.summary[m]['mean_robust']:.3f}"
            for m in guided
        ]
        lines.append(f"| {k:g} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------


def _main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join("benchmarks", "results", "landscape"))
    ap.add_argument("--n-inits", type=int, default=StudyConfig.n_inits)
    ap.add_argument("--n-steps", type=int, default=StudyConfig.n_steps)
    ap.add_argument("--lr", type=float, default=StudyConfig.lr)
    ap.add_argument("--optimizer", default=StudyConfig.optimizer, choices=("sgd", "adam"))
    ap.add_argument("--kappa", type=float, default=StudyConfig.kappa)
    ap.add_argument("--seed", type=int, default=StudyConfig.seed)
    ap.add_argument("--radius", type=int, default=ChainConfig.radius)
    ap.add_argument("--sweep", action="store_true", help="also run the MDP-design and kappa sweep")
    ap.add_argument("--sweep-inits", type=int, default=300)
    args = ap.parse_args(argv)
    cfg = StudyConfig(
        mdp=dataclasses.replace(ChainConfig(), radius=args.radius),
        n_inits=args.n_inits,
        n_steps=args.n_steps,
        lr=args.lr,
        optimizer=args.optimizer,
        kappa=args.kappa,
        seed=args.seed,
    )
    mdp = make_chain_mdp(cfg.mdp)
    print(f"jax {jax.__version__}, backend {jax.default_backend()}")
    print(cfg)
    res = run_study(cfg, mdp)
    print(res.table())
    print(f"\nstudy wall time (compile + run): {res.seconds:.1f} s")
    os.makedirs(args.out, exist_ok=True)
    plot_landscape_slice(mdp, os.path.join(args.out, "landscape_slice.png"), kappa=cfg.kappa)
    plot_final_values(res, os.path.join(args.out, "final_robust_values.png"))
    print(f"wrote {args.out}/landscape_slice.png and {args.out}/final_robust_values.png")
    if args.sweep:
        print(f"\ndesign / kappa sweep ({args.sweep_inits} inits each, same seed and optimiser):")
        print(design_sweep(dataclasses.replace(cfg, n_inits=args.sweep_inits)))


if __name__ == "__main__":
    _main()
