"""Build hook: seeds/ ships its data files but not its generator script (the rest is in pyproject.toml)."""

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildPy(build_py):
    """digest.seeds is the top-level seeds/ folder: make_seeds.py stays in the repository."""

    def find_package_modules(self, package, package_dir):
        modules = super().find_package_modules(package, package_dir)
        if package == "digest.seeds":
            modules = [m for m in modules if m[1] == "__init__"]
        return modules


setup(cmdclass={"build_py": BuildPy})
