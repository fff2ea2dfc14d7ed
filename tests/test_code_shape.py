"""The package's shape: no module imports (at top level or inside a function) a module that imports it back."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "gan_lightning"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """The package's modules that ``path`` imports anywhere in its body; ``from a import b`` counts ``a.b``
    when that is a module, else ``a``."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name in modules}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and node.module in modules:
            named = {f"{node.module}.{alias.name}" for alias in node.names} & modules
            found |= named or {node.module}
    return found


def test_no_import_circle_in_the_package():
    paths = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {name: imports_of(path, set(paths)) - {name} for name, path in paths.items()}

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in graph[start]:
            if nxt == goal or (nxt not in seen and (seen.add(nxt) or reaches(nxt, goal, seen))):
                return True
        return False

    circles = sorted(f"{a} -> {b}" for a in graph for b in graph[a]
                     if not b.startswith(a + ".") and not a.startswith(b + ".") and reaches(b, a, set()))
    assert not circles, circles
    assert len(graph) > 30 and graph["gan_lightning.cli"]  # the walk saw the package


def test_the_training_loop_stays_small_and_tricks_stay_in_their_objects():
    """models/base.py holds the loop, not the tricks: <= 350 lines, a constructor of <= 15 arguments, and packing
    known only to the wrapper network (plots, sampling and callbacks ask the model for D's output per sample)."""
    import inspect

    from gan_lightning.models import GANModule

    base = PACKAGE / "models" / "base.py"
    assert len(base.read_text().splitlines()) <= 350
    arguments = [p for p in inspect.signature(GANModule.__init__).parameters if p != "self"]
    assert len(arguments) <= 15, arguments
    knows_packing = sorted(str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
                           if "pack" in {n.attr for n in ast.walk(ast.parse(p.read_text())) if isinstance(n, ast.Attribute)})
    assert knows_packing == ["networks/packing.py"], knows_packing
