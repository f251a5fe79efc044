"""The shape of the house (docs/architecture.md): every import runs down
models <- store <- pipelines <- serve_apps <- thumper, with cluster/ beside (it may read models/,
and the rooms above store/ may use it); no import cycles; SQL only in store/; the database reached
through store objects, never a bare connection; THUMPER_* read only by models/settings.py; files
replaced atomically only by models/files.py. Lazy imports inside functions count as arrows too.

Each check is first run on a small tree that breaks its rule, so a checker that sees nothing
fails here rather than passing forever."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LAYERS = {"models": 0, "store": 1, "pipelines": 2, "serve_apps": 3, "thumper": 4}
PACKAGES = [*LAYERS, "cluster"]
# cluster/ sits beside: it may import models/ (settings, sizes); pipelines/ and up may import it
CLUSTER_MAY_IMPORT = {"models", "cluster"}
CLUSTER_IMPORTED_BY = {"pipelines", "serve_apps", "thumper", "cluster"}
SQL = re.compile(r"\b(SELECT\s.+\sFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|CREATE\s+(TABLE|INDEX))\b",
                 re.S)


def parse(f: Path) -> ast.Module:
    """ast.parse, once more when CPython 3.11 raises its spurious "AST constructor recursion depth
    mismatch" (python/cpython#106905: its AST recursion counter is shared between threads, and this
    process has Ray's threads running; a real syntax error raises SyntaxError, never this)."""
    try:
        return ast.parse(f.read_text(), str(f))
    except SystemError:
        return ast.parse(f.read_text(), str(f))


def modules(root: Path) -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for f in (root / pkg).rglob("*.py"):
            name = ".".join(f.relative_to(root).with_suffix("").parts)
            out[name.removesuffix(".__init__")] = f
    return out


def import_graph(root: Path) -> dict[str, set[str]]:
    mods = modules(root)
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for m, f in mods.items():
        package = m if f.name == "__init__.py" else m.rsplit(".", 1)[0]
        for node in ast.walk(parse(f)):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    base = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
                names = [base] + [f"{base}.{a.name}" for a in node.names]
            else:
                continue
            graph[m] |= {n for n in names if n in mods and n != m}
    return graph


def upward(graph: dict[str, set[str]]) -> list[str]:
    bad = []
    for a, targets in graph.items():
        for b in targets:
            pa, pb = a.split(".")[0], b.split(".")[0]
            if pa == "cluster" and pb not in CLUSTER_MAY_IMPORT:
                bad.append(f"{a} -> {b} (cluster/ may import only models/)")
            elif pb == "cluster" and pa not in CLUSTER_IMPORTED_BY:
                bad.append(f"{a} -> {b} ({pa}/ sits below cluster/)")
            elif pa in LAYERS and pb in LAYERS and LAYERS[pb] > LAYERS[pa]:
                bad.append(f"{a} -> {b} (up from {pa}/ into {pb}/)")
    return sorted(bad)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def offences(root: Path, allowed: set[str], test) -> list[str]:
    """`test(node)` -> a reason, for every node of every module outside `allowed` (path prefixes)."""
    out = []
    for name, f in modules(root).items():
        if any(name == a or name.startswith(a + ".") for a in allowed):
            continue
        for node in ast.walk(parse(f)):
            if why := test(node):
                out.append(f"{f.relative_to(root)}:{node.lineno}: {why}")
    return out


def sql_text(node) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.search(node.value):
        return f"SQL {node.value[:40]!r}"
    return None


def bare_connection(node) -> str | None:
    if isinstance(node, ast.Attribute) and node.attr == "conn":
        return "a Store's connection reached from outside store/"
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "connect" \
            and isinstance(node.func.value, ast.Name) and node.func.value.id == "psycopg":
        return "psycopg.connect outside store/"
    return None


def thumper_env(node) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and re.fullmatch(r"THUMPER_[A-Z_]+", node.value):
        return f"{node.value} read outside models/settings.py"
    return None


def file_replace(node) -> str | None:
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("replace", "rename") \
            and isinstance(node.func.value, ast.Name) and node.func.value.id == "os":
        return "os.replace outside models.files.atomic_write"
    return None


@pytest.fixture
def broken_tree(tmp_path: Path) -> Path:
    """A tree that breaks every rule once."""
    files = {
        "models/__init__.py": "",
        "models/a.py": "from models import b\n",
        "models/b.py": "def f():\n    from models.a import x\n",  # a cycle through a lazy import
        "models/env.py": "import os\nos.environ.get('THUMPER_X')\nos.replace('a', 'b')\n",
        "store/__init__.py": "",
        "store/db.py": "",
        "pipelines/__init__.py": "",
        "pipelines/p.py": "from thumper import cli\nQ = 'SELECT id FROM images'\ndef g(s):\n    return s.conn\n",
        "serve_apps/__init__.py": "",
        "thumper/__init__.py": "",
        "thumper/cli.py": "",
        "cluster/__init__.py": "",
        "cluster/c.py": "import store.db\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path


def test_the_checks_catch_a_broken_tree(broken_tree):
    g = import_graph(broken_tree)
    assert cycles(g) == [["models.a", "models.b"]]
    assert {arrow.split(" (")[0] for arrow in upward(g)} == {
        "cluster.c -> store.db", "pipelines.p -> thumper", "pipelines.p -> thumper.cli"}
    assert len(offences(broken_tree, {"store"}, sql_text)) == 1
    assert len(offences(broken_tree, {"store"}, bare_connection)) == 1
    assert len(offences(broken_tree, {"models.settings"}, thumper_env)) == 1
    assert len(offences(broken_tree, {"models.files"}, file_replace)) == 1


def test_every_import_runs_down_and_nothing_goes_round():
    g = import_graph(REPO)
    assert len(g) > 50, "the checker found too few modules to mean anything"
    assert cycles(g) == []
    assert upward(g) == []


def test_sql_lives_in_store_and_the_database_is_reached_through_it():
    assert offences(REPO, {"store"}, sql_text) == []
    assert offences(REPO, {"store"}, bare_connection) == []


def test_environment_and_file_replacement_have_one_home_each():
    assert offences(REPO, {"models.settings"}, thumper_env) == []
    assert offences(REPO, {"models.files"}, file_replace) == []
