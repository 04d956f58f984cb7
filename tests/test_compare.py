"""Comparing run directories: IQM and bootstrap intervals, which numbers a run gives,
the table, CSV and plots. Fake run directories (config, metrics, reports), no training."""
import csv
import json
import os

import numpy as np
import pytest

import barpo_jax as bj
from barpo_jax import cli
from barpo_jax.compare import _pooled_returns, group_runs, read_pooled
from barpo_jax.compare import bootstrap_ci, iqm, rank_test
from barpo_jax.evaluate import partial_file, report_file


def fake_run(path, algo, natural, worst=None, eps=0.1, report_eps=None, iterations=6, seed=0, attack="random",
             episodes=5, **fields):
    """A run directory as train + eval leave it: config.json, metrics.json and, if `worst`
    is given, robustness_eps<report_eps>.json with columns none, `attack` (= worst)."""
    os.makedirs(path, exist_ok=True)
    seeds = len(natural)
    cfg = bj.TrainConfig(env="inverted_pendulum", backend="spring", algo=algo, num_envs=32, unroll_length=16,
                         num_minibatches=4, num_seeds=seeds, eps=eps, seed=seed, **fields)
    with open(os.path.join(path, "config.json"), "w") as f:
        f.write(cfg.to_json())
    ret = np.linspace(0, 1, iterations)[None] * np.asarray(natural, float)[:, None]
    ret[:, 0] = np.nan  # an iteration where no episode ended
    with open(os.path.join(path, "metrics.json"), "w") as f:
        json.dump({"episode_return": ret.tolist()}, f)
    if worst is not None:
        returns = np.stack([natural, worst], axis=1).astype(float)
        bj.RobustnessReport("inverted_pendulum", cfg.algo, report_eps or eps, episodes, ["none", attack], returns,
                            np.ones_like(returns), list(range(seed, seed + seeds))).save(
            report_file(path, report_eps or eps))
    return str(path)


def test_iqm_is_the_mean_of_the_middle_half():
    x = [5.0, 1.0, 100.0, 2.0, 3.0, 4.0, -50.0, 6.0]  # 8 values: 2 cut from each end
    assert iqm(x) == pytest.approx(np.mean([2.0, 3.0, 4.0, 5.0]))
    scipy_stats = pytest.importorskip("scipy.stats")
    for n in (1, 2, 3, 5, 7, 10):
        y = np.random.default_rng(n).normal(size=n)
        assert iqm(y) == pytest.approx(scipy_stats.trim_mean(y, 0.25))


def test_bootstrap_interval_is_deterministic_and_brackets_the_iqm():
    x = np.random.default_rng(0).normal(100.0, 20.0, size=10)
    lo, hi = bootstrap_ci(x, reps=1000, seed=0)
    assert lo < iqm(x) < hi and (lo, hi) == bootstrap_ci(x, reps=1000, seed=0)
    assert bootstrap_ci([7.0, 7.0, 7.0]) == (7.0, 7.0)
    assert all(np.isnan(bootstrap_ci([1.0, np.nan])))


def test_compare_reads_reports_falls_back_to_training_and_writes_files(tmp_path):
    a = fake_run(tmp_path / "a", "spo", natural=[300, 100, 200], worst=[30, 10, 20])
    b = fake_run(tmp_path / "b", "barpo", natural=[250, 260, 240, 255, 245], worst=[150, 90, 120, 200, 110],
                 eps=0.1)
    fake_run(tmp_path / "b", "barpo", natural=[1, 1, 1, 1, 1], worst=[0, 0, 0, 0, 0], report_eps=0.2)
    c = fake_run(tmp_path / "c", "ppo", natural=[40, 50])  # trained, not evaluated
    # an evaluation stopped midway (its finished columns) is not a report, here or in run a
    for run, eps in ((c, 0.1), (a, 0.1)):
        with open(partial_file(report_file(run, eps)), "w") as f:
            f.write('{"unfinished": true}')
    out = tmp_path / "cmp"
    comparison = bj.compare([a, b, c], out=str(out))
    ra, rb, rc = comparison.rows
    assert (ra["algo"], ra["seeds"], ra["source"]) == ("spo", 3, "robustness_eps0.1.json")
    # median agent by worst case (the lineage's protocol): seed 2 (worst 20, natural 200)
    assert (ra["natural (median agent)"], ra["worst (median agent)"]) == (200.0, 20.0)
    assert rb["source"] == "robustness_eps0.1.json", "the report at the run's own eps, not at 0.2"
    assert rb["worst (median agent)"] == 120.0 and rb["worst IQM"] == pytest.approx(np.mean([110, 120, 150]))
    assert rb["worst IQM CI low"] <= rb["worst IQM"] <= rb["worst IQM CI high"]
    assert rc["source"].startswith("metrics.json") and np.isnan(rc["worst IQM"])
    assert rc["natural IQM"] == pytest.approx(45.0), "final training return: the last iteration's"
    assert bj.compare([b], eps=0.2).rows[0]["worst (median agent)"] == 0.0
    table = comparison.table()
    assert "| c | spo / inverted_pendulum |" in table and "rliable" in table and "| - |" in table
    for name in ("comparison.csv", "comparison.md", "natural_vs_worst.png", "learning_curves.png"):
        assert os.path.getsize(out / name) > 0, name
    with open(out / "comparison.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["run"] for r in rows] == ["a", "b", "c"] and float(rows[1]["worst IQM"]) == rb["worst IQM"]


def test_compare_errors_name_the_fix(tmp_path):
    a = fake_run(tmp_path / "a", "spo", natural=[1.0, 2.0], worst=[0.5, 1.0])
    with pytest.raises(bj.ConfigError, match="no robustness report at eps 0.3"):
        bj.compare([a], eps=0.3)
    with pytest.raises(bj.ConfigError, match="no run found"):
        bj.compare([str(tmp_path / "missing")])
    with pytest.raises(bj.ConfigError, match="at least one"):
        bj.compare([])


def test_barpo_compare_prints_the_table_and_writes_files(tmp_path, capsys):
    a = fake_run(tmp_path / "x" / "run", "spo", natural=[3.0, 1.0, 2.0], worst=[1.0, 0.0, 0.5])
    b = fake_run(tmp_path / "y" / "run", "sa_ppo", natural=[5.0, 4.0], worst=[4.0, 3.0])
    assert cli.main(["compare", a, b, "--out", str(tmp_path / "cmp"), "--reps", "200"]) == 0
    out = capsys.readouterr().out
    assert "| x/run | spo / inverted_pendulum |" in out and "| y/run |" in out and "comparison.csv" in out
    assert os.path.isfile(tmp_path / "cmp" / "natural_vs_worst.png")


def test_seeds_added_in_a_second_run_pool_into_one_method(tmp_path):
    first = fake_run(tmp_path / "barpo", "barpo", natural=[300, 100, 200], worst=[30, 10, 20], iterations=6)
    more = fake_run(tmp_path / "barpo-more", "barpo", natural=[400, 50], worst=[4, 5], seed=3, iterations=4)
    other = fake_run(tmp_path / "spo", "spo", natural=[1.0, 2.0], worst=[0.5, 1.0])
    assert group_runs([first, other, more]) == [[first, more], [other]]
    pooled = read_pooled([first, more])
    assert pooled.seeds == (0, 1, 2, 3, 4) and pooled.paths == (first, more)
    assert list(pooled.worst) == [30, 10, 20, 4, 5] and list(pooled.natural) == [300, 100, 200, 400, 50]
    assert pooled.median_agent == 1 and list(pooled.by_attack[0]) == [30, 10, 20, 4, 5]  # of all five seeds
    out = tmp_path / "cmp"
    comparison = bj.compare([[first, more], other], out=str(out), reps=200)
    row = comparison.rows[0]
    assert (row["run"], row["seeds"], row["worst (median agent)"]) == ("barpo (+1 run)", 5, 10.0)
    assert row["worst IQM"] == pytest.approx(iqm([30, 10, 20, 4, 5]))
    assert os.path.getsize(out / "learning_curves.png") > 0
    returns = _pooled_returns(pooled.paths)
    assert returns.shape == (5, 6) and np.isnan(returns[3:, 4:]).all() and np.isfinite(returns[:, 1:4]).all()
    assert cli.main(["compare", f"{first}+{more}", other, "--reps", "50"]) == 0


@pytest.mark.parametrize("second, match", [
    (dict(algo="spo", seed=3), "configs differ in algo"),
    (dict(algo="barpo", seed=3, learning_rate=1e-3), "configs differ in learning_rate"),
    (dict(algo="barpo", seed=3, attack="mad"), "reports differ in attacks"),
    (dict(algo="barpo", seed=3, episodes=7), "reports differ in episodes"),
    (dict(algo="barpo", seed=2), r"seed\(s\) \[2\] are in more than one"),
    (dict(algo="barpo", seed=3, worst=None), "'.*b' has no robustness report yet"),
])
def test_pooling_refuses_runs_that_are_not_one_methods_seeds(tmp_path, second, match):
    first = fake_run(tmp_path / "a", "barpo", natural=[3.0, 1.0, 2.0], worst=[1.0, 0.0, 0.5])
    algo = second.pop("algo")
    more = fake_run(tmp_path / "b", algo, natural=[4.0, 5.0], **{"worst": [2.0, 3.0], **second})
    with pytest.raises(bj.ConfigError, match=match):
        bj.compare([[first, more]])


def test_study_status_pools_added_seeds_once_evaluated(tmp_path, capsys):
    from benchmarks import study_status
    runs = tmp_path / "study" / "runs"
    fake_run(runs / "p-barpo", "barpo", natural=[300, 100, 200], worst=[30, 10, 20])
    fake_run(runs / "p-spo", "spo", natural=[250, 260, 240], worst=[5, 6, 7])
    more = fake_run(runs / "p-barpo-more", "barpo", natural=[400, 50], seed=3)  # trained, not evaluated yet

    def status(dest):
        study_status.main([str(tmp_path / "study"), "--dest", str(tmp_path / dest)])
        with open(tmp_path / dest / "status.json") as f:
            return json.load(f)["results"]

    early = status("early")  # listed separately; the claims use the evaluated run
    assert [r["run"] for r in early["runs"]] == ["p-barpo", "p-barpo-more", "p-spo"]
    assert "p-barpo-more' has no robustness report yet" in capsys.readouterr().out
    (claim,) = early["claims"]
    assert claim[1] == "BARPO natural / SPO natural" and "(3 vs 3 seeds)" in claim[5]
    fake_run(more, "barpo", natural=[400, 50], worst=[40, 5], seed=3)
    with open(partial_file(report_file(str(runs / "p-spo"), 0.1)), "w") as f:   # an evaluation stopped midway
        f.write("{}")
    late = status("late")
    assert [r["run"] for r in late["runs"]] == ["p-barpo + p-barpo-more", "p-spo"]
    assert late["runs"][0]["seeds"] == 5 and len(late["runs"][0]["final_training_return"]) == 5
    assert late["runs"][0]["worst_median_agent"] == 20.0 and "(5 vs 3 seeds)" in late["claims"][0][5]
    assert os.path.isfile(tmp_path / "late" / "p-barpo-more" / "robustness_eps0.1.json")
    assert sorted(os.listdir(tmp_path / "late" / "p-spo")) == ["config.json", "robustness_eps0.1.json"]


def test_rank_test_is_exact_against_every_split():
    """The exact Wilcoxon–Mann–Whitney p-value equals the share of all splits of the pooled
    values whose rank sum is at least as extreme, ties included; identical groups give 1."""
    import itertools
    x, y = [3.0, 1.0, 1.0, 7.0, 2.5], [2.5, 2.5, 9.0, 4.0, 8.0, 6.0]
    pooled = np.array(x + y)
    ranks = np.array([np.sum(pooled < v) + (np.sum(pooled == v) + 1) / 2 for v in pooled])
    centre = len(x) * (len(pooled) + 1) / 2
    observed = abs(ranks[:len(x)].sum() - centre)
    splits = list(itertools.combinations(range(len(pooled)), len(x)))
    expected = sum(abs(ranks[list(c)].sum() - centre) >= observed - 1e-9 for c in splits) / len(splits)
    assert rank_test(x, y) == pytest.approx(expected, abs=1e-12)
    assert rank_test(range(5), range(5, 10)) == pytest.approx(2 / 252)   # the most extreme of C(10, 5)
    assert rank_test([1.0, 2.0], [1.0, 2.0]) == 1.0
    assert np.isnan(rank_test([1.0, np.nan], [2.0])) and np.isnan(rank_test([], [1.0]))
