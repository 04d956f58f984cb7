"""The suite's own safety net (tests/conftest.py, pyproject's addopts): a test whose worker
dies inside native code runs once more, in a fresh worker that only reads the compile
cache; an ordinary failure is reported at once, never retried into a pass."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_PROBE = '''
import os
import jax


def test_aborts_the_first_time(tmp_path_factory):
    marker = os.path.join(os.environ["PROBE_DIR"], "crashed_once")
    if not os.path.exists(marker):
        open(marker, "w").close()
        os.abort()  # as XLA's C++ abort: no Python exception, the worker dies
    assert jax.config.jax_persistent_cache_min_compile_time_secs >= 1e9   # the rerun writes no executable
    assert os.environ["BARPO_COMPILE_CACHE"] == "off"                      # nor do the processes it starts


def test_fails_once(tmp_path_factory):
    marker = os.path.join(os.environ["PROBE_DIR"], "failed_once")
    first = not os.path.exists(marker)
    open(marker, "w").close()
    assert not first, "an ordinary failure"
'''


def test_a_crashed_test_reruns_read_only_and_a_failure_is_not_retried(tmp_path):
    probe = tmp_path / "probe"
    probe.mkdir()
    (probe / "test_probe.py").write_text(_PROBE)
    (probe / "conftest.py").write_text(open(os.path.join(ROOT, "tests", "conftest.py")).read())
    (probe / "helpers.py").write_text("")
    env = dict(os.environ, PROBE_DIR=str(probe), BARPO_TEST_XLA_CACHE=str(tmp_path / "xla"))
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", ROOT,
                          "-c", os.path.join(ROOT, "pyproject.toml"), str(probe)],
                         cwd=str(probe), env=env, capture_output=True, text=True, timeout=600)
    text = out.stdout + out.stderr
    assert out.returncode == 1, text[-3000:]
    assert "1 failed, 1 passed" in text and "1 rerun" in text, text[-3000:]
    assert "FAILED" in text and "test_fails_once" in text and "an ordinary failure" in text
