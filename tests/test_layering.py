"""The import graph of ecgread: no cycle, no upward import, a pure core, one namespace.

Every module under ``ecgread/`` (the top-level folders come in through the symlinks
``ecgread/models -> ../models`` etc.) is parsed, and every import statement in it is an
edge: absolute and relative, at module level and inside functions. Layers, bottom to top::

    ecgread.errors < ecgread.models < ecgread.config < ecgread.audit
        < ecgread.integration < ecgread.reporting < ecgread.workers < ecgread.cli

A module imports only from its own layer and the layers below. The package ``ecgread``
itself (a docstring and a lazily resolved ``__version__``) sits at the bottom with
``errors``; ``ecgread.__main__`` belongs to ``cli``.

Integration sits below reporting (issue 9 proposed the reverse). Reporting builds the
HL7 ORU^R01, so it needs the HL7 v2 syntax that the integration layer owns
(``integration.hl7_header.escape``, the inverse of the ``unescape`` its listener parses
orders with), while no integration module needs reporting: outbound MLLP and C-STORE
carry bytes, and the workers hand a rendered report to them. Moving the escaping up into
reporting would make the HL7 listener import the report builders, and copying it would
write one rule twice. The one module that did need both layers, the example-report
script (decode, analyse with the models, render), was wiring, and moved to the top
(``ecgread.cli.example_report``).

Checks:
(a) no import cycle among ecgread modules (imports under ``if TYPE_CHECKING:`` are
    exempt from this check only: they never run);
(b) no upward edge in the layer order;
(c) the core (``ecgread.models``) imports nothing but pure standard-library modules,
    numpy, scipy (not ``scipy.io``), ``ecgread.errors`` and itself, and calls no
    ``open()``: no file, network, process or ONNX Runtime state;
(d) nothing imports a repository folder by its bare name (``audit.db`` instead of
    ``ecgread.audit.db``): installed, only ``ecgread`` exists.
"""

from __future__ import annotations

import ast
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "ecgread"
LAYERS = ("ecgread.errors", "ecgread.models", "ecgread.config", "ecgread.audit",
          "ecgread.integration", "ecgread.reporting", "ecgread.workers", "ecgread.cli",
          "ecgread.testing")  # test and bench support (real peers): nothing imports it
#: Repository folders that are importable only as ``ecgread.<name>`` (or not at all).
BARE_NAMES = frozenset({"models", "config", "integration", "workers", "reporting", "audit",
                        "bench", "tests"})
#: Standard-library modules the core may import: no I/O, no processes, no global state.
PURE_STDLIB = frozenset({
    "__future__", "abc", "bisect", "cmath", "collections", "copy", "dataclasses",
    "datetime", "decimal", "enum", "fractions", "functools", "heapq", "itertools", "math",
    "numbers", "operator", "re", "statistics", "string", "textwrap", "types", "typing",
    "warnings",
})
#: Known exceptions to (d), each with its reason (none today).
BARE_ALLOWED: frozenset[tuple[str, str]] = frozenset()
CORE_THIRD_PARTY = frozenset({"numpy", "scipy"})
CORE_FORBIDDEN = frozenset({"scipy.io"})


@dataclass(frozen=True)
class Import:
    """One import statement's edge: ``source`` imports ``target`` at ``line``."""

    source: str
    target: str
    line: int
    type_checking: bool = False

    def __str__(self) -> str:
        guard = " (TYPE_CHECKING)" if self.type_checking else ""
        return f"{self.source}:{self.line} -> {self.target}{guard}"


def find_modules(package_dir: Path, package: str = PACKAGE) -> dict[str, tuple[Path, bool]]:
    """Dotted name -> (file, is a package) for every ``.py`` file, following symlinks."""
    found: dict[str, tuple[Path, bool]] = {}
    for folder, dirs, files in os.walk(package_dir, followlinks=True):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        rel = Path(folder).relative_to(package_dir).parts
        for f in sorted(files):
            if not f.endswith(".py"):
                continue
            stem = f[:-3]
            parts = (package, *rel) if stem == "__init__" else (package, *rel, stem)
            found[".".join(parts)] = (Path(folder) / f, stem == "__init__")
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _statements(tree: ast.AST) -> list[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Every import statement anywhere in ``tree``, with whether it is TYPE_CHECKING-only."""
    out: list[tuple[ast.Import | ast.ImportFrom, bool]] = []

    def visit(node: ast.AST, guarded: bool) -> None:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            out.append((node, guarded))
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                visit(child, True)
            for child in node.orelse:
                visit(child, guarded)
            return
        for child in ast.iter_child_nodes(node):
            visit(child, guarded)

    visit(tree, False)
    return out


def _known(target: str, modules: dict[str, tuple[Path, bool]]) -> str:
    """An ecgread target reduced to the longest module name that exists."""
    parts = target.split(".")
    while len(parts) > 1 and ".".join(parts) not in modules:
        parts.pop()
    return ".".join(parts)


def find_imports(modules: dict[str, tuple[Path, bool]], package: str = PACKAGE
                 ) -> list[Import]:
    """Every import of every module, targets resolved to module names."""
    edges: list[Import] = []
    for name, (path, is_package) in modules.items():
        here = name if is_package else name.rpartition(".")[0]
        for node, guarded in _statements(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                if node.level:
                    base = here.split(".")[:len(here.split(".")) - (node.level - 1)]
                    origin = ".".join(base + ([node.module] if node.module else []))
                else:
                    origin = node.module or ""
                subs = [f"{origin}.{a.name}" for a in node.names
                        if f"{origin}.{a.name}" in modules]
                # ``from pkg import submodule`` imports the submodule; any other name
                # comes from ``origin`` itself
                targets = subs if len(subs) == len(node.names) else [origin, *subs]
            for t in targets:
                if t == package or t.startswith(package + "."):
                    t = _known(t, modules)
                edges.append(Import(name, t, node.lineno, guarded))
    return edges


def find_cycles(edges: list[Import], package: str = PACKAGE) -> list[list[str]]:
    """The import cycles among package modules (strongly connected components, Tarjan),
    not counting TYPE_CHECKING imports."""
    graph: dict[str, set[str]] = {}
    for e in edges:
        if not e.type_checking and e.target.startswith(package) and e.target != e.source:
            graph.setdefault(e.source, set()).add(e.target)
            graph.setdefault(e.target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                connect(w)
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
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return cycles


def layer_of(module: str, package: str = PACKAGE) -> int | None:
    """Index in :data:`LAYERS` (the package itself: bottom; ``__main__``: top)."""
    if module == package:
        return 0
    if module == f"{package}.__main__":
        return len(LAYERS) - 1
    for i, layer in enumerate(LAYERS):
        if module == layer or module.startswith(layer + "."):
            return i
    return None


def upward_imports(edges: list[Import]) -> list[Import]:
    """Edges from a lower layer to a higher one (TYPE_CHECKING imports included)."""
    out = []
    for e in edges:
        src, dst = layer_of(e.source), layer_of(e.target)
        if src is not None and dst is not None and dst > src:
            out.append(e)
    return out


def _allowed_in_core(target: str) -> bool:
    if any(target == f or target.startswith(f + ".") for f in CORE_FORBIDDEN):
        return False
    if target == "ecgread.errors" or target.startswith("ecgread.models"):
        return True
    top = target.split(".")[0]
    return top in CORE_THIRD_PARTY or top in PURE_STDLIB


def impure_core_imports(edges: list[Import], core: str = "ecgread.models") -> list[Import]:
    """Imports of the core that are not pure (TYPE_CHECKING imports included)."""
    return [e for e in edges if (e.source == core or e.source.startswith(core + "."))
            and not _allowed_in_core(e.target)]


def core_file_opens(modules: dict[str, tuple[Path, bool]], core: str = "ecgread.models"
                    ) -> list[str]:
    """``module:line`` of every call of the builtin ``open`` in the core."""
    out = []
    for name, (path, _) in modules.items():
        if name == core or name.startswith(core + "."):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                        and node.func.id == "open":
                    out.append(f"{name}:{node.lineno}")
    return out


def bare_imports(edges: list[Import]) -> list[Import]:
    """Imports of a repository folder by its bare name (not under ``ecgread.``)."""
    return [e for e in edges if e.target.split(".")[0] in BARE_NAMES
            and (e.source, e.target.split(".")[0]) not in BARE_ALLOWED]


# --- the checks, on the real tree ----------------------------------------------------

@pytest.fixture(scope="module")
def tree() -> tuple[dict[str, tuple[Path, bool]], list[Import]]:
    modules = find_modules(ROOT / PACKAGE)
    return modules, find_imports(modules)


def test_the_walk_sees_every_layer_through_the_symlinks(tree) -> None:  # type: ignore[no-untyped-def]
    modules, edges = tree
    assert {layer_of(m) for m in modules} == set(range(len(LAYERS)))
    assert all(layer_of(m) is not None for m in modules), [
        m for m in modules if layer_of(m) is None]
    # a module-level and a function-level import the checks must see
    assert Import("ecgread.models.analysis", "ecgread.models.interpret", 0) in [
        Import(e.source, e.target, 0) for e in edges]
    assert any(e.source == "ecgread.workers.batch_read" and e.target == "ecgread.reporting.pdf"
               for e in edges)


def test_no_import_cycle(tree) -> None:  # type: ignore[no-untyped-def]
    _, edges = tree
    assert find_cycles(edges) == []


def test_no_upward_import(tree) -> None:  # type: ignore[no-untyped-def]
    _, edges = tree
    assert [str(e) for e in upward_imports(edges)] == []


def test_the_core_is_pure(tree) -> None:  # type: ignore[no-untyped-def]
    modules, edges = tree
    assert [str(e) for e in impure_core_imports(edges)] == []
    assert core_file_opens(modules) == []


def test_nothing_imports_a_bare_folder_name(tree) -> None:  # type: ignore[no-untyped-def]
    _, edges = tree
    assert [str(e) for e in bare_imports(edges)] == []


# --- the checker itself finds what it must -------------------------------------------

def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)


def test_the_checks_catch_cycles_upward_impure_and_bare_imports(tmp_path: Path) -> None:
    _write(tmp_path / "real_models", {
        "__init__.py": "",
        "a.py": "import os\nfrom . import b\n",
        "b.py": "def f():\n    from ecgread.models import a\n",  # cycle a <-> b
        "c.py": ("from typing import TYPE_CHECKING\nimport numpy as np\n"
                 "if TYPE_CHECKING:\n    from ecgread.workers.w import W\n"
                 "    from .d import D\n"
                 "def g():\n    return open('x')\n"),
        "d.py": "from ecgread.models.c import g\n",  # d -> c, c -> d only TYPE_CHECKING
    })
    _write(tmp_path / "ecgread", {
        "__init__.py": "",
        "errors.py": "",
        "workers/__init__.py": "",
        "workers/w.py": "from ..models.a import x\nfrom audit.db import s\nW = 1\n",
    })
    (tmp_path / "ecgread" / "models").symlink_to(tmp_path / "real_models")
    modules = find_modules(tmp_path / "ecgread")
    assert set(modules) == {"ecgread", "ecgread.errors", "ecgread.workers",
                            "ecgread.workers.w", "ecgread.models", "ecgread.models.a",
                            "ecgread.models.b", "ecgread.models.c", "ecgread.models.d"}
    edges = find_imports(modules)
    assert find_cycles(edges) == [["ecgread.models.a", "ecgread.models.b"]]
    assert [str(e) for e in upward_imports(edges)] == [
        "ecgread.models.c:4 -> ecgread.workers.w (TYPE_CHECKING)"]
    assert sorted(str(e) for e in impure_core_imports(edges)) == [
        "ecgread.models.a:1 -> os", "ecgread.models.c:4 -> ecgread.workers.w (TYPE_CHECKING)"]
    assert core_file_opens(modules) == ["ecgread.models.c:7"]
    assert [str(e) for e in bare_imports(edges)] == ["ecgread.workers.w:2 -> audit.db"]
