"""The study's figures: objectives and ascent directions on a 2-D slice of policy space,
and the histogram of final robust values (headless when writing files)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ..plots import finish, subplots
from .mdp import FiniteSAMDP, check_isa_consistency
from .objectives import METHODS, objective_fn
from .study import StudyResult


def logits_from_probs(p_opt: jax.Array, a_opt: jax.Array, n_actions: int) -> jax.Array:
    """Logits putting mass ``p_opt`` on ``a_opt`` and the rest evenly elsewhere.

    Args:
      p_opt: probability of ``a_opt``, in [0, 1].
      a_opt: index of the favoured action.
      n_actions: A.

    Returns:
      [A] logits: the log-probabilities, clipped below at 1e-12.
    """
    rest = (1.0 - p_opt) / max(n_actions - 1, 1)
    probs = jnp.where(jnp.arange(n_actions) == a_opt, p_opt, rest)
    return jnp.log(jnp.clip(probs, 1e-12, 1.0))


def landscape_slice(
    mdp: FiniteSAMDP,
    obs: tuple[int, int] = (0, 1),
    base_p: float | np.ndarray = 0.99,
    n_grid: int = 61,
    kappa: float = 1.0,
    methods: tuple[str, ...] = tuple(METHODS),
) -> dict[str, np.ndarray]:
    """Objectives on a grid over ``pi(a*|o_i), pi(a*|o_j)`` (others fixed).

    ``a*`` is the ORP action of each observation; ``base_p`` is the
    probability of ``a*`` at the observations that are held fixed. Returns the
    grid, every method's objective and its gradient w.r.t. the two grid
    probabilities (to draw the ascent direction field). Computed in float32.

    Args:
      mdp: the MDP.
      obs: the two observations (state indices) ``(i, j)`` whose probabilities vary.
      base_p: ``pi(a*|o)`` at the other observations: a scalar, or [S] per observation.
      n_grid: grid points per axis, evenly spaced over [0.005, 0.995].
      kappa: guidance weight of the guided methods.
      methods: keys of `METHODS` to evaluate.

    Returns:
      ``{"grid": [n_grid]}`` and, per method ``m``, ``m``: [n_grid, n_grid] objective
        values and ``m + "_grad"``: [n_grid, n_grid, 2] its derivatives with respect to
        ``(pi(a*|o_i), pi(a*|o_j))``. Row ``r``, column ``c`` is the point
        ``pi(a*|o_i) = grid[c]``, ``pi(a*|o_j) = grid[r]``.

    Raises:
      ValueError: the MDP violates ISA (there is no ``a*``), or an unknown method.
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
    methods: tuple[str, ...] = ("spo", "arpo", "barpo_unguided"),
):
    """Heat maps of the natural / robust / BARPO objectives on a 2-D slice.

    Arrows show the (normalised) gradient-ascent direction of each method's
    own objective; the robust-value panel is the ARPO objective itself.

    Args:
      mdp: the MDP.
      path: write the figure here as an image and close it (None: only return it).
      obs: the two observations whose ``pi(a*|o)`` span the slice.
      base_p: ``pi(a*|o)`` at the other observations (scalar or [S]).
      n_grid: grid points per axis.
      kappa: guidance weight of the guided methods.
      methods: one panel per method, in this order (keys of `METHODS`).

    Returns:
      The matplotlib Figure.

    Raises:
      ValueError: as `landscape_slice`.
    """
    sl = landscape_slice(mdp, obs, base_p, n_grid, kappa, methods)
    g = sl["grid"]
    titles = {
        "spo": "natural  rho.V^pi  (spo)",
        "arpo": "robust  min_nu rho.V^{pi o nu}  (arpo)",
        "barpo_unguided": "rho.V under KL adversary  (barpo_unguided)",
        "barpo": f"barpo_unguided + {kappa:g} x natural  (barpo)",
        "arpo_guided": f"arpo + {kappa:g} x natural  (arpo_guided)",
    }
    fig, axes = subplots(path, nrows=1, ncols=len(methods), figsize=(4.6 * len(methods), 4.2), squeeze=False)
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
    return finish(fig, path or None, dpi=110)


def plot_final_values(result: StudyResult, path: str | None = None):
    """Histogram of final robust values per method, with ``J*`` marked.

    Args:
      result: a study's result.
      path: write the figure here as an image and close it (None: only return it).

    Returns:
      The matplotlib Figure: one panel per method, titled with its optimal and stuck
        fractions.
    """
    M = len(result.methods)
    fig, axes = subplots(path, nrows=1, ncols=M, figsize=(3.6 * M, 3.2), sharey=True, squeeze=False)
    lo = min(result.final_robust.min(), result.j_star) - 0.02
    bins = np.linspace(lo, result.j_star + 0.02, 50)
    for ax, m, v in zip(axes[0], result.methods, result.final_robust):
        s = result.summary[m]
        ax.hist(v, bins=bins, color="tab:blue")
        ax.axvline(result.j_star, color="k", ls="--", lw=1)
        ax.set_title(f"{m}: opt {s['frac_optimal']:.2f}, stuck {s['frac_stuck']:.2f}", fontsize=9)
        ax.set_xlabel("final robust value J_R")
    axes[0][0].set_ylabel(f"# of {result.final_robust.shape[1]} inits")
    return finish(fig, path or None, dpi=110)
