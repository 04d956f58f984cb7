"""Frozen training configuration and per-task presets.

A `TrainConfig` is complete the moment it is built: every field left as ``None``
is filled from the task preset in ``__post_init__`` and the whole config is
validated there, so bad input fails at construction with one clear message.
"""
from __future__ import annotations

import dataclasses
import itertools
import json
from typing import Any, Optional

import jax

from .errors import ConfigError
from .methods import ALIASES, DEFAULT_METHOD, METHODS
from .weights import Weight, collect, describe_preset, preset_at

ALGOS = tuple(METHODS)
"""The built-in methods `TrainConfig(algo=...)` accepts (and the aliases in ALGO_ALIASES,
recorded by their canonical name); methods.register adds more. docs/methods.md."""
ALGO_ALIASES = ALIASES
LR_SCHEDULES = ("constant", "linear")
INNER_SCHEDULES = ("minibatch", "epoch", "rollout")
BACKENDS = ("mjx", "generalized", "positional", "spring")
"""Brax physics backends for `TrainConfig(backend=...)`; None picks one (`auto_backend`)."""
TASKS = (
    "ant", "halfcheetah", "hopper", "humanoid", "humanoidstandup", "inverted_pendulum",
    "inverted_double_pendulum", "pusher", "reacher", "swimmer", "walker2d",
)
"""The built-in Brax tasks with presets. `env` also takes other registered Brax envs, Env
objects and `playground:<Name>` (docs/envs.md)."""

# Time limit of the Brax tasks (Brax's own default) and of any env that sets none itself;
# a MuJoCo Playground env brings its own (its config's episode_length).
DEFAULT_EPISODE_LENGTH = 1000

# Attack budgets in normalised-observation units, from the SA-PPO/ATLA/PA-AD/WocaR
# lineage. Tasks the lineage never attacked get DEFAULT_EPS (our choice, documented),
# and so does every env beyond the built-in TASKS (registered, object or Playground),
# with the _BASE PPO preset below: no preset was tuned for them.
EPS_PRESETS = {"hopper": 0.075, "walker2d": 0.05, "halfcheetah": 0.15, "ant": 0.15, "humanoid": 0.075}
"""The l_inf attack budget per task in normalised-observation units (the lineage's values),
used when `eps` is None; every other env gets `DEFAULT_EPS`."""
DEFAULT_EPS = 0.1

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
    observation_clip=10.0,
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
# Candidates compared by benchmarks/studies/presets.py (a candidate plus --set overrides).
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
    """Everything that determines a training run. ``None`` means "task preset".

    The config is frozen and complete once built: every field left as None is filled
    from the task (and backend) preset, and the whole config is checked, so a mistake
    fails here with one message rather than minutes into compilation. `barpo fields`
    lists every field with its default and where its preset comes from; the comments
    beside the fields in `barpo_jax/config.py` say what each one does, and the methods'
    weights (the last fields) are described where they are declared (methods.py).

    The main fields:

    - `env`, `algo`, `backend`: the task (a name in `TASKS`, another registered Brax
      env, an Env object or `playground:<Name>`), the method (`ALGOS`) and the physics
      (`BACKENDS`; None picks one for the machine).
    - `num_timesteps` (per seed), `num_envs`, `num_seeds`, `seed`: the budget and the
      seeds trained together in one program (seeds `seed`, `seed + 1`, ...).
    - PPO: `learning_rate`, `gamma`, `gae_lambda`, `clip_eps`, `entropy_coef`, ...
    - Threat model: `eps` (l_inf budget in normalised-observation units), its ramp,
      and the inner solve (`inner_steps`, `inner_schedule`; docs/methods.md).
    - The methods' weights: `kappa` (SPO-guidance weight), `kappa_reg`, ... each
      declared by the method that reads it, with its preset (`methods.py`).
    - Evaluation during training: `eval_every`, `eval_attacks`, `eval_episodes`.

    Raises:
      ConfigError: an unknown name, a value out of range, or fields that do not fit
        together (e.g. a batch that does not split into the minibatches).
    """

    env: str = "hopper"  # a Brax task name, an Env object or playground:<Name> (docs/envs.md); recorded as a name
    algo: str = DEFAULT_METHOD   # plain PPO (methods.py)
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
    observation_clip: Optional[float] = None  # normalised observations clipped to [-c, c] (lineage: 10, every task)
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
    inner_schedule: str = "minibatch"      # when the loss's inner solve runs: per minibatch (lineage),
                                           # once per epoch, or once per rollout (see docs/methods.md)
    rollout_under_adversary: bool = False  # else: loss on perturbed copies of clean rollouts
    adv_update_every: int = 1              # a learned adversary (methods.py) is updated every N agent iterations
    # The methods' float weights (kappa, kappa_reg, ...) follow the loop fields: each method
    # declares its own (methods.py, `Weight`), and `declare_weights` adds them below.
    # Loop
    chunk_iterations: int = 10             # iterations per compiled chunk (progress/ckpt cadence)
    checkpoint_every: int = 1              # in chunks
    checkpoint_every_s: Optional[float] = None  # also save when this many seconds passed since the last save
    # Evaluation during training (learning curves under attack; see tracking.py)
    eval_every: int = 0                    # evaluate every run every N iterations (at chunk ends); 0 = off
    eval_attacks: tuple = ("mad",)         # attacks of that evaluation, besides natural; built-in, not learned
    eval_episodes: int = 10                # deterministic episodes per (run, attack), the same at every evaluation

    def __post_init__(self):
        self._resolve_names()
        self._fill_presets()
        self._normalise_types()
        self._check_ranges()
        self._check_shapes()

    def _set(self, name: str, value) -> None:
        object.__setattr__(self, name, value)   # the config is frozen once __post_init__ returns

    def _resolve_names(self) -> None:
        """env, backend and algo as recorded names (an alias becomes its method's name)."""
        env, backend, own_length = resolve_env(self.env, self.backend)
        self._set("env", env)
        self._set("backend", backend)
        if self.episode_length is None:
            self._set("episode_length", own_length or DEFAULT_EPISODE_LENGTH)
        self._set("algo", ALGO_ALIASES.get(self.algo, self.algo))
        if self.algo not in METHODS:
            raise ConfigError(f"unknown algo {self.algo!r}: choose one of {', '.join(METHODS)} "
                              f"({', '.join(f'{a} = {b}' for a, b in ALGO_ALIASES.items())})")
        if self.backend is None:
            self._set("backend", auto_backend())
        if self.backend not in BACKENDS:
            raise ConfigError(f"unknown backend {self.backend!r}: choose one of {', '.join(BACKENDS)}")

    def _fill_presets(self) -> None:
        """Every None field from the task (and backend) preset; each weight from its method's
        preset (`Method.presets`), else the weight's own."""
        preset = {**_BASE, **PPO_PRESETS.get(self.env, {})}
        if self.backend != "mjx":
            preset.update(CPU_PRESETS.get(self.env, {}))
        preset["eps"] = EPS_PRESETS.get(self.env, DEFAULT_EPS)
        method = METHODS[self.algo]
        for weight in WEIGHTS.values():
            preset[weight.name] = preset_at(method.preset(weight), self.env)
        for name, value in preset.items():
            if getattr(self, name) is None:
                self._set(name, value)
        if self.value_learning_rate is None:  # one rate for both networks unless a preset or the user says
            self._set("value_learning_rate", self.learning_rate)

    def _normalise_types(self) -> None:
        """Tuples, ints and the eval-attack list in one form, so equal configs compare equal."""
        for name in ("policy_hidden", "value_hidden"):
            self._set(name, tuple(int(h) for h in getattr(self, name)))
        attacks = self.eval_attacks
        attacks = attacks.split(",") if isinstance(attacks, str) else attacks
        self._set("eval_attacks", tuple(str(a).strip() for a in attacks if str(a).strip()))
        if int(self.eval_every) != self.eval_every or self.eval_every < 0:
            raise ConfigError(f"eval_every must be an integer >= 0 (iterations; 0 = off), got {self.eval_every!r}")
        self._set("eval_every", int(self.eval_every))
        for name in ("num_timesteps", "num_envs", "unroll_length", "num_minibatches", "num_epochs",
                     "episode_length", "inner_steps", "chunk_iterations", "checkpoint_every",
                     "adv_update_every", "eval_episodes"):
            value = getattr(self, name)
            if int(value) != value or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
            self._set(name, int(value))
        if self.num_seeds < 1 or int(self.num_seeds) != self.num_seeds:
            raise ConfigError(f"num_seeds must be an integer >= 1, got {self.num_seeds!r}")

    def _check_ranges(self) -> None:
        """Each value in its range (the weights by their own declarations)."""
        if self.checkpoint_every_s is not None and not self.checkpoint_every_s > 0:
            raise ConfigError(f"checkpoint_every_s must be > 0 seconds (or None), got {self.checkpoint_every_s}")
        if self.inner_schedule not in INNER_SCHEDULES:
            raise ConfigError(f"unknown inner_schedule {self.inner_schedule!r}: choose one of "
                              f"{', '.join(INNER_SCHEDULES)}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ConfigError(f"unknown lr_schedule {self.lr_schedule!r}: choose one of {', '.join(LR_SCHEDULES)}")
        if self.eps < 0:
            raise ConfigError(f"eps must be >= 0 (an l_inf radius), got {self.eps}")
        for name in ("learning_rate", "value_learning_rate", "clip_eps", "reward_scaling", "observation_clip"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name} must be > 0, got {getattr(self, name)}")
        for name in ("max_grad_norm", "reward_clip", "entropy_coef", "value_coef", "value_clip"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}")
        for weight in WEIGHTS.values():
            weight.check(getattr(self, weight.name))
        if not 0 < self.gamma <= 1 or not 0 <= self.gae_lambda <= 1:
            raise ConfigError("gamma must be in (0, 1] and gae_lambda in [0, 1]")
        if not 0 <= self.eps_ramp_fraction <= 1:
            raise ConfigError(f"eps_ramp_fraction must be in [0, 1], got {self.eps_ramp_fraction}")
        if not (self.eps_ramp_start == 0 or 0 < self.eps_ramp_start < self.eps_ramp_fraction):  # NaN fails too
            raise ConfigError(f"eps_ramp_start must be in [0, eps_ramp_fraction) (the ramp starts before it ends), got "
                              f"{self.eps_ramp_start} with eps_ramp_fraction {self.eps_ramp_fraction}")

    def _check_shapes(self) -> None:
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
        """Training iterations per seed: `num_timesteps` over `batch_size`, rounded up."""
        return max(1, -(-self.num_timesteps // self.batch_size))

    def replace(self, **changes) -> "TrainConfig":
        """A copy with some fields changed, checked again (the config is frozen).

        Args:
          **changes: {field: new value}.

        Returns:
          The new TrainConfig. Fields already filled from a preset keep their value: to
            get another task's preset, build a new config instead.

        Raises:
          ConfigError: as the constructor.
        """
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """The fields as plain JSON types (tuples as lists), as run directories store them.

        Returns:
          {field: value} for every field.
        """
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        """Build a config from `to_dict`'s output, a JSON file or `--set` values.

        Args:
          d: {field: value}; fields left out get their default or preset, and field names
            of older versions are translated.

        Returns:
          The TrainConfig.

        Raises:
          ConfigError: an unknown field, a number given as a string, or what the
            constructor refuses.
        """
        d = {k: v for k, v in _from_legacy(d).items() if k not in RUN_RECORD}
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
        """`to_dict` as indented JSON with sorted keys (a run directory's config.json).

        Returns:
          The JSON text.
        """
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    def diff(self, other: "TrainConfig", ignore=("num_timesteps",)) -> dict:
        """The fields whose values differ, e.g. to say why a run cannot be resumed.

        Args:
          other: the config to compare with.
          ignore: field names left out (by default the budget, which a resumed run may extend).

        Returns:
          {name: (value here, value in other)} for every differing field.
        """
        a, b = self.to_dict(), other.to_dict()
        return {k: (a[k], b[k]) for k in a if k not in ignore and a[k] != b[k]}


# The methods' weights as TrainConfig fields ---------------------------------------

WEIGHTS: dict[str, Weight] = {}
"""Every method's float weights by name (methods.py declares them; `declare_weights`)."""
_GENERATED = ("__init__", "__repr__", "__eq__", "__hash__", "__setattr__", "__delattr__", "__match_args__",
              "__getstate__", "__setstate__", "__dataclass_fields__", "__dataclass_params__")


def declare_weights(weights) -> None:
    """Make each `Weight` not declared yet a TrainConfig field (Optional[float], None: its
    preset) and a sweepable `HyperParams` entry. config.py calls it on the built-in methods'
    weights; methods.register on a new method's. A declared name is kept as it is.

    Args:
      weights: an iterable of Weight.

    Raises:
      ValueError: a new declaration reuses a name with another meaning, or the name of a
        field that is not a weight.
    """
    new = [w for w in collect(weights).values() if w.name not in WEIGHTS or WEIGHTS[w.name] != w]
    taken = {f.name for f in dataclasses.fields(TrainConfig)}
    for weight in new:
        if weight.name in taken:
            raise ValueError(f"weight {weight.name!r} would redefine a TrainConfig field")
    if not new:
        return
    for weight in new:
        WEIGHTS[weight.name] = weight
        TrainConfig.__annotations__[weight.name] = "Optional[float]"
        setattr(TrainConfig, weight.name, None)
    # Re-derive the dataclass with the new fields (the class object stays the same, so every
    # module's reference to it sees them): drop what dataclass() generated, and apply it again.
    for name in _GENERATED:
        if name in TrainConfig.__dict__:
            delattr(TrainConfig, name)
    dataclasses.dataclass(frozen=True)(TrainConfig)


declare_weights(w for method in METHODS.values() for w in method.weights)


def register_method(name: str, method) -> None:
    """Add a training method under `name`, from any file: `TrainConfig(algo=name)` trains
    it, and each weight it declares (`Method.weights`) that no method declared before
    becomes a TrainConfig field with its preset and check, and is sweepable.

    Args:
      name: the algo name (not one in use).
      method: a `methods.Method`.

    Raises:
      ValueError: the name is taken, or a weight clashes with a field.
    """
    if name in METHODS or name in ALGO_ALIASES:
        raise ValueError(f"a method named {name!r} exists already")
    declare_weights(method.weights)
    METHODS[name] = method


# The host loop's cadence: how often it saves and how long a compiled chunk is. They enter no
# compiled program (a chunk of any length is built from one Trainer) and a run may resume
# with other values.
LOOP_FIELDS = ("chunk_iterations", "checkpoint_every", "checkpoint_every_s")

# What a run directory's config.json records beside the config: the run's history, not a
# field (`extended`: [{from_steps, to_steps, at_iteration}], each time it was given a new
# total). `from_dict` skips it, so that config.json reads back as a config.
RUN_RECORD = ("extended",)


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
    method = METHODS.get(ALGO_ALIASES.get(d.get("algo"), d.get("algo")))
    if lam is not None and method is not None and "car_temperature" in {w.name for w in method.weights}:
        d.setdefault("car_temperature", float("inf") if lam == 0 else 1.0 / lam)   # where the loss read it
    warnings.warn("config written before issue 11 (fields car_lambda/sgld_noise): translated to "
                  "car_temperature/sgld_temperature; evaluation is unaffected, but CAR-PPO's loss and the "
                  "SGLD inner solver changed since, so retrain rather than resume such a run "
                  "(docs/methods.md)", stacklevel=3)
    return d


# What `barpo fields` prints -------------------------------------------------------

def field_source(name: str) -> str:
    """Where a field left as None gets its value: the base PPO value and each task (and
    backend) preset that overrides it, or a method weight's declaration (methods.py);
    '' for a field with a fixed default."""
    if name == "backend":
        return "auto: mjx on an accelerator, positional on a CPU"
    if name == "eps":
        return ("EPS_PRESETS: " + ", ".join(f"{t}={v:g}" for t, v in EPS_PRESETS.items())
                + f"; other tasks DEFAULT_EPS={DEFAULT_EPS:g}")
    if name in WEIGHTS:
        return _weight_source(WEIGHTS[name])
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


def _weight_source(weight: Weight) -> str:
    """A method weight's preset, each method's own preset of it, and where they come from."""
    own = [f"{algo}={describe_preset(m.presets[weight.name])}" for algo, m in METHODS.items()
           if weight.name in m.presets]
    text = describe_preset(weight.preset) + (f"; by algo: {', '.join(own)}" if own else "")
    return f"{text} ({weight.source})" if weight.source else text


def field_rows(resolved: Optional["TrainConfig"] = None) -> list[dict]:
    """One row per TrainConfig field: name, type, default ('preset' for a None filled from
    a preset), where the preset comes from, and the value in `resolved` if given. It is
    the list of what `--set field=value` and `--config` accept."""
    rows = []
    for f in dataclasses.fields(TrainConfig):
        kind = str(f.type).replace("Optional[", "").rstrip("]") if "Optional[" in str(f.type) else str(f.type)
        source = field_source(f.name)
        default = "preset" if f.default is None and source else f.default
        if f.default is not None and not source:
            source = "fixed default"
        row = {"field": f.name, "type": kind, "default": default, "preset": source}
        if resolved is not None:
            row["value"] = getattr(resolved, f.name)
        rows.append(row)
    return rows


# Float hyper-parameters: data, not part of the compiled program ---------------

@jax.tree_util.register_pytree_node_class
class HyperParams:
    """A run's float hyper-parameters as a pytree of float32 arrays: the TrainConfig fields
    of the same names (`hp_fields`: the PPO floats, eps and every method's weights) and the
    derived `DERIVED_HP`. They enter the jitted program as data with a leading run axis, so
    one compiled program trains every point of a sweep (sweep.py). Read as attributes
    (`hp.kappa`), changed with `_replace`, as a NamedTuple is; its fields are whatever the
    methods declare, so a new method's weight is one more entry.
    """
    __slots__ = ("_values",)

    def __init__(self, **values):
        object.__setattr__(self, "_values", dict(values))

    def __getattr__(self, name: str):
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"HyperParams has no {name!r}") from None

    def __setattr__(self, name, value):
        raise AttributeError("HyperParams is immutable: use _replace")

    def __repr__(self) -> str:
        return f"HyperParams({', '.join(f'{k}={v!r}' for k, v in self._values.items())})"

    @property
    def _fields(self) -> tuple:
        return tuple(self._values)

    def _replace(self, **changes) -> "HyperParams":
        unknown = set(changes) - set(self._values)
        if unknown:
            raise AttributeError(f"HyperParams has no {sorted(unknown)}")
        return HyperParams(**{**self._values, **changes})

    def _asdict(self) -> dict:
        return dict(self._values)

    def tree_flatten(self):
        names = tuple(self._values)
        return tuple(self._values[n] for n in names), names

    @classmethod
    def tree_unflatten(cls, names, children):
        return cls(**dict(zip(names, children)))


# The PPO and threat-model floats that are data (the methods' weights join them, `hp_fields`).
_PPO_FLOATS = ("learning_rate", "value_learning_rate", "gamma", "gae_lambda", "clip_eps", "value_coef",
               "entropy_coef", "reward_scaling", "eps", "value_clip", "reward_clip")
# Derived, not sweepable: the inner step size / eps (from inner_step_size and inner_steps),
# and the schedules over the run's length in iterations. The schedules are data rather
# than constants of the program, so a run trained to a new total (`train(..., extend=True)`)
# keeps its compiled program (`schedule_lengths`): the linear anneal reaches 0 at
# anneal_iterations; eps is 0 up to eps_ramp_begin, then grows linearly to eps over
# eps_ramp_length iterations (0: full eps from the start).
DERIVED_HP = ("step_frac", "anneal_iterations", "eps_ramp_begin", "eps_ramp_length")


def hp_fields() -> tuple:
    """The TrainConfig fields a sweep may vary inside one program: the PPO floats, eps and
    every declared method weight."""
    return _PPO_FLOATS + tuple(WEIGHTS)


# The config fields that enter the program only through the schedule lengths above.
SCHEDULE_FIELDS = ("num_timesteps", "eps_ramp_fraction", "eps_ramp_start")


def schedule_lengths(cfg: TrainConfig) -> dict:
    """The learning-rate anneal and eps ramp of `cfg`, in iterations of its total
    (`num_iterations`). A run trained to a new total follows the schedules of that total
    from the iteration it was extended at on."""
    n = cfg.num_iterations
    begin, end = cfg.eps_ramp_start * n, cfg.eps_ramp_fraction * n
    return {"anneal_iterations": n, "eps_ramp_begin": begin, "eps_ramp_length": max(end - begin, 0.0)}


def hyperparams(cfg: TrainConfig, num_runs: int, **overrides) -> HyperParams:
    """The float hyper-parameters as data, one value per run.

    Args:
      cfg: the run's config (the default value of every field).
      num_runs: the length of the leading run axis.
      **overrides: {field in `hp_fields()`: per-run values} (used by sweeps).

    Returns:
      HyperParams of float32 arrays of shape [num_runs].
    """
    import jax.numpy as jnp
    values = {name: overrides.get(name, getattr(cfg, name)) for name in hp_fields()}
    step = cfg.inner_step_size
    values["step_frac"] = 1.0 / cfg.inner_steps if step is None else step / max(cfg.eps, 1e-12)
    values.update(schedule_lengths(cfg))
    return HyperParams(**{name: jnp.broadcast_to(jnp.asarray(v, jnp.float32), (num_runs,))
                          for name, v in values.items()})
