"""Mutation testing, one module at a time with only its own tests (mutmut 3; not part of CI: too slow).

    ./run mutate MODULE [--fresh] [--report]

MODULE is a source file (digest/ledger.py) or a short name (ledger). The shared settings are in
pyproject.toml under [tool.mutmut]; this script adds, per module, which file is mutated and which
test files may kill its mutants, so a module's score says what *its* tests pin down. Results stay
in mutants/ (git-ignored): a second run tests again only the survivors (and mutants without a result
or without a test), so killing survivors with new tests costs seconds; mutmut itself resets the
mutants of a function whose source changed. --fresh starts over, --report prints the figures and
the survivors without running anything. See docs/testing.md.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MUTANTS = ROOT / "mutants"
STAMP = MUTANTS / ".mutate-module"

# module -> (the file or package folder mutated, the test files run against its mutants, extra environment)
MODULES: dict[str, tuple[str, list[str], dict[str, str]]] = {
    "tokens": ("digest/tokens.py", ["tests/test_tokens.py"], {}),
    "schedule": ("digest/schedule.py", ["tests/test_schedule.py"], {}),
    # The PostgreSQL statements (plan's unnest, mark_sent's CTE, FOR UPDATE SKIP LOCKED) are reached
    # only against a server: the run fails rather than skips them when it is missing.
    "ledger": ("digest/ledger.py", ["tests/test_ledger.py"], {"DIGEST_TEST_POSTGRES": "1"}),
    "selection": ("digest/selection", ["tests/test_selection.py", "tests/test_selection_properties.py"], {}),
}

# Functions a module calls once at import to build a constant (ledger's PostgreSQL mark_sent statement):
# mutmut switches mutants on per test, long after the constant was built, so no test can reach
# theirs. They are counted apart, not as survivors.
BUILT_AT_IMPORT: dict[str, tuple[str, ...]] = {"ledger": ("_mark_sent_statement",)}

KILLED = {1, 3, 24, -24, 36, 152, 255, 37}  # a failing test, a timeout, the type checker
SURVIVED = {0}
NO_TESTS = {5, 33}


def usage(error: str | None = None) -> int:
    if error:
        print(f"error: {error}", file=sys.stderr)
    print("usage: ./run mutate MODULE [--fresh] [--report]\n  MODULE: " + ", ".join(
        f"{name} ({path})" for name, (path, _, _) in MODULES.items()), file=sys.stderr)
    return 2


def resolve(name: str) -> str | None:
    for short, (path, _, _) in MODULES.items():
        if name in (short, path, path.removesuffix(".py").replace("/", ".")):
            return short
    return None


def files(path: str) -> list[str]:
    """The source files of a module: the file itself, or every .py file of a package folder."""
    return [path] if path.endswith(".py") else sorted(str(f.relative_to(ROOT)) for f in (ROOT / path).glob("*.py"))


def results(path: str) -> dict[str, int | None]:
    codes: dict[str, int | None] = {}
    for name in files(path):
        meta = MUTANTS / (name + ".meta")
        if meta.exists():
            codes.update(json.loads(meta.read_text("utf-8")).get("exit_code_by_key", {}))
    return codes


def at_import_prefixes(short: str) -> tuple[str, ...]:
    path = MODULES[short][0]
    return tuple(f"{path.removesuffix('.py').replace('/', '.')}.x_{name}__mutmut_" for name in BUILT_AT_IMPORT.get(short, ()))


def forget_survivors(short: str) -> int:
    """Drop the results of survivors and untested mutants so that this run tries them again:
    mutmut keeps every result it has, and new tests are what a second run is for."""
    built, again = at_import_prefixes(short), 0
    for name in files(MODULES[short][0]):
        meta = MUTANTS / (name + ".meta")
        if not meta.exists():
            continue
        data = json.loads(meta.read_text("utf-8"))
        codes = data.get("exit_code_by_key", {})
        keys = [k for k, c in codes.items() if c in SURVIVED | NO_TESTS and not (built and k.startswith(built))]
        for key in keys:
            codes[key] = None
        meta.write_text(json.dumps(data), "utf-8")
        again += len(keys)
    return again


def report(short: str) -> int:
    path = MODULES[short][0]
    codes = results(path)
    if not codes:
        print(f"no results for {path} yet: run ./run mutate {short}", file=sys.stderr)
        return 1
    built = at_import_prefixes(short)
    at_import = [k for k in codes if k.startswith(built)] if built else []
    codes = {k: c for k, c in codes.items() if k not in at_import}
    killed = sum(1 for c in codes.values() if c in KILLED)
    survived = sorted(k for k, c in codes.items() if c in SURVIVED)
    untested = sorted(k for k, c in codes.items() if c in NO_TESTS)
    pending = sum(1 for c in codes.values() if c is None)
    other = Counter(c for c in codes.values() if c not in KILLED | SURVIVED | NO_TESTS and c is not None)
    reachable = killed + len(survived)
    score = 100 * killed / reachable if reachable else 0.0
    print(f"{path}: {len(codes) + len(at_import)} mutants, {killed} killed, {len(survived)} survived, "
          f"{len(untested)} not reached by any test, {pending} not run yet"
          + (f", {len(at_import)} in functions run once at import ({', '.join(BUILT_AT_IMPORT[short])})"
             if at_import else "")
          + (f", other exit codes {dict(other)}" if other else ""))
    print(f"score: {killed}/{reachable} reachable mutants killed = {score:.1f}%")
    for label, names in (("survived", survived), ("not reached", untested)):
        if names:
            print(f"\n{label} (see one with: .venv/bin/mutmut show NAME, from the repository root):")
            for name in names:
                print("  " + name)
    return 0


def main(argv: list[str]) -> int:
    flags = {a for a in argv if a.startswith("--")}
    names = [a for a in argv if not a.startswith("--")]
    if flags - {"--fresh", "--report"} or len(names) != 1:
        return usage(None if not argv else f"unexpected arguments: {' '.join(argv)}")
    short = resolve(names[0])
    if short is None:
        return usage(f"no mutation setup for {names[0]!r}")
    path, tests, env = MODULES[short]
    os.chdir(ROOT)
    if "--report" in flags:
        return report(short)

    # mutants/ holds one module's run at a time: its test statistics belong to that module's tests.
    previous = STAMP.read_text("utf-8").strip() if STAMP.exists() else None
    if MUTANTS.exists() and ("--fresh" in flags or previous != short):
        if previous not in (None, short):
            print(f"mutants/ holds a run of {previous}; starting {short} afresh", file=sys.stderr)
        shutil.rmtree(MUTANTS)
    MUTANTS.mkdir(exist_ok=True)
    STAMP.write_text(short + "\n", "utf-8")
    if again := forget_survivors(short):
        print(f"trying the {again} survivors of the last run again", file=sys.stderr)
    os.environ.update(env)

    from mutmut import configuration

    cfg = configuration.config()  # [tool.mutmut] of pyproject.toml, then this module's part
    cfg.only_mutate = files(path)
    cfg.pytest_add_cli_args_test_selection = list(tests)

    from mutmut.__main__ import cli

    children = int(os.environ.get("MUTATE_CHILDREN", "2"))
    try:
        cli.main(["run", "--max-children", str(children)], prog_name="mutmut", standalone_mode=False)
    except SystemExit as exc:
        if exc.code:
            return int(exc.code) if isinstance(exc.code, int) else 1
    print()
    return report(short)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
