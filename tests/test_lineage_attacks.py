"""benchmarks.studies.lineage_attacks: the attacks a table leaves out, on copies, in calls
that stop at their time budget and continue."""
import json
import os

import numpy as np
import pytest

from barpo_jax.cli import UNFINISHED
from benchmarks.studies import lineage_attacks
from helpers import SMALL, run_cli

REPORT = "robustness_eps0.1.json"


def _load(path):
    with open(path) as f:
        return json.load(f)


@pytest.mark.slow
def test_parts_run_on_copies_stop_at_the_budget_and_continue(tmp_path, capsys):
    run, out = str(tmp_path / "pendulum-barpo"), str(tmp_path / "copies")
    assert run_cli(capsys, "train", *SMALL, "--seeds", "2", "--out", run)[0] == 0
    code, _, err = run_cli(capsys, "eval", run, "--attacks", "random,rs", "--attack-steps", "512", "--episodes", "2",
                           "--no-masking-check", "--no-progress")
    assert code == 0, err[-3000:]
    with open(os.path.join(run, REPORT), "rb") as f:
        table = f.read()
    argv = [run, "--out", out, "--scan", "none", "--rs-fits", "2", "--sa-rl-steps", "512", "--pa-ad-steps", "512",
            "--episodes", "2", "--no-progress"]
    calls = 0
    while True:   # a budget of 0: each call finishes one column and stops
        calls += 1
        code = lineage_attacks.main(argv + ["--time-budget", "0"])
        assert code in (0, UNFINISHED) and calls < 12, code
        if code == 0:
            break
    assert calls >= 4   # sa_rl, pa_ad, the masking check, then rs's two columns: none of it in one call
    with open(os.path.join(run, REPORT), "rb") as f:
        assert f.read() == table, "the table's run is never written"
    base, added = _load(os.path.join(run, REPORT)), _load(os.path.join(out, "pendulum-barpo", REPORT))
    assert added["attacks"] == ["none", "random", "rs", "sa_rl", "pa_ad"] and added["checks"]
    assert added["learned"]["sa_rl"]["timesteps"] == 512 and added["learned"]["rs"] == base["learned"]["rs"]
    np.testing.assert_array_equal(np.array(added["returns"])[:, :3], np.array(base["returns"]))   # kept columns
    rs = _load(os.path.join(out, "pendulum-barpo-rs2", REPORT))
    assert rs["attacks"] == ["none", "rs"] and len(rs["learned"]["rs"]["chosen_fit"]) == 2
    assert np.array(rs["returns"])[:, 0].tolist() == np.array(base["returns"])[:, 0].tolist()   # same episodes
    assert sorted(_load(os.path.join(out, lineage_attacks.STATE))["parts"]) == [
        f"pendulum-barpo/{p}" for p in sorted(lineage_attacks.PARTS)]
    assert lineage_attacks.main(argv) == 0   # done: nothing to run
    capsys.readouterr()
    assert lineage_attacks.main(argv + ["--rs-fits", "3"]) == 2   # other settings, same --out
    assert "pass the same settings" in capsys.readouterr().err
    assert lineage_attacks.main([str(tmp_path), "--out", out]) == 2   # not a run
    assert "not a run directory" in capsys.readouterr().err
    os.makedirs(tmp_path / "by_hand" / "pendulum-barpo")   # a copy made by hand: its fits are unknown
    assert lineage_attacks.main([run, "--out", str(tmp_path / "by_hand")]) == 2
    assert "not copied by lineage_attacks" in capsys.readouterr().err
