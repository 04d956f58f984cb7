"""Benchmark results record the command a user can retype, not the path of the machine
that produced them."""
import os
import sys

from benchmarks import _provenance

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_a_script_in_the_repository_is_recorded_as_a_module_command():
    argv = [os.path.join(ROOT, "benchmarks", "studies", "reproduce.py"), "--tasks", "hopper", "--set", "note=a b"]
    assert _provenance.command_line(argv) == "python -m benchmarks.studies.reproduce --tasks hopper --set 'note=a b'"
    argv = [os.path.join(ROOT, "benchmarks", "speed", "fresh_starts.py"), "--seeds", "3"]
    assert _provenance.command_line(argv) == "python -m benchmarks.speed.fresh_starts --seeds 3"
    assert _provenance.command_line([os.path.join(ROOT, "barpo_jax", "__main__.py"), "demo"]) == "python -m barpo_jax demo"


def test_a_command_from_outside_the_repository_is_kept_as_called():
    exe = os.path.basename(sys.executable)
    assert _provenance.command_line(["/elsewhere/run.py", "-x"]) == f"{exe} /elsewhere/run.py -x"
    assert _provenance.command_line(["-c"]) == f"{exe} -c"


def test_argv_records_paths_inside_the_repository_relative_to_it():
    argv = [os.path.join(ROOT, "benchmarks", "speed", "suite_time.py"), "--out", os.path.join(ROOT, "runs", "x"),
            "/elsewhere/y", "relative/z"]
    assert _provenance.repo_relative(argv) == [os.path.join("benchmarks", "speed", "suite_time.py"), "--out",
                                               os.path.join("runs", "x"), "/elsewhere/y", "relative/z"]
    assert not any(str(a).startswith(ROOT) for a in _provenance.provenance()["argv"])
