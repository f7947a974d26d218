"""A package registered from anywhere is found again by its content hash (issue 19): names in
``attestia attribution`` and ``model show`` come from it even outside ``.attestia/models``."""

from __future__ import annotations

import shutil
from pathlib import Path

from offchain.models.registrations import find_package, record_model_id

REGISTRY = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
OWNER = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"


def test_a_registered_package_outside_the_home_is_found(demo_package, demo_package_dir: Path,
                                                          tmp_path: Path) -> None:
    data_dir = tmp_path / "home" / ".attestia"
    content = demo_package.content_hash
    assert find_package(data_dir, content) is None  # nothing registered, no models/
    elsewhere = tmp_path / "elsewhere" / "pkg"
    shutil.copytree(demo_package_dir, elsewhere)
    record_model_id(data_dir, 31337, REGISTRY, content, b"\x01" * 32, OWNER, package=elsewhere)
    found = find_package(data_dir, content)
    assert found is not None and found.path.resolve() == elsewhere.resolve()
    assert [c.name for c in found.manifest.contributors] == \
        [c.name for c in demo_package.manifest.contributors]
    assert find_package(data_dir, b"\x02" * 32) is None  # another content hash
    shutil.rmtree(elsewhere)  # moved away: the home's models/ directory is still searched
    assert find_package(data_dir, content) is None
    shutil.copytree(demo_package_dir, data_dir / "models" / "demo")
    assert find_package(data_dir, content) is not None
