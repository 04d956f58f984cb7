"""How far the study's conclusion depends on the MDP design and on the guidance weight:
the same measurement as `run_study` over every corridor variant tried, then over kappa."""

from __future__ import annotations

import dataclasses

from .study import StudyConfig, run_study

#: Every corridor variant that was tried while designing the default one.
SWEEP_DESIGNS: tuple[tuple[str, dict], ...] = (
    ("default", {}),
    ("radius=2", dict(radius=2)),
    ("radius=3 (all cells confusable)", dict(radius=3)),
    ("deterministic go (p_advance=1)", dict(p_advance=1.0)),
    ("rho_start=0.5", dict(rho_start=0.5)),
    ("n=3, G=1.9", dict(n_chain=3, goal_reward=1.9)),
    ("n=3, G=1.9, radius=2", dict(n_chain=3, goal_reward=1.9, radius=2)),
    ("n=6, G=3.5", dict(n_chain=6, goal_reward=3.5)),
    ("gamma=0.9, G=2.0", dict(gamma=0.9, goal_reward=2.0)),
    ("gamma=0.9, G=2.0, rho_start=0.85, radius=3", dict(gamma=0.9, goal_reward=2.0, rho_start=0.85, radius=3)),
    ("3 actions (+wait)", dict(wait_action=True)),
    ("3 actions (+wait), radius=3", dict(wait_action=True, radius=3)),
)


def design_sweep(base: StudyConfig, designs=SWEEP_DESIGNS, kappas=(0.25, 0.5, 2.0, 4.0)) -> str:
    """Markdown tables: optimal/stuck fractions per design, then per kappa.

    Same measurement as `run_study`; only the MDP (or kappa) changes. Runs one study
    per design and one per kappa.

    Args:
      base: the study's settings; each design replaces fields of ``base.mdp``.
      designs: (label, {ChainConfig field: value}) pairs.
      kappas: guidance weights tried on ``base``'s own design, for those of "barpo" and
        "arpo_guided" that are in ``base.methods``.

    Returns:
      Two Markdown tables separated by a blank line: per design, ``J*`` and each method's
        optimal / stuck fractions; per kappa, each guided method's optimal / stuck fractions
        and mean ``J_R``.

    Raises:
      ValueError: a design that gives no valid or no ISA-consistent MDP, or settings
        `run_study` rejects.
    """
    lines = [
        "| design | J* | " + " | ".join(f"{m} opt / stuck" for m in base.methods) + " |",
        "|---|---|" + "---|" * len(base.methods),
    ]
    for name, kw in designs:
        cfg = dataclasses.replace(base, mdp=dataclasses.replace(base.mdp, **kw))
        r = run_study(cfg)
        cells = [f"{r.summary[m]['frac_optimal']:.2f} / {r.summary[m]['frac_stuck']:.2f}" for m in r.methods]
        lines.append(f"| {name} | {r.j_star:.3f} | " + " | ".join(cells) + " |")
    guided = tuple(m for m in ("barpo", "arpo_guided") if m in base.methods)
    lines += [
        "",
        "| kappa (default design) | " + " | ".join(f"{m} opt / stuck / mean J_R" for m in guided) + " |",
        "|---|" + "---|" * len(guided),
    ]
    for k in kappas:
        r = run_study(dataclasses.replace(base, kappa=k, methods=guided))
        cells = [
            f"{r.summary[m]['frac_optimal']:.3f} / {r.summary[m]['frac_stuck']:.3f} / {r.summary[m]['mean_robust']:.3f}"
            for m in guided
        ]
        lines.append(f"| {k:g} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
