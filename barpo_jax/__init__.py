"""barpo-jax: adversarially robust policy optimisation (SPO / ARPO / BARPO and
baselines) as fully jitted, vectorised JAX programs on Brax."""
from .compare import Comparison, compare
from .config import ALGOS, BACKENDS, EPS_PRESETS, TASKS, ConfigError, TrainConfig, register_method
from .evaluate import EvaluationStopped, RobustnessReport, evaluate
from .render import Rendering, render
from .result import TrainResult, load
from .sweep import SweepResult, sweep
from .train import TrainingDiverged, train

__version__ = "0.1.0"
__all__ = ["ALGOS", "BACKENDS", "EPS_PRESETS", "TASKS", "ConfigError", "TrainConfig", "TrainResult",
           "TrainingDiverged", "load", "train", "evaluate", "EvaluationStopped", "RobustnessReport", "sweep", "SweepResult",
           "compare", "Comparison", "render", "Rendering", "register_method"]
