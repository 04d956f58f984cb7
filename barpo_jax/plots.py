"""Figure helpers (matplotlib, headless Agg when writing files) and the learning-curve plot."""
from __future__ import annotations

import os
import warnings

import numpy as np


def subplots(path, **kw):
    """matplotlib figure; headless (Agg) when it is going to a file."""
    import matplotlib
    if path is not None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    return plt.subplots(**kw)


def finish(fig, path, dpi=120):
    """Tight layout, and write + close the figure when a path is given."""
    fig.tight_layout()
    if path is not None:
        import matplotlib.pyplot as plt
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        fig.savefig(path, dpi=dpi)
        plt.close(fig)
    return fig


def learning_curve(metrics: dict, cfg, path=None):
    """Training-episode return per seed and its mean; with evaluation during training
    (`eval_every`), a second panel: the across-seed mean evaluation return, natural and
    under each attack, with every seed faint."""
    from .loop import EVAL_PREFIX, eval_name  # here: the landscape study imports this module alone
    ret = np.asarray(metrics["episode_return"], dtype=float)  # [run, iteration]
    steps = (np.arange(ret.shape[1]) + 1) * cfg.batch_size
    natural = eval_name("none")
    evals = sorted(k for k in metrics if k.startswith(EVAL_PREFIX))
    evals = [k for k in evals if k == natural] + [k for k in evals if k != natural]
    fig, axes = subplots(path, ncols=2 if evals else 1, figsize=(11 if evals else 6, 3.5), squeeze=False)
    ax = axes[0, 0]
    for i, r in enumerate(ret):
        ok = np.isfinite(r)
        ax.plot(steps[ok], r[ok], lw=1, alpha=0.6, label=f"seed {cfg.seed + i}" if ret.shape[0] <= 8 else None)
    with warnings.catch_warnings():  # iterations where no episode ended are NaN for every seed
        warnings.simplefilter("ignore", RuntimeWarning)
        if ret.shape[0] > 1:  # joined over the iterations where some episode ended (others are NaN)
            mean = np.nanmean(ret, axis=0)
            ok = np.isfinite(mean)
            ax.plot(steps[ok], mean[ok], "k", lw=2, label="mean")
        ax.set_xlabel("env steps per seed")
        ax.set_ylabel("training episode return")
        ax.set_title(f"{cfg.env} / {cfg.algo}")
        ax.legend(fontsize=8)
        if evals:
            ax = axes[0, 1]
            for c, name in enumerate(evals):
                v = np.asarray(metrics[name], dtype=float)
                at = np.isfinite(v).any(axis=0)
                color = f"C{c}"
                for r in v[:, at]:
                    ax.plot(steps[at], r, color=color, lw=0.8, alpha=0.3)
                label = name[len(EVAL_PREFIX):]
                ax.plot(steps[at], np.nanmean(v[:, at], axis=0), "o-", color=color, lw=2, ms=3, label=label)
            ax.set_xlabel("env steps per seed")
            ax.set_ylabel(f"evaluation return ({cfg.eval_episodes} episodes)")
            ax.set_title(f"during training, eps = {cfg.eps:g}")
            ax.legend(fontsize=8)
    return finish(fig, path)
