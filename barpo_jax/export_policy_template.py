"""A trained barpo-jax policy that needs numpy only.

This file was written by `barpo export` (or `TrainResult.export`) next to policy.npz and
policy.json, which hold the policy's arrays and describe them. Use it as:

    import policy                          # with this folder on sys.path
    act = policy.load("path/to/folder")    # or policy.load() for this file's own folder
    action = act(obs)                      # [obs_size] -> [action_size], [n, obs_size] -> [n, action_size]

`obs` is the environment's raw observation: the normalisation learned in training is
applied inside. The action is the deterministic one that barpo-jax evaluates:
clip(mean, -1, 1) of the Gaussian whose mean a tanh MLP computes from the normalised
observation.
"""
import json
import os

import numpy as np

FORMAT, FORMAT_VERSION = "barpo-policy", 1


def load(folder=None):
    """Read an exported policy.

    Args:
      folder: the folder holding policy.json and policy.npz (default: this file's folder).

    Returns:
      act(obs) -> action, as float32 numpy arrays, for one observation or a batch.

    Raises:
      ValueError: the folder holds another format or version (export the policy again).
    """
    folder = os.path.dirname(os.path.abspath(__file__)) if folder is None else folder
    with open(os.path.join(folder, "policy.json")) as f:
        spec = json.load(f)
    if (spec.get("format"), spec.get("format_version")) != (FORMAT, FORMAT_VERSION):
        raise ValueError(f"{folder} holds {spec.get('format')} v{spec.get('format_version')}, "
                         f"this loader reads {FORMAT} v{FORMAT_VERSION}: export the policy again")
    with np.load(os.path.join(folder, "policy.npz")) as saved:
        arrays = {k: saved[k] for k in saved.files}
    return make_act(spec, arrays)


def make_act(spec, arrays):
    """act(obs) from policy.json's fields and policy.npz's arrays (float64 inside).

    For arrays kept somewhere other than an exported folder.

    Args:
      spec: policy.json's contents, as a dict.
      arrays: {name: array} with policy.npz's names (kernel_i, bias_i, obs_mean, obs_std).

    Returns:
      act(obs) -> action, as `load` returns it.

    Raises:
      ValueError: an activation this loader does not know.
    """
    if spec["hidden_activation"] != "tanh":
        raise ValueError(f"unsupported activation {spec['hidden_activation']!r}: export the policy again")
    f64 = lambda name: np.asarray(arrays[name], np.float64)
    layers = [(f64(f"kernel_{i}"), f64(f"bias_{i}")) for i in range(len(spec["layers"]) - 1)]
    mean, std = f64("obs_mean"), f64("obs_std")
    clip = spec["obs_normalization"]["clip"]
    low, high = spec["action"]["low"], spec["action"]["high"]
    obs_size = spec["obs_size"]

    def act(obs):
        """Raw observation(s) [obs_size] or [n, obs_size] -> action(s) [action_size] or [n, action_size]."""
        x = np.asarray(obs, np.float64)
        if x.ndim not in (1, 2) or x.shape[-1] != obs_size:
            raise ValueError(f"obs must be [{obs_size}] or [n, {obs_size}], got shape {x.shape}")
        x = np.clip((x - mean) / std, -clip, clip)
        for i, (kernel, bias) in enumerate(layers):
            x = x @ kernel + bias
            if i < len(layers) - 1:
                x = np.tanh(x)
        return np.clip(x, low, high).astype(np.float32)

    return act
