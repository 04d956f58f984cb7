"""Exact optimisation landscapes of SPO, ARPO and BARPO on a tiny ISA-MDP.

``python3 -m barpo_jax.landscape [--out DIR] [--sweep] ...``: the study's table, its two
figures, and with ``--sweep`` the design and kappa tables (docs/landscape.md).
"""

from __future__ import annotations

import argparse
import dataclasses
import os

import jax

from .mdp import ChainConfig, make_chain_mdp
from .plots import plot_final_values, plot_landscape_slice
from .study import StudyConfig, run_study
from .sweep import design_sweep


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join("benchmarks", "results", "landscape"))
    ap.add_argument("--n-inits", type=int, default=StudyConfig.n_inits)
    ap.add_argument("--n-steps", type=int, default=StudyConfig.n_steps)
    ap.add_argument("--lr", type=float, default=StudyConfig.lr)
    ap.add_argument("--optimizer", default=StudyConfig.optimizer, choices=("sgd", "adam"))
    ap.add_argument("--kappa", type=float, default=StudyConfig.kappa)
    ap.add_argument("--seed", type=int, default=StudyConfig.seed)
    ap.add_argument("--radius", type=int, default=ChainConfig.radius)
    ap.add_argument("--policy", default=StudyConfig.policy, choices=("tabular", "shared"),
                    help="logits per observation, or a small network shared across observations")
    ap.add_argument("--kl-temperature", type=float, default=StudyConfig.kl_temperature,
                    help="0: BARPO's KL adversary is the argmax; > 0: the soft (Gibbs) KL adversary")
    ap.add_argument("--sweep", action="store_true", help="also run the MDP-design and kappa sweep")
    ap.add_argument("--sweep-inits", type=int, default=300)
    args = ap.parse_args(argv)
    cfg = StudyConfig(
        mdp=dataclasses.replace(ChainConfig(), radius=args.radius),
        n_inits=args.n_inits,
        n_steps=args.n_steps,
        lr=args.lr,
        optimizer=args.optimizer,
        kappa=args.kappa,
        seed=args.seed,
        policy=args.policy,
        kl_temperature=args.kl_temperature,
    )
    mdp = make_chain_mdp(cfg.mdp)
    print(f"jax {jax.__version__}, backend {jax.default_backend()}")
    print(cfg)
    res = run_study(cfg, mdp)
    print(res.table())
    print(f"\nstudy wall time (compile + run): {res.seconds:.1f} s")
    os.makedirs(args.out, exist_ok=True)
    plot_landscape_slice(mdp, os.path.join(args.out, "landscape_slice.png"), kappa=cfg.kappa)
    plot_final_values(res, os.path.join(args.out, "final_robust_values.png"))
    print(f"wrote {args.out}/landscape_slice.png and {args.out}/final_robust_values.png")
    if args.sweep:
        print(f"\ndesign / kappa sweep ({args.sweep_inits} inits each, same seed and optimiser):")
        print(design_sweep(dataclasses.replace(cfg, n_inits=args.sweep_inits)))


if __name__ == "__main__":
    main()
