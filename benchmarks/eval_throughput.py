"""Robustness-evaluation throughput: N seeds x heuristic attacks x episodes in one program,
plus the time to train the learned `sa_rl` and `pa_ad` adversaries.

    python -m benchmarks.eval_throughput [--env hopper --backend mjx --seeds 17 --episodes 50 \
        --episode-length 1000 --attack-steps 2e6] [--out ...]

The victims are briefly trained SPO agents (evaluation cost does not depend on how
good they are). Every episode runs its full length inside the program (finished
episodes keep stepping but stop counting reward), so env steps = seeds x attacks x
episodes x episode_length exactly. Wall-clock times include compilation.
"""
from __future__ import annotations

import argparse
import time

import barpo_jax as bj
from benchmarks import _provenance as prov


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--env", default="inverted_pendulum")
    p.add_argument("--backend", default="spring")
    p.add_argument("--seeds", type=int, default=17)
    p.add_argument("--episodes", type=int, default=50)
    p.add_argument("--episode-length", type=int, default=200)
    p.add_argument("--train-steps", type=int, default=20_000)
    p.add_argument("--attack-steps", type=float, default=50_000)
    p.add_argument("--out", default="benchmarks/results/eval_throughput_cpu")
    a = p.parse_args()
    pv = prov.provenance()
    cfg = bj.TrainConfig(env=a.env, backend=a.backend, num_timesteps=a.train_steps, num_envs=128, unroll_length=16,
                         num_minibatches=8, episode_length=a.episode_length, num_seeds=a.seeds, chunk_iterations=5)
    victims = bj.train(cfg, progress=False)
    heuristic = ["random", "critic", "mad"]
    t0 = time.perf_counter()
    rep = bj.evaluate(victims, attacks=heuristic, episodes=a.episodes, progress=False)
    t_eval = time.perf_counter() - t0
    steps = a.seeds * (len(heuristic) + 1) * a.episodes * a.episode_length
    fits = {}
    for name in ("sa_rl", "pa_ad"):
        t0 = time.perf_counter()
        bj.evaluate(victims, attacks=[name], episodes=1, learned_timesteps=int(a.attack_steps), progress=False)
        fits[name] = time.perf_counter() - t0
    print(f"heuristic eval: {steps:,} env steps in {t_eval:.1f}s = {steps / t_eval:,.0f} steps/s (compile included)")
    for k, v in fits.items():
        print(f"train {k} for {int(a.attack_steps):,} steps x {a.seeds} seeds (+1 eval episode): {v:.1f}s")
    res = {"eval_env_steps": steps, "eval_seconds": t_eval, "eval_steps_per_s": steps / t_eval,
           "fit_seconds": fits, "table": rep.to_dict()}
    rows = [["none+" + "+".join(heuristic), a.seeds, a.episodes, a.episode_length, steps, round(t_eval, 1),
             round(steps / t_eval)]]
    rows2 = [[k, a.seeds, int(a.attack_steps), round(v, 1)] for k, v in fits.items()]
    prov.write_results(a.out, pv, res, [
        ("Heuristic attacks, one program", ["attacks", "seeds", "episodes", "episode length", "env steps", "s",
                                            "steps/s"], rows, f"{a.env} ({a.backend}); compile included."),
        ("Learned adversaries (training, vmapped over seeds)", ["attack", "seeds", "steps per seed", "s"], rows2,
         "Includes one 1-episode evaluation and compilation.")],
        "Robustness-evaluation throughput")


if __name__ == "__main__":
    main()
