"""Evaluation during training, TensorBoard scalars and the per-chunk callback (tracking.py)."""
import glob
import os

import numpy as np
import pytest

import barpo_jax as bj
from barpo_jax.plots import learning_curve
from helpers import tiny


def scalars(run_dir, tag) -> list:
    """(step, value) of one tag in a TensorBoard run directory, read from its event files
    (TFRecord framing: length, its crc, the Event proto, its crc)."""
    import struct

    from tensorboardX.proto.event_pb2 import Event
    out = []
    for path in sorted(glob.glob(os.path.join(str(run_dir), "events.out.tfevents.*"))):
        data = open(path, "rb").read()
        at = 0
        while at < len(data):
            (length,) = struct.unpack("<Q", data[at:at + 8])
            event = Event.FromString(data[at + 12:at + 12 + length])
            at += 12 + length + 4
            out += [(event.step, v.simple_value) for v in event.summary.value if v.tag == tag]
    return out


def test_eval_during_training_logs_curves_that_match_a_final_evaluate(tmp_path):
    cfg = tiny(num_seeds=2, eps=0.2, num_timesteps=32 * 16 * 6, eval_every=4, eval_attacks="random",
               eval_episodes=3)
    assert cfg.eval_attacks == ("random",)
    calls = []
    result = bj.train(cfg, progress=False, logdir=str(tmp_path / "tb"), callback=lambda step, m: calls.append((step, m)))

    # chunks of 2 iterations: evaluated after the first chunk (2), once 4 more passed (6, also the end)
    natural = result.metrics["eval_natural"]
    assert natural.shape == (2, 6) and set(result.metrics) >= {"eval_natural", "eval_random"}
    assert [i for i in range(6) if np.isfinite(natural[:, i]).all()] == [1, 5]
    assert np.isnan(natural[:, [0, 2, 3, 4]]).all()

    # the last evaluation is what evaluate() gives for the final parameters, same episodes
    report = bj.evaluate(result, attacks=["random"], episodes=3, progress=False, masking_check=False,
                         learned_scan="none")
    for attack, name in (("none", "eval_natural"), ("random", "eval_random")):
        np.testing.assert_allclose(result.metrics[name][:, -1], report.returns[:, report.attacks.index(attack)],
                                   rtol=1e-5)

    # one callback per chunk, env steps per run, across-seed means and per-seed values
    assert [s for s, _ in calls] == [2 * cfg.batch_size, 4 * cfg.batch_size, 6 * cfg.batch_size]
    last = calls[-1][1]
    assert last["iteration"] == 6 and last["per_seed"]["eval_random"].shape == (2,)
    assert last["eval_random"] == pytest.approx(float(np.mean(result.metrics["eval_random"][:, -1])))

    # TensorBoard: one event file per seed and one for the mean, holding the eval scalars
    dirs = sorted(os.path.basename(d) for d in glob.glob(str(tmp_path / "tb" / "*")))
    assert dirs == ["mean", "seed_0", "seed_1"]
    rnd = scalars(tmp_path / "tb" / "seed_1", "eval_random")
    assert [step for step, _ in rnd] == [2 * cfg.batch_size, 6 * cfg.batch_size]
    assert rnd[-1][1] == pytest.approx(float(result.metrics["eval_random"][1, -1]), rel=1e-5)
    assert len(scalars(tmp_path / "tb" / "mean", "episode_return")) >= 1

    # the learning-curve plot gets its evaluation panel
    fig = learning_curve(result.metrics, cfg, str(tmp_path / "lc.png"))
    assert len(fig.axes) == 2 and os.path.getsize(tmp_path / "lc.png") > 0


def test_eval_attacks_must_be_built_in_and_cheap():
    with pytest.raises(bj.ConfigError, match="sa_rl.*barpo eval"):
        bj.train(tiny(eval_every=2, eval_attacks="sa_rl"), progress=False)
    with pytest.raises(bj.ConfigError, match="eval_every"):
        tiny(eval_every=-1)


def wandb_records(wandb_dir, run_id) -> list:
    """The Records of every offline W&B run folder of `run_id` under `wandb_dir`, in order:
    each folder's run-<id>.wandb file is W&B's header (7 bytes) then a LevelDB log (32 KiB
    blocks of chunks: crc, length, type; a Record proto split over FIRST/MIDDLE/LAST)."""
    import struct

    from wandb.proto import wandb_internal_pb2 as pb
    records = []
    for path in sorted(glob.glob(os.path.join(str(wandb_dir), "wandb", f"offline-run-*-{run_id}*",
                                              f"run-{run_id}.wandb"))):
        data, at, buf = open(path, "rb").read(), 7, b""
        while at + 7 <= len(data):
            if 32768 - at % 32768 < 7:  # a block's tail too short for a chunk header is padding
                at += 32768 - at % 32768
                continue
            _, length, kind = struct.unpack("<IHB", data[at:at + 7])
            if kind == 0:
                break
            buf, at = buf + data[at + 7:at + 7 + length], at + 7 + length
            if kind in (1, 4):  # FULL or LAST
                records.append(pb.Record.FromString(buf))
                buf = b""
    return records


def wandb_logged(records) -> tuple[dict, list]:
    """(config, history rows {key: value}) of W&B Records."""
    import json
    config, rows = {}, []
    for r in records:
        kind = r.WhichOneof("record_type")
        items = r.run.config.update if kind == "run" else r.config.update if kind == "config" else []
        config.update({i.key: json.loads(i.value_json) for i in items})
        if kind == "history":
            rows.append({i.key or "/".join(i.nested_key): json.loads(i.value_json) for i in r.history.item})
    return config, rows


def test_wandb_logs_config_per_seed_and_attack_curves_and_resumes_the_same_run(tmp_path, monkeypatch):
    for k, v in dict(WANDB_MODE="offline", WANDB_DIR=str(tmp_path), WANDB_SILENT="true", WANDB_CONSOLE="off",
                     WANDB_DISABLE_GIT="true").items():
        monkeypatch.setenv(k, v)
    cfg = tiny(num_seeds=2, eps=0.2, num_timesteps=32 * 16 * 6, eval_every=4, eval_attacks="random",
               eval_episodes=3)
    out = str(tmp_path / "run")
    bj.train(cfg, out=out, progress=False, max_iterations=2, wandb="barpo-test")   # stopped, then resumed
    result = bj.train(cfg, out=out, resume=True, progress=False, wandb={"project": "barpo-test"})
    import wandb
    wandb.teardown()   # wandb's service writes the offline files on its own time; this waits for it
    run_id = open(os.path.join(out, "wandb_run_id")).read().strip()
    assert len(glob.glob(str(tmp_path / "wandb" / f"offline-run-*-{run_id}*"))) == 2  # one W&B run, two sessions
    config, rows = wandb_logged(wandb_records(tmp_path, run_id))
    assert config["env"] == cfg.env and config["num_seeds"] == 2 and config["seeds"] == [0, 1]
    assert config["eval_attacks"] == ["random"] and config["eps"] == pytest.approx(0.2)

    # one row per iteration, against env steps per run; every finite value of the result, per seed and mean
    assert [row["env_steps"] for row in rows] == [(i + 1) * cfg.batch_size for i in range(6)]
    evaluated = [i for i in range(6) if np.isfinite(result.metrics["eval_random"][:, i]).all()]
    assert evaluated and evaluated[-1] == 5
    for name, values in result.metrics.items():
        for i, row in enumerate(rows):
            col = values[:, i]
            for run, seed in enumerate((0, 1)):
                if np.isfinite(col[run]):
                    assert row[f"{name}/seed_{seed}"] == pytest.approx(col[run], rel=1e-6), (name, i, seed)
                else:
                    assert f"{name}/seed_{seed}" not in row
            if np.isfinite(col).any():
                assert row[f"{name}/mean"] == pytest.approx(np.nanmean(col), rel=1e-6), (name, i)
    assert {f"eval_{a}/{s}" for a in ("natural", "random") for s in ("seed_0", "seed_1", "mean")} <= set(rows[5])


def test_wandb_missing_is_one_line(tmp_path, monkeypatch, capsys):
    import sys

    from helpers import run_cli
    monkeypatch.setitem(sys.modules, "wandb", None)   # `import wandb` raises ImportError
    with pytest.raises(bj.ConfigError, match=r"^wandb is not installed: pip install 'barpo-jax\[wandb\]'$"):
        bj.train(tiny(), out=str(tmp_path / "run"), wandb="barpo-test")
    assert not os.path.exists(tmp_path / "run")   # refused before the run directory is written
    code, _, err = run_cli(capsys, "train", "--env", "inverted_pendulum", "--backend", "spring", "--wandb",
                           "barpo-test", "--out", str(tmp_path / "cli"))
    assert code == 2 and err.strip() == "barpo: error: wandb is not installed: pip install 'barpo-jax[wandb]'"


def test_wandb_that_cannot_start_is_one_line(monkeypatch):
    import wandb

    from barpo_jax.tracking import Tracker

    def not_logged_in(**kw):
        raise wandb.errors.UsageError("No API key configured. Use `wandb login` to log in.")
    monkeypatch.setattr(wandb, "init", not_logged_in)
    with pytest.raises(bj.ConfigError, match=r"^wandb could not start a run \(No API key.*WANDB_MODE=offline$"):
        Tracker(tiny(), [0], wandb={"project": "barpo-test"})
