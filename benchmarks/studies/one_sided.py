"""Does a settled claim survive attacks added to the side it puts higher?

    python -m benchmarks.studies.one_sided HIGHER LOWER [--also COPY] [--lower-also COPY] --out OUT

HIGHER and LOWER are run directories (RUN+RUN pools one method's seeds, as in `barpo
compare`); HIGHER holds attacks LOWER was not evaluated under (say `sa_rl`, added with
`barpo eval HIGHER --attacks sa_rl --add`), or the masking check (the gradient attacks at
twice the steps and restarts, which count as attacks here). The claims table compares worst
cases over the attacks both reports hold (`reproduce.claim_rows`). This compares HIGHER's
worst case over all of its attacks with LOWER's over all of its own. Why that is enough: an
attack can only lower a per-seed worst case, and lowering the lower side's values can only
raise the ratios and, for a comparison that puts HIGHER above, lower the rank test's p. So if HIGHER stays
settled above LOWER here, it stays so whatever attack is later added to LOWER; a claim
that loses its settling here is judged again with the same attacks on both sides, the
third row, once LOWER holds more than the claims table's attacks. The same reasoning run
backwards: where LOWER holds attacks HIGHER was not evaluated under, the second row cannot
put HIGHER above (those attacks might lower it too) and says so; the third row judges.

A learned attack at a second budget or scan (say PA-AD at the victim's full budget beside
the table's CPU fit) needs its own report, so it goes into a copy of a side's runs: `--also
COPY` (and `--lower-also COPY`, repeatable) adds that copy's attacks to the side. A copy
must hold the same agents, by config, seeds, episodes and natural returns (replayed on
another CPU type they agree within its rounding: `NATURAL_RTOL`, `NATURAL_SE`); a column
copied with the runs (the same values) is left out. Learned attacks are named by the budget and scan they
were fitted at, so that only the same fit counts as the same attack on both sides.

Writes OUT.{json,md} with provenance: the comparison's rows, each side's per-seed worst
cases over the claims table's attacks and over all of its own with the attack that took
each; and, under OUT/, each run's config.json and robustness reports.
"""
from __future__ import annotations

import argparse
import os

import numpy as np

from barpo_jax.compare import config_differences, lower_median_index, pooled_paths, read_config, read_pooled
from barpo_jax.config import ConfigError
from barpo_jax.evaluate import RobustnessReport, report_file
from benchmarks import _provenance as prov
from benchmarks.studies.reproduce import CLAIM_NOTES, CLAIM_RULE, claim_scores, judge, judged_cells
from benchmarks.study_status import keep_reports

CHECK = "masking check"   # the column name of the lowest check column
# A copy's natural returns recomputed on another CPU type replay the same episodes, rounded
# otherwise: on hopper they agree within 0.3 % (attack_strength/rs_refit_hopper_lineage_barpo.md),
# on walker2d, whose episodes drift apart from a rounding difference, the mean of 50 episodes
# moved by up to 2.9 % (0.8 standard errors, AMD EPYC against Intel Xeon). A seed's natural
# return may differ by the larger of NATURAL_RTOL and NATURAL_SE standard errors of its mean;
# other episodes are refused by the report's settings, other agents differ by more.
NATURAL_RTOL = 0.01
NATURAL_SE = 4.0
HEADERS = ["worst case over", "median agents", "ratio (median agents)", "ratio of IQMs [95% CI]",
           "p (exact rank test)", "settled?"]


def one_sided(higher, lower, higher_columns=None, lower_columns=None) -> dict:
    """Two `RunScores` compared three ways, each `judge`d (`higher` first): over the attacks
    the claims table uses (`common`); every column of `higher` against every column of
    `lower` ("with extra"; valid one way, see the module's docstring); and, when both sides
    hold more than `common`, over the columns both hold ("same attacks").

    Args:
      higher_columns, lower_columns: {column: [seed] values}, every attack a side holds
        (`side_columns`: its reports', its copies', its masking check); default: its
        report's attacks.
    """
    table = claim_scores(higher, lower, "worst")   # as the claims table compares them
    if table is None:
        raise ConfigError(f"{higher.name} and {lower.name} share no attack: evaluate both under the "
                          "claims table's attacks first")
    before, before_median, lower_table, lower_median, common = table
    high = higher_columns or dict(zip(higher.attacks, higher.by_attack))
    low = lower_columns or dict(zip(lower.attacks, lower.by_attack))
    if len(high) <= len(common):
        raise ConfigError(f"{higher.name} holds no attack {lower.name} lacks: add one first "
                          f"(`barpo eval {higher.path} --attacks sa_rl --add ...`)")
    extra = tuple(name for name in high if name not in low)
    after, taken_by = _worst(high)
    lower_after, lower_taken_by = _worst(low)
    with_extra = _backed(_judged(after, lower_after), extra, tuple(name for name in low if name not in high),
                         higher.algo, lower.algo)
    result = {"common": common, "extra": extra, "seeds": list(higher.seeds), "before": before,
              "added": _worst(high, extra)[0] if extra else after, "after": after, "taken_by": taken_by,
              "lower columns": tuple(low), "lower seeds": list(lower.seeds), "lower before": lower_table,
              "lower after": lower_after, "lower taken_by": lower_taken_by,
              "table": judge(before, before_median, lower_table, lower_median),
              "with extra": with_extra}
    shared = tuple(name for name in high if name in low)
    if len(shared) > len(common) and len(low) > len(common):
        result["same attacks"] = {"over": shared, **_judged(_worst(high, shared)[0], _worst(low, shared)[0])}
    return result


def _backed(judged: dict, extra: tuple, missing: tuple, higher: str, lower: str) -> dict:
    """`judged` ("with extra") with its verdict withdrawn where it rests on attacks only the
    other side faced: a side settled above holds up only if it holds every attack the other
    side holds (`missing`: the lower side's that the higher side lacks; `extra`: the reverse)."""
    unbacked = {"settled: higher": (missing, lower), "settled: lower": (extra, higher)}.get(judged["settled"])
    if unbacked is None or not unbacked[0]:
        return judged
    attacks, side = unbacked
    return {**judged, "settled": f"no verdict: only {side} faced {', '.join(attacks)} (see the same-attacks row)"}


def _judged(xa, xb) -> dict:
    """`judge` of per-seed values, each side's median agent chosen afresh from them."""
    return judge(xa, lower_median_index(xa), xb, lower_median_index(xb))


def _worst(columns: dict, names=None) -> tuple:
    """([seed] the lowest of `columns` (those in `names`), [seed] the column that gave it)."""
    names = list(columns) if names is None else list(names)
    stacked = np.stack([np.asarray(columns[n], float) for n in names])   # [column, seed]
    return stacked.min(axis=0), [names[i] for i in stacked.argmin(axis=0)]


def side_columns(scores, copies=(), checks=None) -> dict:
    """{column: [seed] values}: every attack one side holds, learned ones named by budget and
    scan (`column_names`); then its `copies`' (`copy_columns`) and its masking check."""
    names = column_names(scores)
    columns = {names[a]: x for a, x in zip(scores.attacks, scores.by_attack)}
    for copy in copies:
        columns.update(copy_columns(scores, copy, columns))
    if checks is not None:
        columns[CHECK] = np.asarray(checks, float)
    return columns


def column_names(scores) -> dict:
    """{attack: its column's name} for `scores`' attacks: a learned one named with the budget
    and scan it was fitted at in their report ('pa_ad (2M steps, scan none)')."""
    learned = read_report(scores.path, scores.eps).learned
    names = {}
    for attack in scores.attacks:
        info = learned.get(attack, {})
        scan = f", scan {info['scan'].split(':')[0]}" if "scan" in info else ""
        names[attack] = f"{attack} ({info['timesteps'] / 1e6:.3g}M steps{scan})" if "timesteps" in info else attack
    return names


def copy_columns(higher, copy, taken=()) -> dict:
    """{column: [seed] values}: the attacks `copy`, a copy of `higher`'s runs evaluated under
    other attacks or budgets, adds to `higher`'s. A column copied with the runs (the same
    values) is left out; a name already among `higher`'s or `taken` gets the copy's run name.

    Raises:
      ConfigError: when `copy` does not hold `higher`'s agents evaluated on its episodes.
    """
    def refuse(why):
        return ConfigError(f"{copy.path!r} is not a copy of {higher.path!r} ({why}): copy the higher runs "
                           f"(`cp -r {higher.path} ...`) and evaluate the copy with --add")
    if len(copy.paths) != len(higher.paths) or tuple(copy.seeds) != tuple(higher.seeds):
        raise refuse(f"seeds {list(copy.seeds)} against {list(higher.seeds)}")
    for mine, theirs in zip(higher.paths, copy.paths):
        differ = config_differences(read_config(mine), read_config(theirs))
        if differ:
            raise refuse(f"configs differ in {', '.join(sorted(differ))}")
        why = replay_mismatch(read_report(mine, higher.eps), read_report(theirs, copy.eps))
        if why:
            raise refuse(why)
    own = dict(zip(higher.attacks, higher.by_attack))
    names = set(column_names(higher).values()) | set(taken)
    copy_names = column_names(copy)
    added = {}
    for attack, values in zip(copy.attacks, copy.by_attack):
        if attack in own and np.allclose(values, own[attack]):
            continue
        name = copy_names[attack]
        if name in names:
            name = f"{name} ({os.path.basename(os.path.normpath(copy.path))})"
        added[name] = values
    return added


def read_report(run: str, eps: float) -> RobustnessReport:
    """The robustness report of `run` at budget `eps`."""
    return RobustnessReport.load(report_file(run, eps))


def replay_mismatch(table: RobustnessReport, copy: RobustnessReport):
    """Why `copy` is not `table`'s agents replayed on `table`'s episodes, or None: the same
    seeds, episodes, evaluation seed and keying, and natural returns that agree within the
    rounding of another CPU type (NATURAL_RTOL, NATURAL_SE)."""
    settings = [n for n in ("episodes", "eval_seed", "keying") if getattr(table, n) != getattr(copy, n)]
    if settings:
        return f"other episodes: {', '.join(settings)} differ"
    if list(table.seeds) != list(copy.seeds):
        return f"seeds {list(copy.seeds)} against {list(table.seeds)}"
    standard_error = np.asarray(table.returns_std)[:, 0] / np.sqrt(table.episodes)
    allowed = np.maximum(NATURAL_RTOL * np.abs(table.natural), NATURAL_SE * standard_error)
    off = [(s, a, b) for s, a, b, ok in zip(table.seeds, copy.natural, table.natural,
                                            np.abs(copy.natural - table.natural) <= allowed) if not ok]
    if off:
        listed = ", ".join(f"seed {s}: {a:.1f} against {b:.1f}" for s, a, b in off)
        return (f"other natural returns ({listed}; beyond {NATURAL_RTOL:.0%} and {NATURAL_SE:g} standard errors): "
                "other agents, or other episodes")
    return None


def masking_checks(scores, side: str) -> tuple:
    """([seed] the lowest masking-check column of each run's report behind `scores`, or
    None unless every one of them holds the check; a line that says which did)."""
    lowest = []
    for run in scores.paths:
        report = read_report(run, scores.eps)
        lowest.append(np.asarray(report.check_returns, float).min(axis=1) if report.checks else None)
    held = [run for run, x in zip(scores.paths, lowest) if x is not None]
    if len(held) == len(lowest):
        return np.concatenate(lowest), f"Masking check: in every report of the {side} side, counted as an attack."
    note = f"Masking check: in no report of the {side} side." if not held else \
        f"Masking check: only in {', '.join(held)}, so left out (it counts only when every part holds it)."
    return None, note


def _rows(result, higher, lower) -> list:
    """The comparison table's rows: the claims table's, every attack each side holds, and
    the same attacks on both sides (when there is such a row)."""
    rows = [[f"{', '.join(result['common'])} (in both sides' reports; as the claims table compares)",
             *judged_cells(result["table"])],
            [(f"every attack each side holds ({higher.algo}'s beyond {lower.algo}'s: "
              f"{', '.join(result['extra']) or 'none'}; {lower.algo}'s: {', '.join(result['lower columns'])})"),
             *judged_cells(result["with extra"])]]
    if "same attacks" in result:
        rows.append([f"the same attacks on both sides: {', '.join(result['same attacks']['over'])}",
                     *judged_cells(result["same attacks"])])
    return rows


def _seed_tables(result, higher, lower) -> list:
    """Per seed and side: the worst case over the claims table's attacks, over every attack
    the side holds, and the attack that took it (the lower side's only when it holds more)."""
    header = ["seed", "claims table's attacks", "every attack it holds", "taken by"]
    tables = [(f"{higher.algo}'s worst case per seed", header,
               [[s, f"{b:.1f}", f"{x:.1f}", t] for s, b, x, t in
                zip(result["seeds"], result["before"], result["after"], result["taken_by"])])]
    if len(result["lower columns"]) > len(result["common"]):
        tables.append((f"{lower.algo}'s worst case per seed", header,
                       [[s, f"{b:.1f}", f"{x:.1f}", t] for s, b, x, t in
                        zip(result["lower seeds"], result["lower before"], result["lower after"],
                            result["lower taken_by"])]))
    return tables


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("higher", help="the run(s) the claim puts higher, holding the added attacks (RUN or RUN+RUN)")
    p.add_argument("lower", help="the run(s) the claim puts lower (RUN or RUN+RUN)")
    p.add_argument("--also", action="append", default=[], metavar="COPY",
                   help="a copy of HIGHER's runs (RUN or RUN+RUN) evaluated under other attacks or budgets; "
                        "its attacks count as HIGHER's (repeatable)")
    p.add_argument("--lower-also", action="append", default=[], metavar="COPY",
                   help="the same for LOWER (repeatable)")
    p.add_argument("--out", required=True, help="stem of the results files (OUT.md, OUT.json; reports in OUT/)")
    a = p.parse_args(argv)
    try:
        higher, lower = read_pooled(pooled_paths(a.higher)), read_pooled(pooled_paths(a.lower))
        columns, notes, runs = [], [], list(higher.paths + lower.paths)
        for scores, entries, side in ((higher, a.also, "higher"), (lower, a.lower_also, "lower")):
            checks, note = masking_checks(scores, side)
            copies = [read_pooled(pooled_paths(entry)) for entry in entries]
            columns.append(side_columns(scores, copies, checks))
            notes.append(note)
            runs += [path for copy in copies for path in copy.paths]
        result = one_sided(higher, lower, *columns)
    except (ConfigError, FileNotFoundError) as e:
        raise SystemExit(f"one_sided: error: {e}")
    # what HIGHER holds beyond LOWER, or (where LOWER holds all of it) beyond HIGHER's own reports
    added = result["extra"] or [name for name in columns[0] if name not in column_names(higher).values()]
    title = f"{higher.name} above {lower.name}, with {', '.join(added)} added to {higher.algo}"
    for run in runs:
        keep_reports(run, a.out)
    prov.write_results(a.out, prov.provenance(), result,
                       [("The comparison", HEADERS, _rows(result, higher, lower), None, CLAIM_RULE),
                        *_seed_tables(result, higher, lower)],
                       title, notes=[__doc__.split("\n\n")[2].replace("\n", " "), *notes] +
                       [n for n in CLAIM_NOTES if not n.startswith("Goals")])
    with open(a.out + ".md") as f:
        print(f.read())


if __name__ == "__main__":
    main()
