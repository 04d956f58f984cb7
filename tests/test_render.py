"""`render`: one episode, clean and attacked, as a GIF/MP4 or a Brax HTML viewer (and `barpo render`)."""
import os
import warnings

import numpy as np
import pytest

import barpo_jax as bj
from barpo_jax import attacks, video

from helpers import PHYSICS, run_cli, tiny

TINY_STRENGTH = attacks.Strength("tiny", 2, 1, "constant")   # small programs; the acting is evaluate's


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("render") / "run")
    result = bj.train(tiny(**PHYSICS, num_envs=8, num_minibatches=2, episode_length=30, num_timesteps=8 * 16 * 2, num_seeds=2,
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


def _read_frames(path):
    """Every frame of a GIF or MP4 as uint8 [T, H, W, 3], decoded as a player would."""
    if path.endswith(".gif"):
        from PIL import Image, ImageSequence
        with Image.open(path) as im:
            assert im.format == "GIF" and im.is_animated
            return np.stack([np.asarray(f.convert("RGB")) for f in ImageSequence.Iterator(im)])
    import imageio.v2 as imageio
    with open(path, "rb") as f:
        assert f.read(12)[4:8] == b"ftyp"   # an ISO media (MP4) file
    with warnings.catch_warnings():   # JAX's warning of the fork that starts ffmpeg
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.stack(imageio.mimread(path, memtest=False))


def _pixels_apart(frames):
    """Per frame, how many pixels of the left (clean) and right (attacked) pane differ by more
    than a lossy codec's noise (the label strip left out)."""
    panes = frames[:, video.LABEL_HEIGHT:].astype(np.int16)
    return (np.abs(panes[:, :, :video.PANE_WIDTH] - panes[:, :, video.PANE_WIDTH:]).max(axis=-1) > 40).sum(axis=(1, 2))


@pytest.mark.parametrize("ext", [".gif", ".mp4"])
def test_video_clean_and_attacked_side_by_side(run_dir, tmp_path, ext):
    _, result = run_dir
    path = str(tmp_path / f"ep{ext}")
    # flip at a large budget: the barely trained pendulum visibly leaves the clean episode within 30 steps
    shown = bj.render(result, seed=3, attack="flip", eps=1.0, path=path, run=1, strength=TINY_STRENGTH)
    frames = _read_frames(path)
    assert frames.shape[1:] == (video.LABEL_HEIGHT + video.PANE_HEIGHT, 2 * video.PANE_WIDTH, 3)
    k = video.stride(0.02)   # inverted_pendulum steps 0.02 s: every k-th state is drawn
    assert len(frames) == -(-max(shown.steps.values()) // k) + 1 >= 3, (len(frames), shown.steps)
    apart = _pixels_apart(frames)
    # both episodes start from the same state; the attack then moves them apart
    assert apart[0] <= 5 and apart.max() > 100, apart


def test_video_errors_and_cli_default(run_dir, tmp_path, capsys, monkeypatch):
    out, result = run_dir
    with pytest.raises(bj.ConfigError, match="must end in .html, .gif, .mp4"):
        bj.render(result, attack="none", path=str(tmp_path / "x.png"))
    # no OpenGL: one line that names the fix
    monkeypatch.delenv("MUJOCO_GL", raising=False)
    monkeypatch.setattr(video, "_probe", lambda backend: f"no {backend} here")
    video.gl_backend.cache_clear()
    try:
        with pytest.raises(bj.ConfigError, match="egl: no egl here; osmesa: no osmesa here.*libegl1.*x.html"):
            bj.render(result, attack="none", path=str(tmp_path / "x.gif"))
    finally:
        video.gl_backend.cache_clear()
    assert not os.path.exists(tmp_path / "x.gif")
    monkeypatch.undo()
    # without --out: a GIF (clean only: one pane) in the run directory
    code, stdout, err = run_cli(capsys, "render", out, "--attack", "none", "--episode-length", "6")
    gif = os.path.join(out, "render_none_seed0.gif")
    assert code == 0 and gif in stdout, err
    assert _read_frames(gif).shape[1:] == (video.LABEL_HEIGHT + video.PANE_HEIGHT, video.PANE_WIDTH, 3)
