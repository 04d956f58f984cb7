"""Each studied method as a composition (adversary, objective), as `barpo_jax.methods`
composes its training methods, and under the same names as `barpo_jax.ALGOS`:

    J(theta) = objective(mdp, pi, nu, kappa),   pi = softmax(theta),
    nu = adversary(mdp, stop_gradient(pi), nu_prev)   (no gradient through nu)

Holding the adversary's choice fixed is what makes autodiff give ARPO's Danskin
gradient and BARPO's outer-level gradient. Adding a method is one METHODS entry.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp

from . import solvers
from .mdp import FiniteSAMDP

# Adversaries: (mdp, pi, nu_prev) -> one-hot nu [S, S], computed on stop_gradient(pi) ------


def strongest(mdp: FiniteSAMDP, pi: jax.Array, nu_prev: jax.Array) -> jax.Array:
    """ARPO's inner level: the exact value-minimising adversary, warm-started from ``nu_prev``."""
    return solvers.strongest_adversary(mdp, pi, nu_prev)


def kl(mdp: FiniteSAMDP, pi: jax.Array, nu_prev: jax.Array) -> jax.Array:
    """BARPO's inner level: ``argmax_{o in N(s)} KL(pi(.|s) || pi(.|o))`` (needs no warm start)."""
    return solvers.kl_adversary(mdp, pi)


def soft_kl(temperature: float) -> Callable:
    """BARPO's inner level as a distribution over perturbations (what SGLD samples):
    ``nu(o|s) ∝ exp(KL(pi(.|s) || pi(.|o)) / temperature)``."""

    def adversary(mdp: FiniteSAMDP, pi: jax.Array, nu_prev: jax.Array) -> jax.Array:
        return solvers.soft_kl_adversary(mdp, pi, temperature)

    return adversary


# Objectives: (mdp, pi, nu, kappa) -> scalar J, differentiable in pi ------------------------


def natural(mdp: FiniteSAMDP, pi: jax.Array, nu: jax.Array, kappa) -> jax.Array:
    """``rho . V^pi``: the value without an adversary (``nu`` is ignored)."""
    return jnp.asarray(mdp.rho, pi.dtype) @ solvers.policy_evaluation(mdp, pi)


def at_perturbed(mdp: FiniteSAMDP, pi: jax.Array, nu: jax.Array, kappa) -> jax.Array:
    """``rho . V^{pi o nu}``: the value when the agent in ``s`` acts on ``nu(s)``."""
    return jnp.asarray(mdp.rho, pi.dtype) @ solvers.policy_evaluation(mdp, solvers.perceived_policy(pi, nu))


def plus_guidance(objective: Callable) -> Callable:
    """``objective + kappa * rho . V^pi`` ("SPO guidance")."""

    def f(mdp, pi, nu, kappa):
        j = objective(mdp, pi, nu, kappa)
        if isinstance(kappa, (int, float)) and kappa == 0:
            return j  # skip the (zero-weighted) natural-value solve
        return j + kappa * natural(mdp, pi, nu, kappa)

    return f


@dataclasses.dataclass(frozen=True)
class Method:
    """One studied method: an adversary (the inner level) and an objective (the outer one).

    The adversary's choice is treated as a constant when differentiating, which is what
    turns ``jax.grad`` of the objective into ARPO's Danskin gradient or BARPO's
    outer-level gradient.

    Attributes:
      adversary: ``(mdp, pi, nu_prev) -> nu``, an [S, S] adversary computed from
        ``stop_gradient(pi)`` and warm-started from ``nu_prev``; None for no adversary
        (``nu_prev`` is carried through unchanged).
      objective: ``(mdp, pi, nu, kappa) -> J``, a scalar differentiable in the [S, A]
        policy ``pi``; ``kappa`` is the guidance weight (ignored by unguided objectives).
    """

    adversary: Callable | None  # None: no adversary, nu is carried through unchanged
    objective: Callable

    def value_and_adversary(self, mdp: FiniteSAMDP, theta: jax.Array, nu_prev: jax.Array, kappa=1.0):
        """``(J(theta), nu)``; ``nu_prev`` warm-starts the adversary (the training loop's carry).

        Args:
          mdp: the MDP.
          theta: [S, A] logits.
          nu_prev: [S, S] previous adversary (the identity for "no attack").
          kappa: guidance weight passed to the objective.

        Returns:
          (J, nu): the scalar objective, differentiable in ``theta`` with ``nu`` held
            fixed, and the [S, S] adversary used (to carry into the next step).
        """
        pi = solvers.policy_from_logits(theta)
        nu = nu_prev if self.adversary is None else self.adversary(mdp, jax.lax.stop_gradient(pi), nu_prev)
        return self.objective(mdp, pi, nu, kappa), nu

    def value(self, mdp: FiniteSAMDP, theta: jax.Array, kappa=1.0) -> jax.Array:
        """``J(theta)``, the adversary started from "no attack".

        Args:
          mdp: the MDP.
          theta: [S, A] logits.
          kappa: guidance weight passed to the objective.

        Returns:
          The scalar objective.
        """
        return self.value_and_adversary(mdp, theta, jnp.eye(mdp.n_states, dtype=theta.dtype), kappa)[0]


#: Ordered as the study's tables. "arpo_guided" is a control that is not in the paper:
#: the same SPO guidance added to ARPO, to tell the effect of the KL adversary from that
#: of guidance.
METHODS: dict[str, Method] = {
    "spo": Method(None, natural),
    "arpo": Method(strongest, at_perturbed),
    "barpo_unguided": Method(kl, at_perturbed),
    "barpo": Method(kl, plus_guidance(at_perturbed)),
    "arpo_guided": Method(strongest, plus_guidance(at_perturbed)),
}


def method(name: str, kl_temperature: float = 0.0) -> Method:
    """METHODS[name]; with ``kl_temperature > 0`` its KL adversary (if any) is the soft one."""
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; expected one of {tuple(METHODS)}")
    m = METHODS[name]
    if kl_temperature > 0 and m.adversary is kl:
        m = dataclasses.replace(m, adversary=soft_kl(kl_temperature))
    return m


def objective_fn(mdp: FiniteSAMDP, name: str, kappa: float = 1.0) -> Callable[[jax.Array], jax.Array]:
    """Scalar objective of method ``name`` (a key of `METHODS`) as ``theta -> J``.

    Args:
      mdp: the MDP.
      name: the method.
      kappa: guidance weight (used by ``barpo`` and ``arpo_guided`` only).

    Returns:
      A function from [S, A] logits to the scalar objective, with the adversary
        recomputed from "no attack" at each call; ``jax.grad`` of it is the method's
        ascent direction.

    Raises:
      ValueError: ``name`` is not a key of `METHODS`.
    """
    m = method(name)
    return lambda theta: m.value(mdp, theta, kappa)


def spo_objective(mdp: FiniteSAMDP, theta: jax.Array) -> jax.Array:
    """Natural objective ``rho . V^pi``.

    Args:
      mdp: the MDP.
      theta: [S, A] logits.

    Returns:
      The scalar natural value, SPO's objective.
    """
    return METHODS["spo"].value(mdp, theta)


def robust_value(mdp: FiniteSAMDP, theta: jax.Array) -> jax.Array:
    """Exact value under the strongest adversary (the quantity the study reports, and ARPO's
    objective: ``jax.grad`` of it is the Danskin gradient).

    Args:
      mdp: the MDP.
      theta: [S, A] logits.

    Returns:
      The scalar ``min_nu rho . V^{pi o nu}``.
    """
    return METHODS["arpo"].value(mdp, theta)


def barpo_objective(mdp: FiniteSAMDP, theta: jax.Array, kappa: float = 0.0) -> jax.Array:
    """Outer BARPO objective: value under the (fixed) KL adversary + kappa * SPO.

    Args:
      mdp: the MDP.
      theta: [S, A] logits.
      kappa: SPO-guidance weight; the default 0 gives ``barpo_unguided``'s objective
        (note: `objective_fn` and the study default to 1).

    Returns:
      The scalar ``rho . V^{pi o nu_KL} + kappa * rho . V^pi``.
    """
    return METHODS["barpo"].value(mdp, theta, kappa)
