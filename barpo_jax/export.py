"""One run's deterministic policy in a form that runs without barpo-jax.

A trained policy is needed where the training stack is not: on a robot, in a
simulator written in another framework, in a service. `export_policy` writes a folder
that holds everything the action depends on and nothing else:

  policy.npz         plain float32 arrays: the MLP's kernels and biases, the policy's
                     log-std, and the frozen observation normaliser (mean and std)
  policy.json        what the arrays mean: layer sizes, activation, the normalisation
                     and action formulas, env, obs/action sizes, version and config
  policy.py          `load(dir) -> act(obs)` in numpy alone (a copy of
                     export_policy_template.py)
  policy.jax_export  the same function as a serialised `jax.export` program with a
                     symbolic batch dimension, for JAX users on any platform
"""
from __future__ import annotations

import json
import os
import shutil
from importlib import metadata

import jax
import jax.numpy as jnp
import numpy as np
from jax import export as jax_export

from . import normalize as nz
from .config import ConfigError

FORMAT, FORMAT_VERSION = "barpo-policy", 1
ARRAYS, SPEC, MODULE, PROGRAM = "policy.npz", "policy.json", "policy.py", "policy.jax_export"
TEMPLATE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "export_policy_template.py")
# The serialised program carries a lowering per platform, so it runs wherever jax runs.
PLATFORMS = ("cpu", "cuda", "rocm", "tpu")
ACTION_LOW, ACTION_HIGH = -1.0, 1.0   # networks.to_env_action: the Gaussian mean is clipped, not squashed


def export_policy(result, out: str, run: int = 0) -> dict:
    """Write one run's deterministic policy (`result.policy(run)`) to the folder `out`.

    Args:
      result: a TrainResult (from `train` or `load`).
      out: the folder to write; created if missing, and files of the same names replaced.
      run: the index along the run axis (run i was trained with seed `result.seeds[i]`).

    Returns:
      {"arrays", "spec", "module", "program"}: the paths of policy.npz, policy.json,
        policy.py and policy.jax_export.

    Raises:
      ConfigError: `run` out of range, or `out` is a file.
    """
    params, stats = result.run(run)   # checks the index before anything is written
    if os.path.exists(out) and not os.path.isdir(out):
        raise ConfigError(f"export folder {out!r} is a file: choose a folder path")
    arrays = policy_arrays(params, stats)
    spec = policy_spec(result, run, arrays)
    program = policy_program(result.policy_apply(), params, stats, spec["obs_size"])
    os.makedirs(out, exist_ok=True)
    paths = {k: os.path.join(out, name) for k, name in
             (("arrays", ARRAYS), ("spec", SPEC), ("module", MODULE), ("program", PROGRAM))}
    with open(paths["arrays"], "wb") as f:
        np.savez(f, **arrays)
    with open(paths["spec"], "w") as f:
        json.dump(spec, f, indent=1)
    shutil.copyfile(TEMPLATE, paths["module"])
    with open(paths["program"], "wb") as f:
        f.write(program)
    return paths


def policy_arrays(params, stats: nz.RunningStats) -> dict:
    """The arrays the deterministic action depends on, by plain names, as float32.

    The normaliser is stored as its mean and final std (`normalize.std`, epsilon
    included), so a reader needs one formula, not the running-statistics bookkeeping.

    Args:
      params: one run's actor-critic parameters.
      stats: that run's observation normaliser.

    Returns:
      {name: float32 array}: the policy MLP's `kernel_<i>` / `bias_<i>` layers,
        `log_std`, `obs_mean` and `obs_std`, as policy.npz stores them.
    """
    net = params["policy"]["params"]
    mlp = net["MLP_0"]
    arrays = {}
    for i in range(len(mlp)):
        arrays[f"kernel_{i}"] = np.asarray(mlp[f"Dense_{i}"]["kernel"], np.float32)
        arrays[f"bias_{i}"] = np.asarray(mlp[f"Dense_{i}"]["bias"], np.float32)
    arrays["log_std"] = np.asarray(net["log_std"], np.float32)
    arrays["obs_mean"] = np.asarray(stats.mean, np.float32)
    arrays["obs_std"] = np.asarray(nz.std(stats), np.float32)
    return arrays


def policy_spec(result, run: int, arrays: dict) -> dict:
    """policy.json: enough to rebuild the action from policy.npz in any language.

    Args:
      result: the TrainResult the policy comes from (its config is recorded).
      run: which of its runs.
      arrays: `policy_arrays` of that run.

    Returns:
      The JSON-able description: format and version, task, method, layer sizes, the
        activation and how observations are normalised and clipped.
    """
    cfg = result.config
    n = sum(k.startswith("kernel_") for k in arrays)
    sizes = [int(arrays["kernel_0"].shape[0])] + [int(arrays[f"kernel_{i}"].shape[1]) for i in range(n)]
    return {
        "format": FORMAT, "format_version": FORMAT_VERSION,
        "env": cfg.env, "backend": cfg.backend, "algo": cfg.algo,
        "obs_size": sizes[0], "action_size": sizes[-1], "layers": sizes,
        "hidden_activation": "tanh",
        "layer": "x = x @ kernel_i + bias_i (kernel_i is [in, out]); tanh after every layer but the last",
        "obs_normalization": {"formula": "clip((obs - obs_mean) / obs_std, -clip, clip)", "clip": float(cfg.observation_clip),
                              "obs_std": "sqrt(var + 1e-8) of the observations seen in training, frozen"},
        "output": "the mean of a diagonal Gaussian; its std exp(log_std) is state-independent and unused here",
        "action": {"formula": "clip(mean, low, high)", "low": ACTION_LOW, "high": ACTION_HIGH},
        "run": run, "seed": None if result.seeds is None else int(result.seeds[run]),
        "iterations": int(result.iterations), "env_steps": int(result.env_steps),
        "hyperparameters": None if result.hp is None else {k: float(v[run]) for k, v in result.hp.items()},
        "barpo_jax_version": _version(), "jax_version": jax.__version__,
        "files": {"arrays": ARRAYS, "module": MODULE, "program": PROGRAM},
        "program": {"input": "float32 [batch, obs_size] (a symbolic batch: any size)",
                    "load": "jax.export.deserialize(open(path, 'rb').read()).call(obs)",
                    "platforms": list(PLATFORMS)},
        "config": cfg.to_dict(),
    }


def _version() -> str:
    """The installed package's version (pyproject.toml is its one source)."""
    try:
        return metadata.version("barpo-jax")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def policy_program(apply, params, stats, obs_size: int) -> bytes:
    """`apply(params, stats, obs)` with this run's arrays baked in, as a serialised
    `jax.export` program over a symbolic batch: [b, obs_size] -> [b, action_size].

    Args:
      apply: (params, stats, obs [b, obs_size]) -> actions [b, action_size].
      params, stats: one run's parameters and normaliser.
      obs_size: the observation width.

    Returns:
      The serialised program (policy.jax_export), for `jax.export.deserialize`.
    """
    fn = jax.jit(lambda obs: apply(params, stats, obs))
    (batch,) = jax_export.symbolic_shape("b")
    exported = jax_export.export(fn, platforms=PLATFORMS)(jax.ShapeDtypeStruct((batch, obs_size), jnp.float32))
    return bytes(exported.serialize())
