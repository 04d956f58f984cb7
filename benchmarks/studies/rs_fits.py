"""Robust Sarsa fitted once against several times per victim, on the same agents and episodes.

    barpo eval COPY --attacks none,rs --rs-fits 4 --no-masking-check   # COPY: `cp -r RUN COPY`
    python -m benchmarks.studies.rs_fits --pair RUN COPY [--pair RUN COPY ...] --out OUT

RUN (or RUN+RUN, seeds pooled as in `barpo compare`) holds a table's report, whose `rs`
column is one Q fit per victim; COPY holds the same agents evaluated under `rs` with several
fits per victim, the strongest on held-out episodes kept (`--rs-fits`, docs/attacks.md).
Both play the same episodes, so the natural returns must agree (`one_sided.replay_mismatch`). Per seed: `rs` once and
with K fits, the fit kept and each fit's held-out return, and the seed's worst case over
RUN's attacks before and after the K-fit column is added; per method, the median agent's
worst case before and after.

Writes OUT.{json,md} with provenance and, under OUT/, each run's config and reports.
"""
from __future__ import annotations

import argparse

import numpy as np

from barpo_jax.compare import lower_median_index, pooled_paths, read_pooled
from barpo_jax.config import ConfigError
from benchmarks import _provenance as prov
from benchmarks.studies.one_sided import read_report, replay_mismatch
from benchmarks.study_status import keep_reports

SEED_HEADERS = ["method", "seed", "natural", "rs, 1 fit", "rs, K fits", "fit kept", "held-out return per fit",
                "worst before", "worst after"]
METHOD_HEADERS = ["method", "seeds", "K", "rs lower with K fits", "median agent's worst before",
                  "median agent's worst after", "fitted on (1 fit / K fits)"]


def _reports(entry: str) -> list:
    """The robustness reports of RUN or RUN+RUN, at the budget its scores were measured at."""
    scores = read_pooled(pooled_paths(entry))
    return [read_report(path, scores.eps) for path in scores.paths]


def _column(report, name: str) -> np.ndarray:
    if name not in report.attacks:
        raise ConfigError(f"a report of {report.env}/{report.algo} holds no {name!r} column: evaluate it with "
                          f"`barpo eval RUN --attacks {name} --add`")
    return report.returns[:, report.attacks.index(name)]


def compare(run: str, copy: str) -> dict:
    """One method's per-seed rows and summary (see the module docstring)."""
    rows, before, after, devices = [], [], [], set()
    runs, copies = _reports(run), _reports(copy)
    if [r.seeds for r in runs] != [c.seeds for c in copies]:
        raise ConfigError(f"{copy!r} holds other seeds than {run!r}: copy the runs (`cp -r`) and evaluate the copy")
    for table, many in zip(runs, copies):
        why = replay_mismatch(table, many)
        if why:
            raise ConfigError(f"{copy!r} does not replay {run!r}'s agents and episodes ({why}): copy the runs "
                              "(`cp -r`) and evaluate the copy")
        info = many.learned.get("rs", {})
        if "chosen_fit" not in info:
            raise ConfigError(f"{copy!r}'s rs was fitted once: evaluate it with --rs-fits K (K > 1)")
        once, k_fits = _column(table, "rs"), _column(many, "rs")
        devices.add((table.learned.get("rs", {}).get("device", "unrecorded"), info.get("device", "unrecorded")))
        for i, seed in enumerate(table.seeds):
            worst, worst_k = float(table.worst_case[i]), float(min(table.worst_case[i], k_fits[i]))
            before.append(worst)
            after.append(worst_k)
            rows.append([f"{table.algo}", seed, round(float(table.natural[i]), 1), round(float(once[i]), 1),
                         round(float(k_fits[i]), 1), info["chosen_fit"][i],
                         " / ".join(f"{x:.0f}" for x in info["select_returns"][i]), round(worst, 1),
                         round(worst_k, 1)])
    m_before, m_after = lower_median_index(np.asarray(before)), lower_median_index(np.asarray(after))
    lower = sum(1 for r in rows if r[4] < r[3])
    summary = [runs[0].algo, len(rows), len(info["select_returns"][0]), f"{lower} of {len(rows)}",
               f"{before[m_before]:.1f} (seed {rows[m_before][1]})", f"{after[m_after]:.1f} (seed {rows[m_after][1]})",
               "; ".join(f"{a} / {b}" for a, b in sorted(devices))]
    return {"run": run, "copy": copy, "rows": rows, "summary": summary}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pair", nargs=2, action="append", required=True, metavar=("RUN", "COPY"),
                   help="a table's run (RUN or RUN+RUN) and its copy evaluated with --rs-fits K (repeatable)")
    p.add_argument("--out", required=True, help="stem of the results files (OUT.md, OUT.json; reports in OUT/)")
    a = p.parse_args(argv)
    try:
        results = [compare(run, copy) for run, copy in a.pair]
    except (ConfigError, FileNotFoundError) as e:
        raise SystemExit(f"rs_fits: error: {e}")
    for run, copy in a.pair:
        for entry in (run, copy):
            for path in pooled_paths(entry):
                keep_reports(path, a.out)
    prov.write_results(
        a.out, prov.provenance(), {"methods": results},
        [("Per method", METHOD_HEADERS, [r["summary"] for r in results], None,
          "The worst case is over the table run's attacks; 'after' adds the K-fit rs column."),
         ("Per seed", SEED_HEADERS, [row for r in results for row in r["rows"]])],
        "Robust Sarsa fitted once and several times per victim",
        notes=[__doc__.split("\n\n")[2].replace("\n", " ")])
    with open(a.out + ".md") as f:
        print(f.read())


if __name__ == "__main__":
    main()
