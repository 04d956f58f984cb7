"""Third-party import noise (Brax's maintenance warning, MJX's "Failed to import warp") kept
off the `barpo` console, and nothing else hidden (quiet.py)."""
import os
import subprocess
import sys
import warnings

import pytest

from barpo_jax import quiet

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOISE = ("Failed to import warp", "Failed to import mujoco_warp", "not actively being maintained")


def test_only_the_third_party_lines_are_dropped():
    with warnings.catch_warnings(record=True) as caught:
        warnings.resetwarnings()
        warnings.simplefilter("always")
        quiet.quiet_third_party()
        warnings.warn("Brax System, piplines and environments are not actively being maintained. Please see MJX",
                      UserWarning)
        warnings.warn("a barpo warning about its own input", UserWarning)
    assert [str(w.message) for w in caught] == ["a barpo warning about its own input"]
    printed = "Failed to import warp: no module\nkept line\nFailed to import mujoco_warp: no module\nwarp is fine\n"
    assert quiet.drop_warp_lines(printed) == "kept line\nwarp is fine\n"


@pytest.mark.slow
def test_cli_console_has_no_import_noise(tmp_path):
    # A `warp` that fails to import, as on a machine without the warp-lang package: MJX prints
    # its failure on import. The command builds an env (Brax warns) and then stops on bad input.
    (tmp_path / "warp").mkdir()
    (tmp_path / "warp" / "__init__.py").write_text("raise ImportError('no warp on this machine')\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), ROOT, os.environ.get("PYTHONPATH", "")]))

    def run(*args):
        return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)

    bare = run("-c", "import mujoco.mjx")   # the noise is there without the CLI's filter
    assert "Failed to import warp" in bare.stdout
    r = run("-m", "barpo_jax", "train", "--env", "inverted_pendulum", "--backend", "spring", "--eval-every", "2",
            "--eval-attacks", "sa_rl", "--out", str(tmp_path / "run"))
    assert r.returncode == 2 and "barpo: error: eval_attacks: 'sa_rl'" in r.stderr, r.stderr[-2000:]
    for line in NOISE:
        assert line not in r.stdout + r.stderr, (line, r.stdout, r.stderr)
