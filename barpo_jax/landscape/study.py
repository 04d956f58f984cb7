"""The many-initialisation study: every method trained by exact gradient ascent from the
same random policies in one jitted program (vmap over inits, scan over steps), and each
run classified by its exact robust value as optimal, stuck or unconverged."""

from __future__ import annotations

import time
from dataclasses import dataclass
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from . import objectives, policies, solvers
from .policies import random_logits  # noqa: F401  (public here before the policies module)
from .mdp import ChainConfig, FiniteSAMDP, check_isa_consistency, make_chain_mdp, robust_optimum
from .objectives import METHODS, objective_fn, robust_value, spo_objective


@dataclass(frozen=True)
class StudyConfig:
    """Settings of `run_study`.

    Initial policies are drawn uniformly from the simplex at every observed
    state (``theta = log Dirichlet(1)``), so no method is favoured by the
    initialisation. Plain gradient ascent is the default because the claim is
    about stationary points of the exact gradient field; Adam is available.

    Variants of the construction: ``policy="shared"`` replaces the tabular logits by
    a small network shared across observations (``policies.Shared``), and
    ``kl_temperature > 0`` replaces BARPO's argmax KL adversary by the soft one
    (``solvers.soft_kl_adversary``) at that temperature.

    Attributes:
      mdp: the corridor `run_study` builds (ignored when it is given an MDP).
      n_inits: number N of initial policies, the same ones for every method.
      n_steps: gradient steps per run; rounded down to a multiple of ``n_checkpoints``
        (at least one step per checkpoint).
      lr: learning rate.
      optimizer: "sgd" (plain gradient ascent) or "adam".
      kappa: SPO-guidance weight of "barpo" (and of the "arpo_guided" control).
      seed: PRNG seed of the initial policies.
      methods: keys of `METHODS` to train, in the order of the result's rows.
      policy: "tabular" (logits per observation), "shared", or a parameterisation object
        (see `Tabular`, `Shared`).
      kl_temperature: 0: BARPO's adversary is the argmax; > 0: the soft KL adversary at
        this temperature (affects the methods with the KL adversary only).
      n_checkpoints: number K of times the robust value is recorded, evenly over training.
      opt_rtol: a run is "optimal" when its final ``J_R >= J* - opt_rtol * |J*|``.
      plateau_tol: a non-optimal run is "stuck" when ``J_R`` moved by less than this over
        the last quarter of the checkpoints.
    """

    mdp: ChainConfig = ChainConfig()
    n_inits: int = 1000
    n_steps: int = 3000
    lr: float = 2.0
    optimizer: str = "sgd"  # "sgd" (plain gradient ascent) or "adam"
    kappa: float = 1.0  # SPO-guidance weight of "barpo" (and of the "arpo_guided" control)
    seed: int = 0
    methods: tuple[str, ...] = tuple(METHODS)
    policy: object = "tabular"  # "tabular" (logits per observation), "shared", or a policies.* object
    kl_temperature: float = 0.0  # 0: BARPO's adversary is the argmax; > 0: the soft KL adversary
    n_checkpoints: int = 20  # robust value is recorded this many times
    opt_rtol: float = 0.01  # "optimal": J_R >= J* - opt_rtol * |J*|
    plateau_tol: float = 1e-3  # "stuck": non-optimal and J_R moved < this over the last quarter


class _TrainOut(NamedTuple):
    theta: jax.Array  # [N, S, A] final logits (of whatever parameterisation)
    robust_curve: jax.Array  # [N, K] robust value at checkpoints (after vmap)
    final_natural: jax.Array  # [N]
    final_robust: jax.Array  # [N]
    final_grad_norm: jax.Array  # [N] norm of the method's own gradient at the end


@dataclass(frozen=True, eq=False)
class StudyResult:
    """Outcome of `run_study` (arrays are numpy, one row per method).

    M is the number of methods, N of initial policies, K of checkpoints.

    Attributes:
      config: the settings it ran with.
      j_star: the exact robust optimum ``rho . V*``.
      methods: the M methods, in the order of the arrays' first axis.
      theta0: [N, S, A] initial logits (of whatever parameterisation).
      final_theta: [M, N, S, A] final logits.
      final_robust: [M, N] final value under the strongest adversary, ``J_R``.
      final_natural: [M, N] final natural value ``rho . V^pi``.
      final_grad_norm: [M, N] norm of the method's own gradient (over all parameters) at
        the end.
      robust_curve: [M, K, N] ``J_R`` at each checkpoint.
      checkpoint_steps: [K] gradient steps done at each checkpoint.
      summary: {method: {"frac_optimal", "frac_stuck", "frac_unconverged", "mean_robust",
        "mean_natural", "mean_robust_stuck", "mean_natural_stuck", "n_inits"}}; the
        "_stuck" means are None when no run is stuck.
      seconds: wall time of the training call, its compilation included.
    """

    config: StudyConfig
    j_star: float
    methods: tuple[str, ...]
    theta0: np.ndarray  # [N, S, A] initial logits
    final_theta: np.ndarray  # [M, N, S, A]
    final_robust: np.ndarray  # [M, N]
    final_natural: np.ndarray  # [M, N]
    final_grad_norm: np.ndarray  # [M, N]
    robust_curve: np.ndarray  # [M, K, N]
    checkpoint_steps: np.ndarray  # [K]
    summary: dict
    seconds: float

    def table(self) -> str:
        """Markdown table of the per-method summary.

        Returns:
          One row per method (fractions optimal / stuck / unconverged, mean ``J_R`` and
            ``J_nat``, mean ``J_R`` of the stuck runs), then a line giving ``J*``.
        """
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


def _make_optimizer(cfg: StudyConfig) -> optax.GradientTransformation:
    if cfg.optimizer == "sgd":
        return optax.sgd(cfg.lr)
    if cfg.optimizer == "adam":
        return optax.adam(cfg.lr)
    raise ValueError(f"unknown optimizer {cfg.optimizer!r}")


def make_trainer(mdp: FiniteSAMDP, cfg: StudyConfig) -> Callable[[jax.Array], dict[str, _TrainOut]]:
    """One jitted program: for every method, vmap over inits, scan over steps. It takes the
    policy parameters (leading axis: inits) of ``cfg.policy``; for "tabular" they are the logits.

    Each run carries its adversary from step to step as the warm start of the next, and
    records the robust value after every ``n_steps // n_checkpoints`` steps.

    Args:
      mdp: the MDP.
      cfg: the settings (optimizer, lr, steps, checkpoints, methods, kappa, policy,
        kl_temperature are used).

    Returns:
      A jitted function from the initial parameters (a pytree, leading axis N) to
        ``{method: out}``, where ``out`` holds ``theta`` [N, S, A] (final logits),
        ``robust_curve`` [N, K], ``final_natural``, ``final_robust`` and
        ``final_grad_norm`` (each [N]).

    Raises:
      ValueError: an unknown optimizer or policy parameterisation (an unknown method
        raises at the first call).
    """
    tx = _make_optimizer(cfg)
    S = mdp.n_states
    K = cfg.n_checkpoints
    inner = max(1, cfg.n_steps // K)
    param = policies.policy(cfg.policy)
    logits = lambda p: param.logits(p, mdp)  # noqa: E731

    def train_one(method: str, theta0) -> _TrainOut:
        m = objectives.method(method, cfg.kl_temperature)
        vg = jax.value_and_grad(lambda p, nu: m.value_and_adversary(mdp, logits(p), nu, cfg.kappa), has_aux=True)

        def step(carry, _):
            th, st, nu = carry
            (_, nu), g = vg(th, nu)
            upd, st = tx.update(jax.tree_util.tree_map(jnp.negative, g), st, th)  # ascent
            return (optax.apply_updates(th, upd), st, nu), None

        def chunk(carry, _):
            carry, _ = jax.lax.scan(step, carry, None, length=inner)
            return carry, robust_value(mdp, logits(carry[0]))

        init = (theta0, tx.init(theta0), jnp.eye(S, dtype=logits(theta0).dtype))
        (p, _, nu), curve = jax.lax.scan(chunk, init, None, length=K)
        (_, _), g = vg(p, nu)
        th = logits(p)
        return _TrainOut(
            theta=th,
            robust_curve=curve,
            final_natural=spo_objective(mdp, th),
            final_robust=curve[-1],
            final_grad_norm=jnp.sqrt(sum(jnp.sum(x**2) for x in jax.tree_util.tree_leaves(g))),
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

    Args:
      cfg: the settings.
      mdp: the MDP to study (None: ``make_chain_mdp(cfg.mdp)``).

    Returns:
      A StudyResult; its ``summary`` holds the fractions per method.

    Raises:
      ValueError: an MDP that violates ISA (or a ``cfg.mdp`` that gives no valid MDP),
        or an unknown optimizer, policy parameterisation or method.
    """
    mdp = mdp if mdp is not None else make_chain_mdp(cfg.mdp)
    j_star = robust_optimum(mdp)
    key = jax.random.PRNGKey(cfg.seed)
    param = policies.policy(cfg.policy)
    params0 = param.init(key, cfg.n_inits, mdp)  # tabular: the same draw as random_logits
    theta0 = jax.vmap(lambda p: param.logits(p, mdp))(params0)
    trainer = make_trainer(mdp, cfg)
    t0 = time.perf_counter()
    out = jax.block_until_ready(trainer(params0))
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


def describe_runs(mdp: FiniteSAMDP, result: StudyResult, method: str, which: str = "stuck", n: int = 5) -> str:
    """Show a few final policies of ``method`` with both adversaries' choices.

    Used to see *why* runs stick: which observation each adversary shows in
    each true state and which observations receive (almost) no gradient.

    Args:
      mdp: the MDP the study ran on.
      result: the study's result.
      method: one of ``result.methods``.
      which: "stuck" or "optimal": the runs to show (classified as in `run_study`).
      n: the most runs shown.

    Returns:
      A header line, then per run the probability of the ORP action at each
        observation, its final ``J_R`` and ``J_nat``, the strongest and the KL adversary's
        choice in each true state, and the norm of the method's gradient with respect to
        each observation's logits (the argmax KL adversary, whatever ``kl_temperature``).

    Raises:
      ValueError: ``method`` is not in ``result.methods``, or the MDP violates ISA.
      KeyError: ``which`` is neither "stuck" nor "optimal".
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
        pi = solvers.policy_from_logits(th)
        return (
            pi[jnp.arange(mdp.n_states), jnp.asarray(orp)],
            jnp.argmax(solvers.strongest_adversary(mdp, pi), axis=1),
            jnp.argmax(solvers.kl_adversary(mdp, pi), axis=1),
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
