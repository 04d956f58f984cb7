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
