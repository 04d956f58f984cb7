"""Compatibility shim so Brax 0.14.x's trainers run on current JAX (benchmarks only).

Brax 0.14.2's ``ppo.train`` (and apg/sac) call ``jax.device_put_replicated``,
which JAX removed in 0.10. ``install()`` defines a stand-in on the ``jax``
module when (and only when) it is missing: each leaf gets a new leading axis of
size ``len(devices)`` holding one copy per device, placed with a sharding that
splits that axis over the devices -- the layout ``jax.pmap`` expects for a
replicated input. Nothing in ``barpo_jax`` imports this module.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def _device_put_replicated(x, devices):
    devices = list(devices)
    if not devices:
        raise ValueError("device_put_replicated needs at least one device")
    from jax.sharding import Mesh, NamedSharding, PartitionSpec

    sharding = NamedSharding(Mesh(np.array(devices), ("replica",)), PartitionSpec("replica"))

    def put(leaf):
        leaf = jnp.asarray(leaf)
        stacked = jnp.broadcast_to(leaf[None], (len(devices),) + leaf.shape)
        return jax.device_put(stacked, sharding)

    return jax.tree.map(put, x)


def install() -> bool:
    """Define ``jax.device_put_replicated`` if this JAX lacks it. Returns True if the
    shim was installed by this call, False if JAX already had the function."""
    if hasattr(jax, "device_put_replicated"):
        return False
    jax.device_put_replicated = _device_put_replicated
    return True
