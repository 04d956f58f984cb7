"""Run directories and exact-resume checkpoints (orbax).

A run directory holds `config.json`, `checkpoints/<iteration>/` and
`metrics.json` / `metrics.csv`. A checkpoint is the full learner state of every run
(params, optimiser state, normaliser, env state, PRNG keys, iteration counter) as a
readable tree keyed by field names (`state.agent.params.policy...`), plus the metrics
so far. The learner decides what is stored (`Trainer.portable`: the env's reset
state is recomputed from its key rather than stored twice). Orbax writes each step
to a temporary folder and renames it when complete, so an interrupted save never
replaces a good one; a failed save removes its temporary folder.
"""
from __future__ import annotations

import csv
import json
import contextlib
import logging
import os
import shutil
import signal
import sys
import threading

import jax
import numpy as np

from .config import LOOP_FIELDS, ConfigError, TrainConfig, saved_run_fields

IGNORED_ON_RESUME = LOOP_FIELDS


class CheckpointError(ConfigError):
    """A checkpoint could not be written or read. The message names the fix; the last
    good checkpoint is never touched by a failed save."""


def _manager(out: str):
    """A synchronous orbax manager. Asynchronous saving would overlap the next chunk, but
    its background threads outlive an exception and hang the interpreter at exit (seen:
    five minutes in orbax's signalling thread after a failed save), so we save in the
    foreground; a save is a small fraction of a chunk."""
    import orbax.checkpoint as ocp
    return ocp.CheckpointManager(
        os.path.abspath(os.path.join(out, "checkpoints")),
        options=ocp.CheckpointManagerOptions(max_to_keep=2, create=True, enable_async_checkpointing=False,
                                             cleanup_tmp_directories=True))


# ---- the state as a readable tree ---------------------------------------------
def _key_name(k) -> str:
    for attr in ("name", "key", "idx"):
        if hasattr(k, attr):
            return str(getattr(k, attr))
    return str(k)


def _paths(tree):
    """[(dotted path, leaf)] for every leaf, named by field names, dict keys and indices."""
    flat, _ = jax.tree_util.tree_flatten_with_path(tree)
    return [(".".join(_key_name(k) for k in path), leaf) for path, leaf in flat]


def to_tree(state) -> dict:
    """The state as nested dicts keyed by field names (what is written to disk).

    Zero-size leaves (MJX keeps a few) hold no data and are left out: orbax refuses
    them, and `from_tree` recreates them from the template."""
    nested: dict = {}
    for path, leaf in _paths(jax.device_get(state)):
        x = np.asarray(leaf)
        if x.size == 0:
            continue
        node = nested
        parts = path.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = x
    return nested


def from_tree(saved: dict, template, where: str):
    """Rebuild a state shaped like `template` from `to_tree`'s output, naming any field
    that is missing or has another shape (a checkpoint from another config/version)."""
    leaves = []
    known = set()
    for path, t in _paths(template):
        if int(np.prod(t.shape)) == 0:
            leaves.append(np.zeros(t.shape, t.dtype))
            continue
        known.add(path)
        node = saved
        for p in path.split("."):
            node = node.get(p) if isinstance(node, dict) else None
            if node is None:
                raise CheckpointError(f"checkpoint {where} has no field {path!r} (written by another barpo-jax "
                                      "version or config): retrain, or load it with the version that wrote it")
        if tuple(np.shape(node)) != tuple(t.shape):
            raise CheckpointError(f"checkpoint {where}: field {path!r} has shape {tuple(np.shape(node))}, this "
                                  f"config expects {tuple(t.shape)}: load it with the config it was saved with")
        leaves.append(np.asarray(node).astype(t.dtype))
    extra = sorted(p for p, _ in _paths(saved) if p not in known)
    if extra:
        raise CheckpointError(f"checkpoint {where} has fields this version does not know ({', '.join(extra[:3])}"
                              f"{', ...' if len(extra) > 3 else ''}): load it with the version that wrote it")
    return jax.tree.unflatten(jax.tree.structure(template), leaves)


def has_checkpoint(out: str) -> bool:
    d = os.path.join(out, "checkpoints")
    return os.path.isdir(d) and any(n.isdigit() for n in os.listdir(d))


def read_config(out: str, env=None) -> TrainConfig:
    """The config.json of `out`. `env` (an Env object or a name), if given, replaces the
    env saved there: a run trained on an Env object names it `object:...`, which only
    the process that trained it can resolve."""
    path = os.path.join(out, "config.json")
    if not os.path.isfile(path):
        raise ConfigError(f"no run found in {out!r} (config.json missing): check the path, or train first")
    try:
        with open(path) as f:
            fields = json.load(f)
        if env is not None:
            fields["env"] = env
        return TrainConfig.from_dict(saved_run_fields(fields))
    except (json.JSONDecodeError, TypeError) as e:
        raise ConfigError(f"{path} is corrupt ({e}): restore it from a copy or retrain") from None


def _saved_env(out: str):
    """The env name in `out`'s config.json (None if unreadable: read_config then says why)."""
    try:
        with open(os.path.join(out, "config.json")) as f:
            return json.load(f).get("env")
    except (OSError, ValueError, AttributeError):
        return None


SWEEP_FILE = "sweep.json"


def write_sweep(out: str, grid: list, seeds: int, run_seeds: list) -> None:
    """sweep.json: a sweep's grid ([{field: value}] per point) and seeds per point, so that
    `load` can tell which run is which grid point after the process ends."""
    os.makedirs(out, exist_ok=True)
    atomic_write(os.path.join(out, SWEEP_FILE),
                  json.dumps({"grid": grid, "seeds": seeds, "run_seeds": list(run_seeds)}, indent=2))


def read_sweep(out: str):
    """The sweep.json of `out` as a dict, or None when `out` holds a single run."""
    path = os.path.join(out, SWEEP_FILE)
    if not os.path.isfile(path):
        return None
    try:
        with open(path) as f:
            saved = json.load(f)
        return {"grid": list(saved["grid"]), "seeds": int(saved["seeds"]), "run_seeds": list(saved["run_seeds"])}
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
        raise ConfigError(f"{path} is corrupt ({type(e).__name__}: {e}): restore it from a copy or rerun the "
                          "sweep") from None


def prepare_run_dir(out: str, cfg: TrainConfig, resume: bool, extend: bool = False):
    """Check `out` for a new run (write its config.json) or a resumed one (its config must
    match). With `extend`, a resumed run may take a new total (`num_timesteps`): returns
    that change as config.json will record it ({from_steps, to_steps, at_iteration}; see
    `record_extension`), None when the total is unchanged."""
    if resume:
        if not has_checkpoint(out):
            raise ConfigError(f"nothing to resume in {out!r}: no checkpoint there; drop --resume to start a new run")
        # An Env object saved by another process is taken to be the one passed again now.
        same_object = all(str(e).startswith("object:") for e in (_saved_env(out), cfg.env))
        saved = read_config(out, env=cfg.env if same_object else None)
        diff = saved.diff(cfg, ignore=IGNORED_ON_RESUME + (("num_timesteps",) if extend else ()))
        if diff:
            fields = "; ".join(f"{k}: saved {a!r} vs now {b!r}" for k, (a, b) in diff.items())
            more = (" (to train it longer, pass extend=True: `barpo train --resume --steps N` does)"
                    if "num_timesteps" in diff else "")
            if "num_seeds" in diff:  # more seeds are a second run, pooled when compared
                more += (f" (to add seeds, train them as a second run: `barpo train --config {out}/config.json "
                         f"--seed {saved.seed + saved.num_seeds} --seeds K --out RUN2`; `barpo compare {out}+RUN2` "
                         "pools them)")
            raise ConfigError(f"cannot resume {out!r} with a different config ({fields}): use the saved values "
                              f"or a new --out{more}")
        return new_total(out, saved, cfg)
    if has_checkpoint(out):
        raise ConfigError(f"{out!r} already holds a run: pass --resume to continue it, or choose another --out")
    os.makedirs(out, exist_ok=True)
    if _writes():
        atomic_write(os.path.join(out, "config.json"), cfg.to_json())


def new_total(out: str, saved: TrainConfig, cfg: TrainConfig):
    """The change of total of a resumed run ({from_steps, to_steps, at_iteration}), None if
    there is none; a total not past the iterations already done is refused."""
    if cfg.num_timesteps == saved.num_timesteps:
        return None
    done = latest_step(out)
    if cfg.num_iterations <= done:
        raise ConfigError(f"cannot train {out!r} to {cfg.num_timesteps} steps per seed: {done * cfg.batch_size} "
                          f"are done already (iteration {done}); pass more to train it longer")
    return {"from_steps": saved.num_timesteps, "to_steps": cfg.num_timesteps, "at_iteration": done}


def record_extension(out: str, cfg: TrainConfig, change: dict) -> None:
    """config.json of `out` with the new total (`cfg`) and `change` appended to its
    `extended` list; the saved checkpoints and metrics are untouched."""
    if _writes():
        record = {**json.loads(cfg.to_json()), "extended": extensions(out) + [change]}
        atomic_write(os.path.join(out, "config.json"), json.dumps(record, indent=2, sort_keys=True))


def extensions(out: str) -> list:
    """The `extended` list of `out`'s config.json: each new total the run was given
    ({from_steps, to_steps, at_iteration}); [] for a run trained to its first total."""
    try:
        with open(os.path.join(out, "config.json")) as f:
            return list(json.load(f).get("extended", []))
    except (OSError, ValueError, AttributeError):
        return []


def _writes() -> bool:
    """Whether this process writes the run directory's plain files: in a run split over
    processes (distributed.py) only process 0 does, as orbax writes checkpoints from it."""
    return jax.process_index() == 0


def _clean_tmp(out: str) -> None:
    """Remove orbax's half-written step folders (a failed or interrupted save)."""
    d = os.path.join(out, "checkpoints")
    if os.path.isdir(d):
        for name in os.listdir(d):
            if "tmp" in name:
                shutil.rmtree(os.path.join(d, name), ignore_errors=True)


_TERMINATED = threading.Event()   # an interrupt inside `stop_on_sigterm` that was lost, not yet acted on


def _terminate_as_interrupt(signum, frame):
    """SIGTERM, and Ctrl-C, as a KeyboardInterrupt that cannot be lost. Python runs the
    handler in whatever frame is current; when that swallows the KeyboardInterrupt (a
    callback whose exceptions are ignored, such as jax's gc callback; asyncio's runner,
    which turns SIGINT into cancelling its task), the flag makes the loop raise it at its
    next boundary. A Ctrl-C that a fresh-clone test run lost this way let training run on
    to its end and exit 0."""
    _TERMINATED.set()
    raise KeyboardInterrupt


def raise_if_terminated() -> None:
    """Raise the KeyboardInterrupt of a SIGTERM whose own one was swallowed (see above);
    the training and evaluation loops call it after each chunk and column."""
    if _TERMINATED.is_set():
        _TERMINATED.clear()
        raise KeyboardInterrupt


@contextlib.contextmanager
def stop_on_sigterm():
    """Inside the block, SIGTERM (`kill PID`) stops a command as Ctrl-C does: the last
    completed chunk is saved (or the finished attack columns kept) and the same command
    continues. A study run in the background from a script inherits SIGINT ignored (bash
    does that for `cmd &`), so there `kill -INT` does nothing and a plain `kill` used to
    lose everything since the last checkpoint. Ctrl-C (Python's own handler) is handled the
    same way, so that neither is lost where a callback swallows the KeyboardInterrupt. The
    CLI and the study scripts use it; the previous handlers are back afterwards, so a
    library caller keeps its own."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _TERMINATED.clear()
    previous = signal.signal(signal.SIGTERM, _terminate_as_interrupt)
    # Ctrl-C too, unless SIGINT is ignored (a background job) or someone else handles it.
    own_sigint = signal.getsignal(signal.SIGINT) is signal.default_int_handler
    if own_sigint:
        signal.signal(signal.SIGINT, _terminate_as_interrupt)
    keep = sys.unraisablehook = _KeepLostInterrupt(sys.unraisablehook)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
        if own_sigint:
            signal.signal(signal.SIGINT, signal.default_int_handler)
        keep.active = False   # a hook installed on top of it inside the block (a restore's) stays
        if sys.unraisablehook is keep:
            sys.unraisablehook = keep.previous
        _TERMINATED.clear()


class _KeepLostInterrupt:
    """An interrupt (Ctrl-C, or SIGTERM made one) raised inside a callback whose exceptions
    Python ignores, such as jax's gc callback, reaches sys.unraisablehook instead of the
    loop: while active, keep it pending for `raise_if_terminated` rather than print its
    traceback. Anything else goes on to the hook it replaced."""

    def __init__(self, previous):
        self.previous, self.active = previous, True

    def __call__(self, unraisable) -> None:
        if self.active and issubclass(unraisable.exc_type, KeyboardInterrupt):
            _TERMINATED.set()
            return
        self.previous(unraisable)


@contextlib.contextmanager
def _interrupts_deferred():
    """Hold Ctrl-C (and SIGTERM where `stop_on_sigterm` made it one) until the block ends: an
    interrupt in the middle of a save would leave orbax's worker threads mid-write (and their
    tracebacks on stderr). The interrupt is raised right after, so the user still stops
    within the save's duration."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught = []
    held = [signal.SIGINT] + ([signal.SIGTERM] if signal.getsignal(signal.SIGTERM) is _terminate_as_interrupt else [])
    previous = {sig: signal.signal(sig, lambda *_: caught.append(1)) for sig in held}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if caught:
        raise KeyboardInterrupt


def save(out: str, cfg: TrainConfig, state, history: dict, iteration: int) -> None:
    """Write checkpoint `iteration` (state as a readable tree, metrics, iteration count).

    Raises CheckpointError (one line, naming the fix) if it cannot be written; the
    previous checkpoint stays intact and no temporary folder is left behind."""
    tree = {"state": to_tree(state), "metrics": {k: np.asarray(v) for k, v in history.items()},
            "iteration": np.asarray(iteration, np.int64)}
    with _interrupts_deferred():
        _save(out, cfg, tree, history, iteration)


def tree_nbytes(tree) -> int:
    """Bytes held by the arrays of a pytree (what a checkpoint of it must write)."""
    return sum(np.asarray(x).nbytes for x in jax.tree.leaves(tree))


def _check_free_space(out: str, tree) -> None:
    """Refuse a save that cannot fit before orbax starts writing: orbax's worker threads
    report a full disk with pages of tracebacks, and the check costs one statvfs."""
    need = int(1.5 * tree_nbytes(tree)) + (1 << 20)
    free = shutil.disk_usage(out).free
    if free < need:
        raise OSError(28, f"No space left on device: a checkpoint needs ~{need / 2**20:.1f} MiB, "
                          f"{free / 2**20:.1f} MiB free")


def _save(out, cfg, tree, history, iteration):
    import orbax.checkpoint as ocp
    mngr, threads_before = None, set(threading.enumerate())
    quiet = logging.getLogger("absl")
    level = quiet.level
    try:
        os.makedirs(out, exist_ok=True)
        _check_free_space(out, tree)
        quiet.setLevel(logging.CRITICAL)  # our one-line error replaces orbax's logged tracebacks
        if _writes() and not os.path.isfile(os.path.join(out, "config.json")):
            atomic_write(os.path.join(out, "config.json"), cfg.to_json())
        mngr = _manager(out)
        if iteration not in mngr.all_steps():
            mngr.save(iteration, args=ocp.args.StandardSave(tree))
            mngr.wait_until_finished()
        if _writes():
            write_metrics(out, history)
    except KeyboardInterrupt:
        _clean_tmp(out)
        raise
    except Exception as e:  # noqa: BLE001 - orbax/OS raise many types; all mean "not saved"
        _clean_tmp(out)
        last = latest_step(out)
        kept = f"the last good checkpoint (iteration {last}) is kept" if last is not None else "nothing was saved"
        raise CheckpointError(f"could not save a checkpoint to {out!r} ({_short(e)}): free disk space or choose a "
                              f"writable --out; {kept}") from None
    finally:
        if mngr is not None:
            mngr.close()
        _join_orbax_threads(threads_before)
        quiet.setLevel(level)


def _join_orbax_threads(before: set, timeout_s: float = 60.0) -> None:
    """Wait for commit threads orbax started during this save. One still running when an
    interrupted command exits meets the interpreter's shut-down executors and prints a
    traceback after "barpo: interrupted" (seen once in the Ctrl-C test). Only orbax's own
    thread classes are joined: idle executor workers live on by design."""
    for t in set(threading.enumerate()) - before:
        if type(t).__module__.startswith("orbax") and t.is_alive() and t is not threading.current_thread():
            t.join(timeout_s)


def _short(e: Exception) -> str:
    msg = (e.strerror if isinstance(e, OSError) and e.strerror else str(e)).strip()
    msg = msg.splitlines()[0] if msg else ""
    return f"{type(e).__name__}: {msg[:160]}" if msg else type(e).__name__


def latest_step(out: str):
    d = os.path.join(out, "checkpoints")
    steps = [int(n) for n in os.listdir(d) if n.isdigit()] if os.path.isdir(d) else []
    return max(steps) if steps else None


def size_bytes(out: str, step=None) -> int:
    """On-disk size of one checkpoint (the latest by default)."""
    step = latest_step(out) if step is None else step
    root = os.path.join(out, "checkpoints", str(step))
    return sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(root) for f in fs)


def _silence_closed_loop_callbacks() -> None:
    """A failed restore leaves orbax's reads of the checkpoint's other arrays in flight in
    tensorstore's threads, and each that finishes after orbax closed its asyncio loop calls
    back into it: 'Event loop is closed', printed by tensorstore through sys.excepthook or by
    Python through sys.unraisablehook, pages of tracebacks after the one-line error (seen on a
    checkpoint with one damaged file in most runs). Those reads' results are discarded, so
    exactly this error is silenced, from before the restore starts (the loop can close, and
    a read finish, before the error reaches us); every other error still shows."""
    previous_unraisable, previous_except = sys.unraisablehook, sys.excepthook
    if not getattr(previous_unraisable, "silences_orphaned_reads", False):
        def unraisable_hook(unraisable):
            if not _is_orphaned_callback(unraisable.exc_value, unraisable.exc_traceback):
                previous_unraisable(unraisable)

        unraisable_hook.silences_orphaned_reads = True
        sys.unraisablehook = unraisable_hook
    if not getattr(previous_except, "silences_orphaned_reads", False):
        def except_hook(exc_type, exc, traceback):
            if not _is_orphaned_callback(exc, traceback):
                previous_except(exc_type, exc, traceback)

        except_hook.silences_orphaned_reads = True
        sys.excepthook = except_hook


def _is_orphaned_callback(exc, traceback) -> bool:
    """A finished read calling back into a closed asyncio loop, and nothing else."""
    if not (isinstance(exc, RuntimeError) and str(exc) == "Event loop is closed"):
        return False
    while traceback is not None:
        if traceback.tb_frame.f_code.co_name == "call_soon_threadsafe":
            return True
        traceback = traceback.tb_next
    return False


class _OrphanedReadFilter(logging.Filter):
    """Drops asyncio's 'never retrieved' record for a failed read of one damaged checkpoint:
    a read that failed after the restore gave up leaves a future whose error nobody
    retrieves, and asyncio logs it when the future is collected."""

    def __init__(self, step_dir: str):
        super().__init__()
        self.paths = {os.path.abspath(step_dir), os.path.realpath(step_dir)}

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not ("exception was never retrieved" in message and any(p in message for p in self.paths))


def restore(out: str, template):
    """-> (state shaped like `template`, metrics history, iterations done)."""
    import orbax.checkpoint as ocp
    if not has_checkpoint(out):
        raise CheckpointError(f"no checkpoint in {out!r}: train first, or check the path")
    step = latest_step(out)
    where = f"{out}/checkpoints/{step}"
    mngr = _manager(out)
    _silence_closed_loop_callbacks()
    try:
        tree = mngr.restore(step, args=ocp.args.StandardRestore())
    except Exception as e:  # noqa: BLE001 - orbax raises many types for damaged files
        logging.getLogger("asyncio").addFilter(_OrphanedReadFilter(os.path.join(out, "checkpoints", str(step))))
        raise CheckpointError(f"checkpoint {where} is unreadable ({type(e).__name__}): delete that folder to fall "
                              "back to an earlier one, or retrain") from None
    finally:
        mngr.close()
    if not isinstance(tree, dict) or "state" not in tree or "iteration" not in tree:
        raise CheckpointError(f"checkpoint {where} is not a barpo-jax checkpoint: retrain, or check the path")
    state = from_tree(tree["state"], template, where)
    metrics = {k: np.asarray(v) for k, v in tree.get("metrics", {}).items()}
    return state, metrics, int(tree["iteration"])


def restore_learner(out: str, trainer, seeds):
    """-> (full learner state, metrics history, iterations done) of the run in `out`:
    `restore` against the trainer's checkpoint template, then what the trainer leaves
    out of a checkpoint (`Trainer.portable`) recomputed."""
    state, metrics, iterations = restore(out, trainer.checkpoint_template(seeds))
    return trainer.restored(state), metrics, iterations


def read_metrics(out: str) -> dict | None:
    """The metrics history of the run in `out` as {name: float array [run, iteration]}
    (NaN where a metric was not recorded), read from metrics.json so that a study's
    reports and status need no checkpoint or trainer; None if nothing was written yet."""
    path = os.path.join(out, "metrics.json")
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        return {k: np.asarray(v, float) for k, v in json.load(f).items()}


def write_metrics(out: str, history: dict) -> None:
    """metrics.json ({name: [run][iteration]}) and metrics.csv (one row per run and iteration)."""
    names = sorted(history)
    atomic_write(os.path.join(out, "metrics.json"),
                  json.dumps({k: np.where(np.isfinite(history[k]), history[k], np.nan).tolist() for k in names},
                             allow_nan=True))
    if not names:
        return
    runs, iters = np.asarray(history[names[0]]).shape
    tmp = os.path.join(out, "metrics.csv.tmp")
    with open(tmp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["run", "iteration"] + names)
        for r in range(runs):
            for i in range(iters):
                w.writerow([r, i] + [float(history[k][r, i]) for k in names])
    os.replace(tmp, os.path.join(out, "metrics.csv"))


def atomic_write(path: str, text: str) -> None:
    """Write `text` to `path` through a temporary file and a rename, so that a crash or a
    full disk midway leaves the earlier file whole."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)
