import jax
import numpy as np
import pytest

import barpo_jax as bj

from helpers import tiny


def test_sweep_grid_point_equals_single_run():
    cfg = tiny(algo="barpo", eps=0.1)
    sw = bj.sweep(cfg, seeds=2, kappa=[0.0, 2.0], progress=False)
    assert sw.result.num_runs == 4 and len(sw.grid) == 2
    single = bj.train(cfg.replace(kappa=2.0, num_seeds=1, seed=cfg.seed + 1), progress=False)
    i = sw.runs_of(1)[1]
    for a, b in zip(jax.tree.leaves(sw.result.params), jax.tree.leaves(single.params)):
        np.testing.assert_allclose(np.asarray(a)[i], np.asarray(b)[0], rtol=1e-5, atol=1e-6)
    # different kappa, same seed -> different parameters
    a0 = np.asarray(jax.tree.leaves(sw.result.params)[0])
    assert not np.allclose(a0[sw.runs_of(0)[0]], a0[sw.runs_of(1)[0]])
    assert sw.final_returns().shape == (2, 2) and "kappa" in sw.table()


def test_sweep_rejects_structural_fields():
    with pytest.raises(bj.ConfigError, match="cannot sweep 'num_envs'"):
        bj.sweep(tiny(), num_envs=[8, 16])


def test_sweep_in_a_run_directory_resumes_and_loads_back_with_its_grid(tmp_path):
    cfg = tiny(algo="barpo", eps=0.1)  # 4 iterations in chunks of 2
    out = str(tmp_path / "sweep")
    grid = dict(kappa=[0.0, 2.0])
    whole = bj.sweep(cfg, seeds=1, progress=False, **grid)
    part = bj.sweep(cfg, seeds=1, progress=False, out=out, max_iterations=2, **grid)
    assert part.result.iterations == 2
    loaded = bj.load(out)  # the process could have ended here
    assert isinstance(loaded, bj.SweepResult) and loaded.grid == [{"kappa": 0.0}, {"kappa": 2.0}]
    assert loaded.seeds == 1 and loaded.result.iterations == 2 and loaded.result.seeds == [cfg.seed, cfg.seed]
    np.testing.assert_allclose(loaded.result.hp["kappa"], [0.0, 2.0])
    with pytest.raises(bj.ConfigError, match="already holds a run"):
        bj.sweep(cfg, seeds=1, progress=False, out=out, **grid)
    with pytest.raises(bj.ConfigError, match="another grid"):
        bj.sweep(cfg, seeds=1, progress=False, out=out, resume=True, kappa=[0.0, 1.0])
    done = bj.sweep(cfg, seeds=1, progress=False, out=out, resume=True, **grid)
    assert done.result.iterations == 4
    for a, b in zip(jax.tree.leaves(done.result.params), jax.tree.leaves(whole.result.params)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(done.final_returns(), whole.final_returns(), rtol=1e-5)
    assert bj.load(out).table() == done.table()


def test_a_single_run_directory_is_not_resumed_as_a_sweep(tmp_path):
    out = str(tmp_path / "run")
    cfg = tiny(algo="barpo", eps=0.1)  # the program of the sweep test above: compiled once
    bj.train(cfg.replace(num_seeds=2), out=out, progress=False, max_iterations=2)
    assert isinstance(bj.load(out), bj.TrainResult)
    with pytest.raises(bj.ConfigError, match="no sweep.json"):
        bj.sweep(cfg, seeds=1, progress=False, out=out, resume=True, kappa=[0.0, 2.0])
