"""A method added in one file: a float weight of its own, declared with its per-task preset,
and a loss that reads it. Importing this module registers it (test_method_weights runs it
in its own process, since a registered method and its field stay for the process)."""
import jax.numpy as jnp

from barpo_jax import config, methods
from barpo_jax.weights import PerTask, Weight

TOY_PULL = Weight("toy_pull", "weight of a pull of the policy mean toward 0",
                  PerTask({"inverted_pendulum": 0.25}, 0.5, "TOY_PULL"), "this test's choice")


def pulled_to_zero(ac, params, batch, obs_adv, hp):
    """The clean PPO surrogate + toy_pull * mean(policy mean ** 2)."""
    loss, aux = methods.clean(ac, params, batch, obs_adv, hp)
    mean, _ = ac.dist(params, batch.obs)
    pull = jnp.mean(jnp.square(mean))
    return loss + hp.toy_pull * pull, {**aux, "pull": pull}


config.register_method("toy", methods.Method(None, pulled_to_zero, weights=(TOY_PULL,)))
