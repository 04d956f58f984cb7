"""Provenance for benchmark results: what ran, where, with which versions, when.

`provenance()` returns a JSON-able dict; `write_results()` writes
``<stem>.json`` (provenance + results) and ``<stem>.md`` (a provenance table at
the top, then the caller's tables). No git command is run: the commit is read
from the repository's ``.git`` files directly.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import shlex
import sys
from importlib import metadata
from typing import Any, Iterable, Optional, Sequence

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(REPO, "benchmarks", "results")  # where every script writes its figures
_PACKAGES = ("jax", "jaxlib", "brax", "flax", "optax", "mujoco", "numpy")


def load_averages() -> Optional[list]:
    """1/5/15-minute load averages (None where the OS has none)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def load_change(r: Optional[dict]) -> str:
    """A measurement's 1-minute load average before -> after it, or '-'."""
    if r and r.get("load_before") and r.get("load_after"):
        return f"{r['load_before'][0]:.2f} -> {r['load_after'][0]:.2f}"
    return "-"


def _cpu_model() -> Optional[str]:
    """The CPU's model and family (`barpo_jax.evaluate.cpu_model`): results from two CPU
    types of one model name can differ in their rounding."""
    try:
        from barpo_jax.evaluate import cpu_model
    except Exception:   # provenance must not fail with the package
        return platform.processor() or None
    return cpu_model()


def _versions() -> dict:
    out = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    try:
        import barpo_jax
        out["barpo_jax"] = getattr(barpo_jax, "__version__", None)
    except Exception as e:  # noqa: BLE001 - provenance must never fail the benchmark
        out["barpo_jax"] = f"import failed: {e}"
    return out


def git_commit(repo: str = REPO) -> Optional[str]:
    """HEAD commit read from .git (no git command is run); None outside a repository."""
    git = os.path.join(repo, ".git")
    if os.path.isfile(git):  # worktree / submodule: "gitdir: <path>"
        with open(git) as f:
            line = f.read().strip()
        if line.startswith("gitdir:"):
            git = os.path.normpath(os.path.join(repo, line.split(":", 1)[1].strip()))
    head_path = os.path.join(git, "HEAD")
    if not os.path.isfile(head_path):
        return None
    with open(head_path) as f:
        head = f.read().strip()
    if not head.startswith("ref:"):
        return head or None
    ref = head.split(":", 1)[1].strip()
    dirs = [git]
    common = os.path.join(git, "commondir")
    if os.path.isfile(common):
        with open(common) as f:
            dirs.append(os.path.normpath(os.path.join(git, f.read().strip())))
    for d in dirs:
        p = os.path.join(d, ref)
        if os.path.isfile(p):
            with open(p) as f:
                return f.read().strip() or None
        packed = os.path.join(d, "packed-refs")
        if os.path.isfile(packed):
            with open(packed) as f:
                for line in f:
                    parts = line.strip().split(" ")
                    if len(parts) == 2 and parts[1] == ref:
                        return parts[0]
    return f"unborn branch {ref} (no commit yet)"


def _devices() -> dict:
    try:
        import jax
        devs = jax.devices()
        return {"backend": jax.default_backend(), "count": len(devs),
                "devices": [f"{d.platform}:{d.id} {getattr(d, 'device_kind', '')}".strip() for d in devs]}
    except Exception as e:  # noqa: BLE001
        return {"error": str(e)}


def command_line(argv: Optional[Sequence[str]] = None) -> str:
    """The command as a user would retype it from the repository root: a script inside the
    repository is written `python -m package.module` (so a result does not carry the
    path of the machine it ran on), anything else as it was called."""
    argv = list(sys.argv if argv is None else argv)
    script = os.path.abspath(argv[0]) if argv and argv[0] not in ("", "-c") else ""
    if script.startswith(REPO + os.sep) and script.endswith(".py"):
        module = os.path.relpath(script, REPO)[:-len(".py")].split(os.sep)
        if module[-1] == "__main__":
            module = module[:-1]
        head = ["python", "-m", ".".join(module)]
    else:
        head = [os.path.basename(sys.executable)] + argv[:1]
    return " ".join(head + [shlex.quote(str(a)) for a in argv[1:]])


def repo_relative(argv: Sequence[str]) -> list:
    """`argv` with paths inside the repository written relative to its root, so a result
    does not record the layout of the machine it ran on."""
    return [os.path.relpath(a, REPO) if os.path.isabs(a) and a.startswith(REPO + os.sep) else a for a in argv]


def provenance() -> dict:
    return {
        "command": command_line(),
        "argv": repo_relative(sys.argv),
        "date_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "host": {"cpu_model": _cpu_model(), "cpu_cores": os.cpu_count(), "platform": platform.platform()},
        "jax_devices": _devices(),
        "versions": _versions(),
        "git_commit": git_commit(),
        "load_avg_at_provenance": load_averages(),
    }


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        if v != v:
            return "nan"
        if abs(v) >= 100:
            return f"{v:,.0f}"
        return f"{v:.3g}"
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_fmt(x) for x in v) + "]"
    return str(v).replace("|", "\\|").replace("\n", " ")


def md_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(_fmt(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def provenance_md(prov: dict) -> str:
    v = prov.get("versions", {})
    d = prov.get("jax_devices", {})
    rows = [
        ("command", f"`{prov.get('command')}`"),
        ("date (UTC)", prov.get("date_utc")),
        ("git commit", prov.get("git_commit")),
        ("jax devices", f"{d.get('backend')}: {', '.join(d.get('devices', []))}" if "devices" in d else d),
        ("CPU", f"{prov['host']['cpu_model']} ({prov['host']['cpu_cores']} logical cores)"),
        ("platform", prov["host"]["platform"]),
        ("versions", ", ".join(f"{k} {val}" for k, val in v.items())),
        ("load avg (1/5/15 min) at start", prov.get("load_avg_at_provenance")),
    ]
    return md_table(("", ""), rows)


def write_results(stem: str, prov: dict, results: dict, sections: Sequence[tuple], title: str,
                  notes: Sequence[str] = ()) -> tuple[str, str]:
    """Write ``stem.json`` ({"provenance", "results"}) and ``stem.md``.

    sections: (heading, headers, rows[, text below the table[, text above it]]) tuples.
    """
    os.makedirs(os.path.dirname(os.path.abspath(stem)), exist_ok=True)
    with open(stem + ".json", "w") as f:
        json.dump({"provenance": prov, "results": results}, f, indent=2, default=_json_default)
        f.write("\n")
    parts = [f"# {title}", "", "## Provenance", "", provenance_md(prov), ""]
    for sec in sections:
        heading, headers, rows = sec[:3]
        parts += [f"## {heading}", ""]
        if len(sec) > 4 and sec[4]:
            parts += [sec[4], ""]
        parts += [md_table(headers, rows), ""]
        if len(sec) > 3 and sec[3]:
            parts += [sec[3], ""]
    if notes:
        parts += ["## Notes", ""] + [f"- {n}" for n in notes] + [""]
    with open(stem + ".md", "w") as f:
        f.write("\n".join(parts))
    return stem + ".json", stem + ".md"


def _json_default(o):
    try:
        import numpy as np
        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
    except ImportError:
        pass
    return str(o)
