"""Does robust Sarsa's sampled regulariser help once the certified (IBP) one is there?

    python -m benchmarks.studies.rs_regulariser [--timesteps 80000] [--fits 2] [--out ...]

Trains one small SPO victim, fits the rs Q with four regulariser settings (none,
sampled only, certified only, both; `--fits` keys each, all in one vmapped compile),
then runs the victim under the rs attack built from each Q. A stronger attack gives a
lower return; the setting whose attack bites hardest is the one to keep.
"""
from __future__ import annotations

import argparse
import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

import barpo_jax as bj
from barpo_jax.attacks import learned, robust_sarsa as rs
from barpo_jax.envs import VecEnv
from benchmarks import _provenance as prov

SETTINGS = {"none": (0.0, 0.0), "sampled": (0.0, 1.0), "certified": (1.0, 0.0), "both": (1.0, 1.0)}  # (reg, sampled_reg)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--timesteps", type=int, default=80_000)
    p.add_argument("--rs-iterations", type=int, default=100)
    p.add_argument("--fits", type=int, default=2)
    p.add_argument("--episodes", type=int, default=50)
    p.add_argument("--eps", type=float, nargs="+", default=[None],
                   help="attack radii (default: the victim's eps); one evaluation each")
    p.add_argument("--out", default="benchmarks/results/rs_regulariser_cpu")
    a = p.parse_args()
    pv = prov.provenance()
    cfg = bj.TrainConfig(env="inverted_pendulum", backend="spring", num_envs=128, unroll_length=16,
                         num_minibatches=8, num_epochs=4, episode_length=100, num_timesteps=a.timesteps,
                         chunk_iterations=8)
    victim = bj.train(cfg, progress=False)
    ac = victim.actor_critic()
    params, stats = victim.run(0)
    rcfg = dataclasses.replace(rs.RSConfig(), iterations=a.rs_iterations)
    env = VecEnv(cfg.env, cfg.backend, rcfg.num_envs, cfg.episode_length)

    def fit(reg, sampled, key):
        c = dataclasses.replace(rcfg, reg=reg, sampled_reg=sampled)
        return rs.fit(env, functools.partial(ac.dist, params), stats, key, c)

    regs = jnp.array([SETTINGS[s][0] for s in SETTINGS for _ in range(a.fits)])
    sampled = jnp.array([SETTINGS[s][1] for s in SETTINGS for _ in range(a.fits)])
    keys = jax.random.split(jax.random.PRNGKey(1), len(regs))
    qs, metrics = jax.jit(jax.vmap(fit))(regs, sampled, keys)
    attacks = {}
    for i, (name, f) in enumerate((s, f) for s in SETTINGS for f in range(a.fits)):
        q = jax.tree.map(lambda x: x[i], qs)
        attacks[f"rs_{name}_{f}"] = learned._rs_apply(q, None)
    results, rows = {}, []
    for eps in a.eps:
        report = bj.evaluate(victim, attacks=attacks, eps=eps, episodes=a.episodes, progress=False,
                             masking_check=False)
        rets = {name: float(report.returns[0, j]) for j, name in enumerate(report.attacks)}
        results[f"eps={report.eps}"] = {"natural": rets["none"]}
        for k, s in enumerate(SETTINGS):
            per_fit = [rets[f"rs_{s}_{f}"] for f in range(a.fits)]
            last = lambda m: float(np.mean(np.asarray(metrics[m])[k * a.fits:(k + 1) * a.fits, -10:]))
            results[f"eps={report.eps}"][s] = {
                "attacked_return_per_fit": per_fit, "td_loss": last("td_loss"), "bound_width": last("bound_width"),
                "action_sensitivity": last("action_sensitivity")}
            rows.append([report.eps, s, SETTINGS[s][0], SETTINGS[s][1], rets["none"], float(np.mean(per_fit)),
                         per_fit, last("td_loss"), last("bound_width"), last("action_sensitivity")])
            print(rows[-1], flush=True)
    settings = (f"victim: SPO, inverted_pendulum (spring), {a.timesteps} steps; rs: {a.rs_iterations} iterations of "
                f"{rcfg.num_envs}x{rcfg.unroll_length}, action_eps {rcfg.action_eps}, obs_eps {rcfg.obs_eps}, "
                f"{a.fits} fit keys per setting; attack strength 'strong'; {a.episodes} episodes of 100 steps. "
                "Lower attacked return = stronger attack. TD, width and sensitivity: mean of the last 10 iterations.")
    prov.write_results(a.out, pv, results, [("rs regulariser settings", [
        "eps", "setting", "reg (certified)", "sampled_reg", "natural", "attacked return (mean)", "per fit", "TD loss",
        "IBP width of Q", "sampled sensitivity"], rows, settings)], "Robust Sarsa: certified vs sampled regulariser")


if __name__ == "__main__":
    main()
