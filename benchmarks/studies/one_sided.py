"""Does a settled claim survive attacks added to the side it puts higher?

    python -m benchmarks.studies.one_sided HIGHER LOWER --out benchmarks/results/one_sided/NAME

HIGHER and LOWER are run directories (RUN+RUN pools one method's seeds, as in `barpo
compare`); HIGHER holds attacks LOWER was not evaluated under (say `sa_rl`, added with
`barpo eval HIGHER --attacks sa_rl --add`), or the masking check (the gradient attacks at
twice the steps and restarts, which count as attacks here). The claims table compares worst
cases over the attacks both reports hold (`reproduce.claim_rows`). This compares HIGHER's
worst case over all of its attacks with LOWER's over all of its own. Why that is enough: an attack can only
lower a per-seed worst case, and lowering the lower side's values can only raise the ratios
and, for a comparison that puts HIGHER above, lower the rank test's p. So if HIGHER stays
settled above LOWER here, it stays so whatever attack is later added to LOWER; a claim
that loses its settling here needs the same attacks on both sides before it can be judged.

A learned attack at a second budget or scan (say PA-AD at the victim's full budget
beside the table's CPU fit) needs its own report, so it is added to a second copy of the
higher runs: `--also COPY` (repeatable) takes that copy's attacks as more columns of the
higher side. COPY must hold the same agents, by config, seeds and natural returns; a
column it shares with HIGHER is left out when its values are the same (the copied table
columns). Learned attacks are named with the budget and scan they were fitted at.

Writes OUT.{json,md} with provenance: the claims-table row (common attacks), the row with
HIGHER's extra attacks, HIGHER's per-seed worst cases before and after and the attack that
took each; and, under OUT/, each HIGHER run's config.json and robustness reports.
"""
from __future__ import annotations

import argparse
import os

import numpy as np

from barpo_jax.compare import config_differences, lower_median_index, pooled_paths, read_config, read_pooled
from barpo_jax.config import ConfigError
from barpo_jax.evaluate import RobustnessReport, report_file
from benchmarks import _provenance as prov
from benchmarks.study_status import keep_reports
from benchmarks.studies.reproduce import CLAIM_NOTES, CLAIM_RULE, claim_scores, judge, judged_cells

CHECK = "masking check"   # the column name of the lowest check column
HEADERS = ["worst case over", "median agents", "ratio (median agents)", "ratio of IQMs [95% CI]",
           "p (exact rank test)", "settled?"]


def one_sided(higher, lower, checks=None, more=None, labels=None) -> dict:
    """The comparison of two `RunScores` over their common attacks, and with every attack
    `higher` holds (and, given `checks`, [seed] its lowest masking-check column: the
    gradient attacks at twice the steps and restarts, attacks too; given `more`,
    {column: [seed] values} from copies of `higher`, `copy_columns`); each `judge`d
    (`higher` first). `labels` ({attack: column name}) names `higher`'s columns."""
    table = claim_scores(higher, lower, "worst")   # as the claims table compares them
    if table is None:
        raise ConfigError(f"{higher.name} and {lower.name} share no attack: evaluate both under the "
                          "claims table's attacks first")
    before, before_median, lower_table, lower_median, common = table
    names = [(labels or {}).get(a, a) for a in higher.attacks]
    columns = dict(zip(names, higher.by_attack))
    extra = tuple(name for a, name in zip(higher.attacks, names) if a not in lower.attacks) + tuple(more or {})
    columns.update({name: np.asarray(values, float) for name, values in (more or {}).items()})
    if checks is not None:
        columns[CHECK] = np.asarray(checks, float)
        extra += (CHECK,)
    if not extra:
        raise ConfigError(f"{higher.name} holds no attack {lower.name} lacks: add one first "
                          f"(`barpo eval {higher.path} --attacks sa_rl --add ...`)")
    stacked = np.stack(list(columns.values()))  # [attack, seed]
    after = stacked.min(axis=0)
    added = np.min(np.stack([columns[a] for a in extra]), axis=0)
    return {"common": common, "extra": extra, "seeds": list(higher.seeds), "before": before,
            "added": added, "after": after, "taken_by": [list(columns)[i] for i in stacked.argmin(0)],
            "table": judge(before, before_median, lower_table, lower_median),
            "with extra": judge(after, lower_median_index(after), lower.worst, lower.median_agent)}


def column_name(scores, attack: str) -> str:
    """`attack`, a learned one named with the budget and scan it was fitted at in `scores`'
    report ('pa_ad (2M steps, scan none)')."""
    info = RobustnessReport.load(report_file(scores.path, scores.eps)).learned.get(attack, {})
    if "timesteps" not in info:
        return attack
    scan = f", scan {info['scan'].split(':')[0]}" if "scan" in info else ""
    return f"{attack} ({info['timesteps'] / 1e6:.3g}M steps{scan})"


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
    if not np.allclose(copy.natural, higher.natural):
        raise refuse("other natural returns: other agents, or other episodes")
    own = dict(zip(higher.attacks, higher.by_attack))
    names = {column_name(higher, a) for a in higher.attacks} | set(taken)
    added = {}
    for attack, values in zip(copy.attacks, copy.by_attack):
        if attack in own and np.allclose(values, own[attack]):
            continue
        name = column_name(copy, attack)
        if name in names:
            name = f"{name} ({os.path.basename(os.path.normpath(copy.path))})"
        added[name] = values
    return added


def masking_checks(scores) -> tuple:
    """([seed] the lowest masking-check column of each run's report behind `scores`, or
    None unless every one of them holds the check; a line that says which did)."""
    lowest = []
    for run in scores.paths:
        report = RobustnessReport.load(report_file(run, scores.eps))
        lowest.append(np.asarray(report.check_returns, float).min(axis=1) if report.checks else None)
    held = [run for run, x in zip(scores.paths, lowest) if x is not None]
    if len(held) == len(lowest):
        return np.concatenate(lowest), "Masking check: in every report of the higher side, counted as an attack."
    note = "Masking check: in no report of the higher side." if not held else \
        f"Masking check: only in {', '.join(held)}, so left out (it counts only when every part holds it)."
    return None, note


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("higher", help="the run(s) the claim puts higher, holding the added attacks (RUN or RUN+RUN)")
    p.add_argument("lower", help="the run(s) the claim puts lower (RUN or RUN+RUN)")
    p.add_argument("--also", action="append", default=[], metavar="COPY",
                   help="a copy of HIGHER's runs (RUN or RUN+RUN) evaluated under other attacks or budgets; "
                        "its attacks count as HIGHER's (repeatable)")
    p.add_argument("--out", required=True, help="stem of the results files (OUT.md, OUT.json; reports in OUT/)")
    a = p.parse_args(argv)
    try:
        higher, lower = read_pooled(pooled_paths(a.higher)), read_pooled(pooled_paths(a.lower))
        checks, check_note = masking_checks(higher)
        copies = [read_pooled(pooled_paths(entry)) for entry in a.also]
        more = {}
        for copy in copies:
            more.update(copy_columns(higher, copy, more))
        labels = {a: column_name(higher, a) for a in higher.attacks}
        result = one_sided(higher, lower, checks, more, labels)
    except (ConfigError, FileNotFoundError) as e:
        raise SystemExit(f"one_sided: error: {e}")
    rows = [[f"{', '.join(result['common'])} (both sides; the claims table's)", *judged_cells(result["table"])],
            [f"{higher.algo}: also {', '.join(result['extra'])}; {lower.algo}: {', '.join(lower.attacks)}",
             *judged_cells(result["with extra"])]]
    seeds = [[s, f"{b:.1f}", f"{d:.1f}", f"{x:.1f}", t] for s, b, d, x, t in
             zip(result["seeds"], result["before"], result["added"], result["after"], result["taken_by"])]
    title = f"{higher.name} above {lower.name}, with {', '.join(result['extra'])} added to {higher.algo}"
    for run in higher.paths + tuple(path for copy in copies for path in copy.paths):
        keep_reports(run, a.out)
    prov.write_results(a.out, prov.provenance(), result,
                       [("The comparison", HEADERS, rows, None, CLAIM_RULE),
                        (f"{higher.algo}'s worst case per seed", ["seed", "before", "under the added attacks",
                                                                  "with them", "taken by"], seeds)],
                       title, notes=[__doc__.split("\n\n")[2].replace("\n", " "), check_note] +
                       [n for n in CLAIM_NOTES if not n.startswith("Goals")])
    print(open(a.out + ".md").read())


if __name__ == "__main__":
    main()
