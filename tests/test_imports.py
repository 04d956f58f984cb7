"""The module layout: no import cycles, no upward imports, a training loop that knows no
method, and a landscape study that stands apart from the training stack."""
import ast
import os

import barpo_jax as bj

PKG = os.path.dirname(os.path.abspath(bj.__file__))


def _modules() -> dict:
    """Dotted module name (relative to barpo_jax; a package is its __init__) -> file path."""
    out = {}
    for root, _, files in os.walk(PKG):
        rel = os.path.relpath(root, PKG)
        parts = [] if rel == "." else rel.split(os.sep)
        for f in files:
            if f.endswith(".py"):
                name = ".".join(parts + ([] if f == "__init__.py" else [f[:-3]]))
                out[name or "__init__"] = os.path.join(root, f)
    return out


MODULES = _modules()


def _tree(module):
    with open(MODULES[module]) as f:
        return ast.parse(f.read())


def _is_type_checking(test) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def package_imports(module) -> set:
    """Package modules that `module` imports anywhere in its file (function-level imports
    too): `from X import y` counts the module X.y when there is one, else X itself."""
    is_pkg = MODULES[module].endswith("__init__.py")
    here = module.split(".") if module != "__init__" else []
    if not is_pkg:
        here = here[:-1]
    out = set()
    tree = _tree(module)
    typing_only = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If) and _is_type_checking(block.test)
                   for n in ast.walk(block)}   # `if TYPE_CHECKING:` imports never run
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        targets = []
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[:len(here) - (node.level - 1)]
                prefix = base + (node.module.split(".") if node.module else [])
            elif node.module and node.module.split(".")[0] == "barpo_jax":
                prefix = node.module.split(".")[1:]
            else:
                continue
            for a in node.names:
                sub = ".".join(prefix + [a.name])
                targets.append(sub if sub in MODULES else ".".join(prefix) or "__init__")
        elif isinstance(node, ast.Import):
            targets = [".".join(a.name.split(".")[1:]) or "__init__" for a in node.names
                       if a.name.split(".")[0] == "barpo_jax"]
        out.update(t for t in targets if t in MODULES)
    return out - {module}


def test_no_import_cycles():
    graph = {m: package_imports(m) for m in MODULES}
    state = {}

    def visit(m, path):
        if state.get(m) == "done":
            return
        assert state.get(m) != "open", "import cycle: " + " -> ".join(path + [m])
        state[m] = "open"
        for n in sorted(graph[m]):
            visit(n, path + [m])
        state[m] = "done"

    for m in MODULES:
        visit(m, [])


def test_the_learner_imports_no_adversary_and_names_no_method():
    assert package_imports("learner").isdisjoint({"adversary", "attacks"})
    assert package_imports("train").isdisjoint({"adversary", "methods", "attacks"})
    for module in ("learner", "train"):
        names = set()
        for node in ast.walk(_tree(module)):
            if isinstance(node, ast.Name):
                names.add(node.id)
            elif isinstance(node, ast.Attribute):
                names.add(node.attr)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                names.add(node.value)
        forbidden = set(bj.ALGOS) | {"atla", "kl_objective", "surrogate_objective", "solve", "SA_RL", "PA_AD",
                                     "sgld_temperature", "kappa", "inner"}
        assert not names & forbidden, (module, names & forbidden)


def _enclosing_packages(module) -> set:
    """The packages that contain `module` (their __init__ modules), outermost first."""
    parts = module.split(".") if module != "__init__" else []
    return {"__init__"} | {".".join(parts[:i]) for i in range(1, len(parts))}


def test_no_module_imports_a_package_that_contains_it():
    """An upward import (`from barpo_jax import x` inside barpo_jax, `from . import y` inside
    a subpackage's module) runs the enclosing __init__, which imports the module back."""
    front_ends = {"cli"}  # the `barpo` command: a client of the public API, which does not import it
    for m in set(MODULES) - {"__init__"} - front_ends:
        upward = package_imports(m) & _enclosing_packages(m)
        assert not upward, f"{m} imports its enclosing package(s) {sorted(upward)}"


def test_the_landscape_study_imports_only_itself_and_the_plot_helpers():
    for m in MODULES:
        if m == "landscape" or m.startswith("landscape."):
            outside = {t for t in package_imports(m) if t != "landscape" and not t.startswith("landscape.")}
            assert outside <= {"plots"}, (m, outside)
