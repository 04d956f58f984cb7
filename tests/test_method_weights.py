"""A method owns its float hyper-parameters (methods.py, `Weight`): TrainConfig's fields, their
presets and checks, HyperParams, sweeps and `barpo fields` all come from the declarations."""
import ast
import json
import os
import subprocess
import sys

import pytest

import barpo_jax as bj
from barpo_jax import config, methods

HERE = os.path.dirname(__file__)

# Run in its own process: registering the toy method adds a TrainConfig field for good.
TOY_RUN = r"""
import json, sys
import numpy as np
sys.path.insert(0, sys.argv[1])
import barpo_jax as bj
from barpo_jax import config
from helpers import tiny
import toy_method  # noqa: F401  (registers "toy")
out = {"preset_pendulum": tiny(algo="toy", env="inverted_pendulum").toy_pull,
       "preset_hopper": bj.TrainConfig(env="hopper", algo="spo", backend="mjx").toy_pull,
       "sweepable": "toy_pull" in config.hp_fields(),
       "fields_row": next(r for r in config.field_rows() if r["field"] == "toy_pull")["preset"]}
try:
    tiny(algo="toy", toy_pull=-1.0)
except bj.ConfigError as e:
    out["refused"] = str(e)
# One program for both points: the weight is data (HyperParams), swept like any built-in one.
sw = bj.sweep(tiny(algo="toy"), toy_pull=[0.0, 50.0], progress=False)
leaves = [np.asarray(x) for x in __import__("jax").tree.leaves(sw.result.params)]
out["points_differ"] = not all(np.array_equal(x[0], x[1]) for x in leaves)
out["pull"] = [float(v) for v in sw.result.metrics["pull"][:, -1]]
out["sweep_points"] = [float(v) for v in sw.result.hp["toy_pull"]]
print(json.dumps(out))
"""


def test_a_method_added_in_one_file_with_its_own_weight_trains():
    res = subprocess.run([sys.executable, "-c", TOY_RUN, HERE], capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    got = json.loads(res.stdout.strip().splitlines()[-1])
    assert got["preset_pendulum"] == 0.25 and got["preset_hopper"] == 0.5   # its per-task preset
    assert got["sweepable"] and "TOY_PULL: inverted_pendulum=0.25" in got["fields_row"]
    assert got["refused"] == "toy_pull must be >= 0, got -1.0"   # its check
    assert got["sweep_points"] == [0.0, 50.0] and got["points_differ"]   # sweepable, and it reaches the loss
    assert got["pull"][1] < got["pull"][0]


def test_config_names_no_method():
    """No method name as a string in config.py: presets and checks come from methods.py."""
    with open(config.__file__) as f:
        tree = ast.parse(f.read())
    strings = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    assert not strings & (set(methods.METHODS) | set(methods.ALIASES))
    assert bj.ALGOS == tuple(methods.METHODS)


def test_every_resolved_field_names_where_its_value_comes_from():
    for env, algo in (("hopper", "wocar_ppo"), ("inverted_pendulum", "barpo"), ("ant", "atla_ppo")):
        for row in config.field_rows(bj.TrainConfig(env=env, algo=algo, backend="positional")):
            if row["value"] is not None:
                assert row["preset"], row


@pytest.mark.parametrize("algo", sorted(methods.METHODS))
def test_each_method_presets_only_weights_it_declares(algo):
    method = methods.METHODS[algo]
    assert set(method.presets) <= {w.name for w in method.weights}
    for weight in method.weights:
        assert config.WEIGHTS[weight.name] == weight
