"""Build hooks: seeds/ ships its data files but not its generator script, and the catalogs' .mo
files are compiled from their .po files into the build (the rest is in pyproject.toml)."""

from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from setuptools import setup
from setuptools.command.build_py import build_py


class BuildPy(build_py):
    """digest.seeds is the top-level seeds/ folder: make_seeds.py stays in the repository. Each
    digest/locale/<lang>/LC_MESSAGES/messages.po gets its .mo beside it in the build."""

    def run(self):
        super().run()
        if not self.dry_run:
            self._compile_catalogs()

    def _compile_catalogs(self):
        for po in sorted(Path(self.build_lib, "digest", "locale").glob("*/LC_MESSAGES/*.po")):
            with po.open("rb") as f:
                catalog = read_po(f)
            with po.with_suffix(".mo").open("wb") as f:
                write_mo(f, catalog, use_fuzzy=False)

    def get_outputs(self, include_bytecode=1):
        outputs = super().get_outputs(include_bytecode)
        locale = Path(self.build_lib, "digest", "locale")
        return outputs + [str(p.with_suffix(".mo")) for p in sorted(locale.glob("*/LC_MESSAGES/*.po"))]

    def find_package_modules(self, package, package_dir):
        modules = super().find_package_modules(package, package_dir)
        if package == "digest.seeds":
            modules = [m for m in modules if m[1] == "__init__"]
        return modules


setup(cmdclass={"build_py": BuildPy})
