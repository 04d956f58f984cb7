"""TrainResult: picking one run."""
from types import SimpleNamespace

import numpy as np
import pytest

import barpo_jax as bj


def test_run_is_an_index_and_the_old_seed_keyword_fails_clearly():
    state = SimpleNamespace(iteration=np.zeros(2), agent=SimpleNamespace(params={"w": np.arange(2.0)}),
                            stats={"m": np.arange(2.0) + 10})
    result = bj.TrainResult(bj.TrainConfig(env="inverted_pendulum", backend="spring"), state, {}, 0, seeds=[7, 8])
    params, stats = result.run(run=1)
    assert float(params["w"]) == 1.0 and float(stats["m"]) == 11.0
    assert float(result.run(0)[0]["w"]) == 0.0
    with pytest.raises(bj.ConfigError, match=r"run\(seed=\.\.\.\) is now run\(run=\.\.\.\)"):
        result.run(seed=1)
    with pytest.raises(bj.ConfigError, match=r"policy\(seed=\.\.\.\) is now policy\(run=\.\.\.\)"):
        result.policy(seed=0)
    with pytest.raises(bj.ConfigError, match="run index 2 out of range"):
        result.run(2)


def test_final_return_uses_the_iterations_where_episodes_ended():
    """With episodes longer than a rollout most iterations end no episode (NaN): the final
    return is the mean of the last tenth of those that did, not NaN."""
    import numpy as np

    from barpo_jax.result import final_return
    sparse = np.full(100, np.nan)
    sparse[[9, 29, 49, 69, 89]] = [1.0, 2.0, 3.0, 4.0, 5.0]
    assert final_return(sparse) == 5.0
    assert final_return(np.arange(100.0)) == np.mean(np.arange(90.0, 100.0))
    assert np.isnan(final_return(np.full(10, np.nan)))


def test_robustness_report_csv_has_one_row_per_seed(tmp_path):
    import csv

    import numpy as np

    from barpo_jax.evaluate import RobustnessReport
    rep = RobustnessReport("hopper", "barpo", 0.075, 5, ["none", "mad", "flip"],
                           np.array([[100.0, 80.0, 60.0], [90.0, 85.0, 88.0], [120.0, 50.0, 70.0]]),
                           np.ones((3, 3)), [0, 1, 2])
    with open(rep.save_csv(str(tmp_path / "r.csv"))) as f:
        rows = list(csv.DictReader(f))
    assert [r["seed"] for r in rows] == ["0", "1", "2"]
    assert [float(r["worst"]) for r in rows] == [60.0, 85.0, 50.0]
    assert [r["median_agent"] for r in rows] == ["1", "0", "0"]   # worst cases 60, 85, 50: the median is seed 0
    assert float(rows[2]["natural_mean"]) == 120.0 and float(rows[1]["flip_std"]) == 1.0
