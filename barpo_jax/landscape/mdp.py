"""The finite state-adversarial MDP: its arrays, the default corridor, and the build-time
ISA check (float64 numpy value iteration), so that no study runs on an MDP whose robust
and natural optima differ."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class FiniteSAMDP:
    """A finite MDP plus an observation neighbourhood ``N(s)`` per state.

    Observations are states: the adversary replaces the true state ``s`` by an
    observed state ``o`` with ``nbhd[s, o] == True`` (``s`` is always in
    ``N(s)``, so "no attack" is one of the adversary's options).
    ``eq=False`` keeps hashing by identity (fields are arrays), so an MDP can be
    closed over by jitted functions. Build one with `make_mdp` (which validates it)
    rather than directly.

    Attributes:
      P: [S, A, S] transition probabilities, ``P[s, a, t] = Pr(t | s, a)``.
      R: [S, A] expected immediate reward of action ``a`` in state ``s``.
      rho: [S] initial-state distribution.
      nbhd: [S, S] bool, ``nbhd[s, o]`` iff observation ``o`` is in ``N(s)``, i.e. the
        adversary may show ``o`` when the true state is ``s``; the diagonal is all True.
      gamma: discount factor in [0, 1).
      state_names: S labels, used in tables, plots and error messages.
      action_names: A labels.
      n_states: S (a property, read off ``P``'s shape).
      n_actions: A (a property, read off ``P``'s shape).
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
        """S, the number of states (which are also the observations)."""
        return int(self.P.shape[0])

    @property
    def n_actions(self) -> int:
        """A, the number of actions."""
        return int(self.P.shape[1])


@dataclass(frozen=True)
class ChainConfig:
    """Parameters of the default "slippery corridor with an exit" ISA-MDP.

    States ``c0..c{n-1}`` form a corridor, ``T`` is absorbing. In ``c_i``
    action ``go`` advances with probability ``p_advance`` (else the agent
    slips and stays); ``go`` in the last cell pays ``goal_reward`` on success.
    ``stop`` pays ``stop_reward`` immediately and ends the episode. The agent's
    position sensor can be spoofed by up to ``radius`` cells.
    `make_chain_mdp` turns it into a `FiniteSAMDP`.

    Attributes:
      n_chain: number of corridor cells n (the MDP has n + 1 states with ``T``).
      gamma: discount factor.
      p_advance: probability that ``go`` moves one cell on (from the last cell: into ``T``).
      stop_reward: reward of ``stop``, in every corridor cell.
      goal_reward: reward of a successful ``go`` from the last cell (so its expected
        reward there is ``p_advance * goal_reward``).
      rho_start: initial probability of ``c0``; the rest is spread evenly over
        ``c1..c{n-1}`` (with a single cell, ``c0`` gets everything).
      radius: the adversary may show any cell within this many cells of the true one
        (``T`` is never confused with a cell).
      wait_action: add a third action ``wait`` (stay put, reward 0).
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

    Args:
      P: [S, A, S] transition probabilities (each ``P[s, a]`` sums to one).
      R: [S, A] expected rewards.
      rho: [S] initial-state distribution.
      nbhd: [S, S] bool, ``nbhd[s, o]`` iff the adversary may show ``o`` in true state ``s``;
        its diagonal must be True.
      gamma: discount factor in [0, 1).
      state_names: S state labels (None or empty: ``s0, s1, ...``).
      action_names: A action labels (None or empty: ``a0, a1, ...``).
      check: run `check_isa_consistency` on the result.

    Returns:
      The FiniteSAMDP, its arrays converted to float64 (``nbhd`` to bool).

    Raises:
      ValueError: inconsistent shapes, ``P`` or ``rho`` not probabilities, a state
        outside its own neighbourhood, ``gamma`` outside [0, 1), or (with ``check``) an
        MDP that violates ISA.
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
    """The default toy ISA-MDP (see `ChainConfig` and docs/landscape.md).

    Args:
      cfg: the corridor's parameters.

    Returns:
      A FiniteSAMDP with states ``c0..c{n-1}, T`` and actions ``go, stop`` (and ``wait``
        when ``cfg.wait_action``), checked for ISA consistency.

    Raises:
      ValueError: parameters that give no valid MDP (e.g. ``p_advance`` or ``rho_start``
        outside [0, 1], ``gamma`` outside [0, 1)) or one that violates ISA.
    """
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


def optimal_q(mdp: FiniteSAMDP, tol: float = 1e-12, max_iter: int = 100_000) -> np.ndarray:
    """Natural optimal ``Q*`` by value iteration (float64 numpy; build-time only).

    Args:
      mdp: the MDP.
      tol: stop once an iteration changes ``V`` by less than this (sup norm).
      max_iter: the most iterations (the last iterate is used if ``tol`` is not reached).

    Returns:
      [S, A] array, ``Q*(s, a) = R(s, a) + gamma * sum_t P(t|s, a) V*(t)``.
    """
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
    """Boolean ``[S, A]``: actions within ``tol`` of ``max_a Q*(s, a)``.

    Args:
      mdp: the MDP.
      tol: how far below the best action's ``Q*`` an action may be and still count as
        optimal (absorbs value-iteration error and exact ties).

    Returns:
      [S, A] bool array, True where the action is optimal in that state.
    """
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

    Args:
      mdp: the MDP.
      tol: the optimality tolerance of `optimal_action_sets`.

    Returns:
      The optimal robust policy (ORP) as an [S] int64 array: ``orp[o]`` is the
        lowest-indexed action optimal in every true state that can be shown as ``o``.

    Raises:
      ValueError: either condition is violated (the message names the states).
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
    """Exact robust optimum ``rho . V*`` (valid because ISA holds).

    Under ISA the ORP reaches ``V*`` against every adversary, and no policy can beat
    ``V*`` even without one, so the natural optimum is also the robust one.

    Args:
      mdp: the MDP.

    Returns:
      ``rho . V*`` as a float.

    Raises:
      ValueError: the MDP violates ISA (then ``rho . V*`` is not the robust optimum).
    """
    check_isa_consistency(mdp)
    V = optimal_q(mdp).max(-1)
    return float(mdp.rho @ V)
