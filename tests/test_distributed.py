"""Seeds split over processes (jax.distributed on localhost) write the run one process writes."""
import os
import socket
import subprocess
import sys

import jax
import numpy as np
import pytest

import barpo_jax as bj
from barpo_jax import distributed

from helpers import PHYSICS_ENV, assert_trees_close, tiny

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _start(args, logs, n=2):
    """`barpo train ARGS` as n processes of one distributed run on localhost, each writing
    its output to a file under `logs` (a pipe nobody reads while the test trains could fill
    and block it)."""
    port = _free_port()
    env = dict(os.environ, PYTHONPATH=ROOT, PYTHONWARNINGS="ignore")
    procs = []
    for i in range(n):
        with open(os.path.join(logs, f"process{i}.txt"), "w") as log:
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "barpo_jax", "train", *args, "--no-progress", "--coordinator",
                 f"localhost:{port}", "--num-processes", str(n), "--process-id", str(i)],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, text=True))
    return procs, logs


def _finish(started, timeout=300):
    """[(status, output)] of `_start`'s processes; all are killed at `timeout`, so that a
    lost peer cannot hang the suite."""
    procs, logs = started
    try:
        for p in procs:
            p.wait(timeout=timeout)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    return [(p.returncode, open(os.path.join(logs, f"process{i}.txt")).read()) for i, p in enumerate(procs)]


def _lines(stderr: str) -> list:
    """A process's output without absl/XLA log lines and gloo's connection notes."""
    return [ln for ln in stderr.splitlines() if ln.strip() and not ln.startswith(("I0", "W0", "[Gloo]"))]


@pytest.mark.slow
def test_two_processes_write_the_run_one_process_writes(tmp_path):
    cfg = tiny(env=PHYSICS_ENV, num_seeds=2)   # a Brax task: the CLI processes must find it
    cfg_file = tmp_path / "cfg.json"
    cfg_file.write_text(cfg.to_json())
    split = str(tmp_path / "split")
    for d in ("logs_split", "logs_odd"):
        os.makedirs(tmp_path / d)
    runs = _start(["--config", str(cfg_file), "--out", split], str(tmp_path / "logs_split"))
    odd = _start(["--config", str(cfg_file), "--set", "num_seeds=3", "--out", str(tmp_path / "odd")],
                 str(tmp_path / "logs_odd"))
    try:
        whole = bj.train(cfg, out=str(tmp_path / "whole"), progress=False)   # meanwhile, here: all seeds at once
    finally:
        results, refused = _finish(runs), _finish(odd)
    assert [code for code, _ in results] == [0, 0], [err[-3000:] for _, err in results]
    got = bj.load(split)
    assert got.iterations == whole.iterations == cfg.num_iterations and got.seeds == whole.seeds == [0, 1]
    assert (tmp_path / "split" / "config.json").read_text() == (tmp_path / "whole" / "config.json").read_text()
    assert sorted(os.listdir(os.path.join(split, "checkpoints"))) == ["2", "4"]
    # Each process runs its seed in a program batched over 1 run instead of 2: the same
    # computation, float-level differences only (measured: params within 7e-7).
    assert_trees_close(got.params, whole.params, rtol=1e-5, atol=1e-6)
    assert_trees_close(got.state, whole.state, rtol=1e-4, atol=1e-4)
    for k in ("episode_return", "episodes", "eps"):
        np.testing.assert_array_equal(got.metrics[k], whole.metrics[k])
    for k in whole.metrics:
        np.testing.assert_allclose(got.metrics[k], whole.metrics[k], rtol=1e-4, atol=1e-6, err_msg=k)
    seed_gap = np.abs(jax.tree.leaves(whole.params)[0][0] - jax.tree.leaves(whole.params)[0][1]).max()
    assert seed_gap > 1e-3   # the seeds differ far beyond the tolerance: a swapped or repeated seed fails
    # Seeds that do not divide over the processes: one line from each, before any training.
    for code, err in refused:
        expected = ("barpo: error: 3 seeds do not divide over 2 processes: use a multiple of 2 seeds (each "
                    "process trains an equal share)")
        assert code == 2 and _lines(err) == [expected], err[-2000:]


def test_one_process_partition_is_the_identity_and_refusals_are_one_line(monkeypatch):
    part = distributed.Partition.create(3)
    tree = {"a": np.arange(6).reshape(3, 2)}
    assert part.writes and part.local(tree) is tree and part.gather(tree) is tree
    monkeypatch.setattr(jax, "process_count", lambda: 2)
    monkeypatch.setattr(jax, "process_index", lambda: 1)
    with pytest.raises(bj.ConfigError, match="3 seeds do not divide over 2 processes"):
        distributed.Partition.create(3)
    with pytest.raises(bj.ConfigError, match="distributed=False"):
        distributed.Partition.create(2, distributed=False)
    second = distributed.Partition.create(4)
    assert not second.writes and second.local([10, 11, 12, 13]) == [12, 13]
    np.testing.assert_array_equal(second.local({"x": np.arange(4)})["x"], [2, 3])
    with pytest.raises(bj.ConfigError, match="time_budget_s, logdir cannot be used"):
        second.refuse_per_process_options(tiny(), 60.0, "tb")
    for args in [("localhost:1234", None, 0), ("localhost:1234", 2, None), ("auto", 2, None),
                 ("localhost:1234", 2, 2)]:
        with pytest.raises(bj.ConfigError, match="--num-processes|--process-id|--coordinator"):
            distributed.initialize(*args)
