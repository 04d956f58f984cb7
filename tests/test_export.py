"""`TrainResult.export` / `barpo export`: the exported policy acts exactly as `result.policy(run)`,
from numpy alone (in a process that cannot import jax) and from the jax.export program."""
import dataclasses
import importlib.util
import json
import os
import subprocess
import sys
from importlib import metadata

import jax
import numpy as np
import pytest
from helpers import run_cli

from barpo_jax import checkpoint
from barpo_jax.learner import Trainer

ATOL = 1e-5


@pytest.fixture(scope="module")
def saved(weak, tmp_path_factory):
    """(run directory, result): the shared 2-run `weak` result (4 tiny iterations, a normaliser
    fitted to 2048 observations), saved as `train(out=...)` saves it."""
    out, cfg = str(tmp_path_factory.mktemp("run")), weak.config
    checkpoint.prepare_run_dir(out, cfg, resume=False)
    checkpoint.save(out, cfg, Trainer.cached(cfg).portable(weak.state), weak.metrics, weak.iterations)
    return out, weak


@pytest.fixture(scope="module")
def exported(saved, tmp_path_factory):
    """{run index: export folder} for both runs."""
    result = saved[1]
    return {run: os.path.dirname(result.export(str(tmp_path_factory.mktemp(f"export{run}")), run=run)["spec"])
            for run in (0, 1)}


def observations(folder, n=100, seed=0):
    """Raw observations around the training distribution, a few far outside it (clipped
    by the normaliser)."""
    with np.load(os.path.join(folder, "policy.npz")) as z:
        mean, std = z["obs_mean"], z["obs_std"]
    obs = mean + std * np.random.default_rng(seed).normal(size=(n, mean.size)) * 3.0
    obs[:5] *= 100.0
    return obs.astype(np.float32)


def numpy_policy(folder):
    """The exported policy.py, imported afresh from the folder."""
    spec = importlib.util.spec_from_file_location(f"exported_policy_{abs(hash(folder))}",
                                                  os.path.join(folder, "policy.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.load(folder)


def test_the_normaliser_is_not_trivial(exported):
    with np.load(os.path.join(exported[0], "policy.npz")) as z:
        assert np.abs(z["obs_mean"]).max() > 1e-3 and np.abs(z["obs_std"] - 1.0).max() > 1e-2


def test_numpy_policy_in_a_process_without_jax_matches_result_policy(saved, exported, tmp_path):
    result = saved[1]
    code = ("import sys\n"
            "for name in ('jax', 'jaxlib', 'flax', 'barpo_jax'):\n"
            "    sys.modules[name] = None  # any import of them fails\n"
            "import importlib.util, os, numpy as np\n"
            "for folder, obs_file, out_file in zip(*[iter(sys.argv[1:])] * 3):\n"
            "    spec = importlib.util.spec_from_file_location('policy', os.path.join(folder, 'policy.py'))\n"
            "    policy = importlib.util.module_from_spec(spec)\n"
            "    spec.loader.exec_module(policy)\n"
            "    act, obs = policy.load(folder), np.load(obs_file)\n"
            "    np.save(out_file, np.stack([act(obs), np.stack([act(o) for o in obs])]))\n")
    argv = []
    for run, folder in exported.items():
        np.save(tmp_path / f"obs{run}.npy", observations(folder, seed=run))
        argv += [folder, str(tmp_path / f"obs{run}.npy"), str(tmp_path / f"act{run}.npy")]
    done = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    for run in exported:
        batch, one_by_one = np.load(tmp_path / f"act{run}.npy")
        want = np.asarray(result.policy(run)(np.load(tmp_path / f"obs{run}.npy")))
        np.testing.assert_allclose(batch, want, atol=ATOL)
        np.testing.assert_allclose(one_by_one, want, atol=ATOL)
    assert not np.allclose(np.load(tmp_path / "act0.npy")[0], np.load(tmp_path / "act1.npy")[0], atol=1e-3)


def test_jax_export_program_matches_result_policy_for_any_batch(saved, exported):
    result = saved[1]
    for run, folder in exported.items():
        with open(os.path.join(folder, "policy.jax_export"), "rb") as f:
            program = jax.export.deserialize(f.read())
        obs = observations(folder, seed=run)
        want = np.asarray(result.policy(run)(obs))
        np.testing.assert_allclose(np.asarray(program.call(obs)), want, atol=ATOL)
        np.testing.assert_allclose(np.asarray(program.call(obs[:1])), want[:1], atol=ATOL)
        assert "cuda" in program.platforms and "cpu" in program.platforms


def test_saturated_actions_are_clipped_as_result_policy_clips_them(saved, tmp_path):
    """A policy whose means reach far past [-1, 1]: the exports clip them, not squash them."""
    result = saved[1]
    obs = observations(os.path.dirname(result.export(str(tmp_path / "quiet"))["spec"]))
    # The last layer is linear: scaling it scales the mean, so about half the means pass +-1.
    gain = 1.0 / np.median(np.abs(np.asarray(result.policy(0)(obs))))
    params = jax.tree_util.tree_map_with_path(
        lambda p, x: x * gain if "Dense_2" in jax.tree_util.keystr(p) else x, result.params)
    loud = dataclasses.replace(result, state=result.state._replace(agent=result.state.agent._replace(params=params)))
    folder = os.path.dirname(loud.export(str(tmp_path / "loud"))["spec"])
    want = np.asarray(loud.policy(0)(obs))
    assert 0.2 < (np.abs(want) == 1.0).mean() < 0.8
    np.testing.assert_allclose(numpy_policy(folder)(obs), want, atol=ATOL)
    with open(os.path.join(folder, "policy.jax_export"), "rb") as f:
        np.testing.assert_allclose(np.asarray(jax.export.deserialize(f.read()).call(obs)), want, atol=ATOL)


def test_spec_describes_the_policy_and_its_training(saved, exported):
    result = saved[1]
    with open(os.path.join(exported[1], "policy.json")) as f:
        spec = json.load(f)
    sizes = (result.actor_critic().obs_size, result.actor_critic().action_size)
    assert spec["env"] == result.config.env and spec["layers"] == [sizes[0], 64, 64, sizes[1]]
    assert (spec["obs_size"], spec["action_size"]) == sizes
    assert spec["run"] == 1 and spec["seed"] == result.seeds[1] and spec["iterations"] == result.iterations
    assert spec["config"] == result.config.to_dict()
    assert spec["barpo_jax_version"] == metadata.version("barpo-jax")
    assert spec["obs_normalization"]["clip"] == 10.0 and spec["action"]["low"] == -1.0
    with pytest.raises(ValueError, match=rf"obs must be \[{sizes[0]}\]"):
        numpy_policy(exported[1])(np.zeros(sizes[0] + 1))


def test_cli_exports_a_run_directory_and_refuses_bad_input(saved, tmp_path, capsys):
    run_dir, result = saved
    out = str(tmp_path / "cli")
    code, stdout, _ = run_cli(capsys, "export", run_dir, "--out", out, "--run-index", "1")
    assert code == 0 and "policy.jax_export" in stdout
    obs = observations(out)
    np.testing.assert_allclose(numpy_policy(out)(obs), np.asarray(result.policy(1)(obs)), atol=ATOL)
    for argv, fragment in ((["--run-index", "2"], "run index 2 out of range"), ([], "no run found")):
        where = run_dir if argv else str(tmp_path / "missing")
        code, _, err = run_cli(capsys, "export", where, "--out", out, *argv)
        assert code == 2 and fragment in err and len(err.strip().splitlines()) == 1, err
    open(tmp_path / "a_file", "w").close()
    code, _, err = run_cli(capsys, "export", run_dir, "--out", str(tmp_path / "a_file"))
    assert code == 2 and "is a file" in err and len(err.strip().splitlines()) == 1, err
