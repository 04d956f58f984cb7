"""A method's float hyper-parameters, declared where the method is defined.

A `Weight` is one float a method's loss reads from `hp` (its SPO-guidance weight, its
regulariser's weight, a temperature): the method declares it once, with its per-task
preset, where that preset comes from, and the range it must lie in. Everything else is
derived from the declarations (config.py): the `TrainConfig` field, its check, its place
in `HyperParams` (data, so a sweep can vary it inside one compiled program) and what
`barpo fields` prints. A method that presets a shared weight differently (BARPO's
guidance weight is 1 where it is 0 for the others) says so in its own `presets`.

This module imports nothing else of the package, so config.py can read the methods'
declarations without an import circle.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Mapping, Union

from .errors import ConfigError


@dataclasses.dataclass(frozen=True)
class PerTask:
    """A preset that depends on the task: `values[env]`, else `other`.

    Attributes:
      values: {task name: value} (kept as (task, value) pairs).
      other: the value for every task not in `values`.
      name: what the table is called in the docs (shown by `barpo fields`).
    """
    values: Mapping[str, float]
    other: float
    name: str = ""

    def __post_init__(self):   # kept as (task, value) pairs: a PerTask is hashable, as Methods are
        object.__setattr__(self, "values", tuple(dict(self.values).items()))

    def at(self, env: str) -> float:
        """The value for one task.

        Args:
          env: the task name.

        Returns:
          `values[env]`, else `other`.
        """
        return dict(self.values).get(env, self.other)

    def describe(self) -> str:
        """The table as `barpo fields` prints it.

        Returns:
          "NAME: task=value, ...; other tasks value".
        """
        table = ", ".join(f"{t}={v:g}" for t, v in self.values)
        return f"{self.name + ': ' if self.name else ''}{table}; other tasks {self.other:g}"


Preset = Union[float, PerTask]


def preset_at(preset: Preset, env: str) -> float:
    """A preset's value for one task.

    Args:
      preset: a float (the same for every task) or a PerTask table.
      env: the task name.

    Returns:
      The value as a float.
    """
    return preset.at(env) if isinstance(preset, PerTask) else float(preset)


def describe_preset(preset: Preset) -> str:
    """A preset as `barpo fields` prints it.

    Args:
      preset: a float or a PerTask table.

    Returns:
      The float formatted, or the table's `describe()`.
    """
    return preset.describe() if isinstance(preset, PerTask) else f"{preset:g}"


@dataclasses.dataclass(frozen=True)
class Weight:
    """One float hyper-parameter of a method's loss: a `TrainConfig` field of this name
    and a `HyperParams` entry (data: sweepable in one program).

    Attributes:
      name: the field (and `hp` attribute) name.
      help: what it weighs, for `barpo fields` and the docs.
      preset: its value when the config leaves it None, for every method that does not
        preset it itself (`Method.presets`): a float, or a `PerTask` table.
      source: where the preset comes from (a published config, or "our choice").
      positive: the value must be > 0 (else >= 0); inf is allowed either way.
    """
    name: str
    help: str
    preset: Preset
    source: str = ""
    positive: bool = False

    def check(self, value: float) -> None:
        """Raise ConfigError (one line) for a value outside the weight's range.

        Args:
          value: the resolved field value.

        Raises:
          ConfigError: the value is negative (or zero for a `positive` weight), or NaN.
        """
        if math.isnan(value) or value < 0 or (self.positive and value == 0):
            bound = "> 0" if self.positive else ">= 0"
            raise ConfigError(f"{self.name} must be {bound}, got {value}")


def collect(declared) -> dict[str, Weight]:
    """{name: Weight} over the methods' `weights`, in declaration order.

    Args:
      declared: an iterable of Weight (several methods may list the same one).

    Returns:
      One entry per name.

    Raises:
      ValueError: two different declarations share a name (a programming error, not
        user input: two methods would read one field with different meanings).
    """
    out: dict[str, Weight] = {}
    for weight in declared:
        if out.setdefault(weight.name, weight) != weight:
            raise ValueError(f"two different Weight declarations are named {weight.name!r}")
    return out
