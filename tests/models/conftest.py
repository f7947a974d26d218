"""Fixtures for model tests: the demo package, built once per session (~2 s)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from offchain.models.demo import build_demo_package
from offchain.models.package import ModelPackage, load_package


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_demo_package(tmp_path_factory.mktemp("demo-model") / "pkg")


@pytest.fixture(scope="session")
def demo_package(demo_dir: Path) -> ModelPackage:
    return load_package(demo_dir)


@pytest.fixture
def package_copy(demo_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the demo package that a test may damage."""
    return Path(shutil.copytree(demo_dir, tmp_path / "pkg"))
