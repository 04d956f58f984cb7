"""benchmarks.studies.one_sided.py: a settled claim re-judged with attacks added to its higher side."""
import numpy as np
import pytest

from barpo_jax.compare import RunScores
from barpo_jax.config import ConfigError
from benchmarks.studies.one_sided import CHECK, one_sided, side_columns


def _scores(algo, attacks, by_attack):
    """RunScores whose worst case and median agent follow from `by_attack`, as read_run's do."""
    by_attack = tuple(np.asarray(x, float) for x in by_attack)
    worst = np.min(np.stack(by_attack), axis=0)
    return RunScores(f"runs/{algo}", "walker2d", algo, 0.05, "report", tuple(range(len(worst))),
                     worst + 100, worst, int(np.argsort(worst)[(len(worst) - 1) // 2]), attacks, by_attack)


def test_added_attack_judged_against_the_lower_sides_own_worst_case():
    higher = _scores("barpo", ("random", "mad", "sa_rl"),
                     [[900, 910, 920, 930, 940], [800, 810, 820, 830, 840], [850, 300, 830, 820, 845]])
    lower = _scores("arpo", ("random", "mad"), [[500, 510, 520, 530, 540], [400, 410, 420, 430, 440]])
    result = one_sided(higher, lower)
    assert result["common"] == ("random", "mad") and result["extra"] == ("sa_rl",)
    np.testing.assert_array_equal(result["before"], [800, 810, 820, 830, 840])   # mad's column, not sa_rl's
    np.testing.assert_array_equal(result["added"], [850, 300, 830, 820, 845])
    np.testing.assert_array_equal(result["after"], [800, 300, 820, 820, 840])
    assert result["taken_by"] == ["mad", "sa_rl", "mad", "sa_rl", "mad"]
    table = result["table"]     # every seed apart, 5 vs 5: the smallest exact p, 2 / C(10, 5)
    assert table["median agents"] == [820.0, 420.0] and table["p"] == pytest.approx(2 / 252)
    assert table["settled"] == "settled: higher"
    extra = result["with extra"]   # seed 1 now falls below every lower seed: p rises past 0.05
    assert extra["median agents"] == [820.0, 420.0] and extra["median ratio"] == table["median ratio"]
    assert 0.05 < extra["p"] < 0.2 and extra["settled"] == "not settled"
    higher = _scores("barpo", ("random", "mad", "sa_rl"),
                     [[900] * 5, [800, 810, 820, 830, 840], [850, 300, 350, 390, 845]])
    extra = one_sided(higher, lower)["with extra"]   # the median agent falls below the lower one's
    assert extra["median agents"] == [390.0, 420.0] and extra["settled"] == "not settled"


def test_nothing_added_or_nothing_shared_is_refused_with_the_fix():
    barpo = _scores("barpo", ("random", "mad"), [[900, 910, 920], [800, 810, 820]])
    arpo = _scores("arpo", ("random", "mad"), [[500, 510, 520], [400, 410, 420]])
    with pytest.raises(ConfigError, match="--attacks sa_rl --add"):
        one_sided(barpo, arpo)
    with pytest.raises(ConfigError, match="share no attack"):
        one_sided(barpo, _scores("arpo", ("flip",), [[1, 2, 3]]))


def test_a_masking_check_column_counts_as_an_added_attack():
    barpo = _scores("barpo", ("random", "mad"), [[900, 910, 920], [800, 810, 820]])
    arpo = _scores("arpo", ("random", "mad"), [[500, 510, 520], [400, 410, 420]])
    columns = {"random": barpo.by_attack[0], "mad": barpo.by_attack[1], CHECK: np.array([850, 350, 815.0])}
    result = one_sided(barpo, arpo, columns)   # the check: mad at twice the effort, say
    assert result["extra"] == (CHECK,) and result["taken_by"] == ["mad", CHECK, CHECK]
    np.testing.assert_array_equal(result["after"], [800, 350, 815])
    assert result["with extra"]["median agents"] == [800.0, 410.0]   # the median agent is chosen afresh
    assert "same attacks" not in result


def test_the_same_attacks_on_both_sides_are_judged_apart():
    car = _scores("car_ppo", ("random", "mad"), [[900, 910, 920, 930, 940], [800, 810, 820, 830, 840]])
    barpo = _scores("barpo", ("random", "mad"), [[500, 510, 520, 530, 540], [400, 410, 420, 430, 440]])
    high = {"random": car.by_attack[0], "mad": car.by_attack[1], "pa_ad": np.array([850, 300, 830, 820, 845.0]),
            "pa_ad (2M steps)": np.array([810, 805, 350, 330, 845.0])}
    low = {"random": barpo.by_attack[0], "mad": barpo.by_attack[1], "pa_ad": np.array([450, 400, 380, 420, 415.0])}
    result = one_sided(car, barpo, high, low)
    assert result["extra"] == ("pa_ad (2M steps)",) and result["lower columns"] == ("random", "mad", "pa_ad")
    np.testing.assert_array_equal(result["after"], [800, 300, 350, 330, 840])
    np.testing.assert_array_equal(result["lower after"], [400, 400, 380, 420, 415])
    assert result["lower taken_by"] == ["mad", "pa_ad", "pa_ad", "pa_ad", "pa_ad"]
    same = result["same attacks"]   # pa_ad (2M steps) is car_ppo's alone: left out here
    assert same["over"] == ("random", "mad", "pa_ad") and same["median agents"] == [820.0, 400.0]
    assert result["with extra"]["median agents"] == [350.0, 400.0] and result["with extra"]["settled"] == "not settled"


def test_masking_checks_count_only_when_every_part_holds_them(tmp_path):
    from types import SimpleNamespace

    from barpo_jax.evaluate import RobustnessReport, report_file
    from benchmarks.studies.one_sided import masking_checks

    def part(name, checks):
        run = tmp_path / name
        run.mkdir()
        returns = np.array([[900.0, 800.0], [910.0, 810.0]])
        RobustnessReport("walker2d", "barpo", 0.05, 3, ["none", "mad"], returns, np.zeros_like(returns), [0, 1],
                         "strong", ["mad@x2"] if checks else [], np.array(checks)[:, None] if checks else None,
                         {}, {}, 0).save(report_file(str(run), 0.05))
        return str(run)
    both = SimpleNamespace(paths=(part("a", [790.0, 805.0]), part("b", [700.0, 820.0])), eps=0.05)
    values, note = masking_checks(both, "higher")
    np.testing.assert_array_equal(values, [790, 805, 700, 820])
    assert "every report" in note
    some = SimpleNamespace(paths=(both.paths[0], part("c", None)), eps=0.05)
    values, note = masking_checks(some, "higher")
    assert values is None and "only in" in note and both.paths[0] in note


def _run_dir(path, columns, natural=(900.0, 910.0, 920.0), learned=None, hidden=64):
    """A run directory holding config.json and a report with `columns` ({attack: [seed]})."""
    import os

    import barpo_jax as bj
    from barpo_jax.evaluate import RobustnessReport, report_file
    os.makedirs(path)
    cfg = bj.TrainConfig(env="inverted_pendulum", backend="spring", algo="car_ppo", num_envs=32, unroll_length=16,
                         num_minibatches=4, num_seeds=3, eps=0.05, policy_hidden=(hidden, hidden))
    with open(os.path.join(path, "config.json"), "w") as f:
        f.write(cfg.to_json())
    returns = np.stack([natural, *columns.values()], axis=1).astype(float)
    RobustnessReport("inverted_pendulum", "car_ppo", 0.05, 3, ["none", *columns], returns, np.zeros_like(returns),
                     [0, 1, 2], "strong", learned=learned or {}).save(report_file(str(path), 0.05))
    return str(path)


def test_a_copy_adds_its_new_attacks_and_labels_a_refit_by_its_budget(tmp_path):
    from barpo_jax.compare import read_run
    from benchmarks.studies.one_sided import copy_columns
    small = {"pa_ad": {"scan": "small: ...", "timesteps": 300000}}
    table = {"mad": [800.0, 810.0, 820.0]}
    higher = read_run(_run_dir(tmp_path / "car", {**table, "pa_ad": [700.0, 805.0, 815.0]}, learned=small))
    full = {"pa_ad": {"scan": "none: one fit", "timesteps": 2000000}, "sa_rl": {"timesteps": 1000000}}
    copy = read_run(_run_dir(tmp_path / "car-full", {**table, "pa_ad": [600.0, 805.0, 815.0],
                                                     "sa_rl": [790.0, 800.0, 830.0]}, learned=full))
    added = copy_columns(higher, copy)   # mad: the same column copied, left out
    assert list(added) == ["pa_ad (2M steps, scan none)", "sa_rl (1M steps)"]
    np.testing.assert_array_equal(added["pa_ad (2M steps, scan none)"], [600, 805, 815])
    lower = read_run(_run_dir(tmp_path / "barpo", {"mad": [300.0, 310.0, 320.0]}))
    result = one_sided(higher, lower, side_columns(higher, [copy]))
    assert result["extra"] == ("pa_ad (0.3M steps, scan small)", "pa_ad (2M steps, scan none)", "sa_rl (1M steps)")
    assert result["taken_by"] == ["pa_ad (2M steps, scan none)", "sa_rl (1M steps)", "pa_ad (0.3M steps, scan small)"]
    np.testing.assert_array_equal(result["after"], [600, 800, 815])
    again = copy_columns(higher, copy, taken=added)   # a second copy at the same budgets
    assert list(again) == ["pa_ad (2M steps, scan none) (car-full)", "sa_rl (1M steps) (car-full)"]


def test_a_copy_of_other_agents_is_refused(tmp_path):
    from barpo_jax.compare import read_run
    from benchmarks.studies.one_sided import copy_columns
    higher = read_run(_run_dir(tmp_path / "car", {"mad": [800.0, 810.0, 820.0]}))
    other = read_run(_run_dir(tmp_path / "other", {"sa_rl": [1.0, 2.0, 3.0]}, natural=(950.0, 910.0, 920.0)))
    with pytest.raises(ConfigError, match="not a copy.*natural returns"):
        copy_columns(higher, other)
    # the same episodes replayed on another CPU type: natural returns within 0.3 %, accepted
    elsewhere = read_run(_run_dir(tmp_path / "elsewhere", {"sa_rl": [1.0, 2.0, 3.0]}, natural=(902.5, 910.0, 920.0)))
    assert list(copy_columns(higher, elsewhere)) == ["sa_rl"]
    wider = read_run(_run_dir(tmp_path / "wider", {"sa_rl": [1.0, 2.0, 3.0]}, hidden=32))
    with pytest.raises(ConfigError, match="not a copy.*configs differ in policy_hidden"):
        copy_columns(higher, wider)


def test_a_replay_is_judged_by_its_episodes_and_the_noise_of_its_natural_mean():
    from barpo_jax.evaluate import RobustnessReport
    from benchmarks.studies.one_sided import replay_mismatch

    def report(natural, std, **settings):
        returns = np.array([[x, 0.0] for x in natural])
        stds = np.array([[x, 0.0] for x in std])
        return RobustnessReport("walker2d", "barpo", 0.05, 50, ["none", "rs"], returns, stds, [0, 1], "strong",
                                **settings)
    table = report([1534.7, 1832.7], [385.5, 68.2])
    # walker2d replayed on another CPU type: seed 0 moved 2.9 %, 0.8 standard errors of its mean
    assert replay_mismatch(table, report([1579.8, 1832.8], [432.3, 70.0])) is None
    # seed 1's mean is tight (std 68): 2.6 % there is 4.9 standard errors, another agent
    assert "seed 1: 1880.0 against 1832.7" in replay_mismatch(table, report([1534.7, 1880.0], [385.5, 68.2]))
    assert "beyond 1% and 4 standard errors" in replay_mismatch(table, report([1800.0, 1832.7], [385.5, 68.2]))
    assert replay_mismatch(table, report([1534.7, 1832.7], [385.5, 68.2], eval_seed=1)) == \
        "other episodes: eval_seed differ"


def test_the_all_attacks_row_gives_no_verdict_that_rests_on_attacks_one_side_never_faced():
    from benchmarks.studies.one_sided import _backed
    settled = {"settled": "settled: higher", "p": 0.02}
    # the lower side alone faced sa_rl: the higher side might fall under it too
    withdrawn = _backed(settled, (), ("sa_rl",), "sa_ppo", "barpo")
    assert withdrawn["settled"].startswith("no verdict: only barpo faced sa_rl") and withdrawn["p"] == 0.02
    # the higher side alone faced it: the verdict holds whatever the lower side meets later
    assert _backed(settled, ("sa_rl",), (), "car_ppo", "barpo") == settled
    assert _backed({"settled": "settled: lower"}, ("sa_rl",), (), "car_ppo", "barpo")["settled"].startswith(
        "no verdict: only car_ppo faced sa_rl")
    assert _backed({"settled": "not settled"}, ("a",), ("b",), "x", "y") == {"settled": "not settled"}
