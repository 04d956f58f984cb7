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
    ret = np.asarray(metrics["episode_return"], dtype=float)  # [run, iteration]
    steps = (np.arange(ret.shape[1]) + 1) * cfg.batch_size
    fig, ax = subplots(path, figsize=(6, 3.5))
    for i, r in enumerate(ret):
        ok = np.isfinite(r)
        ax.plot(steps[ok], r[ok], lw=1, alpha=0.6, label=f"seed {cfg.seed + i}" if ret.shape[0] <= 8 else None)
    if ret.shape[0] > 1:
        with warnings.catch_warnings():  # iterations where no episode ended are NaN for every seed
            warnings.simplefilter("ignore", RuntimeWarning)
            ax.plot(steps, np.nanmean(ret, axis=0), "k", lw=2, label="mean")
    ax.set_xlabel("env steps per seed")
    ax.set_ylabel("training episode return")
    ax.set_title(f"{cfg.env} / {cfg.algo}")
    ax.legend(fontsize=8)
    return finish(fig, path)
