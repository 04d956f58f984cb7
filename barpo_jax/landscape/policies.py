"""Policy parameterisations for the landscape study: parameters -> logits ``[S, A]``.

Why more than one: with tabular logits (one row per observation) an observation that
no adversary ever shows gets exactly zero gradient from an adversarial objective, which
is how BARPO without guidance sticks in the corridor (docs/landscape.md). A network
shares its weights across observations, so every update moves every observation's
policy. ``shared`` is the smallest such network: a one-hidden-layer tanh MLP over a
scalar "position sensor" reading of the observation.

A parameterisation is ``(init(key, n, mdp) -> params with leading axis n,
logits(params, mdp) -> [S, A])``; ``params`` is any pytree.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp

from .mdp import FiniteSAMDP


def random_logits(key: jax.Array, n: int, n_states: int, n_actions: int) -> jax.Array:
    """Logits of ``n`` policies drawn uniformly from the simplex per state.

    Uniform draws (``Dirichlet(1)``) favour no action and so no method.

    Args:
      key: PRNG key.
      n: number of policies.
      n_states: S.
      n_actions: A.

    Returns:
      [n, S, A] logits: the log-probabilities of the draws (clipped below at 1e-12), so
        their softmax is the drawn policy.
    """
    p = jax.random.dirichlet(key, jnp.ones(n_actions), (n, n_states))
    return jnp.log(jnp.clip(p, 1e-12, 1.0))


@dataclass(frozen=True)
class Tabular:
    """One logit row per observation, drawn uniformly from the simplex (``log Dirichlet(1)``).

    Attributes:
      name: the key of this parameterisation in `POLICIES`.
    """

    name: str = "tabular"

    def init(self, key: jax.Array, n: int, mdp: FiniteSAMDP) -> jax.Array:
        """Parameters of ``n`` random policies (`random_logits`).

        Args:
          key: PRNG key.
          n: number of policies.
          mdp: the MDP (gives S and A).

        Returns:
          [n, S, A] logits.
        """
        return random_logits(key, n, mdp.n_states, mdp.n_actions)

    def logits(self, params: jax.Array, mdp: FiniteSAMDP) -> jax.Array:
        """The logits, which here are the parameters themselves.

        Args:
          params: [S, A] logits of one policy (any leading axes pass through).
          mdp: the MDP (unused).

        Returns:
          ``params`` unchanged.
        """
        return params


def sensor(mdp: FiniteSAMDP) -> jax.Array:
    """The observation as one number: its index scaled to [-1, 1] (a position sensor for
    the corridor; ``T`` reads past its end). ``[S, 1]``."""
    s = mdp.n_states
    return (2.0 * jnp.arange(s, dtype=jnp.float32) / max(s - 1, 1) - 1.0)[:, None]


@dataclass(frozen=True)
class Shared:
    """``logits(o) = tanh(x(o) W1 + b1) W2 + b2`` with ``x(o)`` the sensor reading: every
    weight is shared by every observation. Initialisation: W1, b1 ~ N(0, ``in_scale``^2)
    (so the hidden units bend within the sensor's range), W2 ~ N(0, ``out_scale``^2 / hidden),
    b2 = 0, so the initial logits have a spread of about ``out_scale`` like a network's.

    Attributes:
      hidden: width h of the hidden layer.
      in_scale: standard deviation of W1 and b1 at initialisation.
      out_scale: W2's standard deviation times sqrt(h) at initialisation.
      name: the key of this parameterisation in `POLICIES`.
    """

    hidden: int = 8
    in_scale: float = 2.0
    out_scale: float = 1.5
    name: str = "shared"

    def init(self, key: jax.Array, n: int, mdp: FiniteSAMDP) -> dict:
        """Random weights of ``n`` networks.

        Args:
          key: PRNG key.
          n: number of networks.
          mdp: the MDP (gives A).

        Returns:
          ``{"w1": [n, 1, h], "b1": [n, h], "w2": [n, h, A], "b2": [n, A]}``.
        """
        k1, k2, k3 = jax.random.split(key, 3)
        h, a = self.hidden, mdp.n_actions
        return {
            "w1": self.in_scale * jax.random.normal(k1, (n, 1, h)),
            "b1": self.in_scale * jax.random.normal(k2, (n, h)),
            "w2": self.out_scale / jnp.sqrt(h) * jax.random.normal(k3, (n, h, a)),
            "b2": jnp.zeros((n, a)),
        }

    def logits(self, params: dict, mdp: FiniteSAMDP) -> jax.Array:
        """The network's logits at every observation.

        Args:
          params: one network's weights, as `init` returns them without the leading
            axis (``vmap`` over it for several).
          mdp: the MDP (gives the sensor readings).

        Returns:
          [S, A] logits.
        """
        hid = jnp.tanh(sensor(mdp).astype(params["w1"].dtype) @ params["w1"] + params["b1"])
        return hid @ params["w2"] + params["b2"]


POLICIES = {"tabular": Tabular(), "shared": Shared()}


def policy(name):
    """A parameterisation by name (a key of POLICIES), or the object itself."""
    if not isinstance(name, str):
        return name
    if name not in POLICIES:
        raise ValueError(f"unknown policy parameterisation {name!r}; expected one of {tuple(POLICIES)}")
    return POLICIES[name]
