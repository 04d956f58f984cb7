"""One run's seeds trained by several processes (`jax.distributed`), written as one run.

Seeds are independent programs, so the natural split is by seed: process i trains the
i-th equal slice of the run axis with the same compiled chunk a one-process run uses,
and no gradient ever crosses processes. Processes meet only at checkpoints and at the
end, where every slice is gathered (`process_allgather`, bit-exact: arrays travel as
bytes) so that the run directory holds the same files a one-process run of all seeds
writes. Orbax writes the checkpoint (all processes call it; it writes from process 0);
process 0 alone writes config.json and the metrics files.
"""
from __future__ import annotations

import dataclasses
import itertools
import sys

import jax
import numpy as np

from .config import ConfigError

# How long a process waits for the others at a checkpoint: their chunks take the same work,
# but compilation and a busy machine can put one minutes behind.
BARRIER_TIMEOUT_S = 3600
_barriers = itertools.count()   # every process passes the same barriers in the same order


def initialize(coordinator: str | None = None, num_processes: int | None = None,
               process_id: int | None = None) -> None:
    """`jax.distributed.initialize` with one-line errors. `coordinator='auto'` (or all three
    None) lets JAX detect the cluster (SLURM, Open MPI, Kubernetes); otherwise all three
    are needed, since JAX itself reads only the coordinator from the environment."""
    auto = coordinator in (None, "auto")
    if auto and (num_processes is not None or process_id is not None):
        raise ConfigError("--num-processes/--process-id need --coordinator HOST:PORT (with --coordinator auto the "
                          "cluster's scheduler provides them)")
    if not auto and (num_processes is None or process_id is None):
        raise ConfigError("--coordinator HOST:PORT needs --num-processes N and --process-id I (0 .. N-1)")
    if not auto and not 0 <= process_id < num_processes:
        raise ConfigError(f"--process-id must be in 0 .. {num_processes - 1}, got {process_id}")
    try:
        if auto:
            jax.distributed.initialize()
        else:
            jax.distributed.initialize(coordinator, num_processes=num_processes, process_id=process_id)
    except (ValueError, RuntimeError) as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise ConfigError(f"could not join the distributed run ({first[:200]}): check --coordinator, and that "
                          "every process is started with the same --num-processes") from None


@dataclasses.dataclass(frozen=True)
class Partition:
    """Which runs (along the leading run axis) this process trains, and how the slices
    become the whole again. One process: the identity."""
    num_runs: int
    index: int = 0
    count: int = 1

    @classmethod
    def create(cls, num_runs: int, distributed: bool | None = None) -> Partition:
        """This process's share of `num_runs` runs. `distributed=None` splits whenever
        jax.distributed is initialised with several processes; False never splits."""
        count = jax.process_count() if distributed or distributed is None else 1
        if distributed is False and jax.process_count() > 1:
            raise ConfigError(f"jax.distributed runs {jax.process_count()} processes but distributed=False: every "
                              "process would write the same run directory; pass distributed=True (or None)")
        if num_runs % count:
            raise ConfigError(f"{num_runs} seeds do not divide over {count} processes: use a multiple of {count} "
                              f"seeds (each process trains an equal share)")
        return cls(num_runs, jax.process_index() if count > 1 else 0, count)

    @property
    def writes(self) -> bool:
        """Whether this process writes the run directory's files and draws progress."""
        return self.index == 0

    def local(self, tree):
        """This process's slice of `tree` (leading run axis on every leaf; a list of seeds
        counts as one leaf)."""
        if self.count == 1:
            return tree
        share = self.num_runs // self.count
        lo, hi = self.index * share, (self.index + 1) * share
        if isinstance(tree, list):
            return tree[lo:hi]
        return jax.tree.map(lambda x: x[lo:hi], tree)

    def gather(self, tree):
        """Every process's slice of `tree`, concatenated along the run axis, on every
        process (a collective: all processes must call it together)."""
        if self.count == 1:
            return tree
        from jax.experimental import multihost_utils
        _wait_for_all()
        host = jax.tree.map(lambda x: np.ascontiguousarray(jax.device_get(x)), tree)
        as_bytes = jax.tree.map(lambda x: x.reshape(x.shape[0], -1).view(np.uint8), host)
        whole = multihost_utils.process_allgather(as_bytes, tiled=True)
        return jax.tree.map(lambda b, x: np.asarray(b).view(x.dtype).reshape(np.shape(b)[:1] + x.shape[1:]), whole, host)

    def refuse_per_process_options(self, cfg, time_budget_s, logdir) -> None:
        """Options decided by each process's own clock or written by each process would
        make the processes disagree (one waits forever at a checkpoint the other skips)."""
        if self.count == 1:
            return
        used = [name for name, v in (("time_budget_s", time_budget_s), ("checkpoint_every_s", cfg.checkpoint_every_s),
                                     ("logdir", logdir)) if v is not None]
        if used:
            raise ConfigError(f"{', '.join(used)} cannot be used in a run split over {self.count} processes (each "
                              "process would decide or write on its own): use max_iterations and checkpoint_every")

    def save_fn(self, save):
        """`save(state, history, done_iter)` of the whole run, called with this process's
        slice. A Ctrl-C reaches the processes at different chunks, so a distributed run is
        not saved on interrupt (the loop ignores the CheckpointError): the last periodic
        checkpoint is kept."""
        from .checkpoint import CheckpointError

        def gathered(state, history, done_iter):
            if self.count > 1 and sys.exc_info()[0] is KeyboardInterrupt:
                raise CheckpointError("a run split over processes is not saved on interrupt")
            save(self.gather(state), self.gather(history), done_iter)
        return gathered


def _wait_for_all() -> None:
    """Block until every process is here, through the coordinator (patient), before a
    collective: the CPU collectives (gloo) give up after 30 s waiting for a late peer,
    as a process one compilation behind the other is."""
    from jax._src import distributed as jax_distributed  # the client jax.distributed.initialize made
    client = jax_distributed.global_state.client
    if client is not None:
        client.wait_at_barrier(f"barpo_jax_{next(_barriers)}", BARRIER_TIMEOUT_S * 1000)
