"""Build hook: copy the repository's dashboards, rules and example configs into the wheel.

The files stay where they are (grafana/, deploy/prometheus/, config/: their one source)
and are copied at build time to driftd/_assets/ with the same relative paths; the sdist
carries them at their own paths. What is copied is driftd.assets.BUNDLED. Everything
else about the build is in pyproject.toml.
"""

from __future__ import annotations

import ast
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent


def bundled_globs() -> tuple[str, ...]:
    """driftd.assets.BUNDLED, read from the source without importing driftd."""
    tree = ast.parse((HERE / "src/driftd/assets.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "BUNDLED" for t in node.targets):
            value = ast.literal_eval(node.value)
            assert isinstance(value, tuple)
            return value
    raise RuntimeError("src/driftd/assets.py defines no BUNDLED")


def bundled_files() -> list[str]:
    """The files BUNDLED matches, relative to the repository (or unpacked sdist) root."""
    names = sorted({path.relative_to(HERE).as_posix()
                    for pattern in bundled_globs() for path in HERE.glob(pattern)})
    if not names:
        raise RuntimeError(f"none of {bundled_globs()} matches a file in {HERE}")
    return names


class BuildPyWithAssets(build_py):
    """build_py, plus the bundled files as package data of driftd under _assets/."""

    def _get_data_files(self) -> list[tuple[str, str, str, list[str]]]:
        data_files = list(super()._get_data_files())
        if self.editable_mode:
            return data_files  # an editable install reads them from the checkout
        target = str(Path(self.build_lib, "driftd", "_assets"))
        data_files.append(("driftd", "", target, bundled_files()))
        return data_files

    def get_source_files(self) -> list[str]:
        """The sources the sdist carries: the modules, and the bundled files."""
        return [*super().get_source_files(), *bundled_files()]


setup(cmdclass={"build_py": BuildPyWithAssets})
