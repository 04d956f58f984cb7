"""Interval bound propagation (IBP) through the project's MLPs.

Why: RADIAL-PPO and WocaR-PPO need the set of outputs a network can produce when its
input moves anywhere in the l_inf ball B_eps(s), not one point found by a solver; the
robust Sarsa attack regularises its Q with the same kind of bound. IBP gives a sound
(never too small) box for that set in one forward pass of a centre and a radius:

    Dense:  centre' = W c + b,   radius' = |W| r
    tanh:   monotone, so [tanh(lo), tanh(hi)]

Everything is plain jnp on the flax parameter trees of `networks.MLP` (Dense layers
named Dense_0..Dense_n, tanh between them, none after the last), so it is jittable,
vmappable and differentiable in the parameters (RADIAL trains through the bounds).

CROWN-style linear bounds are not implemented: both published methods we follow use
plain IBP (RADIAL-RL's `get_mean_bound` computes IBP only; WocaR-PPO's
`network_bounds` is IBP), and the lineage's rs regulariser uses IBP when its CROWN
mixing weight beta is 1. A backward linear pass would carry a [batch, out, width]
matrix per layer and a tanh relaxation per neuron: several times IBP's cost in every
minibatch step, for bounds the methods we reproduce do not use.
"""
from __future__ import annotations

import chex
import jax.numpy as jnp


def box(x, eps):
    """The l_inf ball of radius eps around x as (lower, upper)."""
    return x - eps, x + eps


def dense_layers(mlp_params) -> list:
    """[(kernel, bias), ...] of a `networks.MLP`'s flax parameters, input to output."""
    layers = mlp_params["params"] if "params" in mlp_params else mlp_params
    n = len([k for k in layers if k.startswith("Dense_")])
    if n == 0 or n != len(layers):
        raise ValueError(f"not a networks.MLP parameter tree: layers {sorted(layers)}")
    return [(layers[f"Dense_{i}"]["kernel"], layers[f"Dense_{i}"]["bias"]) for i in range(n)]


def dense(kernel, bias, lo, hi):
    """Exact interval image of an affine map (up to float rounding)."""
    c, r = 0.5 * (hi + lo), 0.5 * (hi - lo)
    c2 = c @ kernel + bias
    r2 = r @ jnp.abs(kernel)
    return c2 - r2, c2 + r2


def mlp(mlp_params, lo, hi):
    """Sound output box of a `networks.MLP` (Dense, tanh, ..., Dense) over the input box [lo, hi].

    lo, hi: [..., in] with lo <= hi. Returns (lower, upper) of shape [..., out].
    """
    chex.assert_equal_shape([lo, hi])
    layers = dense_layers(mlp_params)
    chex.assert_axis_dimension(lo, -1, layers[0][0].shape[0])
    for i, (w, b) in enumerate(layers):
        lo, hi = dense(w, b, lo, hi)
        if i < len(layers) - 1:
            lo, hi = jnp.tanh(lo), jnp.tanh(hi)
    return lo, hi


def policy_mean(params, obs, eps):
    """Bounds on the Gaussian policy's mean over B_eps(obs): params is the
    `networks.ActorCritic` parameter dict. Returns (lower, upper) [..., act]."""
    return mlp(params["policy"]["params"]["MLP_0"], *box(obs, eps))


def value(params, obs, eps):
    """Bounds on the critic V over B_eps(obs). Returns (lower, upper) [...]."""
    lo, hi = mlp(params["value"], *box(obs, eps))
    return lo[..., 0], hi[..., 0]
