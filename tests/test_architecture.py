"""The rules of docs/architecture.md that import-linter (`make lint`) cannot express."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "comics_analysis"
# transformers' own dependencies, which a processor needs for images and arrays
MODELING_EXTERNAL = {"torch", "transformers", "numpy", "PIL", "safetensors"}


def _modules(folder: Path = PACKAGE) -> list[Path]:
    return sorted(folder.rglob("*.py"))


def _imported_roots(tree: ast.AST) -> set[str]:
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("path", _modules(PACKAGE / "modeling"), ids=lambda p: p.name)
def test_model_code_imports_only_torch_transformers_and_itself(path):
    outside = _imported_roots(ast.parse(path.read_text())) - MODELING_EXTERNAL - set(sys.stdlib_module_names)
    assert not outside, f"{path.relative_to(PACKAGE)} imports {sorted(outside)} (remote code must not)"
    relative = [
        node
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ImportFrom) and node.level > 2
    ]
    assert not relative, f"{path.relative_to(PACKAGE)} reaches outside modeling with a relative import"


def test_no_module_over_600_lines_and_no_cli_module_over_400():
    too_long = []
    for path in _modules():
        lines = len(path.read_text().splitlines())
        limit = 400 if path.parent.name == "cli" else 600
        if lines > limit:
            too_long.append(f"{path.relative_to(PACKAGE)}: {lines} lines (limit {limit})")
    assert not too_long, "\n".join(too_long)


def _imports_inside_functions(path: Path) -> list[ast.ImportFrom]:
    found = []
    for fn in ast.walk(ast.parse(path.read_text())):
        if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
            found += [
                node
                for node in ast.walk(fn)
                if isinstance(node, ast.ImportFrom)
                and (node.level > 0 or (node.module or "").startswith("comics_analysis"))
            ]
    return found


def test_imports_of_the_package_inside_functions_say_why():
    """Inside a function, an import of the package is kept only where the module it loads pulls a
    heavy optional dependency (torch, transformers, datasets, gradio, ...), with a ``# lazy:`` reason
    on the line or the line above. The command modules of ``cli/`` are the one documented
    exception: each command imports its library module when it runs, so ``--help`` stays fast."""
    unexplained = []
    for path in _modules():
        if path.parent.name == "cli":
            continue
        lines = path.read_text().splitlines()
        for node in _imports_inside_functions(path):
            here, above = lines[node.lineno - 1], lines[node.lineno - 2] if node.lineno > 1 else ""
            if "# lazy:" not in here and "# lazy:" not in above:
                unexplained.append(f"{path.relative_to(PACKAGE)}:{node.lineno}: {here.strip()}")
    assert not unexplained, "imports inside functions without a '# lazy:' reason:\n" + "\n".join(unexplained)
