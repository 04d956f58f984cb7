"""The pure training program: state, one iteration, and the compiled chunk.

One compiled program per chunk: `lax.scan` over `chunk` iterations of
`iteration_runs`, which is `vmap(iteration)` over runs (seeds, or seeds x
hyper-parameter grid points) except that the physics steps one flat [runs * envs]
batch outside the run vmap (MJX under a vmap is several times slower on a CPU).
Every chunk has the same shapes, so nothing recompiles; the host loop that runs
chunks lives in `train.py`.

Float hyper-parameters live in `hp` (a `config.HyperParams` of arrays with a leading run
axis), not in the compiled program, so sweeps vmap over them (see `sweep.py`).
`Trainer.iteration` never asks which method it runs: the `Method` supplies the loss,
the rollout perturber and the learned adversary's update (methods.py), so this
module imports no adversary.
"""
from __future__ import annotations

import copy
import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from . import acting, ppo
from . import normalize as nz
from .config import LOOP_FIELDS, SCHEDULE_FIELDS, ConfigError, TrainConfig, hp_fields
from .envs import EnvState, VecEnv
from .methods import METHODS

class TrainState(NamedTuple):
    agent: ppo.Learner
    adv: Any              # ppo.Learner of the learned adversary, or () when there is none
    stats: nz.RunningStats
    returns: nz.ReturnScale  # running return std for reward normalisation (unused when off)
    env: EnvState
    key: jax.Array
    iteration: jnp.ndarray


class Rollout(NamedTuple):
    tr: acting.Transition
    obs: jnp.ndarray        # [T, N, obs] clean observation, normalised with the updated statistics
    final_obs: jnp.ndarray  # [T, N, obs] the observation each action reached, normalised
    reward: jnp.ndarray     # [T, N] the reward as trained on (normalised, scaled)


_TRAINERS: dict = {}


class Trainer:
    """The static parts of a run (env, networks, method, optimiser) and its pure steps."""

    def __init__(self, cfg: TrainConfig, train_agent: bool = True, adversary=None):
        """train_agent=False freezes the agent and its normaliser (training an attack
        against a fixed victim); `adversary` (an adversary.LearnedAdversary) overrides
        the method's learned adversary."""
        self.cfg = cfg
        self.train_agent = train_agent
        self._programs = {}  # compiled init, restore and chunk programs; shared with the views `cached` hands out
        self.env = VecEnv(cfg.env, cfg.backend, cfg.num_envs, cfg.episode_length, cfg.fresh_starts)
        self.method = METHODS[cfg.algo] if adversary is None else METHODS[cfg.algo].with_adversary(adversary)
        self.ac = self.method.actor_critic(cfg, self.env)  # the agent's networks (+ any head the method trains)
        self.opt = ppo.make_optimizer(cfg.max_grad_norm)
        self.adv_ac = self.method.adversary_network(cfg, self.env)  # None unless the method learns an adversary

    # ---- state ---------------------------------------------------------------
    def init(self, key) -> TrainState:
        k_env, k_ac, k_adv, key = jax.random.split(key, 4)
        params = self.ac.init(k_ac)
        adversary = self.method.init_adversary(self.adv_ac, k_adv, self.opt)
        return TrainState(ppo.Learner(params, self.opt.init(params)), adversary, nz.init(self.env.obs_size),
                          nz.init_return_scale(self.cfg.num_envs), self.env.reset(k_env), key,
                          jnp.zeros((), jnp.int32))

    def init_runs(self, seeds) -> TrainState:
        keys = jnp.stack([jax.random.PRNGKey(int(s)) for s in seeds])
        if "init" not in self._programs:
            self._programs["init"] = jax.jit(jax.vmap(self.init))
        return self._programs["init"](keys)

    def portable(self, state: TrainState) -> TrainState:
        """What a checkpoint stores: the state without what can be recomputed exactly."""
        return state._replace(env=self.env.portable(state.env))

    def restored(self, state: TrainState) -> TrainState:
        """Inverse of `portable` for a state with a leading run axis."""
        if "restore" not in self._programs:
            self._programs["restore"] = jax.jit(jax.vmap(self.env.restored))
        return state._replace(env=self._programs["restore"](state.env))

    def checkpoint_template(self, seeds) -> TrainState:
        """Shapes and dtypes of `portable(init_runs(seeds))`, computed without running it."""
        return jax.eval_shape(lambda: self.portable(self.init_runs(seeds)))

    @classmethod
    def cached(cls, cfg: TrainConfig) -> "Trainer":
        """One Trainer (and so one set of compiled programs) per config, ignoring the
        fields that do not enter the compiled program: seed, num_seeds, the float
        hyper-parameters, which are data (`config.hyperparams`), and the host loop's
        cadence (chunk length, checkpoint and evaluation settings: a chunk of any length
        is built from the same Trainer), and the run's total and eps ramp, which reach the
        program as data too (`config.schedule_lengths`): a run trained longer recompiles nothing."""
        ignored = set(hp_fields()) | set(LOOP_FIELDS) | set(SCHEDULE_FIELDS) | {
            "seed", "num_seeds", "inner_step_size", "eval_every", "eval_attacks", "eval_episodes"}
        key = tuple(sorted((k, str(v)) for k, v in cfg.to_dict().items() if k not in ignored))
        if key not in _TRAINERS:
            if len(_TRAINERS) >= 16:
                _TRAINERS.pop(next(iter(_TRAINERS)))
            _TRAINERS[key] = cls(cfg)
        shared = _TRAINERS[key]
        if shared.cfg == cfg:
            return shared
        view = copy.copy(shared)  # the same compiled programs (the dict is shared), this config's loop fields
        view.cfg = cfg
        return view

    # ---- one iteration (one run) ---------------------------------------------
    def eps_at(self, iteration, hp):
        """The training radius at `iteration` (`eps_ramp`)."""
        return eps_ramp(iteration, hp)

    def perturber(self, ts: TrainState, eps, hp):
        """How observations are perturbed while collecting the rollout (the method decides)."""
        return self.method.rollout_perturber(self.ac, ts.agent.params, self.adv_ac, ts.adv, eps, hp,
                                             self.cfg.inner_steps, self.cfg.rollout_under_adversary)

    def fit(self, learner, batch, key, loss_fn, lr, pre_epoch=None, value_lr=None):
        """`num_epochs` x `num_minibatches` PPO-style SGD steps on `loss_fn` (agent or adversary)."""
        cfg = self.cfg
        return ppo.update(learner, batch, key, loss_fn, self.opt, lr, cfg.num_epochs, cfg.num_minibatches,
                          cfg.normalize_advantages, pre_epoch, value_lr)

    def collect(self, ts: TrainState, eps, hp, key) -> tuple[EnvState, nz.RunningStats, nz.ReturnScale, Rollout]:
        """One rollout under the method's perturber, with the normaliser and return scale
        updated from it (unless the agent is frozen)."""
        env_state, tr = acting.rollout(self.env, ts.env, functools.partial(self.ac.dist, ts.agent.params),
                                       self.perturber(ts, eps, hp), ts.stats, key, self.cfg.unroll_length,
                                       clip=self.cfg.observation_clip)
        return self.finish_rollout(ts, hp, env_state, tr)

    def collect_runs(self, ts: TrainState, eps, hp, keys) -> tuple[EnvState, acting.Transition]:
        """The rollouts of every run (leading run axis) with the physics stepped on one flat
        [runs * envs] batch outside the run vmap (`acting.rollout_runs`): the numbers of
        `vmap(collect)`, several times faster on MJX. Returns (env state, Transition
        [T, runs, N, ...]) for `finish_rollout` under a vmap over runs."""
        def act(ts, eps, hp, key, obs):
            return acting.act(functools.partial(self.ac.dist, ts.agent.params), self.perturber(ts, eps, hp),
                              ts.stats, key, obs, clip=self.cfg.observation_clip)
        act_runs = lambda k, obs: jax.vmap(act)(ts, eps, hp, k, obs)
        return acting.rollout_runs(self.env, ts.env, act_runs, keys, self.cfg.unroll_length)

    def finish_rollout(self, ts: TrainState, hp, env_state, tr) -> tuple[EnvState, nz.RunningStats,
                                                                            nz.ReturnScale, Rollout]:
        """The normaliser and return scale updated from one run's rollout `tr`, and the
        rollout as trained on."""
        cfg = self.cfg
        stats = nz.update(ts.stats, tr.obs) if (cfg.normalize_observations and self.train_agent) else ts.stats
        obs_n, fin_n = (nz.normalize(stats, x, cfg.observation_clip) for x in (tr.obs, tr.final_obs))
        returns = ts.returns
        reward = tr.reward
        if cfg.reward_normalization and self.train_agent:
            returns, reward = nz.scale_rewards(ts.returns, tr.reward, tr.done, hp.gamma)
        elif cfg.reward_normalization:  # a frozen victim: its return scale is frozen too
            reward = tr.reward / nz.std(ts.returns.stats)[0]
        reward = reward * hp.reward_scaling
        reward = jnp.where(hp.reward_clip > 0, jnp.clip(reward, -hp.reward_clip, hp.reward_clip), reward)
        return env_state, stats, returns, Rollout(tr, obs_n, fin_n, reward)

    def agent_batch(self, params, ro: Rollout, hp) -> ppo.Batch:
        """The agent's training batch: Batch.obs is the clean normalised observation,
        Batch.obs_seen the one the policy acted on (they differ only under an adversary)."""
        return ppo.rollout_batch(self.ac, params, ro.obs, ro.obs + ro.tr.delta, ro.final_obs, ro.tr.action,
                                 ro.tr.logp, ro.reward, ro.tr.terminated, ro.tr.done, hp.gamma, hp.gae_lambda)

    def iteration(self, ts: TrainState, hp) -> tuple[TrainState, dict]:
        """One iteration of one run: collect a rollout, then learn from it."""
        key, k_roll, k_upd, k_adv = jax.random.split(ts.key, 4)
        eps = self.eps_at(ts.iteration, hp)
        return self.learn(ts, hp, eps, key, k_upd, k_adv, self.collect(ts, eps, hp, k_roll))

    def iteration_runs(self, ts: TrainState, hp) -> tuple[TrainState, dict]:
        """`vmap(iteration)` over the leading run axis, with the physics on one flat batch
        (`collect_runs`); the keys and numbers are those of `vmap(iteration)`."""
        keys = jax.vmap(lambda k: jax.random.split(k, 4))(ts.key)
        key, k_roll, k_upd, k_adv = (keys[:, i] for i in range(4))
        eps = jax.vmap(self.eps_at)(ts.iteration, hp)
        env_state, tr = self.collect_runs(ts, eps, hp, k_roll)

        def learn(ts, hp, eps, key, k_upd, k_adv, env_state, tr):
            return self.learn(ts, hp, eps, key, k_upd, k_adv, self.finish_rollout(ts, hp, env_state, tr))
        # tr is time-major [T, runs, ...]: in_axes=1 keeps the compiled update that of vmap(iteration)
        return jax.vmap(learn, in_axes=(0, 0, 0, 0, 0, 0, 0, 1))(ts, hp, eps, key, k_upd, k_adv, env_state, tr)

    def learn(self, ts: TrainState, hp, eps, key, k_upd, k_adv, collected) -> tuple[TrainState, dict]:
        """The rest of one run's iteration after its rollout: the agent's and the learned
        adversary's updates, and the metrics."""
        cfg = self.cfg
        env_state, stats, returns, ro = collected
        lr, value_lr = hp.learning_rate, hp.value_learning_rate
        if cfg.lr_schedule == "linear":  # both rates anneal to 0 (the lineage anneals both optimisers)
            anneal = lr_anneal(ts.iteration, hp)
            lr, value_lr = lr * anneal, value_lr * anneal
        n_done = jnp.sum(ro.tr.done)
        metrics = {
            "episode_return": jnp.where(n_done > 0, jnp.sum(ro.tr.episode_return) / jnp.maximum(n_done, 1),
                                        jnp.nan),
            "episodes": n_done, "eps": eps, "learning_rate": lr,
        }
        agent = ts.agent
        if self.train_agent:
            loss_fn = lambda p, mb, k: self.method.loss(self.ac, p, mb, k, eps, hp, cfg.inner_steps)
            ahead = lambda p, b, k: self.method.solve_ahead(self.ac, p, b, k, eps, hp, cfg.inner_steps,
                                                            cfg.normalize_advantages)
            batch = self.agent_batch(agent.params, ro, hp)
            if cfg.inner_schedule == "rollout":  # one solve at the rollout's parameters, reused by every epoch
                batch = ahead(agent.params, batch, jax.random.fold_in(k_upd, 1))  # k_upd itself unchanged
            agent, m = self.fit(agent, batch, k_upd, loss_fn, lr, ahead if cfg.inner_schedule == "epoch" else None,
                                value_lr)
            metrics.update(m)
        due = (ts.iteration % cfg.adv_update_every) == 0
        adversary, am = self.method.update_adversary(self.adv_ac, ts.adv, ro.obs, ro.final_obs, ro.tr, ro.reward,
                                                     k_adv, hp, self.fit, due)
        metrics.update(am)
        return TrainState(agent, adversary, stats, returns, env_state, key, ts.iteration + 1), metrics

    def chunk_fn(self, length: int):
        """jit(scan(iteration_runs)) over `length` iterations: the compiled unit."""
        if length not in self._programs:
            self._programs[length] = jax.jit(scan_iterations(self.iteration_runs, length))
        return self._programs[length]


def lr_anneal(iteration, hp):
    """The factor of both learning rates under lr_schedule "linear": 1 at the start, 0 at
    hp.anneal_iterations (the run's total; a run trained to a new total anneals to that
    one from where it stands, so the rate can step up at the extension)."""
    # Times the reciprocal, not divided: XLA computed the old constant divisor's quotient this
    # way, so runs keep their numbers bit for bit now that the total is data.
    return 1.0 - jnp.asarray(iteration).astype(jnp.float32) * (1.0 / hp.anneal_iterations)


def eps_ramp(iteration, hp):
    """The training radius: 0 up to hp.eps_ramp_begin (`eps_ramp_start` of the total), then
    linear up to hp.eps over hp.eps_ramp_length iterations (ending at `eps_ramp_fraction`
    of the total; the lineage's ramp starts at 0). A run trained to a new total follows the
    ramp of that total, so a radius already reached can drop back while the ramp catches up."""
    length = hp.eps_ramp_length
    rising = (jnp.asarray(iteration).astype(jnp.float32) - hp.eps_ramp_begin) / jnp.where(length > 0, length, 1.0)
    return hp.eps * jnp.where(length > 0, jnp.clip(rising, 0.0, 1.0), 1.0)


def scan_iterations(iteration, length: int):
    """-> run(ts, hp) = (ts, metrics {name: [run, iteration]}): `iteration(ts, hp)` (all
    runs at once) scanned `length` times, the metrics put run-major as histories are."""
    def run(ts, hp):
        def body(ts, _):
            return iteration(ts, hp)
        ts, metrics = jax.lax.scan(body, ts, None, length=length)
        # Strong types, as `init` and a restore give: a weak-typed leaf (the spring env's
        # reward) made the next chunk's input another signature, compiled a second time.
        ts = jax.tree.map(lambda x: x.astype(x.dtype), ts)
        return ts, jax.tree.map(lambda m: jnp.swapaxes(m, 0, 1), metrics)
    return run


def shard(state: TrainState, num_envs: int) -> TrainState:
    """With several local devices, split the env axis of the env state across them
    (GSPMD partitions the rest of the program); everything else is replicated."""
    devices = jax.local_devices()
    if len(devices) == 1:
        return state
    if num_envs % len(devices):
        raise ConfigError(f"num_envs={num_envs} does not divide over {len(devices)} devices: "
                          f"use a multiple of {len(devices)}")
    from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
    mesh = Mesh(np.array(devices), ("d",))
    rep = NamedSharding(mesh, P())
    env_sh = NamedSharding(mesh, P(None, "d"))
    put = lambda tree, sh: jax.tree.map(lambda x: jax.device_put(x, sh), tree)
    return state._replace(agent=put(state.agent, rep), adv=put(state.adv, rep), stats=put(state.stats, rep),
                          returns=state.returns._replace(stats=put(state.returns.stats, rep),
                                                         acc=put(state.returns.acc, env_sh)),
                          env=put(state.env, env_sh), key=put(state.key, rep),
                          iteration=put(state.iteration, rep))
