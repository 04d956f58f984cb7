"""Learning-curve plot (matplotlib, Agg when writing files)."""
from __future__ import annotations

import os

import numpy as np


def learning_curve(metrics: dict, cfg, path=None):
    import matplotlib
    if path is not None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    ret = np.asarray(metrics["episode_return"], dtype=float)  # [run, iteration]
    steps = (np.arange(ret.shape[1]) + 1) * cfg.batch_size
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for i, r in enumerate(ret):
        ok = np.isfinite(r)
        ax.plot(steps[ok], r[ok], lw=1, alpha=0.6, label=f"seed {cfg.seed + i}" if ret.shape[0] <= 8 else None)
    if ret.shape[0] > 1:
        with np.errstate(all="ignore"):
            ax.plot(steps, np.nanmean(ret, axis=0), "k", lw=2, label="mean")
    ax.set_xlabel("env steps per seed")
    ax.set_ylabel("training episode return")
    ax.set_title(f"{cfg.env} / {cfg.algo}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    if path is not None:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        fig.savefig(path, dpi=120)
        plt.close(fig)
    return fig
