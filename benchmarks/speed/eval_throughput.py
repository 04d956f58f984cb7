"""Robustness-evaluation throughput: N seeds x heuristic attacks x episodes (each attack
one program, vmapped over seeds), at the lineage strength, the strong default, and the strong default with its masking
check; plus the time to train the learned `sa_rl` and `pa_ad` adversaries.

    python -m benchmarks.speed.eval_throughput [--env hopper --backend mjx --seeds 17 --episodes 50 \
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
    p.add_argument("--skip-learned", action="store_true")
    p.add_argument("--out", default="benchmarks/results/eval_throughput_cpu")
    a = p.parse_args()
    pv = prov.provenance()
    cfg = bj.TrainConfig(env=a.env, backend=a.backend, num_timesteps=a.train_steps, num_envs=128, unroll_length=16,
                         num_minibatches=8, episode_length=a.episode_length, num_seeds=a.seeds, chunk_iterations=5)
    victims = bj.train(cfg, progress=False)
    heuristic = ["random", "critic", "mad", "flip"]
    settings = [("lineage", False), ("strong", False), ("strong", True)]
    timing = []
    for strength, check in settings:
        t0 = time.perf_counter()
        rep = bj.evaluate(victims, attacks=heuristic, episodes=a.episodes, progress=False, strength=strength,
                          masking_check=check)
        t_eval = time.perf_counter() - t0
        steps = a.seeds * (len(rep.attacks) + len(rep.checks)) * a.episodes * a.episode_length
        timing.append({"strength": rep.strength, "masking_check": check, "env_steps": steps, "seconds": t_eval,
                       "steps_per_s": steps / t_eval, "seconds_per_agent": t_eval / a.seeds})
        print(f"{rep.strength}, masking check {check}: {steps:,} env steps in {t_eval:.1f}s = "
              f"{steps / t_eval:,.0f} steps/s, {t_eval / a.seeds:.1f} s per agent (compile included)", flush=True)
    fits = {}
    for name in () if a.skip_learned else ("sa_rl", "pa_ad"):
        t0 = time.perf_counter()
        bj.evaluate(victims, attacks=[name], episodes=1, learned_timesteps=int(a.attack_steps), progress=False)
        fits[name] = time.perf_counter() - t0
    for k, v in fits.items():
        print(f"train {k} for {int(a.attack_steps):,} steps x {a.seeds} seeds (+1 eval episode): {v:.1f}s")
    res = {"heuristic": timing, "fit_seconds": fits, "table": rep.to_dict()}
    rows = [["none+" + "+".join(heuristic), t["strength"], "yes" if t["masking_check"] else "no", a.seeds,
             a.episodes, a.episode_length, t["env_steps"], round(t["seconds"], 1), round(t["steps_per_s"]),
             round(t["seconds_per_agent"], 2)] for t in timing]
    rows2 = [[k, a.seeds, int(a.attack_steps), round(v, 1)] for k, v in fits.items()]
    prov.write_results(a.out, pv, res, [
        ("Heuristic attacks (each attack one program, vmapped over seeds)", ["attacks", "strength", "masking check", "seeds", "episodes",
                                            "episode length", "env steps", "s", "steps/s", "s per agent"], rows,
         f"{a.env} ({a.backend}); compile included; env steps count the masking-check columns."),
        ("Learned adversaries (training, vmapped over seeds)", ["attack", "seeds", "steps per seed", "s"], rows2,
         "Includes one 1-episode evaluation and compilation.")],
        "Robustness-evaluation throughput")


if __name__ == "__main__":
    main()
