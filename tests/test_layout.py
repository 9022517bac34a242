"""The package layout: imports point one way, and nothing imports in a cycle.

fastopt's folders are layered (see ``fastopt/__init__.py``)::

    embeddings, parallel, solvers  ->  train  ->  optim  ->  backends  ->  _internal

A module may import its own package and the layers below it, never a layer above nor a
sibling application.  The benchmark (``bench/``) must be free of import cycles too.  The
imports are read from the source (every ``import`` statement, also those inside
functions), so the test needs nothing to be built.
"""
import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent

LAYERS = {
    "fastopt._internal": 0,
    "fastopt.backends": 1,
    "fastopt.optim": 2,
    "fastopt.train": 3,
    "fastopt.embeddings": 4,
    "fastopt.parallel": 4,
    "fastopt.solvers": 4,
}


def _modules(package):
    """``{dotted module name: path}`` of every ``.py`` file below ``package``."""
    out = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _imports(name, path, known):
    """The modules of ``known`` that module ``name`` (at ``path``) imports."""
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            # ``from package import module`` needs the module; ``from module import name``
            # needs the module that defines the name.
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                       for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def _graph(package):
    modules = _modules(package)
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def _layer(module):
    for prefix, rank in LAYERS.items():
        if module == prefix or module.startswith(prefix + "."):
            return prefix, rank
    return None, None


def _cycles(graph):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_every_fastopt_module_belongs_to_a_layer():
    loose = [m for m in _modules("fastopt") if m != "fastopt" and _layer(m)[0] is None]
    assert not loose, f"modules outside the layout's folders: {loose}"


def test_fastopt_imports_point_down():
    wrong = []
    for module, imported in _graph("fastopt").items():
        own, rank = _layer(module)
        if own is None:  # the top-level __init__ re-exports everything
            continue
        for target in imported:
            their, their_rank = _layer(target)
            if target == "fastopt" or (their != own and their_rank >= rank):
                wrong.append(f"{module} -> {target}")
    assert not wrong, "imports that point up or sideways:\n" + "\n".join(sorted(wrong))


@pytest.mark.parametrize("package", ["fastopt", "bench"])
def test_no_import_cycles(package):
    assert _cycles(_graph(package)) == []


def test_the_checker_sees_a_cycle_and_an_upward_import():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]
    assert _layer("fastopt.optim.adam") == ("fastopt.optim", 2)
    modules = _modules("fastopt")
    assert "fastopt.optim.optimizer" in _imports(
        "fastopt.train._args", modules["fastopt.train._args"], modules)
