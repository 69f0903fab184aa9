"""The import graph follows the layers of the code: no module imports a layer above its own, no
two modules import each other (but the one pair below), and no package takes another's private names.

The layers, bottom to top (DESIGN.md's, with the places of the edges made exact):

    backends → checks, modes, random → core, ops, functional, gradcheck, init → nn
    → losses, optim, metrics, io, onnx, data, distributed, cuda_graph → models
    → training (Trainer, callbacks, history, plots) → unsupervised (energy models,
    autoencoders, greedy pre-training) → training.runconfig / build / run (a run from a config)
    (and the dlcore command, cli) → the dlcore package itself, which re-exports the API.

Imports are read from the source (every ``import`` statement, those inside functions too).
"""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

LAYERS = [
    ["backends"],
    ["dlcore.checks", "dlcore.modes", "dlcore.random"],
    ["dlcore.core", "dlcore.ops", "dlcore.functional", "dlcore.gradcheck", "dlcore.init"],
    ["dlcore.nn"],
    ["dlcore.losses", "dlcore.optim", "dlcore.metrics", "dlcore.io", "dlcore.onnx", "dlcore.data",
     "dlcore.distributed", "dlcore.cuda_graph"],
    ["dlcore.models"],
    ["dlcore.training", "dlcore.training.trainer", "dlcore.training.callbacks", "dlcore.training.history",
     "dlcore.training.plots"],
    ["dlcore.unsupervised"],
    ["dlcore.training.runconfig", "dlcore.training.build", "dlcore.training.run", "dlcore.training.saved",
     "dlcore.cli"],
    ["dlcore"],
]
#: Tensor's operators are the Functions of ops/math.py, which need Tensor: the one mutual import
MUTUAL = {("dlcore.core", "dlcore.ops.math"), ("dlcore.ops.math", "dlcore.core")}


def _modules() -> dict[str, Path]:
    found = {}
    for package in ("dlcore", "backends"):
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path):
    """(imported module, imported name or None) for each import statement of the module ``name``."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                yield (submodule, None) if submodule in MODULES else (base, alias.name)


def _layer(module: str) -> int:
    """The layer of ``module``: that of the longest LAYERS prefix naming it or a package above it."""
    best, level = "", None
    for i, names in enumerate(LAYERS):
        for prefix in names:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > len(best):
                best, level = prefix, i
    assert level is not None, f"{module} is in no layer of tests/test_layers.py"
    return level


def _edges():
    for name, path in MODULES.items():
        for target, _ in _imports(name, path):
            if target in MODULES and target != name:
                yield name, target


def test_no_module_imports_a_layer_above_its_own():
    upward = [f"{a} (layer {_layer(a)}) imports {b} (layer {_layer(b)})" for a, b in _edges() if _layer(b) > _layer(a)]
    assert not upward, "\n".join(upward)


def test_the_import_graph_has_no_cycle():
    graph: dict[str, set] = {}
    for a, b in _edges():
        if (a, b) not in MUTUAL and not b.startswith(a + ".") and not a == b.rpartition(".")[0]:
            graph.setdefault(a, set()).add(b)  # a package importing its own modules is not a cycle

    def cycle_from(start):
        stack, seen = [(start, [start])], set()
        while stack:
            node, path = stack.pop()
            for nxt in graph.get(node, ()):
                if nxt == start:
                    return path + [start]
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, path + [nxt]))
        return None

    cycles = [" → ".join(c) for c in map(cycle_from, graph) if c]
    assert not cycles, "\n".join(cycles)


def test_no_package_imports_another_packages_private_names():
    sources = dict(MODULES)
    sources.update({".".join(p.relative_to(ROOT).with_suffix("").parts): p for p in (ROOT / "scripts").rglob("*.py")})
    private = []
    for name, path in sources.items():
        for target, imported in _imports(name, path):
            if imported and imported.startswith("_") and target.split(".")[:2] != name.split(".")[:2]:
                private.append(f"{name} imports {imported} from {target}")
    assert not private, "\n".join(private)


def test_the_layer_table_covers_every_module():
    for module in MODULES:
        _layer(module)
