"""The shape of the code, read from its source with `ast`: one import direction, no hidden imports, small rooms.

- The core never imports an edge (the command line, the web app, the scheduler, the executors).
- `subscribers/` (the reader-records layer) may import `digest`; `digest` never imports `subscribers`
  (the command line and the web app, edges both, aside).
- An import inside a function is only for an optional heavy dependency on ALLOWED_LAZY, with a comment
  saying why, on its line or the line above.
- No file over MAX_FILE_LINES lines and no function over MAX_FUNCTION_LINES (migrations aside).

Each rule is checked on the project and, so that a broken checker cannot pass silently, on a small
tree that breaks it.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGES = ("digest", "subscribers")
# Modules on the outside: they may import anything; nothing in the core may import them.
EDGES = ("digest.cli", "digest.web", "digest.scheduler", "digest.worker", "digest.executors", "digest.__main__")
# Edges that may use the reader-records layer (they serve readers and operators).
MAY_IMPORT_SUBSCRIBERS = ("digest.cli", "digest.web")
# Modules slow to import and needed by one command or path only; imported where used, with a comment.
# digest.web is the FastAPI app: `digest serve` alone loads it, so other commands start without it.
ALLOWED_LAZY = ("cryptography", "uvicorn", "alembic", "procrastinate", "mjml", "premailer", "rich", "email_validator",
                "flufl", "digest.web")
# Migrations are written once and never edited: they stay whole, however long.
NOT_CHECKED_FOR_SIZE = ("digest.migrations",)
NOT_CHECKED_FOR_LAZY = ()
MAX_FILE_LINES = 500
MAX_FUNCTION_LINES = 80


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, dotted
    target: str  # the imported module, dotted and absolute
    line: int
    in_function: bool
    commented: bool


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _within(module: str, prefixes) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def _absolute(module: str, is_package: bool, node: ast.ImportFrom) -> list[str]:
    if node.level == 0:
        base = node.module or ""
    else:
        package = module.split(".") if is_package else module.split(".")[:-1]
        package = package[: len(package) - (node.level - 1)]
        base = ".".join(package + ([node.module] if node.module else []))
    if node.module:
        return [base]
    return [f"{base}.{alias.name}" for alias in node.names]  # `from . import ledger` imports digest.ledger


def source_files(root: Path):
    for package in PACKAGES:
        yield from sorted((root / package).rglob("*.py"))


def imports(root: Path) -> list[Import]:
    found = []
    for path in source_files(root):
        module = module_name(root, path)
        lines = path.read_text(encoding="utf-8").splitlines()
        tree = ast.parse("\n".join(lines), str(path))
        top = {id(node) for node in tree.body}
        for statement in tree.body:  # `if TYPE_CHECKING:` and `try:` blocks at module level are top level too
            if isinstance(statement, (ast.If, ast.Try)):
                top.update(id(n) for n in ast.walk(statement))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                targets = _absolute(module, path.name == "__init__.py", node)
            else:
                continue
            text = lines[node.lineno - 1] + (lines[node.lineno - 2] if node.lineno > 1 else "")
            for target in targets:
                found.append(Import(module, target, node.lineno, id(node) not in top, "#" in text))
    return found


def direction_errors(root: Path) -> list[str]:
    errors = []
    for imp in imports(root):
        where = f"{imp.module}:{imp.line} imports {imp.target}"
        if not _within(imp.module, EDGES) and imp.module.startswith("digest") and _within(imp.target, EDGES):
            errors.append(f"{where}: the core must not import an edge ({', '.join(EDGES)})")
        if (_within(imp.module, ("digest",)) and not _within(imp.module, MAY_IMPORT_SUBSCRIBERS)
                and _within(imp.target, ("subscribers",))):
            errors.append(f"{where}: digest must not import subscribers (it is the layer on top of the core)")
    return errors


def lazy_import_errors(root: Path) -> list[str]:
    errors = []
    for imp in imports(root):
        if not imp.in_function or _within(imp.module, NOT_CHECKED_FOR_LAZY):
            continue
        where = f"{imp.module}:{imp.line} imports {imp.target} inside a function"
        if not _within(imp.target, ALLOWED_LAZY):
            errors.append(f"{where}: import it at the top of the module (only {', '.join(ALLOWED_LAZY)} may wait)")
        elif not imp.commented:
            errors.append(f"{where}: say in a comment why it waits")
    return errors


def size_errors(root: Path) -> list[str]:
    errors = []
    for path in source_files(root):
        module = module_name(root, path)
        if _within(module, NOT_CHECKED_FOR_SIZE):
            continue
        text = path.read_text(encoding="utf-8")
        count = len(text.splitlines())
        if count > MAX_FILE_LINES:
            errors.append(f"{path.relative_to(root)} has {count} lines; at most {MAX_FILE_LINES}")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    errors.append(f"{module}.{node.name} (line {node.lineno}) has {length} lines; "
                                  f"at most {MAX_FUNCTION_LINES}")
    return errors


def test_the_core_never_imports_an_edge_and_digest_never_imports_subscribers():
    assert direction_errors(ROOT) == []


def test_imports_inside_functions_are_only_for_commented_heavy_dependencies():
    assert lazy_import_errors(ROOT) == []


def test_no_file_over_500_lines_and_no_function_over_80():
    assert size_errors(ROOT) == []


# -- the checkers themselves, on a tree that breaks each rule ---------------------------------------


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in {"digest/__init__.py": "", "subscribers/__init__.py": "", **files}.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize("source", [
    "from .cli import main\n",
    "from digest.web.app import create_app\n",
    "from . import scheduler\n",
    "import digest.executors.queue\n",
    "from .worker import run_inline\n",
])
def test_a_core_to_edge_import_is_caught(tmp_path, source):
    root = _tree(tmp_path, {"digest/ledger.py": source})
    errors = direction_errors(root)
    assert len(errors) == 1 and "digest.ledger:1" in errors[0] and "must not import an edge" in errors[0]


@pytest.mark.parametrize("source", ["from subscribers.follows import follow\n", "import subscribers\n"])
def test_a_digest_to_subscribers_import_is_caught_but_not_from_the_cli(tmp_path, source):
    root = _tree(tmp_path, {"digest/queries.py": source, "digest/cli/__init__.py": source,
                            "subscribers/follows.py": "from digest.queries import load_readers\n"})
    errors = direction_errors(root)
    assert len(errors) == 1 and errors[0].startswith("digest.queries:1") and "must not import subscribers" in errors[0]


def test_an_edge_may_import_the_core_and_another_edge(tmp_path):
    root = _tree(tmp_path, {"digest/cli/__init__.py": "from ..pipeline import Pipeline\nfrom ..scheduler import x\n",
                            "digest/scheduler.py": "from .executors.queue import y\n"})
    assert direction_errors(root) == []


def test_an_import_inside_a_function_is_caught_unless_heavy_and_commented(tmp_path):
    root = _tree(tmp_path, {"digest/message.py": (
        "def sign():\n"
        "    import cryptography  # 15 ms to import: only when a key is configured\n"
        "def later():\n"
        "    from .queries import load\n"
        "def quiet():\n"
        "    import uvicorn\n"
    )})
    errors = lazy_import_errors(root)
    assert len(errors) == 2
    assert "digest.message:4 imports digest.queries inside a function: import it at the top" in errors[0]
    assert "digest.message:6 imports uvicorn inside a function: say in a comment why" in errors[1]


def test_a_long_file_and_a_long_function_are_caught(tmp_path):
    body = "".join(f"    x{i} = {i}\n" for i in range(MAX_FUNCTION_LINES))
    root = _tree(tmp_path, {"subscribers/big.py": "def long():\n" + body + "\n" * (MAX_FILE_LINES - MAX_FUNCTION_LINES),
                            "digest/migrations/versions/0001.py": "def upgrade():\n" + body})
    errors = size_errors(root)
    assert len(errors) == 2
    assert errors[0].startswith(f"subscribers/big.py has {MAX_FILE_LINES + 1} lines")
    assert errors[1].startswith(f"subscribers.big.long (line 1) has {MAX_FUNCTION_LINES + 1} lines")
