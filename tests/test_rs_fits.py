"""benchmarks.studies.rs_fits: robust Sarsa once against several fits per victim, on the same agents."""
import json
import os

import numpy as np
import pytest

import barpo_jax as bj
from barpo_jax.config import ConfigError
from barpo_jax.evaluate import report_file
from benchmarks.studies.rs_fits import compare


def _run(path, attacks, returns, learned):
    """A run directory with config.json and one report (seeds 0..2, hopper BARPO)."""
    cfg = bj.TrainConfig(env="hopper", algo="barpo", backend="positional", num_timesteps=4096)
    os.makedirs(path)
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump(cfg.to_dict(), f)
    returns = np.asarray(returns, float)
    bj.RobustnessReport(cfg.env, cfg.algo, cfg.eps, 50, ["none", *attacks], returns, np.zeros_like(returns),
                        [0, 1, 2], bj.attacks.STRONG.describe(), learned=learned).save(report_file(path, cfg.eps))
    return path


def test_the_k_fit_column_lowers_the_worst_case_where_it_is_lower(tmp_path):
    table = _run(str(tmp_path / "hopper-barpo"), ["mad", "rs"], [[3000, 1500, 2100], [3100, 1600, 700],
                                                                [2900, 1400, 2000]], {"rs": {"timesteps": 10}})
    fits = {"rs": {"scan": "2 fits: ...", "chosen_fit": [1, 0, 1], "select_returns": [[900, 600], [800, 900],
                                                                                      [2100, 1000]], "timesteps": 10}}
    copy = _run(str(tmp_path / "hopper-barpo-rs2"), ["rs"], [[3000, 650], [3100, 900], [2900, 1100]], fits)
    result = compare(table, copy)
    rows = {row[1]: row for row in result["rows"]}
    assert [rows[s][7] for s in range(3)] == [1500, 700, 1400]       # worst over the table's attacks
    assert [rows[s][8] for s in range(3)] == [650, 700, 1100]        # ... with the K-fit rs column added
    assert result["summary"][3] == "2 of 3" and result["summary"][2] == 2
    assert result["summary"][4].startswith("1400.0") and result["summary"][5].startswith("700.0")
    single = _run(str(tmp_path / "single"), ["rs"], [[3000, 650], [3100, 900], [2900, 1100]], {"rs": {}})
    with pytest.raises(ConfigError, match="--rs-fits K"):
        compare(table, single)
    other = _run(str(tmp_path / "other"), ["rs"], [[2000, 650], [3100, 900], [2900, 1100]], fits)
    with pytest.raises(ConfigError, match="does not replay.*other natural returns"):
        compare(table, other)
