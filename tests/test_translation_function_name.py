"""`_` is the translation function wherever a module imports it as such; a function of that
module that also assigns `_` (`obj, _ = ...get_or_create()`) makes it a local name for the
whole function, and its `_("...")` becomes an UnboundLocalError: a 500 instead of a 400."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ["archiving", "chat", "config", "directory", "federation", "presence", "supervision", "web"]


def _imports_underscore(tree: ast.Module) -> bool:
    return any(
        isinstance(node, (ast.Import, ast.ImportFrom))
        and any((alias.asname or alias.name) == "_" for alias in node.names)
        for node in tree.body
    )


NEW_SCOPES = (
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.Lambda,
    ast.ClassDef,
    ast.ListComp,
    ast.SetComp,
    ast.DictComp,
    ast.GeneratorExp,
)


def _assigns_underscore(function: ast.AST) -> list[int]:
    """Lines where the function itself (not a nested function or comprehension) binds `_`."""
    lines, pending = [], list(ast.iter_child_nodes(function))
    while pending:
        node = pending.pop()
        if isinstance(node, NEW_SCOPES):
            continue
        if isinstance(node, ast.Name) and node.id == "_" and isinstance(node.ctx, ast.Store):
            lines.append(node.lineno)
        pending.extend(ast.iter_child_nodes(node))
    return sorted(lines)


def test_no_function_rebinds_the_translation_function():
    found = []
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            if not _imports_underscore(tree):
                continue
            for node in ast.walk(tree):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    found.extend(
                        f"{path.relative_to(ROOT)}:{line} in {node.name}()"
                        for line in _assigns_underscore(node)
                    )
    assert not found, (
        "These assign `_`, which is the translation function in their module; name the unused "
        "value `_created`, `_rest`, ... instead:\n" + "\n".join(found)
    )
