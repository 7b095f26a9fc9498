"""Dependencies run one way (STYLE.md): federation calls chat, never the reverse."""

import ast
from pathlib import Path

import chat

CHAT = Path(chat.__file__).resolve().parent


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module)
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            modules.add(str(node.args[0].value))
    return modules


def test_no_module_of_chat_imports_federation():
    offenders = {
        str(path.relative_to(CHAT.parent)): sorted(
            name
            for name in _imported_modules(path)
            if name == "federation" or name.startswith("federation.")
        )
        for path in sorted(CHAT.rglob("*.py"))
    }

    assert {path: names for path, names in offenders.items() if names} == {}
