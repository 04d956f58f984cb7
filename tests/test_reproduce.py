"""benchmarks/studies/reproduce.py end to end at tiny sizes: a time budget that stops it (status 3),
the same command continuing to the table, and the claims file with its ratios."""
import glob
import json
import os
import re
import shutil

import numpy as np
import pytest

import barpo_jax as bj
from barpo_jax.compare import bootstrap_ratio_ci
from barpo_jax.evaluate import report_file
from benchmarks.studies import reproduce

TINY_ARGS = ["--tasks", "inverted_pendulum", "--backend", "spring", "--methods", "spo", "barpo", "--seeds", "2",
             "--steps", str(32 * 16 * 4), "--episode-length", "200", "--episodes", "2", "--attacks", "random",
             "--attack-steps", "1024", "--set", "num_envs=32", "--set", "unroll_length=16", "--set",
             "num_minibatches=4", "--set", "num_epochs=2", "--set", "chunk_iterations=2"]


@pytest.mark.slow
def test_time_budget_then_the_same_command_finishes_the_table(tmp_path, capsys):
    out = str(tmp_path / "table")
    with pytest.raises(SystemExit) as stop:
        reproduce.main(TINY_ARGS + ["--out", out, "--time-budget", "0"])
    assert stop.value.code == reproduce.UNFINISHED
    with open(os.path.join(out, "runs", "inverted_pendulum-spo", "metrics.json")) as f:
        assert len(json.load(f)["loss"][0]) == 2  # one chunk of 2 of the 4 iterations, saved
    assert not os.path.exists(os.path.join(out, "table.md"))
    # the next call finishes SPO's training; the one after stops its evaluation after one column
    for _ in range(2):
        with pytest.raises(SystemExit) as stop:
            reproduce.main(TINY_ARGS + ["--out", out, "--time-budget", "0"])
        assert stop.value.code == reproduce.UNFINISHED
    (partial,) = glob.glob(os.path.join(out, "runs", "inverted_pendulum-spo", "robustness_eps*.partial.json"))
    assert bj.RobustnessReport.load(partial).attacks == ["none"]
    reproduce.main(TINY_ARGS + ["--out", out])
    assert not os.path.exists(partial)
    for name in ("table.md", "table.json", "comparison.csv", "claims.md", "claims.json"):
        assert os.path.isfile(os.path.join(out, name)), name
    with open(os.path.join(out, "claims.json")) as f:
        rows = json.load(f)["results"]["rows"]
    (row,) = rows  # only spo and barpo ran: BARPO natural / SPO natural
    assert row[0] == "inverted_pendulum" and row[1] == "BARPO natural / SPO natural"
    barpo, spo = (float(v) for v in row[2].split(" / "))
    assert float(row[3]) == pytest.approx(barpo / spo, abs=0.006)
    assert "BARPO natural / SPO natural" in capsys.readouterr().out
    with open(os.path.join(out, "claims.md")) as f:  # the settling rule is stated above the claims table
        claims_md = f.read()
    assert 0 <= claims_md.index("Rule: a comparison is settled") < claims_md.index("| task | claim |")
    # a rerun finds everything done and trains nothing
    reproduce.main(TINY_ARGS + ["--out", out, "--time-budget", "0"])
    assert "done already" in capsys.readouterr().out
    # the committable snapshot of the study
    from benchmarks import study_status
    dest = str(tmp_path / "snapshot")
    study_status.main([out, "--dest", dest])
    with open(os.path.join(dest, "status.json")) as f:
        runs = {r["run"]: r for r in json.load(f)["results"]["runs"]}
    assert set(runs) == {"inverted_pendulum-spo", "inverted_pendulum-barpo"}
    assert all(r["iterations"] == r["of"] == 4 and len(r["final_training_return"]) == 2 for r in runs.values())
    for name, row in runs.items():  # the status's score is the median agent's worst case in the run's own report
        (path,) = glob.glob(os.path.join(out, "runs", name, "robustness_eps*.json"))
        report = bj.RobustnessReport.load(path)
        assert row["worst_median_agent"] == pytest.approx(float(report.worst_case[report.median_agent]))
    with open(os.path.join(dest, "status.json")) as f:
        assert json.load(f)["results"]["claims"] == rows  # the same claims as the table's claims.json
    for name in ("comparison.md", "inverted_pendulum-spo/config.json", "inverted_pendulum-spo/robustness_eps0.1.json"):
        assert os.path.isfile(os.path.join(dest, name)), name
    # A run whose agents were lost (only its config and report kept) is still listed, with its scores.
    spo_run = os.path.join(out, "runs", "inverted_pendulum-spo")
    os.remove(os.path.join(spo_run, "metrics.json"))
    shutil.rmtree(os.path.join(spo_run, "checkpoints"))
    study_status.main([out, "--dest", str(tmp_path / "snapshot2")])
    with open(os.path.join(tmp_path, "snapshot2", "status.json")) as f:
        later = {r["run"]: r for r in json.load(f)["results"]["runs"]}
    assert later["inverted_pendulum-spo"]["iterations"] is None
    assert later["inverted_pendulum-spo"]["worst_median_agent"] == runs["inverted_pendulum-spo"]["worst_median_agent"]


def test_ratio_interval_brackets_the_ratio_and_is_degenerate_without_spread():
    x, y = np.array([10.0, 12, 14, 16]), np.array([5.0, 6, 7, 8])
    lo, hi = bootstrap_ratio_ci(x, y)
    assert lo <= 2.0 <= hi and lo < hi
    assert bootstrap_ratio_ci(np.full(5, 3.0), np.full(4, 2.0)) == (1.5, 1.5)


@pytest.mark.slow
def test_kappa_study_trains_one_sweep_evaluates_it_and_plots(tmp_path, capsys, monkeypatch):
    from benchmarks.studies import kappa_study
    evaluate, seen = kappa_study.bj.evaluate, {}

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return evaluate(*args, **kwargs)
    monkeypatch.setattr(kappa_study.bj, "evaluate", spy)
    out = str(tmp_path / "kappa")
    args = ["--env", "inverted_pendulum", "--backend", "spring", "--kappa", "0", "1", "--seeds", "2", "--steps",
            str(32 * 16 * 4), "--episodes", "2", "--attacks", "random", "--attack-steps", "1024", "--out", out,
            "--set", "episode_length=20"] + TINY_ARGS[TINY_ARGS.index("--set"):]
    with pytest.raises(SystemExit) as stop:
        kappa_study.main(args + ["--time-budget", "0"])
    assert stop.value.code == kappa_study.UNFINISHED
    kappa_study.main(args + ["--no-masking-check"])
    assert seen["masking_check"] is False
    with open(os.path.join(out, "kappa.json")) as f:
        results = json.load(f)["results"]
    rows = results["rows"]
    assert "masking checks: not run" in results["setting"]
    assert [r["kappa"] for r in rows] == [0.0, 1.0] and all(len(r["worst"]) == 2 for r in rows)
    for r in rows:
        assert r["worst median"] == pytest.approx(float(np.median(r["worst"])))
    assert os.path.isfile(os.path.join(out, "kappa.png")) and "kappa" in capsys.readouterr().out


def test_a_p_value_below_one_in_a_thousand_is_not_printed_as_zero():
    """Ten seeds against ten, one method above the other on every seed: p = 1.1e-5."""
    assert reproduce.format_p(1.0825e-5) == "1.1e-05"
    assert reproduce.format_p(0.0079) == "0.008" and reproduce.format_p(0.579) == "0.579"


def test_claim_rows_hold_each_claim_to_its_goal_and_skip_missing_methods():
    from types import SimpleNamespace

    from barpo_jax.compare import RunScores

    suite = tuple(a for a in bj.attacks.ALL if a != "none")   # what a worst case is over

    def scores(algo, natural, worst, attacks=suite, env="hopper", by_attack=None):
        natural, worst = np.asarray(natural, float), np.asarray(worst, float)
        by_attack = tuple(np.asarray(x, float) for x in by_attack) if by_attack else tuple(worst for _ in attacks)
        return RunScores(f"runs/{algo}", env, algo, 0.075, "report", tuple(range(len(worst))), natural, worst,
                         int(np.argsort(worst)[(len(worst) - 1) // 2]), attacks, by_attack)
    runs = [scores("spo", [3000, 3100, 3200], [100, 200, 300]),
            scores("arpo", [2000, 2100, 2200], [1000, 1100, 1200]),
            scores("barpo", [2800, 2900, 3000], [1500, 1400, 1300]),
            scores("wocar_ppo", [2500, 2600, 2700], [1600, 1700, 1800]),
            scores("sa_ppo", [2000] * 5, [100, 500, 300, 200, 400])]
    rows = {r[1]: r for r in reproduce.claim_rows(SimpleNamespace(runs=runs))}
    assert set(rows) == {"BARPO worst / ARPO worst", "BARPO natural / SPO natural",  # no unguided, no guided ARPO
                         "BARPO worst / WocaR-PPO worst", "BARPO worst / SA-PPO worst"}
    wocar = rows["BARPO worst / WocaR-PPO worst"]   # a baseline row: held to the paper's direction only
    assert wocar[3] == "0.82" and wocar[7] == "> 1: no"   # 1400 / 1700
    worst = rows["BARPO worst / ARPO worst"]
    assert worst[2] == "1400.0 / 1100.0" and worst[3] == "1.27" and worst[7] == ">= 1.3: no"
    # Every BARPO seed above every ARPO seed, yet 3 seeds each cannot settle it: 2 of C(6, 3) splits are as extreme.
    assert worst[5] == "0.100 (3 vs 3 seeds)" and worst[6] == "not settled"
    sa = rows["BARPO worst / SA-PPO worst"]         # 3 vs 5 seeds, fully apart: p = 2 / C(8, 3)
    assert sa[5] == f"{2 / 56:.3f} (3 vs 5 seeds)" and sa[6] == "settled: higher" and sa[3] == "4.67"
    natural = rows["BARPO natural / SPO natural"]
    assert natural[3] == "0.94" and natural[7] == ">= 0.9: yes"  # 2900 / 3100, the median agents
    # A worst case over part of the suite is labelled; runs evaluated under different attacks
    # are compared over the attacks both hold (ARPO's mad column, its worst, is left out), and
    # not at all when they share none.
    part = [scores("barpo", [1] * 3, [5, 6, 7], ("random",)), scores("sa_ppo", [1] * 3, [1, 2, 3], ("random",)),
            scores("arpo", [1] * 3, [1, 2, 3], ("random", "mad"), by_attack=[[4, 5, 6], [1, 2, 3]]),
            scores("spo", [1] * 3, [1, 2, 3], ("flip",))]
    rows = {r[1]: r for r in reproduce.claim_rows(SimpleNamespace(runs=part))}
    assert set(rows) == {"BARPO worst / SA-PPO worst (over random only)", "BARPO worst / ARPO worst (over random only)",
                         "BARPO natural / SPO natural"}
    assert rows["BARPO worst / ARPO worst (over random only)"][2] == "6.0 / 5.0"


def test_ctrl_c_ends_a_study_with_one_line(capsys):
    def interrupted():
        raise KeyboardInterrupt
    with pytest.raises(SystemExit) as e:
        reproduce.interruptible(interrupted, "reproduce")
    assert e.value.code == 130
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "run the same command again" in err


def test_a_finished_report_is_redone_only_for_what_the_suite_gained():
    """A table's report from an older suite (fewer attacks, another strength) is topped up,
    not skipped; one from today's suite is left alone."""
    import numpy as np
    names = list(bj.attacks.resolve("all"))
    now = bj.RobustnessReport("hopper", "spo", 0.075, 5, names, np.ones((2, len(names))), np.ones((2, len(names))),
                              [0, 1], bj.attacks.STRONG.describe())
    assert reproduce._missing(now, "all") == ""
    older = bj.RobustnessReport("hopper", "spo", 0.075, 5, names[:-1], np.ones((2, len(names) - 1)),
                                np.ones((2, len(names) - 1)), [0, 1], "strong: 50 apgd steps x 2 restart(s)")
    missing = reproduce._missing(older, "all")
    assert names[-1] in missing and "50 apgd steps" in missing
    assert reproduce._missing(None, "all") == "no report"


def _finished_run(path, cfg, seeds, attacks, returns, episodes=50, strength=None):
    """A run directory as a finished, evaluated run leaves it: config.json and a report."""
    os.makedirs(path)
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump(cfg.to_dict(), f)
    returns = np.asarray(returns, float)
    bj.RobustnessReport(cfg.env, cfg.algo, cfg.eps, episodes, ["none", *attacks], returns, np.zeros_like(returns),
                        list(seeds), strength or bj.attacks.STRONG.describe()).save(
        report_file(path, cfg.eps))
    return path


def test_kappa_study_reuses_a_finished_run_only_where_it_is_the_studys_config_and_evaluation(tmp_path):
    from barpo_jax.config import ConfigError
    from benchmarks.studies import kappa_study
    study = bj.TrainConfig(env="hopper", algo="barpo", backend="positional", num_timesteps=4096, chunk_iterations=10)
    table = study.replace(kappa=1.0, num_seeds=4, chunk_iterations=5)   # seed count and cadence may differ
    # seeds 0..3 x none, random, mad, rs: the study's attacks are random and mad, so rs never enters
    rets = [[900, 800, 700, 10], [910, 500, 600, 10], [920, 850, 300, 10], [930, 100, 100, 10]]
    run = _finished_run(str(tmp_path / "barpo"), table, range(4), ["random", "mad", "rs"], rets)
    kappa, (natural, worst) = kappa_study.reused_returns(f"1={run}", study, 3, "random,mad", 50, 4096)
    assert kappa == 1.0 and natural.tolist() == [900, 910, 920] and worst.tolist() == [700, 500, 300]
    # seeds 1..3 when the study starts at seed 1
    _, (natural, _) = kappa_study.reused_returns(f"1={run}", study.replace(seed=1), 3, "random,mad", 50, 4096)
    assert natural.tolist() == [910, 920, 930]
    refusals = {"kappa (1.0, here 0.5)": (f"0.5={run}", study, 3, "random,mad", 50),
                "num_timesteps (4096, here 8192)": (f"1={run}", study.replace(num_timesteps=8192), 3, "random", 50),
                "it lacks flip": (f"1={run}", study, 3, "random,flip", 50),
                "50 episodes, here 20": (f"1={run}", study, 3, "random", 20),
                "the study needs [0, 1, 2, 3, 4]": (f"1={run}", study, 5, "random", 50),
                "KAPPA=RUN": (run, study, 3, "random", 50)}
    for words, args in refusals.items():
        with pytest.raises(ConfigError, match=re.escape(words)):
            kappa_study.reused_returns(*args, 4096)
    weaker = _finished_run(str(tmp_path / "weaker"), table, range(4), ["random"], [r[:2] for r in rets],
                           strength="lineage: 10 pgd steps x 1 restart(s)")
    with pytest.raises(ConfigError, match="gradient attacks"):
        kappa_study.reused_returns(f"1={weaker}", study, 3, "random", 50, 4096)


def test_kappa_study_merges_reused_and_swept_kappas_in_the_order_asked():
    from types import SimpleNamespace

    from benchmarks.studies import kappa_study
    sweep = SimpleNamespace(natural=np.array([1.0, 2, 3, 4]), worst_case=np.array([0.5, 1, 1.5, 2]))
    returns = {1.0: (np.array([9.0, 8]), np.array([7.0, 6]))}
    returns.update(kappa_study.swept_returns(sweep, [0.0, 2.0], 2))
    rows = kappa_study.per_kappa([0.0, 1.0, 2.0], returns)
    assert [r["kappa"] for r in rows] == [0.0, 1.0, 2.0]
    assert [r["natural"] for r in rows] == [[1, 2], [9, 8], [3, 4]]
    assert [r["worst median"] for r in rows] == [0.75, 6.5, 1.75]


def test_kappa_study_bad_reuse_exits_2_with_one_line_before_training(tmp_path):
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-m", "benchmarks.studies.kappa_study", "--kappa", "0", "1", "--reuse",
                          f"2={tmp_path}", "--out", str(tmp_path / "k")], capture_output=True, text=True,
                         cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))), timeout=300)
    assert out.returncode == 2 and "--kappa does not list" in out.stderr and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and not os.path.exists(tmp_path / "k")


def test_kappa_study_judges_each_kappa_against_kappa_1_as_the_claims_are_judged():
    from benchmarks.studies import kappa_study
    rows = kappa_study.per_kappa([0.0, 1.0, 2.0], {
        0.0: ([500, 100, 900, 300, 700], [10, 50, 30, 20, 40]),      # median agent by worst: seed 2
        1.0: ([500, 500, 500, 500, 500], [60, 70, 80, 90, 100]),
        2.0: ([500, 500, 500, 500, 500], [60, 70, 80, 90, 100])})
    zero, one, two = kappa_study.against(rows)
    assert (zero["median agent"], zero["natural"]["median agents"][0], zero["worst"]["median agents"][0]) == (2, 900, 30)
    assert zero["worst"]["p"] == pytest.approx(2 / 252) and zero["worst"]["IQM ratio"] == pytest.approx(30 / 80)
    lo, hi = zero["worst"]["IQM ratio CI"]
    assert lo <= zero["worst"]["IQM ratio"] <= hi < 1
    assert one["worst"]["p"] == 1.0 and one["worst"]["IQM ratio"] == 1.0 and two["natural"]["p"] == 1.0
    assert kappa_study.against(rows, base=0.5) == []
