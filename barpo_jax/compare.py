"""Comparing runs: one table over run directories, and its plots.

Per run (one method on one task, several seeds) the table gives the lineage's
protocol, the median agent's natural return and worst case over attacks, and the
statistic rliable recommends for few seeds: the interquartile mean (IQM) with a
percentile-bootstrap 95% confidence interval over seeds (Agarwal et al., "Deep RL at
the Edge of the Statistical Precipice", NeurIPS 2021). A median of 5 seeds moves a lot
with one seed; the IQM uses the middle half of them and its interval says how much.

A run's numbers come from its robustness report (`barpo eval`, robustness_eps*.json)
when there is one, else from its final training returns (no worst case then). One
method's seeds may span several run directories (seeds added later in a second program,
`barpo train --config RUN/config.json --seed 5 --seeds 5 --out RUN2`): `read_pooled`
reads them as one method, and `compare` pools any entry given as a list of directories.
"""
from __future__ import annotations

import csv
import dataclasses
import glob
import os
import warnings
from typing import Optional, Sequence

import numpy as np

from . import checkpoint
from .checkpoint import read_config
from .config import LOOP_FIELDS, ConfigError, TrainConfig
from .evaluate import RobustnessReport, lower_median_index
from .result import final_return

CONFIDENCE = 0.95
FINAL_FRACTION = 0.1  # the last 10% of iterations make a run's final training return (as TrainResult.summary)


def iqm(x) -> float:
    """Interquartile mean: the mean of the middle half of the sorted values (a quarter
    cut from each end, rounded down as scipy.stats.trim_mean(x, 0.25) and rliable do).

    Robust to one outlying seed, unlike the mean, yet uses more seeds than the median.

    Args:
      x: per-seed values.

    Returns:
      The IQM.
    """
    return float(_iqm_rows(np.asarray(x, float)[None])[0])


def _iqm_rows(x: np.ndarray) -> np.ndarray:
    """IQM of each row of x [rows, n]."""
    n = x.shape[1]
    cut = int(0.25 * n)
    return np.sort(x, axis=1)[:, cut:n - cut].mean(axis=1)


def bootstrap_ci(x, reps: int = 2000, seed: int = 0, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Percentile-bootstrap confidence interval of the IQM over seeds: resample the seeds
    with replacement `reps` times (a fixed seed, so the table is reproducible).

    Args:
      x: per-seed values.
      reps: bootstrap resamples.
      seed: the resampling's PRNG seed.
      confidence: the interval's coverage.

    Returns:
      (low, high); NaN, NaN when `x` is empty or holds a non-finite value.
    """
    x = np.asarray(x, float)
    if x.size == 0 or not np.all(np.isfinite(x)):
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    return _percentile_interval(_iqm_rows(x[rng.integers(0, x.size, size=(reps, x.size))]), confidence)


def bootstrap_ratio_ci(x, y, reps: int = 2000, seed: int = 0,
                       confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Percentile-bootstrap confidence interval of IQM(x) / IQM(y), the seeds of the two
    groups resampled independently (they are different agents, e.g. two methods).

    Args:
      x: per-seed values of the first group (the numerator).
      y: per-seed values of the second group (the denominator).
      reps: bootstrap resamples.
      seed: the resampling's PRNG seed.
      confidence: the interval's coverage.

    Returns:
      (low, high) of the ratio.
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    rng = np.random.default_rng(seed)
    ix = rng.integers(0, x.size, size=(reps, x.size))
    iy = rng.integers(0, y.size, size=(reps, y.size))
    return _percentile_interval(_iqm_rows(x[ix]) / _iqm_rows(y[iy]), confidence)


def rank_test(x, y) -> float:
    """Exact two-sided Wilcoxon–Mann–Whitney test of two groups of per-seed values: the
    probability, over every equally likely split of the pooled values into groups of
    these sizes, of a rank sum at least as far from its mean as the observed one. Ties
    get mid-ranks and are counted exactly (no normal approximation, which is poor at 5
    or 10 seeds).

    Args:
      x: per-seed values of one group (e.g. one method's worst cases).
      y: per-seed values of the other group.

    Returns:
      The two-sided p-value; NaN when a group is empty or holds a non-finite value.
    """
    x, y = np.asarray(x, float).ravel(), np.asarray(y, float).ravel()
    if x.size == 0 or y.size == 0 or not (np.isfinite(x).all() and np.isfinite(y).all()):
        return float("nan")
    pooled = np.concatenate([x, y])
    twice_ranks = _twice_mid_ranks(pooled)             # integers, so sums can be counted exactly
    counts = _rank_sum_counts(twice_ranks, x.size)     # counts[s]: splits whose x-group sums to s
    mean = x.size * (pooled.size + 1)                  # the rank sum's mean, doubled
    observed = abs(int(twice_ranks[:x.size].sum()) - mean)
    sums = np.arange(counts.size)
    return float(counts[np.abs(sums - mean) >= observed].sum() / counts.sum())


def _twice_mid_ranks(values: np.ndarray) -> np.ndarray:
    """2 x the mid-rank of each value (1-based), an integer even under ties."""
    order = np.argsort(values, kind="stable")
    sorted_values = values[order]
    twice = np.empty(values.size, np.int64)
    start = 0
    while start < values.size:
        end = start
        while end + 1 < values.size and sorted_values[end + 1] == sorted_values[start]:
            end += 1
        twice[order[start:end + 1]] = start + end + 2   # (start + 1) + (end + 1)
        start = end + 1
    return twice


def _rank_sum_counts(twice_ranks: np.ndarray, size: int) -> np.ndarray:
    """Number of `size`-element subsets of the ranks with each possible sum (a subset-sum
    count; exact integers as Python ints held in an object array)."""
    top = int(np.sort(twice_ranks)[-size:].sum()) if size else 0
    ways = np.zeros((size + 1, top + 1), object)
    ways[0, 0] = 1
    for r in twice_ranks:
        ways[1:, r:] = ways[1:, r:] + ways[:-1, :top + 1 - r]
    return ways[size].astype(float)


def _percentile_interval(stats: np.ndarray, confidence: float) -> tuple[float, float]:
    tail = 100 * (1 - confidence) / 2
    lo, hi = np.percentile(stats, [tail, 100 - tail])
    return float(lo), float(hi)


@dataclasses.dataclass(frozen=True)
class RunScores:
    """One run directory's per-seed scores.

    Attributes:
      path, env, algo, eps: the run and the budget its worst case was measured at.
      source: the file the scores come from (robustness report, or metrics.json).
      seeds: the seed of each agent.
      natural, worst: [seed] natural return and worst case over attacks (worst is all
        NaN when the run has no robustness report).
      median_agent: the index of the median agent (by worst case; by natural return
        without a report).
      attacks: the attacks the worst case is over (empty without a report).
      by_attack: [attack][seed] mean return under each of `attacks` (empty without a
        report), so two runs can be compared over the attacks both were evaluated under.
      parts: the run directories pooled into these scores (`read_pooled`; `path` is the
        first), or empty for a single run.
    """
    path: str
    env: str
    algo: str
    eps: float
    source: str
    seeds: tuple
    natural: np.ndarray
    worst: np.ndarray
    median_agent: int
    attacks: tuple
    by_attack: tuple = ()
    parts: tuple = ()

    @property
    def name(self) -> str:
        return f"{self.algo} / {self.env}"

    @property
    def paths(self) -> tuple:
        """Every run directory behind these scores."""
        return self.parts or (self.path,)

    def worst_over(self, attacks) -> tuple:
        """([seed] worst case over `attacks`, a subset of `self.attacks`; its median agent)."""
        rows = [self.by_attack[self.attacks.index(a)] for a in attacks]
        worst = np.min(np.asarray(rows, float), axis=0)
        return worst, lower_median_index(worst)


def _report_path(run: str, eps: Optional[float], trained_eps: float) -> Optional[str]:
    """The run's robustness report at `eps` (None: at the eps it was trained with, else the
    only one there); reproduce.py's older robustness.json counts as one."""
    reports = sorted(glob.glob(os.path.join(run, "robustness_eps*.json")))
    by_eps = {}
    for path in reports:
        try:
            by_eps[float(os.path.basename(path)[len("robustness_eps"):-len(".json")])] = path
        except ValueError:
            continue
    want = trained_eps if eps is None else eps
    match = [p for e, p in by_eps.items() if abs(e - want) <= 1e-9 * max(1.0, abs(want))]
    if match:
        return match[0]
    if eps is not None:
        raise ConfigError(f"{run!r} has no robustness report at eps {eps:g} (has: "
                          f"{', '.join(f'{e:g}' for e in sorted(by_eps)) or 'none'}): run `barpo eval {run} --eps "
                          f"{eps:g}` or drop --eps")
    if len(by_eps) == 1:
        return next(iter(by_eps.values()))
    legacy = os.path.join(run, "robustness.json")
    return legacy if os.path.isfile(legacy) else None


def _metrics(run: str) -> dict:
    metrics = checkpoint.read_metrics(run)
    if metrics is None:
        raise ConfigError(f"{run!r} has no metrics.json: train it (or let it reach its first checkpoint) first")
    return metrics


def final_returns(episode_return: np.ndarray, fraction: float = FINAL_FRACTION) -> np.ndarray:
    """[run] final training return (`result.final_return`: the last `fraction` of the
    iterations in which an episode ended)."""
    return np.asarray([final_return(r, fraction) for r in episode_return])


def read_run(run: str, eps: Optional[float] = None) -> RunScores:
    """A run directory's per-seed scores (see the module docstring for where they come from)."""
    if os.path.isfile(os.path.join(run, "sweep.json")):
        raise ConfigError(f"{run!r} holds a sweep (several grid points in one run): compare its grid points with "
                          "bj.load(path).table(), or compare single runs")
    cfg = read_config(run)
    report_path = _report_path(run, eps, cfg.eps)
    if report_path is not None:
        report = RobustnessReport.load(report_path)
        attacks = tuple(report.attacks[j] for j in report.attack_columns)
        by_attack = tuple(np.asarray(report.returns[:, j], float) for j in report.attack_columns)
        return RunScores(run, report.env, report.algo, float(report.eps), os.path.basename(report_path),
                         tuple(report.seeds), np.asarray(report.natural, float),
                         np.asarray(report.worst_case, float), report.median_agent, attacks, by_attack)
    natural = final_returns(_metrics(run)["episode_return"])
    return RunScores(run, cfg.env, cfg.algo, float(cfg.eps), "metrics.json (final training return)",
                     tuple(cfg.seed + i for i in range(len(natural))), natural, np.full_like(natural, np.nan),
                     lower_median_index(natural), ())


# ---- one method's seeds over several run directories ----------------------------
SEED_FIELDS = ("seed", "num_seeds")


def config_differences(a: TrainConfig, b: TrainConfig) -> dict:
    """{field: (a's, b's)} where two runs' configs differ, their seeds and the loop's
    bookkeeping left out: empty when the runs hold agents of one method and config."""
    return a.diff(b, ignore=SEED_FIELDS + LOOP_FIELDS)


def group_runs(runs: Sequence[str]) -> list:
    """`runs` as lists of directories whose configs differ only in their seeds (one method's
    agents trained in several programs), in order of first appearance."""
    groups: list = []
    for run in runs:
        cfg = read_config(run)
        for group in groups:
            if not config_differences(group[0], cfg):
                group[1].append(run)
                break
        else:
            groups.append((cfg, [run]))
    return [paths for _, paths in groups]


def _report_settings(run: str, scores: RunScores) -> dict:
    """What makes two reports' per-seed values comparable: the episodes, the strength of
    the gradient attacks, the evaluation seed and how each learned attack was fitted."""
    if not scores.attacks:
        return {"source": "final training return"}
    report = RobustnessReport.load(os.path.join(run, scores.source))
    learned = {k: (v.get("timesteps"), v.get("scan")) for k, v in sorted(report.learned.items())}
    return {"attacks": scores.attacks, "episodes": report.episodes, "strength": report.strength,
            "eval_seed": report.eval_seed, "learned": learned}


def _check_poolable(runs: Sequence[str], parts: Sequence[RunScores]) -> None:
    """One clear error naming the fix when `runs` are not one method's seeds evaluated alike."""
    first_cfg, first = read_config(runs[0]), _report_settings(runs[0], parts[0])
    for run, scores in zip(runs[1:], parts[1:]):
        differ = config_differences(first_cfg, read_config(run))
        if differ:
            raise ConfigError(f"cannot pool {run!r} with {runs[0]!r}: their configs differ in "
                              f"{', '.join(sorted(differ))}; pool only the seeds of one method and config")
        unevaluated = [r for r, x in ((runs[0], parts[0]), (run, scores)) if not x.attacks]
        if len(unevaluated) == 1:
            raise ConfigError(f"cannot pool {run!r} with {runs[0]!r}: {unevaluated[0]!r} has no robustness report "
                              f"yet; evaluate it like the other (`barpo eval {unevaluated[0]} --attacks ...`)")
        settings = _report_settings(run, scores)
        differ = sorted(k for k in set(first) | set(settings) if first.get(k) != settings.get(k))
        if differ:
            raise ConfigError(f"cannot pool {run!r} with {runs[0]!r}: their reports differ in {', '.join(differ)}; "
                              f"evaluate both alike (e.g. `barpo eval {run} --attacks "
                              f"{','.join(parts[0].attacks) or 'none'} --add`)")
    seeds = [s for scores in parts for s in scores.seeds]
    repeated = sorted({s for s in seeds if seeds.count(s) > 1})
    if repeated:
        raise ConfigError(f"cannot pool {', '.join(map(repr, runs))}: seed(s) {repeated} are in more than one of "
                          "them; pool runs of different seeds (`barpo train --seed N`)")


def pooled_paths(entry: str) -> list:
    """The run directories a command-line entry names: `RUN+RUN2` pools two runs, unless a
    directory of that very name exists."""
    return [entry] if os.path.exists(entry) or "+" not in entry else entry.split("+")


def read_pooled(runs: Sequence[str], eps: Optional[float] = None) -> RunScores:
    """One method's per-seed scores from several run directories, as one RunScores.

    Adding seeds to a finished method means training them in a second program; each
    agent is evaluated on its own, so its per-seed values pool with the first run's.
    The runs must differ only in their seeds (`config_differences`), be evaluated with
    the same attacks, episodes, strength, evaluation seed and learned-attack budgets, and
    hold no seed twice. Each part keeps its report's own episode keys.

    Raises:
      ConfigError: naming the fix, when the runs are not poolable.
    """
    runs = [os.fspath(r) for r in runs]
    parts = [read_run(r, eps) for r in runs]
    if len(parts) == 1:
        return parts[0]
    _check_poolable(runs, parts)
    first = parts[0]
    natural = np.concatenate([s.natural for s in parts])
    worst = np.concatenate([s.worst for s in parts])
    by_attack = tuple(np.concatenate([s.by_attack[j] for s in parts]) for j in range(len(first.by_attack)))
    median = lower_median_index(worst if first.attacks else natural)
    return dataclasses.replace(first, source=f"{first.source} ({len(parts)} runs)",
                               seeds=tuple(s for p in parts for s in p.seeds), natural=natural, worst=worst,
                               median_agent=median, by_attack=by_attack, parts=tuple(runs))


COLUMNS = ("run", "algo", "env", "eps", "seeds", "source", "natural (median agent)", "worst (median agent)",
           "natural IQM", "natural IQM CI low", "natural IQM CI high", "worst IQM", "worst IQM CI low",
           "worst IQM CI high")


@dataclasses.dataclass(frozen=True)
class Comparison:
    """The comparison of several runs: `rows` (one dict per run, keys COLUMNS), the
    per-seed scores behind them, and the files written (if any).

    Attributes:
      runs: each run's per-seed scores (`RunScores`).
      rows: {column: value} per run, the numbers of `table()` and comparison.csv.
      reps: bootstrap resamples behind the confidence intervals.
      files: the paths `save` wrote (empty until then).
    """
    runs: tuple            # RunScores per run
    rows: tuple            # {column: value} per run
    reps: int
    files: tuple = ()

    def cells(self) -> tuple[list, list]:
        """The Markdown table's cells, for other renderings (e.g. a terminal table).

        Returns:
          (headers, rows): the column names and one list of strings per run.
        """
        head = ["run", "method / task", "eps", "seeds", "natural (median agent)", "worst (median agent)",
                "natural IQM [95% CI]", "worst IQM [95% CI]", "from"]
        rows = [[r["run"], f"{r['algo']} / {r['env']}", f"{r['eps']:g}", str(r["seeds"]),
                 _num(r["natural (median agent)"]), _num(r["worst (median agent)"]), _ci(r, "natural"),
                 _ci(r, "worst"), r["source"]] for r in self.rows]
        return head, rows

    def note(self) -> str:
        """What the columns mean, printed under the table.

        Returns:
          One paragraph of text.
        """
        return (f"IQM: mean of the middle half of the seeds; [95% CI]: percentile bootstrap over seeds, {self.reps} "
                "resamples, fixed seed (rliable: Agarwal et al., NeurIPS 2021). Worst: the minimum over the "
                "report's attacks; '-' where a run has no robustness report (`barpo eval`).")

    def table(self) -> str:
        """Markdown: median agent (the lineage's protocol) and IQM [95% CI] across seeds.

        Returns:
          The table followed by `note()`.
        """
        head, rows = self.cells()
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(lines + ["", self.note()])

    def save(self, out: str) -> "Comparison":
        """Write comparison.csv, comparison.md, natural_vs_worst.png, learning_curves.png in `out`.

        Args:
          out: the folder; created if missing.

        Returns:
          A copy of this Comparison with `files` set to the paths written (a plot with
            nothing to draw is left out).
        """
        os.makedirs(out, exist_ok=True)
        files = [os.path.join(out, "comparison.csv"), os.path.join(out, "comparison.md")]
        with open(files[0], "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=COLUMNS)
            w.writeheader()
            w.writerows(self.rows)
        with open(files[1], "w") as f:
            f.write(self.table() + "\n")
        files.append(plot_scatter(self.runs, os.path.join(out, "natural_vs_worst.png")))
        files.append(plot_learning_curves(self.runs, os.path.join(out, "learning_curves.png")))
        return dataclasses.replace(self, files=tuple(p for p in files if p))


def _num(x) -> str:
    return "-" if not np.isfinite(x) else f"{x:.1f}"


def _ci(row: dict, which: str) -> str:
    mid, lo, hi = row[f"{which} IQM"], row[f"{which} IQM CI low"], row[f"{which} IQM CI high"]
    return "-" if not np.isfinite(mid) else f"{mid:.1f} [{lo:.1f}, {hi:.1f}]"


def _row(scores: RunScores, label: str, reps: int, seed: int) -> dict:
    row = {"run": label, "algo": scores.algo, "env": scores.env, "eps": scores.eps, "seeds": len(scores.seeds),
           "source": scores.source, "natural (median agent)": float(scores.natural[scores.median_agent]),
           "worst (median agent)": float(scores.worst[scores.median_agent])}
    for which, x in (("natural", scores.natural), ("worst", scores.worst)):
        finite = np.all(np.isfinite(x))
        row[f"{which} IQM"] = iqm(x) if finite else float("nan")
        row[f"{which} IQM CI low"], row[f"{which} IQM CI high"] = bootstrap_ci(x, reps, seed)
    return row


def _labels(entries: Sequence) -> list:
    """Short names for the runs: their directory names, made unique with the parent's; a
    pooled entry is named by its first directory and how many more it pools."""
    paths = [os.path.normpath(e[0]) for e in entries]
    base = [os.path.basename(p) for p in paths]
    names = [b if base.count(b) == 1 else os.path.join(os.path.basename(os.path.dirname(p)), b)
             for p, b in zip(paths, base)]
    return [n if len(e) == 1 else f"{n} (+{len(e) - 1} run{'s' if len(e) > 2 else ''})" for n, e in zip(names, entries)]


def _entries(runs) -> list:
    """`compare`'s runs as lists of paths: a path alone, or a sequence pooled as one method."""
    if isinstance(runs, (str, os.PathLike)):
        runs = [runs]
    return [[os.fspath(r)] if isinstance(r, (str, os.PathLike)) else [os.fspath(x) for x in r] for r in runs]


def compare(runs: Sequence[str], out: Optional[str] = None, eps: Optional[float] = None, reps: int = 2000,
            seed: int = 0) -> Comparison:
    """Compare run directories in one table (and, with `out`, files and plots).

    Args:
      runs: run directories written by `train(out=...)`, ideally evaluated (`barpo eval`);
        an entry that is a list of directories pools one method's seeds trained in
        several runs (`read_pooled`).
      out: write comparison.{csv,md}, natural_vs_worst.png and learning_curves.png here
        (None: write nothing).
      eps: read each run's robustness report at this budget (None: at the eps it was
        trained with; a run with only one report uses that one).
      reps: bootstrap resamples of each confidence interval.
      seed: the bootstrap's PRNG seed (fixed, so the table is reproducible).

    Returns:
      A Comparison (`table()` for Markdown, `rows` for numbers, `files` written).

    Raises:
      ConfigError: no runs, a path that holds no run, no report at the requested eps, or
        a pooled entry whose runs are not one method's seeds evaluated alike.
    """
    runs = _entries(runs)
    if not runs or not all(runs):
        raise ConfigError("compare needs at least one run directory")
    if int(reps) != reps or reps < 1:
        raise ConfigError(f"reps must be a positive integer, got {reps!r}")
    scores = [read_pooled(r, eps) for r in runs]
    rows = tuple(_row(s, label, int(reps), seed) for s, label in zip(scores, _labels(runs)))
    result = Comparison(tuple(scores), rows, int(reps))
    return result.save(out) if out is not None else result


# ---- plots ---------------------------------------------------------------------
def plot_scatter(runs: Sequence[RunScores], path: Optional[str] = None):
    """Natural return (x) against worst case (y), one dot per seed, one colour per run;
    the median agent circled. Runs without a robustness report have no worst case and
    are left out (None when no run has one)."""
    shown = [r for r in runs if np.any(np.isfinite(r.worst))]
    if not shown:
        return None
    from .plots import finish, subplots
    fig, ax = subplots(path, figsize=(5.5, 4.5))
    for i, r in enumerate(shown):
        color = f"C{i % 10}"
        ax.scatter(r.natural, r.worst, color=color, alpha=0.7, label=f"{r.name} ({len(r.seeds)} seeds)")
        m = r.median_agent
        ax.scatter([r.natural[m]], [r.worst[m]], facecolors="none", edgecolors=color, s=160, lw=1.5)
    lo = min(float(np.nanmin(np.r_[r.natural, r.worst])) for r in shown)
    hi = max(float(np.nanmax(np.r_[r.natural, r.worst])) for r in shown)
    ax.plot([lo, hi], [lo, hi], "k:", lw=1, label="worst = natural")
    ax.set_xlabel("natural return")
    ax.set_ylabel("worst case over attacks")
    ax.set_title("each seed; median agent circled")
    ax.legend(fontsize=7)
    finish(fig, path)
    return path


def _pooled_returns(paths: Sequence[str]) -> Optional[np.ndarray]:
    """[seed, iteration] training returns of every seed in `paths` (NaN after a shorter
    run's last iteration); None when a run has no metrics."""
    curves = []
    for path in paths:
        try:
            ret = _metrics(path).get("episode_return")
        except ConfigError:
            return None
        if ret is None:
            return None
        curves.append(np.asarray(ret, float))
    length = max(c.shape[1] for c in curves)
    return np.concatenate([np.pad(c, ((0, 0), (0, length - c.shape[1])), constant_values=np.nan) for c in curves])


def plot_learning_curves(runs: Sequence[RunScores], path: Optional[str] = None):
    """Each run's training return against env steps: the mean over seeds, with the
    range between the lowest and highest seed shaded. None when no run has metrics."""
    curves = []
    for r in runs:
        ret = _pooled_returns(r.paths)
        if ret is not None and ret.size:
            curves.append((r, ret, read_config(r.path).batch_size))
    if not curves:
        return None
    from .plots import finish, subplots
    fig, ax = subplots(path, figsize=(6.5, 4))
    for i, (r, ret, batch) in enumerate(curves):
        steps = (np.arange(ret.shape[1]) + 1) * batch
        with warnings.catch_warnings():  # iterations where no episode ended are NaN for every seed
            warnings.simplefilter("ignore", RuntimeWarning)
            mean, low, high = np.nanmean(ret, 0), np.nanmin(ret, 0), np.nanmax(ret, 0)
        ok = np.isfinite(mean)
        ax.plot(steps[ok], mean[ok], color=f"C{i % 10}", lw=1.5, label=f"{r.name} ({ret.shape[0]} seeds)")
        ax.fill_between(steps[ok], low[ok], high[ok], color=f"C{i % 10}", alpha=0.15)
    ax.set_xlabel("env steps per seed")
    ax.set_ylabel("training episode return")
    ax.set_title("mean over seeds; shaded: lowest to highest seed")
    ax.legend(fontsize=7)
    finish(fig, path)
    return path
