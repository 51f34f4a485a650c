"""The house rules of docs/architecture.md, enforced: layers, sizes, Julia twins, flat API.

Imports are read with :mod:`ast` (nothing is imported), so the checks are fast and see lazy
imports inside functions too.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "kerrfield"
ARCHITECTURE = ROOT / "docs" / "architecture.md"

#: layer of each room; a module may import only from rooms of a strictly lower layer, or
#: from its own room. cli is the interface; _validate/_version are the foundation.
LAYERS: dict[str, int] = {
    "cli": 5,
    "fitting": 4,
    "plotting": 3,
    "models": 3,
    "fields": 2,
    "physics": 2,
    "vlbi": 2,
    "bridge": 1,
    "io": 1,
    "_validate": 0,
    "_progress": 0,
    "_version": 0,
}
#: imports that point upward on purpose: the ray tracer's backend="julia" reaches the bridge,
#: which is below it, so there is none today; keep this empty unless the doc explains one
ALLOWED_UPWARD: set[tuple[str, str]] = set()

MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 80


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "julia" not in p.relative_to(PACKAGE).parts)


def _room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _dotted(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Absolute names of the kerrfield modules that ``path`` imports (anywhere in it)."""
    module = _dotted(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("kerrfield")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            if name.startswith("kerrfield"):
                out.add(name)
                out |= {f"{name}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module":
            arg = node.args[0] if node.args else None
            if isinstance(arg, ast.Constant) and str(arg.value).startswith("kerrfield."):
                out.add(str(arg.value))
    return out


def _edges() -> dict[str, set[str]]:
    known = {_dotted(p) for p in _modules()}
    edges: dict[str, set[str]] = {}
    for path in _modules():
        mod = _dotted(path)
        targets = set()
        for name in _imports(path):
            while name and name not in known:
                name = name.rsplit(".", 1)[0] if "." in name else ""
            if name and name != mod:
                targets.add(name)
        edges[mod] = targets
    return edges


def test_every_room_has_a_layer():
    rooms = {_room(_dotted(p)) for p in _modules()} - {"__init__", "__main__"}
    assert rooms <= set(LAYERS), f"rooms without a layer in LAYERS: {rooms - set(LAYERS)}"


def test_imports_point_downwards():
    """A room imports only from lower layers (or itself); the package root only lazily."""
    bad = []
    for mod, targets in _edges().items():
        room = _room(mod)
        if room == "__init__":
            continue
        for t in targets:
            other = _room(t)
            if other == "__init__":
                bad.append(f"{mod} -> {t} (import the defining module, not the package root)")
            elif other != room and LAYERS[other] >= LAYERS[room] and (room, other) not in \
                    ALLOWED_UPWARD:  # fmt: skip
                bad.append(f"{mod} ({room}, layer {LAYERS[room]}) -> {t} ({other}, layer "
                           f"{LAYERS[other]})")  # fmt: skip
    assert not bad, "upward or sideways imports:\n" + "\n".join(sorted(bad))


def test_no_import_cycles():
    """No cycle among module-level imports (lazy imports inside functions excluded)."""
    known = {_dotted(p) for p in _modules()}
    graph: dict[str, set[str]] = {}
    for path in _modules():
        mod = _dotted(path)
        package = mod if path.name == "__init__.py" else mod.rsplit(".", 1)[0]
        deps = set()
        for node in ast.parse(path.read_text()).body:  # top level only
            if isinstance(node, ast.ImportFrom) and node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
                cands = [name] + [f"{name}.{a.name}" for a in node.names]
                # a module's own parent packages are imported first anyway: not an edge
                deps |= {c for c in cands if c in known and not mod.startswith(c)}
        graph[mod] = deps
    seen: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        seen[m] = 1
        stack.append(m)
        for d in graph.get(m, ()):
            if seen.get(d) == 1:
                pytest.fail("import cycle: " + " -> ".join(stack[stack.index(d):] + [d]))
            elif d not in seen:
                visit(d)
        stack.pop()
        seen[m] = 2

    for m in sorted(graph):
        if m not in seen and not m.endswith("__init__"):
            visit(m)


def _function_lengths(path: Path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if (body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                    and isinstance(body[0].value.value, str)):  # fmt: skip
                body = body[1:]
            if body:
                yield node.name, node.lineno, body[-1].end_lineno - body[0].lineno + 1


def test_module_and_function_sizes():
    """No module over 400 lines, no function body over 80 lines (docstrings excluded)."""
    offenders = []
    for path in _modules():
        n = len(path.read_text().splitlines())
        if n > MAX_MODULE_LINES:
            offenders.append(f"{path.relative_to(ROOT)}: {n} lines > {MAX_MODULE_LINES}")
        for name, line, length in _function_lengths(path):
            if length > MAX_FUNCTION_LINES:
                offenders.append(f"{path.relative_to(ROOT)}:{line} {name}(): body {length} "
                                 f"lines > {MAX_FUNCTION_LINES}")  # fmt: skip
    assert not offenders, "\n".join(offenders)


def test_no_test_script_or_benchmark_module_over_the_limit():
    """The 400-line limit holds for tests, scripts and benchmarks too (functions there may be
    longer: a test reads top to bottom)."""
    offenders = [
        f"{p.relative_to(ROOT)}: {n} lines"
        for folder in ("tests", "scripts", "benchmarks")
        for p in sorted((ROOT / folder).rglob("*.py"))
        if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES
    ]
    assert not offenders, "\n".join(offenders)


def _twin_table() -> dict[str, str]:
    """The Python ↔ Julia rows of the twin table in docs/architecture.md."""
    rows = re.findall(r"^\|\s*`(kerrfield/physics/[^`]+\.py)`\s*\|\s*`(julia/src/[^`]+\.jl)`",
                      ARCHITECTURE.read_text(), flags=re.M)  # fmt: skip
    return dict(rows)


def test_every_physics_file_has_its_julia_twin():
    """Each public physics file is listed with a Julia twin of the same path, and both exist."""
    table = _twin_table()
    physics = sorted(
        str(p.relative_to(ROOT)) for p in (PACKAGE / "physics").rglob("*.py")
        if not p.name.startswith("_")
    )  # fmt: skip
    assert sorted(table) == physics, "docs/architecture.md twin table vs kerrfield/physics/"
    for py, jl in table.items():
        stem = Path(py).relative_to("kerrfield/physics").with_suffix("")
        assert Path(jl).relative_to("julia/src").with_suffix("") == stem, (py, jl)
        assert (ROOT / jl).is_file(), f"{jl} (twin of {py}) is missing"
        assert f'include("{Path(jl).relative_to("julia/src")}")' in \
            (ROOT / "julia/src/KerrField.jl").read_text(), f"{jl} not included"  # fmt: skip


def test_flat_api_shows_only_public_names():
    import kerrfield as kf

    names = dir(kf)
    assert "raytrace" in names and "fit" in names
    leaked = [n for n in names if n.startswith("_") and n != "__version__"]
    leaked += [n for n in names if n in ("Any", "annotations", "importlib")]
    assert not leaked, leaked
    for n in kf.__all__:
        assert getattr(kf, n) is not None, n
