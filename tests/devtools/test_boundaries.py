"""Production code never imports the dev and test machinery (DESIGN, "Layout")."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOT_PRODUCTION = {"devtools", "tests", "scripts", ".venv", "node_modules"}
FORBIDDEN = ("devtools", "tests", "django.test", "pytest")


def production_modules():
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT).parts
        if parts[0] not in NOT_PRODUCTION and not parts[0].startswith("."):
            yield path


def imported_names(path: Path):
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def test_no_production_module_imports_dev_or_test_machinery():
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in production_modules()
        for name in imported_names(path)
        if any(name == forbidden or name.startswith(forbidden + ".") for forbidden in FORBIDDEN)
    ]
    assert not offenders, offenders
    assert sum(1 for _ in production_modules()) > 50  # the walk really found the apps
