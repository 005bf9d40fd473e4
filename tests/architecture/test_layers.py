"""Layers point one way (issue 13, docs/architecture.md "Layers"): usagebill/ is the library and
imports none of ingestion/, exports/, dagster_project/ or the command line layer cli/.

Walks every .py file of usagebill/ with ast (imports at any depth, including the ones inside
functions) so a lazy import inside a function is caught as well as a top-level one."""

from __future__ import annotations

import ast
from pathlib import Path

from usagebill.paths import PROJECT_ROOT

LIBRARY = PROJECT_ROOT / "usagebill"
FORBIDDEN = {"ingestion", "exports", "dagster_project", "cli"}
# Old entry points kept for `python -m usagebill.demo` / `python -m usagebill.cli`; each may import
# cli (and nothing else forbidden) only inside a function or the `__main__` block.
SHIMS = {"demo.py": "cli", "cli.py": "cli"}


def imported_tops(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, top-level package) of every absolute import in the tree."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module.split(".")[0]))
    return found


def module_level_imports(tree: ast.Module) -> set[int]:
    return {node.lineno for node in tree.body if isinstance(node, ast.Import | ast.ImportFrom)}


def layer_violations(root: Path) -> list[str]:
    out = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        relative = path.relative_to(root).as_posix()
        top_level = module_level_imports(tree)
        for line, top in imported_tops(tree):
            if top not in FORBIDDEN:
                continue
            if SHIMS.get(relative) == top and line not in top_level:
                continue
            out.append(f"{root.name}/{relative}:{line} imports {top}")
    return out


def test_library_imports_no_outer_layer() -> None:
    violations = layer_violations(LIBRARY)
    assert not violations, "the library must not import outer layers:\n" + "\n".join(violations)


def test_the_check_catches_lazy_and_top_level_imports(tmp_path: Path) -> None:
    # the walk must see imports at every depth, else the test above could never fail
    lib = tmp_path / "usagebill"
    (lib / "sub").mkdir(parents=True)
    (lib / "ok.py").write_text("import json\nfrom usagebill import money\nfrom . import paths\n")
    (lib / "sub" / "lazy.py").write_text("def f():\n    from ingestion.landing import load_landing\n")
    (lib / "top.py").write_text("import exports.stripe\nimport dagster_project.definitions as d\n")
    (lib / "cli.py").write_text("from cli.main import main\n")  # a shim may not import cli at module level
    assert layer_violations(lib) == [
        "usagebill/cli.py:1 imports cli",
        "usagebill/sub/lazy.py:2 imports ingestion",
        "usagebill/top.py:1 imports exports",
        "usagebill/top.py:2 imports dagster_project",
    ]


def test_shims_only_forward_to_the_command_line_layer() -> None:
    # the library's old entry points run the command line layer's modules, nothing else
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "usagebill.cli", "--help"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and "usage: usagebill <command>" in done.stdout, done.stderr
    assert "rate" in done.stdout and "cli.rate" not in done.stdout
