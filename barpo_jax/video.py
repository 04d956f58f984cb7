"""Episodes as video: MuJoCo's offscreen renderer, two panes side by side, GIF or MP4.

`render` writes a video when its path ends in .gif or .mp4. The frames come from
`mujoco.Renderer` on a headless OpenGL: EGL (Mesa's software EGL needs no GPU), else
OSMesa. Which one works is found once per process by a tiny render in a child process,
because PyOpenGL fixes its platform at first import and a failed EGL could not be retried
as OSMesa in this one.
"""
from __future__ import annotations

import functools
import importlib
import math
import os
import subprocess
import sys
import warnings

import numpy as np

from .config import ConfigError

FORMATS = {".html": "html", ".gif": "gif", ".mp4": "mp4"}
PANE_HEIGHT, PANE_WIDTH = 240, 320   # multiples of 16: MP4 encoders need no resize
LABEL_HEIGHT = 32                    # the strip above the panes that names them
MAX_FPS = 30                         # faster episodes are shown every k-th step, in real time
GL_BACKENDS = ("egl", "osmesa")      # tried in this order when MUJOCO_GL is not set
NO_GL_FIX = ("install EGL or OSMesa (Debian/Ubuntu: apt-get install libegl1 libegl-mesa0 libgl1-mesa-dri, or "
             "libosmesa6), set MUJOCO_GL to a backend that works here, or write the HTML viewer instead "
             "(--out x.html / path='x.html')")

_PROBE = ("import mujoco; r = mujoco.Renderer(mujoco.MjModel.from_xml_string("
          "'<mujoco><worldbody><geom size=\"1\"/></worldbody></mujoco>'), 16, 16); r.render(); r.close()")


def output_format(path) -> str:
    """'html', 'gif' or 'mp4', picked by the extension of `path`; a ConfigError for any other."""
    ext = os.path.splitext(str(path))[1].lower()
    if ext not in FORMATS:
        raise ConfigError(f"render path {str(path)!r} must end in {', '.join(FORMATS)} (the extension picks "
                          "the format)")
    return FORMATS[ext]


@functools.cache
def gl_backend() -> str:
    """The MUJOCO_GL backend this process renders with, made current for `mujoco.Renderer`.

    The user's MUJOCO_GL is kept as set; otherwise EGL, then OSMesa, is tried in a child
    process and the first that renders is used here.

    Returns:
      The backend's name ('egl', 'osmesa', or the user's MUJOCO_GL).

    Raises:
      ConfigError: no backend renders, with the packages that fix it.
    """
    chosen = os.environ.get("MUJOCO_GL", "").strip().lower()
    if not chosen:
        errors = {}
        for backend in GL_BACKENDS:   # a second or two each, next to minutes of rendering
            errors[backend] = _probe(backend)
            if errors[backend] is None:
                break
        else:
            why = "; ".join(f"{b}: {e}" for b, e in errors.items())
            raise ConfigError(f"no headless OpenGL for MuJoCo's renderer ({why}): {NO_GL_FIX}")
        chosen = backend
        os.environ["MUJOCO_GL"] = chosen
    _select_gl(chosen)
    return chosen


def _probe(backend: str):
    """None if a child process with MUJOCO_GL=backend renders, else its last error line."""
    env = {k: v for k, v in os.environ.items() if k != "PYOPENGL_PLATFORM"}
    env["MUJOCO_GL"] = backend
    try:
        with warnings.catch_warnings():   # JAX warns of any fork; this one execs at once
            warnings.simplefilter("ignore", RuntimeWarning)
            done = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True,
                                  timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"{type(e).__name__}: {e}"
    if done.returncode == 0:
        return None
    lines = [ln.strip() for ln in done.stderr.splitlines() if ln.strip()]
    return lines[-1] if lines else f"exit status {done.returncode}"


def _select_gl(backend: str):
    """Point mujoco's GL context at `backend`: mujoco reads MUJOCO_GL when it is imported
    (Brax imports it before any frame is drawn), so its context module is loaded again."""
    if "mujoco" not in sys.modules:
        return   # the import to come reads MUJOCO_GL
    from mujoco.rendering.classic import gl_context
    if getattr(gl_context, "_MUJOCO_GL", backend) != backend:
        importlib.reload(gl_context)


def make_renderer(model, height: int = PANE_HEIGHT, width: int = PANE_WIDTH):
    """A `mujoco.Renderer` for `model` on the working headless GL (`gl_backend`).

    Raises:
      ConfigError: the GL context cannot be created, with the fix.
    """
    backend = gl_backend()
    import mujoco
    try:
        return mujoco.Renderer(model, height, width)
    except Exception as e:  # the GL library's own error types vary by backend
        raise ConfigError(f"MuJoCo's renderer cannot start with MUJOCO_GL={backend} ({type(e).__name__}: {e}): "
                          f"{NO_GL_FIX}") from None


def stride(dt: float) -> int:
    """Show every k-th state so that a video of control step `dt` plays in real time at <= MAX_FPS."""
    return max(1, math.ceil(1.0 / (float(dt) * MAX_FPS) - 1e-9))


def _camera(model):
    """The model's own tracking camera if it has one (Brax's locomotion tasks do), else a
    fixed side view of the whole model (the pendulums and arms stay in place)."""
    import mujoco
    tracking = (int(mujoco.mjtCamLight.mjCAMLIGHT_TRACK), int(mujoco.mjtCamLight.mjCAMLIGHT_TRACKCOM))
    for i in range(model.ncam):
        if int(model.cam_mode[i]) in tracking:   # a numpy int never equals the enum itself
            return i
    cam = mujoco.MjvCamera()
    cam.type = mujoco.mjtCamera.mjCAMERA_FREE
    cam.lookat[:] = model.stat.center
    cam.distance = 1.5 * float(model.stat.extent)
    cam.azimuth, cam.elevation = 90.0, -20.0
    return cam


def episode_frames(model, qpos, qvel, mocap=None, height: int = PANE_HEIGHT, width: int = PANE_WIDTH) -> np.ndarray:
    """RGB frames of an episode's states drawn by MuJoCo.

    Args:
      model: the `mujoco.MjModel` the states belong to (a Brax System's `mj_model`).
      qpos: [T, nq] generalized positions (a Brax state's `q`, MJX `qpos`).
      qvel: [T, nv] generalized velocities.
      mocap: None, or ([T, nmocap, 3] positions, [T, nmocap, 4] quaternions) of mocap bodies.
      height, width: the size of each frame in pixels.

    Returns:
      uint8 [T, height, width, 3].
    """
    import mujoco
    renderer = make_renderer(model, height, width)
    data, camera = mujoco.MjData(model), _camera(model)
    frames = np.zeros((len(qpos), height, width, 3), np.uint8)
    try:
        for t in range(len(qpos)):
            data.qpos[:], data.qvel[:] = qpos[t], qvel[t]
            if mocap is not None:
                data.mocap_pos[:], data.mocap_quat[:] = mocap[0][t], mocap[1][t]
            mujoco.mj_forward(model, data)
            renderer.update_scene(data, camera=camera)
            frames[t] = renderer.render()
    finally:
        renderer.close()
    return frames


def side_by_side(panes, labels) -> np.ndarray:
    """One video of several equally sized episodes' frames, left to right, under a strip
    naming each; an episode that ended earlier holds its last frame.

    Args:
      panes: a list of uint8 [T_i, H, W, 3] frame stacks.
      labels: one text per pane, drawn in the strip above it.

    Returns:
      uint8 [max T_i, LABEL_HEIGHT + H, W * len(panes), 3].
    """
    from PIL import Image, ImageDraw
    length = max(len(p) for p in panes)
    held = [np.concatenate([p, np.repeat(p[-1:], length - len(p), axis=0)]) for p in panes]
    width = panes[0].shape[2]
    strip = Image.new("RGB", (width * len(panes), LABEL_HEIGHT), "white")
    draw = ImageDraw.Draw(strip)
    for i, text in enumerate(labels):
        draw.text((width * i + 8, LABEL_HEIGHT // 2), text, fill="black", anchor="lm")
    strip = np.broadcast_to(np.asarray(strip), (length, LABEL_HEIGHT, width * len(panes), 3))
    return np.concatenate([strip, np.concatenate(held, axis=2)], axis=1)


def write(path: str, frames: np.ndarray, fps: float):
    """Write `frames` (uint8 [T, H, W, 3]) as a looping GIF or an H.264 MP4, by the extension of `path`.

    Raises:
      ConfigError: the file cannot be written, or MP4's encoder (imageio-ffmpeg) is missing.
    """
    fmt = output_format(path)
    try:
        if fmt == "gif":
            from PIL import Image
            # one palette per frame and no dithering: equal pixels stay equal (dithering
            # would carry one pane's rounding into the next)
            images = [Image.fromarray(f).quantize(256, dither=Image.Dither.NONE) for f in frames]
            # GIF delays are in hundredths of a second
            images[0].save(path, save_all=True, append_images=images[1:], loop=0,
                           duration=max(20, 10 * round(100.0 / fps)))
        else:
            _write_mp4(path, frames, fps)
    except OSError as e:
        raise ConfigError(f"cannot write {path!r} ({e.strerror or e}): choose a writable path") from None


def _write_mp4(path: str, frames: np.ndarray, fps: float):
    """H.264 in yuv420p, the MP4 that browsers, slides and journals play."""
    imageio = _mp4_writer_module()
    with warnings.catch_warnings(), imageio.get_writer(path, fps=fps, codec="libx264", quality=8,
                                                       pixelformat="yuv420p", macro_block_size=16,
                                                       ffmpeg_log_level="error") as out:
        warnings.simplefilter("ignore", RuntimeWarning)   # JAX's warning of the fork that starts ffmpeg
        for f in frames:
            out.append_data(f)


def prepare(path) -> str:
    """The format of `path` ('html', 'gif' or 'mp4'), checking before any episode runs that a
    video can be drawn (a working OpenGL) and, for MP4, encoded.

    Raises:
      ConfigError: another extension, no OpenGL MuJoCo renders with, or MP4's encoder missing.
    """
    fmt = output_format(path)
    if fmt == "mp4":
        _mp4_writer_module()
    if fmt != "html":
        gl_backend()
    return fmt


def _mp4_writer_module():
    """imageio's v2 API, with the ffmpeg binary of imageio-ffmpeg it encodes MP4 with."""
    try:
        import imageio.v2 as imageio
        import imageio_ffmpeg  # noqa: F401
    except ImportError:
        raise ConfigError("writing MP4 needs imageio and imageio-ffmpeg (python3 -m pip install imageio "
                          "imageio-ffmpeg), or write a GIF: --out x.gif") from None
    return imageio
