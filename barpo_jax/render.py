"""Watching a trained run: one deterministic episode as a video or a Brax HTML viewer.

`render` plays one episode of one run, clean and under one named attack, with
the acting of `evaluate` (`evaluate.attacked_act`), and writes both episodes side by
side: a GIF or MP4 drawn by MuJoCo's offscreen renderer (`video`; plays anywhere,
offline), or the Brax viewer (`brax.io.html.render`, no display needed; its page loads
the viewer's scripts from a CDN when opened).
"""
from __future__ import annotations

import dataclasses
import html as html_text
import os
from typing import TYPE_CHECKING, Optional

import jax
import jax.numpy as jnp
import numpy as np

from . import attacks as atk
from . import video
from .config import ConfigError
from .envs import EnvState, VecEnv
from .evaluate import _reward_scale, attack_key, attacked_act, run_keys

if TYPE_CHECKING:
    from .result import TrainResult

RENDERABLE = tuple(atk.HEURISTIC)   # the learned attacks need a fit per victim first (`evaluate`)


@dataclasses.dataclass
class Rendering:
    """What `render` wrote.

    Attributes:
      path: the file written: a GIF or MP4 (clean | attacked panes, or the clean one alone) or
        an HTML page (the two viewers side by side).
      attack: the attack's name ('none': clean only).
      eps: the l_inf budget of the attack (normalised-observation units).
      returns: {'none': clean return, attack: attacked return} of the rendered episodes.
      steps: {name: steps} the length of each rendered episode (it stops at the first done).
    """
    path: str
    attack: str
    eps: float
    returns: dict
    steps: dict

    def summary(self) -> str:
        """One line to print after rendering: each episode's return and length, eps and the file.

        Returns:
          The line.
        """
        parts = [f"{'clean' if n == 'none' else n} {r:.1f} ({self.steps[n]} steps)" for n, r in self.returns.items()]
        return f"episode return: {', '.join(parts)}; eps = {self.eps:g}; wrote {self.path}"


def render(result: "TrainResult", seed: int = 0, attack="mad", eps: Optional[float] = None,
           path: str = "episode.gif", episode_length: Optional[int] = None, run: int = 0,
           strength="strong") -> Rendering:
    """Write one deterministic episode of one run, clean and attacked, as a video or an HTML viewer.

    The attacked episode is the one `evaluate(result, attacks=[attack], episodes=1, seed=seed)`
    plays for that run (same initial state, same attack keys), stopped at its first done; the
    clean episode beside it starts from the same initial state, so they differ by the attack alone.

    Args:
      result: the trained runs (`train`, `load` or `sweep`).
      seed: the PRNG seed of the episode (initial state and attack noise).
      attack: the name of a heuristic attack (none, random, critic, mad, flip, q_step);
        'none' renders the clean episode alone, anything else the clean and the attacked
        episode side by side (same initial state).
      eps: l_inf budget in normalised-observation units (None: the run's training eps).
      path: the file to write; its extension picks the format. '.gif' (default) or '.mp4':
        each frame is the clean pane | the attacked pane, drawn by MuJoCo's renderer on a
        headless OpenGL (EGL, else OSMesa; `MUJOCO_GL` if set), played in real time. '.html':
        a page that embeds the two Brax viewers (needs no other file, but loads the viewer
        script from the Brax CDN when opened, so it shows nothing offline).
      episode_length: at most this many steps (None: the run's episode length).
      run: which run along the run axis (run i was trained with seed result.seeds[i]).
      strength: how hard the gradient attacks search ('strong', 'lineage' or an `attacks.Strength`).

    Returns:
      A Rendering: the path and each episode's return and length.

    Raises:
      ConfigError: an unknown or learned attack, a run index out of range, a bad eps or
        episode length, a path that cannot be written or has another extension, or (video)
        no OpenGL that MuJoCo can render with.
    """
    result = getattr(result, "result", result)   # a SweepResult: its runs, grid point major
    cfg = result.config
    name = check_attack(attack)
    eps = float(cfg.eps) if eps is None else float(eps)
    atk.check_eps(eps)
    length = cfg.episode_length if episode_length is None else episode_length
    if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 1:
        raise ConfigError(f"episode_length must be a positive integer, got {episode_length!r}")
    length = int(length)
    params, stats = result.run(run)   # ConfigError for an index out of range
    at = atk.strength(strength)
    fmt = video.prepare(path)   # before the episodes run: the format, and for a video a working GL
    _check_writable(path)

    names = ["none"] if name == "none" else ["none", name]
    env = VecEnv(cfg.env, cfg.backend, 1, length)
    model, links = _viewer_model(env, cfg.env) if fmt == "html" else _video_model(env, cfg.env)
    ac = result.actor_critic()
    scale = _reward_scale(result)[run]
    # evaluate's keys for run `run`: both episodes start from the same state, and the attack's
    # randomness is keyed by its name
    k = run_keys(seed, result.num_runs)[run]
    returns, steps, episodes = {}, {}, {}
    for n in names:
        fn = atk.bind(n, atk.HEURISTIC[n], at)
        act = attacked_act(env, cfg.gamma, atk.make_victim(ac, params), stats, scale, fn, eps, cfg.observation_clip)
        play = jax.jit(lambda kk, ka, act=act: _episode(env, act, kk, links, ka))
        ret, frames, alive = play(k, attack_key(k, n))
        t = int(np.sum(np.asarray(alive)))   # steps taken until (and including) the first done
        returns[n], steps[n] = float(ret), t
        episodes[n] = jax.tree.map(lambda x, t=t: np.asarray(x)[: t + 1], frames)   # the states until the done
    panes = [(n, returns[n], steps[n], episodes[n]) for n in names]
    if fmt == "html":
        _write_html(path, model, panes, cfg, run, result, eps)
    else:
        _write_video(path, model, panes, eps)
    return Rendering(path, name, eps, returns, steps)


def check_attack(name) -> str:
    """`name` if `render` can play it, else a ConfigError naming the choices."""
    if not isinstance(name, str) or name not in RENDERABLE:
        learned = isinstance(name, str) and name in atk.LEARNED
        why = (f"attack {name!r} is learned (fitted per victim first; score it with `evaluate`)" if learned
               else f"unknown attack {name!r}")
        raise ConfigError(f"{why}: render one of {', '.join(RENDERABLE)}")
    return name


@dataclasses.dataclass
class _Frame:
    """What the Brax viewer reads of a pipeline state: its link transforms `x`."""
    x: object


def _viewer_model(env: VecEnv, name: str):
    """(the Brax System the viewer draws, links(batched env state) -> batched link
    Transforms). A Brax pipeline env has both; a MuJoCo Playground env's MjModel converts
    to a System, and its bodies' world poses (MJX data xpos/xquat, world body dropped) are
    the links."""
    from .envs import PlaygroundEnv
    inner = env.env
    if hasattr(inner, "sys") and hasattr(inner, "pipeline_init"):
        return inner.sys, lambda s: s.pipeline_state.x
    if isinstance(inner, PlaygroundEnv):
        from brax.base import Transform
        from brax.io import mjcf
        try:
            system = mjcf.load_model(inner.env.mj_model)
        except Exception as e:  # a model feature Brax's converter does not know
            raise ConfigError(f"cannot draw {name!r} with the Brax viewer ({type(e).__name__}: {e}): score it with "
                              "`evaluate` instead") from None
        return system, lambda s: Transform(pos=s.inner.data.xpos[..., 1:, :], rot=s.inner.data.xquat[..., 1:, :])
    raise ConfigError(f"render draws Brax pipeline envs and MuJoCo Playground envs; {name!r} is neither (a custom "
                      "env without a Brax System): score it with `evaluate` instead")


def _episode(env: VecEnv, act, key, links, act_key):
    """One episode of one env, as `acting.episode_outcomes` plays it (same keys), keeping
    the link transforms (`links(state)`) of every state. Returns (return, frames [T + 1]
    (the reset state, then the state after each step), alive [T] (1 up to and including
    the first done))."""
    kr, _ = jax.random.split(key)
    ks = act_key
    state = env.reset(kr)
    first = lambda s: jax.tree.map(lambda x: x[0], links(s))

    def step(carry, kk):
        state, alive, ret = carry
        action, _ = act(kk, state)
        ns = jax.vmap(env.env.step)(state.inner, action)   # no auto-reset: the episode is cut at its done
        ret = ret + alive * ns.reward[0]
        now = alive
        truncated = (state.steps[0] + 1 >= env.episode_length).astype(jnp.float32)
        alive = alive * (1.0 - jnp.maximum(ns.done[0].astype(jnp.float32), truncated))
        state = EnvState(ns, state.first, state.steps + 1, state.ep_return, state.reset_key)
        return (state, alive, ret), (first(ns), now)

    (_, _, ret), (xs, alive) = jax.lax.scan(step, (state, jnp.float32(1.0), jnp.float32(0.0)),
                                            jax.random.split(ks, env.episode_length))
    frames = jax.tree.map(lambda a, b: jnp.concatenate([a[None], b]), first(state.inner), xs)
    return ret, frames, alive


def _video_model(env: VecEnv, name: str):
    """((the MjModel MuJoCo draws, the control step in seconds), poses(batched env state) ->
    (qpos, qvel[, mocap_pos, mocap_quat])). A Brax pipeline state's `q`/`qd` are MuJoCo's
    qpos/qvel of the System's `mj_model`; a Playground state carries its MJX data."""
    from .envs import PlaygroundEnv
    inner = env.env
    if hasattr(inner, "sys") and hasattr(inner, "pipeline_init") and hasattr(inner.sys, "mj_model"):
        return (inner.sys.mj_model, float(inner.dt)), lambda s: (s.pipeline_state.q, s.pipeline_state.qd)
    if isinstance(inner, PlaygroundEnv):
        return ((inner.env.mj_model, float(inner.env.dt)),
                lambda s: (s.inner.data.qpos, s.inner.data.qvel, s.inner.data.mocap_pos, s.inner.data.mocap_quat))
    raise ConfigError(f"render draws Brax pipeline envs and MuJoCo Playground envs; {name!r} is neither (a custom "
                      "env without a MuJoCo model): score it with `evaluate` instead")


def _pane_label(name: str, ret: float, steps: int, eps: float) -> str:
    return f"{'clean' if name == 'none' else f'{name} (eps {eps:g})'}: return {ret:.1f}, {steps} steps"


def _write_video(path: str, model, panes, eps: float):
    """Draw each episode's states (every `video.stride`-th, so it plays in real time) and
    write them side by side, one pane per episode, as `path`'s format."""
    mj_model, dt = model
    k = video.stride(dt)
    drawn = []
    for _, _, _, poses in panes:
        poses = [np.concatenate([p[::k], p[-1:]]) if (len(p) - 1) % k else p[::k] for p in poses]
        mocap = (poses[2], poses[3]) if len(poses) == 4 else None
        drawn.append(video.episode_frames(mj_model, poses[0], poses[1], mocap))
    frames = video.side_by_side(drawn, [_pane_label(n, r, t, eps) for n, r, t, _ in panes])
    video.write(path, frames, fps=1.0 / (dt * k))


def _write_html(path: str, system, panes, cfg, run, result, eps: float):
    """The Brax viewer of each episode; two in one page side by side."""
    pages = []
    for n, r, t, links in panes:
        states = [_Frame(jax.tree.map(lambda x, j=j: x[j], links)) for j in range(t + 1)]
        pages.append((n, r, t, _viewer(system, states)))
    text = pages[0][3] if len(pages) == 1 else _side_by_side(cfg, run, result, eps, pages)
    try:
        with open(path, "w") as f:
            f.write(text)
    except OSError as e:
        raise ConfigError(f"cannot write {path!r} ({e.strerror or e}): choose a writable path") from None


def _viewer(sys, states) -> str:
    from brax.io import html  # deferred: importing brax takes seconds
    return html.render(sys, states, height="100vh", colab=False)


def _side_by_side(cfg, run, result, eps, panes) -> str:
    """One page: each viewer in an iframe (srcdoc, so the page is self-contained), titled by its return."""
    seed = result.seeds[run] if result.seeds is not None else run
    cells = "\n".join(
        f'<div class="pane"><h3>{"clean" if n == "none" else html_text.escape(n) + f" (eps {eps:g})"}: '
        f'return {r:.1f}, {t} steps</h3><iframe srcdoc="{html_text.escape(page, quote=True)}"></iframe></div>'
        for n, r, t, page in panes)
    title = html_text.escape(f"{cfg.env} / {cfg.algo}, run {run} (seed {seed})")
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title}</title>
<style>body {{ font-family: sans-serif; margin: 8px; }} .row {{ display: flex; gap: 8px; }}
.pane {{ flex: 1; }} h3 {{ margin: 4px 0; font-size: 15px; }}
iframe {{ width: 100%; height: 80vh; border: 1px solid #ccc; }}</style></head>
<body><h2>{title}</h2>
<div class="row">
{cells}
</div></body></html>
"""


def _check_writable(path: str):
    """Fail before the episodes run if `path` cannot be written (its folder is created)."""
    if not isinstance(path, (str, os.PathLike)) or not str(path) or os.path.isdir(path):
        raise ConfigError(f"render path {path!r} is not a file name: pass e.g. path='episode.html'")
    folder = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"cannot create the folder of {path!r} ({e.strerror or e}): choose a writable path") from None
    if not os.access(folder, os.W_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        raise ConfigError(f"cannot write {path!r} (permission denied): choose a writable path")
