"""README.md's Layout section describes each Parley app once (it had been pasted three times,
each copy naming a different subset of the apps)."""

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"
APPS = ("directory", "presence", "chat", "archiving", "federation", "web")


def _layout_section() -> str:
    text = README.read_text(encoding="utf-8")
    match = re.search(r"^## Layout\n(.*?)(?=^## )", text, flags=re.MULTILINE | re.DOTALL)
    assert match is not None, "README.md has no '## Layout' section"
    return match.group(1)


def test_readme_layout_names_every_app_exactly_once():
    layout = _layout_section()

    assert {app: layout.count(f"`{app}/`") for app in APPS} == dict.fromkeys(APPS, 1)


def test_readme_layout_paragraph_is_not_repeated():
    layout = _layout_section()

    assert layout.count("`config/` holds the wiring") == 1
    assert layout.count("`tests/` mirrors the apps") == 1
    assert layout.count("Inside an\napp,") == 1
