"""Frozen training configuration and per-task presets.

A `TrainConfig` is complete the moment it is built: every field left as ``None``
is filled from the task preset in ``__post_init__`` and the whole config is
validated there, so bad input fails at construction with one clear message.
"""
from __future__ import annotations

import dataclasses
import itertools
import json
from typing import Any, NamedTuple, Optional

ALGOS = ("spo", "arpo", "arpo_guided", "barpo_unguided", "barpo", "sa_ppo", "car_ppo", "atla_ppo", "radial_ppo",
         "wocar_ppo")
# Other names users type for a method: SPO is standard PPO, and PPO users say "ppo".
# A config built with an alias records the canonical name.
ALGO_ALIASES = {"ppo": "spo"}
LR_SCHEDULES = ("constant", "linear")
INNER_SCHEDULES = ("minibatch", "epoch", "rollout")
BACKENDS = ("mjx", "generalized", "positional", "spring")
TASKS = (
    "ant", "halfcheetah", "hopper", "humanoid", "humanoidstandup", "inverted_pendulum",
    "inverted_double_pendulum", "pusher", "reacher", "swimmer", "walker2d",
)

# Time limit of the Brax tasks (Brax's own default) and of any env that sets none itself;
# a MuJoCo Playground env brings its own (its config's episode_length).
DEFAULT_EPISODE_LENGTH = 1000

# Attack budgets in normalised-observation units, from the SA-PPO/ATLA/PA-AD/WocaR
# lineage. Tasks the lineage never attacked get DEFAULT_EPS (our choice, documented),
# and so does every env beyond the built-in TASKS (registered, object or Playground),
# with the _BASE PPO preset below: no preset was tuned for them.
EPS_PRESETS = {"hopper": 0.075, "walker2d": 0.05, "halfcheetah": 0.15, "ant": 0.15, "humanoid": 0.075}
DEFAULT_EPS = 0.1

# Robust-method weights per task, from the published code (docs/methods.md cites each file).
# SA-PPO's KL-regulariser weight (`kappa_reg`): huanzhang12/SA_PPO src/config_{hopper,walker,
# humanoid}_robust_ppo_sgld.json (robust_ppo_reg). SA_PPO publishes halfcheetah and ant only
# with its convex-relaxation regulariser (config_{halfcheetah,ant}_robust_ppo_convex.json);
# those weights are used for the SGLD variant here, unvalidated. Other tasks: 0.1, our choice.
SA_PPO_REG = {"hopper": 1.0, "walker2d": 0.1, "humanoid": 0.01, "halfcheetah": 0.1, "ant": 0.003}
DEFAULT_SA_PPO_REG = 0.1
# CAR-PPO's soft-max temperature and adversarial-term weight (`car_temperature`, `car_reg`):
# RyanHaoranLi/CAR-RL src/config_{hopper,walker,halfcheetah,ant}_car_ppo_pgd.json
# (robust_soft_lambda, robust_ppo_reg), the PGD configs, whose inner level is ours. Other
# tasks: the median of those four, our choice.
CAR_PPO = {"hopper": (1000.0, 0.3), "walker2d": (100.0, 0.1), "halfcheetah": (1000.0, 1.0), "ant": (1e4, 0.3)}
DEFAULT_CAR_PPO = (1000.0, 0.3)
# WocaR-PPO's worst-case weight (`q_weight` in WocaR-RL's WocaR-PPO/src/config_*_robust_q_ppo*.json:
# hopper, walker 0.8, halfcheetah 0.5, ant 0.8); other tasks get 0.8, the most common value (our choice).
WOCAR_WEIGHT = {"hopper": 0.8, "walker2d": 0.8, "halfcheetah": 0.5, "ant": 0.8}
DEFAULT_WOCAR_WEIGHT = 0.8
# WocaR-PPO's KL-regulariser weight (robust_ppo_reg in the same configs): 0.1.
WOCAR_KAPPA_REG = 0.1
# ATLA-PPO's learned-adversary Adam rate (`adv_ppo_lr_adam` in huanzhang12/ATLA_robust_RL
# configs/{hopper,walker,halfcheetah,ant}_atla_ppo_best.py, the MLP agents). Other tasks, and
# every other algo (for which it is only the base point of a learned attack's "none" scan):
# 3e-4, our choice.
ATLA_ADV_LR = {"hopper": 3e-3, "walker2d": 1e-3, "halfcheetah": 3e-3, "ant": 3e-5}
DEFAULT_ADV_LR = 3e-4

# PPO presets. Source: Brax's published PPO settings for each task (brax training
# colab / README), with two deliberate changes kept for every task: the 64-64 tanh
# networks of the SA-PPO lineage, and one rollout of `unroll_length` per iteration
# (Brax's batch_size * num_minibatches == num_envs). Hopper/walker2d have no Brax
# PPO preset (Brax trains them with SAC); they take Brax's halfcheetah/ant PPO
# values, which is our choice and unvalidated on a GPU so far.
_BASE = dict(
    num_timesteps=2_000_000, num_envs=2048, unroll_length=5, num_minibatches=32, num_epochs=4,
    learning_rate=3e-4, gamma=0.97, gae_lambda=0.95, clip_eps=0.3, value_coef=0.5,
    entropy_coef=1e-2, max_grad_norm=1.0, reward_scaling=1.0, init_log_std=-0.5,
    reward_normalization=False, lr_schedule="constant", value_clip=0.0, reward_clip=0.0,
)
PPO_PRESETS: dict[str, dict[str, Any]] = {
    "inverted_pendulum": dict(reward_scaling=10.0),
    "inverted_double_pendulum": dict(num_timesteps=20_000_000, reward_scaling=10.0),
    "ant": dict(num_timesteps=50_000_000, num_envs=4096, reward_scaling=10.0),
    "halfcheetah": dict(num_timesteps=50_000_000, unroll_length=20, num_epochs=8, gamma=0.95,
                        entropy_coef=1e-3),
    "hopper": dict(num_timesteps=2_000_000, unroll_length=20, num_epochs=8, gamma=0.99,
                   entropy_coef=1e-3),
    "walker2d": dict(num_timesteps=2_000_000, unroll_length=20, num_epochs=8, gamma=0.99,
                     entropy_coef=1e-3),
    "humanoid": dict(num_timesteps=50_000_000, unroll_length=10, num_epochs=8, reward_scaling=0.1,
                     entropy_coef=1e-3),
    "reacher": dict(num_timesteps=50_000_000, unroll_length=50, num_epochs=8, gamma=0.95,
                    reward_scaling=5.0, entropy_coef=1e-3),
}

# The lineage's PPO (huanzhang12/SA_PPO src/config_{hopper,walker}_vanilla_ppo.json, the
# vanilla PPO its SA-PPO/ATLA/WocaR tables start from): 2048 transitions per iteration for
# 976 iterations (2M steps), 10 epochs of 32 minibatches, clip 0.2, gamma 0.99, lambda 0.95,
# no entropy bonus, return-std reward normalisation with rewards clipped to 10, observations
# clipped to 10 (normalize.CLIP), a linear anneal of both rates, an initial log-std of 0,
# no gradient-norm clipping, value clipping 0.2, and a critic with its own Adam rate. 32
# envs x 64 steps make the 2048 transitions (the lineage steps one env for 2048). Per task
# the rates differ: hopper 3e-4 / 2.5e-4, walker 4e-4 / 3e-4. SA_PPO's hopper config turns
# value clipping off; here it stays on (measured: docs/presets.md). The lineage publishes
# no vanilla MLP config for halfcheetah or ant: they take the shared values (our choice).
# Why each value: docs/presets.md. Learns on `positional` physics; Brax's `spring` hopper
# plateaus near 850 (benchmarks/results/presets/).
LINEAGE_ITERATIONS = 976
_LINEAGE = dict(num_envs=32, unroll_length=64, num_minibatches=32, num_epochs=10, learning_rate=3e-4,
                gamma=0.99, gae_lambda=0.95, clip_eps=0.2, entropy_coef=0.0, reward_normalization=True,
                lr_schedule="linear", value_clip=0.2, init_log_std=0.0, max_grad_norm=0.0, reward_clip=10.0,
                num_timesteps=32 * 64 * LINEAGE_ITERATIONS)
# Per-task presets for the CPU backends (every backend but mjx).
CPU_PRESETS: dict[str, dict[str, Any]] = {
    "hopper": dict(_LINEAGE, value_learning_rate=2.5e-4),   # value clipping kept: see docs/presets.md
    "walker2d": dict(_LINEAGE, learning_rate=4e-4, value_learning_rate=3e-4),
    "halfcheetah": dict(_LINEAGE),
    "ant": dict(_LINEAGE),
}
# The CPU preset before the lineage's details above were matched (733 iterations of 2048 for
# hopper, initial log-std -0.5, one rate, gradient clipping 1, no reward clip, value
# clipping 0.2): the preset of the 5-seed hopper table in docs/results.md. Reproduce a run
# of that table with these fields (and fresh_starts=False) via --set or TrainConfig(**...).
PREVIOUS_CPU_PRESET = dict(num_envs=32, unroll_length=64, num_minibatches=32, num_epochs=10, learning_rate=3e-4,
                           gamma=0.99, gae_lambda=0.95, clip_eps=0.2, entropy_coef=0.0, reward_normalization=True,
                           lr_schedule="linear", value_clip=0.2, init_log_std=-0.5, max_grad_norm=1.0,
                           reward_clip=0.0)
# Candidates compared by benchmarks/presets.py (a candidate plus --set overrides).
CPU_CANDIDATES: dict[str, dict[str, Any]] = {
    "preset": dict(backend="positional"),   # the task's own CPU preset, as TrainConfig resolves it
    "lineage": dict(_LINEAGE, backend="positional"),
    "lineage-spring": dict(_LINEAGE, backend="spring"),
    "previous": dict(PREVIOUS_CPU_PRESET, backend="positional", fresh_starts=False),
}


def auto_backend() -> str:
    """The backend `backend=None` resolves to: `mjx` (MuJoCo's own physics, the closest to
    the paper's tasks) on an accelerator; `positional` on a CPU, where MJX steps hopper
    22-70x slower than the Brax backends (benchmarks/results/backends_cpu.md). `spring` is
    3x faster still, but its hopper does not learn to hop (plateau near 850 where
    `positional` passes 2000: benchmarks/results/presets/), so it is not the default."""
    import sys

    import jax
    device = jax.default_backend()
    choice = "mjx" if device in ("gpu", "cuda", "rocm", "tpu") else "positional"
    if not _AUTO_BACKEND_SAID:
        _AUTO_BACKEND_SAID.append(choice)
        why = "an accelerator" if choice == "mjx" else "no accelerator: MJX is 20-70x slower on a CPU"
        print(f"barpo: backend {choice} ({why}; choose with backend=... / --backend)", file=sys.stderr)
    return choice


_AUTO_BACKEND_SAID: list = []  # the automatic choice is printed once per process


class ConfigError(ValueError):
    """Bad user input. The message is one line that names the fix."""


# Env names (docs/envs.md) --------------------------------------------------------
# A config records its env as a string (it is JSON and a cache key); envs.make_brax_env
# builds the env from it. An Env object is kept here under a generated name.
OBJECT_PREFIX = "object:"
PLAYGROUND_PREFIX = "playground:"
ENV_OBJECTS: dict[str, Any] = {}  # config name -> Env object passed to TrainConfig(env=obj), this process only
_ENV_OBJECT_COUNT = itertools.count(1)  # numbers the names: never reused, even if an entry is dropped


def unknown_env_error(name: str) -> ConfigError:
    return ConfigError(f"unknown env {name!r}: built-in tasks are {', '.join(TASKS)}; for another, call "
                       "brax.envs.register_environment(name, EnvClass) before building the config, pass an Env "
                       "object (TrainConfig(env=obj)), or name a MuJoCo Playground env as playground:<Name>")


def lost_object_error(name: str) -> ConfigError:
    return ConfigError(f"env {name!r} was an Env object passed to TrainConfig in another process, and config.json "
                       "cannot rebuild it: pass the object again (TrainConfig(env=obj), or load(run, env=obj)), or "
                       "register its class with brax.envs.register_environment and use that name")


def register_object(env) -> str:
    """The config name of an Env object, registered on first sight. The same object
    always gets the same name, so its compiled programs are reused (`Trainer.cached`)."""
    for name, known in ENV_OBJECTS.items():
        if known is env:
            return name
    missing = [a for a in ("reset", "step", "observation_size", "action_size") if not hasattr(env, a)]
    if missing:
        raise ConfigError(f"env must be a task name or an Env object (reset, step, observation_size, action_size); "
                          f"a {type(env).__name__} lacks {', '.join(missing)}")
    name = f"{OBJECT_PREFIX}{type(env).__name__}-{next(_ENV_OBJECT_COUNT)}"
    ENV_OBJECTS[name] = env
    return name


def _object_backend(env) -> Optional[str]:
    """The Brax backend an Env object was built with, if it says (a plain Env may not)."""
    try:
        backend = env.backend
    except Exception:  # an abstract or unimplemented property
        return None
    return backend if isinstance(backend, str) and backend in BACKENDS else None


def playground_registry(name: str):
    """mujoco_playground's registry, with a one-line fix when it is not installed."""
    try:
        from mujoco_playground import registry
    except ImportError:
        raise ConfigError(f"env {name!r} needs MuJoCo Playground: pip install 'barpo-jax[playground]'") from None
    return registry


def resolve_env(env, backend: Optional[str]) -> tuple[str, Optional[str], Optional[int]]:
    """What `TrainConfig` records for the `env` and `backend` a user passed.

    Returns:
      (env name, backend (None: resolve automatically), the env's own episode length or
      None). Brax names keep the backend given. An Env object records the backend it
      was built with when it tells one (another given backend is an error). Playground
      envs run on MJX's pure-JAX implementation, so their backend is 'mjx'.

    Raises:
      ConfigError: an unknown name, a lost object, or a backend the env cannot honour.
    """
    if isinstance(env, str) and env in TASKS:  # the common case, without importing Brax
        return env, backend, None
    if not isinstance(env, str) or env.startswith(OBJECT_PREFIX):
        if isinstance(env, str) and env not in ENV_OBJECTS:
            raise lost_object_error(env)
        name = env if isinstance(env, str) else register_object(env)
        own = _object_backend(ENV_OBJECTS[name])
        if own is not None and backend not in (None, own):
            raise ConfigError(f"env object {name!r} was built with backend {own!r}, not {backend!r}: leave backend "
                              "unset or build the object with the backend you want")
        return name, own or backend, None
    if env.startswith(PLAYGROUND_PREFIX):
        task = env[len(PLAYGROUND_PREFIX):]
        registry = playground_registry(env)
        if task not in registry.ALL_ENVS:
            raise ConfigError(f"unknown MuJoCo Playground env {task!r}: choose one of "
                              "mujoco_playground.registry.ALL_ENVS, e.g. playground:CartpoleBalance")
        if backend not in (None, "mjx"):
            raise ConfigError(f"{env} runs on MJX (impl='jax'), not {backend!r}: leave backend unset or pass mjx")
        return env, "mjx", int(registry.get_default_config(task).episode_length)
    from brax import envs  # deferred: importing brax takes seconds
    if env not in envs._envs:  # Brax's registry; it has no public listing
        raise unknown_env_error(env)
    return env, backend, None


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a training run. ``None`` means "task preset"."""

    env: str = "hopper"  # a Brax task name, an Env object or playground:<Name> (docs/envs.md); recorded as a name
    algo: str = "spo"
    backend: Optional[str] = None  # None: mjx on an accelerator, positional on a CPU (see `auto_backend`)
    num_timesteps: Optional[int] = None
    num_envs: Optional[int] = None
    num_seeds: int = 1
    seed: int = 0
    episode_length: Optional[int] = None  # None: a playground env's own, else DEFAULT_EPISODE_LENGTH
    fresh_starts: bool = True              # every training episode starts from a fresh reset draw (envs.py);
                                           # False: back to the env's first state (runs saved before the field)
    # PPO
    unroll_length: Optional[int] = None
    num_minibatches: Optional[int] = None
    num_epochs: Optional[int] = None
    learning_rate: Optional[float] = None
    value_learning_rate: Optional[float] = None  # the critic's own Adam rate (lineage: val_lr); None: learning_rate
    gamma: Optional[float] = None
    gae_lambda: Optional[float] = None
    clip_eps: Optional[float] = None
    value_coef: Optional[float] = None
    entropy_coef: Optional[float] = None
    max_grad_norm: Optional[float] = None  # global gradient-norm clip; 0 = off (the lineage's hopper/walker)
    reward_scaling: Optional[float] = None
    reward_clip: Optional[float] = None    # clip trained rewards (after normalisation) to [-c, c]; 0 = off
    normalize_observations: bool = True
    normalize_advantages: bool = True
    policy_hidden: tuple = (64, 64)
    value_hidden: tuple = (64, 64)
    init_log_std: Optional[float] = None
    reward_normalization: Optional[bool] = None  # divide rewards by a running std of the return (lineage)
    lr_schedule: Optional[str] = None      # "constant" or "linear" (anneal to 0 over training)
    value_clip: Optional[float] = None     # PPO value clipping range; 0 = off
    # Threat model and robust methods (unused by spo). See docs/methods.md.
    eps: Optional[float] = None            # l_inf budget in normalised-observation units
    eps_ramp_fraction: float = 0.75        # linear ramp 0 -> eps, full eps from this fraction of training on (lineage)
    eps_ramp_start: float = 0.0            # eps is 0 before this fraction of training (RADIAL-RL's configs: 0.25)
    inner_steps: int = 10                  # K
    inner_step_size: Optional[float] = None  # None -> eps / K
    sgld_temperature: float = 0.01         # SGLD temperature beta of the KL inner level (adversary.solve);
                                           # SA-PPO's 1e-5 in its units, see docs/methods.md
    inner_schedule: str = "minibatch"      # when the loss's inner solve runs: per minibatch (lineage),
                                           # once per epoch, or once per rollout (see docs/methods.md)
    kappa: Optional[float] = None          # SPO-guidance weight (barpo, arpo_guided)
    kappa_reg: Optional[float] = None      # KL-regulariser weight: SA-PPO per task (SA_PPO_REG), WocaR-PPO 0.1
    car_temperature: Optional[float] = None  # CAR-PPO soft-max temperature: weights ∝ exp(loss / T) (CAR_PPO)
    car_reg: Optional[float] = None        # CAR-PPO: loss = clean + car_reg * weighted adversarial loss (CAR_PPO)
    radial_weight: float = 1.0             # RADIAL-PPO: loss = (clean + w * bound-worst) / (1 + w); 1 = RADIAL-RL's 50/50
    wocar_weight: Optional[float] = None   # WocaR-PPO worst-case weight (ramped with eps); None: task preset
    wocar_q_coef: float = 0.5              # WocaR-PPO: weight of the worst-case critic's TD loss
    rollout_under_adversary: bool = False  # else: loss on perturbed copies of clean rollouts
    adv_learning_rate: Optional[float] = None  # ATLA's learned adversary; None: ATLA_ADV_LR per task for atla_ppo
    adv_update_every: int = 1              # ATLA: adversary update every N agent iterations
    # Loop
    chunk_iterations: int = 10             # iterations per compiled chunk (progress/ckpt cadence)
    checkpoint_every: int = 1              # in chunks
    checkpoint_every_s: Optional[float] = None  # also save when this many seconds passed since the last save
    # Evaluation during training (learning curves under attack; see tracking.py)
    eval_every: int = 0                    # evaluate every run every N iterations (at chunk ends); 0 = off
    eval_attacks: tuple = ("mad",)         # attacks of that evaluation, besides natural; built-in, not learned
    eval_episodes: int = 10                # deterministic episodes per (run, attack), the same at every evaluation

    def __post_init__(self):
        env, backend, own_length = resolve_env(self.env, self.backend)
        object.__setattr__(self, "env", env)
        object.__setattr__(self, "backend", backend)
        if self.episode_length is None:
            object.__setattr__(self, "episode_length", own_length or DEFAULT_EPISODE_LENGTH)
        object.__setattr__(self, "algo", ALGO_ALIASES.get(self.algo, self.algo))
        if self.algo not in ALGOS:
            raise ConfigError(f"unknown algo {self.algo!r}: choose one of {', '.join(ALGOS)} "
                              f"({', '.join(f'{a} = {b}' for a, b in ALGO_ALIASES.items())})")
        if self.backend is None:
            object.__setattr__(self, "backend", auto_backend())
        if self.backend not in BACKENDS:
            raise ConfigError(f"unknown backend {self.backend!r}: choose one of {', '.join(BACKENDS)}")
        preset = {**_BASE, **PPO_PRESETS.get(self.env, {})}
        if self.backend != "mjx":
            preset.update(CPU_PRESETS.get(self.env, {}))
        preset["eps"] = EPS_PRESETS.get(self.env, DEFAULT_EPS)
        preset["wocar_weight"] = WOCAR_WEIGHT.get(self.env, DEFAULT_WOCAR_WEIGHT)
        # SPO guidance weight: on for the guided methods (our choice, see docs/methods.md).
        preset["kappa"] = {"arpo_guided": 1.0, "barpo": 1.0}.get(self.algo, 0.0)
        preset["kappa_reg"] = (WOCAR_KAPPA_REG if self.algo == "wocar_ppo"
                               else SA_PPO_REG.get(self.env, DEFAULT_SA_PPO_REG))
        preset["car_temperature"], preset["car_reg"] = CAR_PPO.get(self.env, DEFAULT_CAR_PPO)
        preset["adv_learning_rate"] = (ATLA_ADV_LR.get(self.env, DEFAULT_ADV_LR) if self.algo == "atla_ppo"
                                       else DEFAULT_ADV_LR)
        for name, value in preset.items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)
        if self.value_learning_rate is None:  # one rate for both networks unless a preset or the user says
            object.__setattr__(self, "value_learning_rate", self.learning_rate)
        for name in ("policy_hidden", "value_hidden"):
            object.__setattr__(self, name, tuple(int(h) for h in getattr(self, name)))
        attacks = self.eval_attacks
        attacks = attacks.split(",") if isinstance(attacks, str) else attacks
        object.__setattr__(self, "eval_attacks", tuple(str(a).strip() for a in attacks if str(a).strip()))
        if int(self.eval_every) != self.eval_every or self.eval_every < 0:
            raise ConfigError(f"eval_every must be an integer >= 0 (iterations; 0 = off), got {self.eval_every!r}")
        object.__setattr__(self, "eval_every", int(self.eval_every))
        for name in ("num_timesteps", "num_envs", "unroll_length", "num_minibatches", "num_epochs",
                     "episode_length", "inner_steps", "chunk_iterations", "checkpoint_every",
                     "adv_update_every", "eval_episodes"):
            value = getattr(self, name)
            if int(value) != value or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
            object.__setattr__(self, name, int(value))
        if self.num_seeds < 1 or int(self.num_seeds) != self.num_seeds:
            raise ConfigError(f"num_seeds must be an integer >= 1, got {self.num_seeds!r}")
        if self.checkpoint_every_s is not None and not self.checkpoint_every_s > 0:
            raise ConfigError(f"checkpoint_every_s must be > 0 seconds (or None), got {self.checkpoint_every_s}")
        if self.inner_schedule not in INNER_SCHEDULES:
            raise ConfigError(f"unknown inner_schedule {self.inner_schedule!r}: choose one of "
                              f"{', '.join(INNER_SCHEDULES)}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ConfigError(f"unknown lr_schedule {self.lr_schedule!r}: choose one of {', '.join(LR_SCHEDULES)}")
        if self.eps < 0:
            raise ConfigError(f"eps must be >= 0 (an l_inf radius), got {self.eps}")
        for name in ("learning_rate", "value_learning_rate", "clip_eps", "reward_scaling"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name} must be > 0, got {getattr(self, name)}")
        for name in ("kappa", "max_grad_norm", "reward_clip", "kappa_reg", "car_reg", "sgld_temperature",
                     "entropy_coef", "value_coef", "value_clip", "radial_weight", "wocar_weight", "wocar_q_coef"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not self.car_temperature > 0:
            raise ConfigError(f"car_temperature must be > 0 (inf gives the plain mean), got {self.car_temperature}")
        if not 0 < self.gamma <= 1 or not 0 <= self.gae_lambda <= 1:
            raise ConfigError("gamma must be in (0, 1] and gae_lambda in [0, 1]")
        if not 0 <= self.eps_ramp_fraction <= 1:
            raise ConfigError(f"eps_ramp_fraction must be in [0, 1], got {self.eps_ramp_fraction}")
        if not (self.eps_ramp_start == 0 or 0 < self.eps_ramp_start < self.eps_ramp_fraction):  # NaN fails too
            raise ConfigError(f"eps_ramp_start must be in [0, eps_ramp_fraction) (the ramp starts before it ends), got "
                              f"{self.eps_ramp_start} with eps_ramp_fraction {self.eps_ramp_fraction}")
        if self.batch_size % self.num_minibatches:
            raise ConfigError(
                f"num_envs*unroll_length = {self.batch_size} does not divide into "
                f"{self.num_minibatches} minibatches: pick num_envs/unroll_length/num_minibatches "
                "so that it does")

    # Derived quantities -------------------------------------------------------
    @property
    def batch_size(self) -> int:
        """Transitions collected per iteration per seed."""
        return self.num_envs * self.unroll_length

    @property
    def num_iterations(self) -> int:
        return max(1, -(-self.num_timesteps // self.batch_size))

    def replace(self, **changes) -> "TrainConfig":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        d = _from_legacy(d)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ConfigError(f"unknown config fields {sorted(unknown)}: remove them")
        # A dict comes from JSON or `--set`, where a mistyped number arrives as a string; name
        # the field here rather than fail in a comparison inside the checks.
        numeric = {f.name for f in dataclasses.fields(cls)
                   if str(f.type) in ("int", "float", "Optional[int]", "Optional[float]")}
        for name in sorted(numeric & set(d)):
            if isinstance(d[name], str):
                raise ConfigError(f"config field {name} takes a number, got {d[name]!r}: write it as a number")
        return cls(**d)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    def diff(self, other: "TrainConfig", ignore=("num_timesteps",)) -> dict:
        """Fields (other than `ignore`) whose values differ: {name: (self, other)}."""
        a, b = self.to_dict(), other.to_dict()
        return {k: (a[k], b[k]) for k in a if k not in ignore and a[k] != b[k]}


# The host loop's cadence: how often it saves and how long a compiled chunk is. They enter no
# compiled program (a chunk of any length is built from one Trainer) and a run may resume
# with other values.
LOOP_FIELDS = ("chunk_iterations", "checkpoint_every", "checkpoint_every_s")


# Fields added after runs were saved, with the value that reproduces how those runs trained.
# A run's config.json lacking one gets this value (checkpoint.read_config), so it resumes and
# evaluates as it was trained; a new config gets the field's default or task preset.
SAVED_BEFORE = {"fresh_starts": False, "reward_clip": 0.0}


def saved_run_fields(d: dict) -> dict:
    """A saved run's config fields with `SAVED_BEFORE` filling what it predates."""
    return {**{k: v for k, v in SAVED_BEFORE.items() if k not in d}, **d}


def _from_legacy(d: dict) -> dict:
    """A config written before issue 11, translated: `car_lambda` (an inverse temperature)
    becomes car_temperature = 1 / car_lambda, and `sgld_noise` (noise added after the sign,
    in step units) is dropped, since the SGLD solver is now the lineage's and has no
    counterpart. The networks of such a run load as before; its CAR-PPO loss (no clean term)
    and its SGLD are not today's, so resuming it trains something else: warned here."""
    if "car_lambda" not in d and "sgld_noise" not in d:
        return d
    import warnings
    d = dict(d)
    lam = d.pop("car_lambda", None)
    d.pop("sgld_noise", None)
    if lam is not None and d.get("algo") == "car_ppo":
        d.setdefault("car_temperature", float("inf") if lam == 0 else 1.0 / lam)
    warnings.warn("config written before issue 11 (fields car_lambda/sgld_noise): translated to "
                  "car_temperature/sgld_temperature; evaluation is unaffected, but CAR-PPO's loss and the "
                  "SGLD inner solver changed since, so retrain rather than resume such a run "
                  "(docs/methods.md)", stacklevel=3)
    return d


# What `barpo fields` prints -------------------------------------------------------

def _preset_source(name: str) -> str:
    """Where a field left as None gets its value: the base PPO value and each task (and
    backend) preset that overrides it; '' for a field with a fixed default."""
    if name == "backend":
        return "auto: mjx on an accelerator, positional on a CPU"
    if name == "eps":
        return ("EPS_PRESETS: " + ", ".join(f"{t}={v:g}" for t, v in EPS_PRESETS.items())
                + f"; other tasks DEFAULT_EPS={DEFAULT_EPS:g}")
    if name == "kappa":
        return "by algo: arpo_guided=1, barpo=1; others 0"
    if name == "inner_step_size":
        return "eps / inner_steps"
    if name == "value_learning_rate":
        return "learning_rate; CPU_PRESETS (all backends but mjx): " + ", ".join(
            f"{t}={p['value_learning_rate']}" for t, p in CPU_PRESETS.items() if "value_learning_rate" in p)
    if name == "episode_length":
        return f"{DEFAULT_EPISODE_LENGTH}; playground:<Name> envs: their own config's episode_length"
    if name not in _BASE:
        return ""
    parts = [f"base {_BASE[name]}"]
    ppo = {t: p[name] for t, p in PPO_PRESETS.items() if p.get(name, _BASE[name]) != _BASE[name]}
    cpu = {t: p[name] for t, p in CPU_PRESETS.items() if p.get(name, _BASE[name]) != _BASE[name]}
    if ppo:
        parts.append("PPO_PRESETS: " + ", ".join(f"{t}={v}" for t, v in ppo.items()))
    if cpu:
        parts.append("CPU_PRESETS (all backends but mjx): " + ", ".join(f"{t}={v}" for t, v in cpu.items()))
    return "; ".join(parts)


def field_rows(resolved: Optional["TrainConfig"] = None) -> list[dict]:
    """One row per TrainConfig field: name, type, default ('preset' for a None filled from
    a preset), where the preset comes from, and the value in `resolved` if given. It is
    the list of what `--set field=value` and `--config` accept."""
    rows = []
    for f in dataclasses.fields(TrainConfig):
        kind = str(f.type).replace("Optional[", "").rstrip("]") if "Optional[" in str(f.type) else str(f.type)
        source = _preset_source(f.name)
        default = "preset" if f.default is None and source else f.default
        row = {"field": f.name, "type": kind, "default": default, "preset": source}
        if resolved is not None:
            row["value"] = getattr(resolved, f.name)
        rows.append(row)
    return rows


# Float hyper-parameters: data, not part of the compiled program ---------------

class HyperParams(NamedTuple):
    """A run's float hyper-parameters as a pytree of float32 arrays (the TrainConfig
    fields of the same names). They enter the jitted program as data with a leading
    run axis, so one compiled program trains every point of a sweep (sweep.py)."""
    learning_rate: Any
    value_learning_rate: Any
    gamma: Any
    gae_lambda: Any
    clip_eps: Any
    value_coef: Any
    entropy_coef: Any
    reward_scaling: Any
    eps: Any
    kappa: Any
    kappa_reg: Any
    car_temperature: Any
    car_reg: Any
    radial_weight: Any
    wocar_weight: Any
    wocar_q_coef: Any
    sgld_temperature: Any
    adv_learning_rate: Any
    value_clip: Any
    reward_clip: Any
    step_frac: Any  # inner step size / eps (derived from inner_step_size and inner_steps; not sweepable)


HP_FIELDS = HyperParams._fields[:-1]  # the TrainConfig fields a sweep may vary


def hyperparams(cfg: TrainConfig, num_runs: int, **overrides) -> HyperParams:
    """The float hyper-parameters as data, one value per run.

    Args:
      cfg: the run's config (the default value of every field).
      num_runs: the length of the leading run axis.
      **overrides: {field in HP_FIELDS: per-run values} (used by sweeps).

    Returns:
      HyperParams of float32 arrays of shape [num_runs].
    """
    import jax.numpy as jnp
    values = {name: overrides.get(name, getattr(cfg, name)) for name in HP_FIELDS}
    step = cfg.inner_step_size
    values["step_frac"] = 1.0 / cfg.inner_steps if step is None else step / max(cfg.eps, 1e-12)
    return HyperParams(**{name: jnp.broadcast_to(jnp.asarray(v, jnp.float32), (num_runs,))
                          for name, v in values.items()})
