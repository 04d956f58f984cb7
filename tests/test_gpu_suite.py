"""`python -m benchmarks.gpu_suite` runs every part end to end at --tiny sizes on a CPU, so a
GPU session cannot fail on a trivial error; the figures themselves are not checked."""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PARTS = ["throughput_hopper", "throughput_ant", "methods", "sweep", "eval", "hopper_2m", "seeds"]


def _run(*args, timeout=1800):
    env = dict(os.environ, PYTHONPATH=ROOT)
    res = subprocess.run([sys.executable, "-m", "benchmarks.gpu_suite", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=timeout)
    assert res.returncode == 0, res.stderr[-3000:]
    return res.stdout


def test_list_names_every_part():
    out = _run("--list")
    assert [line.split()[0] for line in out.splitlines() if line.strip()] == PARTS


@pytest.mark.slow
def test_every_part_runs_at_tiny_sizes(tmp_path):
    out = _run("--tiny", "--out-dir", str(tmp_path))
    for part in PARTS:
        with open(tmp_path / f"{part}.json") as f:
            d = json.load(f)
        prov = d["provenance"]
        assert prov["versions"]["jax"] and prov["date_utc"] and prov["jax_devices"]["devices"]
        assert d["results"]["part"] == part and d["results"]["tiny"]
        assert (tmp_path / f"{part}.md").read_text().startswith("# GPU suite")
        assert f"wrote {tmp_path / part}.md" in out
    brax = json.loads((tmp_path / "throughput_hopper.json").read_text())["results"]["result"]["16"]["brax_ppo"]
    assert brax["ok"] is True and brax["sps"] > 0, brax   # Brax PPO (through the jax shim) ran and was timed
