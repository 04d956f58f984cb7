"""benchmarks/carry.py: a study carried through git resumes as if it had never left."""
import os

import numpy as np
from helpers import leaves, tiny

import barpo_jax as bj
from benchmarks import carry


def test_carried_run_resumes_to_the_uninterrupted_result_and_never_replaces_more_training(tmp_path, capsys):
    cfg = tiny(num_timesteps=32 * 16 * 6)  # 6 iterations, a checkpoint every 2
    whole = bj.train(cfg, progress=False)
    study = tmp_path / "runs" / "study"
    run = study / "runs" / "r"
    bj.train(cfg, out=str(run), progress=False, max_iterations=4)
    assert len(carry._steps(str(run / "checkpoints"))) == 2  # orbax keeps two

    (study / "table.md").write_text("the study's own files travel too")
    inflight = tmp_path / "inflight" / "study"
    assert carry.main(["save", str(study), "--dest", str(inflight)]) == 0
    assert carry._steps(str(inflight / "runs" / "r" / "checkpoints")) == [carry._steps(str(run / "checkpoints"))[-1]]
    assert carry.iterations_done(str(inflight / "runs" / "r")) == 4

    # A new checkout: runs/ is gone; restore, then the same command resumes.
    restored = tmp_path / "fresh" / "study"
    assert carry.main(["restore", str(inflight), "--out", str(restored)]) == 0
    assert (restored / "table.md").read_text() == "the study's own files travel too"
    resumed = bj.train(cfg, out=str(restored / "runs" / "r"), resume=True, progress=False)
    assert resumed.iterations == 6
    for a, b in zip(leaves(whole.params), leaves(resumed.params), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)

    # Carrying the older copy back over the further-trained run keeps the training.
    capsys.readouterr()
    assert carry.main(["restore", str(inflight), "--out", str(restored)]) == 0
    assert "kept" in capsys.readouterr().out
    assert carry.iterations_done(str(restored / "runs" / "r")) == 6
    assert not [n for n in os.listdir(restored / "runs") if n.endswith((".carrying", ".replaced"))]


def test_save_without_runs_names_the_fix(tmp_path, capsys):
    assert carry.main(["save", str(tmp_path / "nothing")]) == 2
    assert "give the study's --out directory" in capsys.readouterr().err
