"""`render`: a Brax HTML viewer of one episode, clean and attacked (and `barpo render`)."""
import os

import numpy as np
import pytest

import barpo_jax as bj
from barpo_jax import attacks

from helpers import run_cli, tiny

TINY_STRENGTH = attacks.Strength("tiny", 2, 1, "constant")   # small programs; the acting is evaluate's


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("render") / "run")
    result = bj.train(tiny(num_envs=8, num_minibatches=2, episode_length=30, num_timesteps=8 * 16 * 2, num_seeds=2,
                           eps=0.2), out=out, progress=False)
    return out, result


def _is_viewer(text):
    return "brax-viewer" in text and "viewer.js" in text and "system_json_b64" not in text


def test_clean_and_attacked_side_by_side(run_dir, tmp_path):
    _, result = run_dir
    path = str(tmp_path / "sub" / "ep.html")   # the folder is created
    shown = bj.render(result, seed=3, attack="random", path=path, run=1, strength=TINY_STRENGTH)
    assert shown.path == path and os.path.isfile(path) and shown.eps == 0.2
    text = open(path).read()
    assert _is_viewer(text.replace("&quot;", '"')) and text.count("<iframe") == 2
    assert list(shown.returns) == ["none", "random"]
    assert all(np.isfinite(r) for r in shown.returns.values())
    assert all(1 <= t <= 30 for t in shown.steps.values())
    assert "clean" in shown.summary() and "random" in shown.summary()
    # the attacked episode is the one evaluate plays with this seed, for this run
    rep = bj.evaluate(result, attacks=["random"], eps=0.2, episodes=1, seed=3, progress=False, masking_check=False)
    assert shown.returns["random"] == pytest.approx(rep.returns[1, 1], rel=1e-5)


def test_clean_only_and_a_gradient_attack(run_dir, tmp_path):
    _, result = run_dir
    clean = bj.render(result, attack="none", path=str(tmp_path / "clean.html"), episode_length=12)
    assert list(clean.returns) == ["none"] and clean.steps["none"] <= 12
    assert _is_viewer(open(clean.path).read())
    # at eps 0 the attacked episode is the clean one: both start from the same state
    mad = bj.render(result, attack="mad", eps=0.0, path=str(tmp_path / "mad.html"), episode_length=12,
                    strength=TINY_STRENGTH)
    assert np.isfinite(mad.returns["mad"]) and mad.returns["mad"] == pytest.approx(mad.returns["none"])
    assert mad.steps["mad"] == mad.steps["none"] and "mad (eps 0)" in open(mad.path).read()


def test_bad_input(run_dir, tmp_path):
    _, result = run_dir
    with pytest.raises(bj.ConfigError, match="unknown attack 'nope'.*mad"):
        bj.render(result, attack="nope", path=str(tmp_path / "x.html"))
    with pytest.raises(bj.ConfigError, match="'sa_rl' is learned.*render one of"):
        bj.render(result, attack="sa_rl", path=str(tmp_path / "x.html"))
    with pytest.raises(bj.ConfigError, match="run index 5 out of range"):
        bj.render(result, attack="none", run=5, path=str(tmp_path / "x.html"))
    (tmp_path / "a_file").write_text("")
    with pytest.raises(bj.ConfigError, match="cannot create the folder"):
        bj.render(result, attack="none", path=str(tmp_path / "a_file" / "x.html"))
    with pytest.raises(bj.ConfigError, match="episode_length must be a positive integer"):
        bj.render(result, attack="none", episode_length=0, path=str(tmp_path / "x.html"))
    with pytest.raises(bj.ConfigError, match="eps must be"):
        bj.render(result, attack="random", eps=-1.0, path=str(tmp_path / "x.html"))
    assert not os.path.exists(tmp_path / "x.html")


def test_cli_render_and_its_errors(run_dir, tmp_path, capsys):
    out, _ = run_dir
    code, _, err = run_cli(capsys, "render", out, "--attack", "nope")
    assert code == 2 and "unknown attack 'nope'" in err and len(err.strip().splitlines()) == 1, err
    code, _, err = run_cli(capsys, "render", out, "--attack", "none", "--run-index", "7")
    assert code == 2 and "run index 7 out of range" in err and len(err.strip().splitlines()) == 1, err
    page = str(tmp_path / "cli.html")
    code, stdout, err = run_cli(capsys, "render", out, "--attack", "none", "--episode-length", "10", "--out", page)
    assert code == 0, err
    assert "episode return: clean" in stdout and page in stdout and os.path.isfile(page)
