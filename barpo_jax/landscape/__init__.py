"""Exact optimisation landscapes of SPO, ARPO and BARPO on a tiny ISA-MDP.

Why this package exists: the claim of Li et al. (ICLR 2026, arXiv 2512.01228)
is about the *landscape* of the robust objective, not about sampling noise.
In a finite state-adversarial MDP every quantity (values, the strongest
adversary, the KL adversary, policy gradients) can be computed exactly, so
the claim can be checked without any Monte-Carlo error:

* SPO   maximises the natural value ``rho . V^pi``;
* ARPO  maximises ``min_nu rho . V^{pi o nu}`` (strongest observation adversary);
  its gradient is taken with the minimising adversary held fixed (Danskin);
* BARPO maximises ``rho . V^{pi o nu_KL} + kappa * rho . V^pi`` where the inner
  adversary ``nu_KL(s) = argmax_{o in N(s)} KL(pi(.|s) || pi(.|o))``.

Everything on the hot path is pure JAX (jit/vmap friendly). Building the MDP
and checking its intrinsic-state-adversarial (ISA) consistency is done once,
eagerly. Run ``python3 -m barpo_jax.landscape --out DIR`` for the study.

The methods carry the names of ``barpo_jax.ALGOS``: ``spo``, ``arpo``,
``barpo_unguided`` (kappa = 0), ``barpo`` (with SPO guidance) and ``arpo_guided``
(the same guidance on ARPO, a control that is not in the paper).

Modules: ``mdp`` (the MDP and its ISA check), ``solvers`` (exact DP in JAX),
``objectives`` (methods as adversary x objective compositions), ``policies`` (tabular
or shared-weight policy parameterisations), ``study``,
``sweep`` (design and kappa sweep), ``plots``, ``__main__`` (the command line).
"""

from .mdp import (ChainConfig, FiniteSAMDP, check_isa_consistency, make_chain_mdp, make_mdp, optimal_action_sets,
                  optimal_q, robust_optimum)
from .objectives import METHODS, Method, barpo_objective, objective_fn, robust_value, spo_objective
from .policies import POLICIES, Shared, Tabular
from .plots import landscape_slice, logits_from_probs, plot_final_values, plot_landscape_slice
from .solvers import (adversary_value_iteration, gradient_by_true_state, kl_adversary, natural_value,
                      perceived_policy, policy_evaluation, policy_from_logits, soft_kl_adversary,
                      strongest_adversary, value_under_adversary)
from .study import StudyConfig, StudyResult, describe_runs, make_trainer, random_logits, run_study
from .sweep import SWEEP_DESIGNS, design_sweep

__all__ = ["ChainConfig", "FiniteSAMDP", "check_isa_consistency", "make_chain_mdp", "make_mdp", "optimal_action_sets",
           "optimal_q", "robust_optimum", "METHODS", "Method", "barpo_objective", "objective_fn", "robust_value",
           "spo_objective", "POLICIES", "Shared", "Tabular", "soft_kl_adversary", "landscape_slice", "logits_from_probs", "plot_final_values", "plot_landscape_slice",
           "adversary_value_iteration", "gradient_by_true_state", "kl_adversary", "natural_value",
           "perceived_policy", "policy_evaluation", "policy_from_logits", "strongest_adversary",
           "value_under_adversary", "StudyConfig", "StudyResult", "describe_runs", "make_trainer", "random_logits",
           "run_study", "SWEEP_DESIGNS", "design_sweep"]
