"""The compile step: reproducible bytecode, a fast cache, readable errors."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from offchain.build import compile_contracts, shared_cache_dir, solc_binary
from offchain.errors import CompileError


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test its own shared build cache: one test's compile is no other's cache hit."""
    cache = tmp_path / "user-cache"
    monkeypatch.setenv("ATTESTIA_CACHE_DIR", str(cache))
    return cache

GOOD = """// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
contract Counter is Ownable {
    uint256 public count;
    constructor() Ownable(msg.sender) {}
    function bump() external onlyOwner { count += 1; }
    function unused(uint256 x) external pure returns (uint256) { uint256 y; return x; }
}
"""

BROKEN = """// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;
contract Broken {
    function f() external pure returns (uint256) {
        return undefinedThing;
    }
}
"""


def _project(tmp: Path, source: str, name: str) -> Path:
    contracts = tmp / "contracts"
    contracts.mkdir(parents=True)
    (contracts / f"{name}.sol").write_text(source)
    return contracts


def test_same_sources_and_settings_give_the_same_bytecode(tmp_path: Path) -> None:
    a = _project(tmp_path / "a", GOOD, "Counter")
    b = _project(tmp_path / "b", GOOD, "Counter")
    first, _, _ = compile_contracts(tmp_path / "a" / "build", contracts_dir=a, force=True)
    second, _, _ = compile_contracts(tmp_path / "b" / "build", contracts_dir=b, force=True)
    assert first["Counter"].bytecode == second["Counter"].bytecode
    assert first["Counter"].artifact_hash == second["Counter"].artifact_hash
    assert len(first["Counter"].bytecode) > 100


def test_unchanged_build_is_served_from_cache_fast(tmp_path: Path) -> None:
    contracts = _project(tmp_path, GOOD, "Counter")
    _, warnings, cached = compile_contracts(tmp_path / "build", contracts_dir=contracts)
    assert not cached
    assert any("Counter.sol:8" in w and "Unused" in w for w in warnings), warnings
    start = time.perf_counter()
    artifacts, _, cached = compile_contracts(tmp_path / "build", contracts_dir=contracts)
    assert cached and "Counter" in artifacts
    assert time.perf_counter() - start < 0.5
    # Any edit invalidates the cache.
    (contracts / "Counter.sol").write_text(GOOD.replace("count += 1", "count += 2"))
    _, _, cached = compile_contracts(tmp_path / "build", contracts_dir=contracts)
    assert not cached


def test_compile_error_is_reported_as_file_and_line(tmp_path: Path) -> None:
    contracts = _project(tmp_path, BROKEN, "Broken")
    with pytest.raises(CompileError) as info:
        compile_contracts(tmp_path / "build", contracts_dir=contracts)
    assert str(info.value).startswith("contracts/Broken.sol:5: DeclarationError: Undeclared")
    assert not (tmp_path / "build" / "manifest.json").exists()


def test_no_sources_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "contracts").mkdir()
    with pytest.raises(CompileError, match="no Solidity sources"):
        compile_contracts(tmp_path / "build", contracts_dir=tmp_path / "contracts")


def test_shim_is_the_compiler_when_no_native_solc() -> None:
    assert solc_binary().name in ("solc_driver.js", "solc-v0.8.37")


def _files(build: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(build.iterdir())}


def test_a_second_home_copies_the_build_from_the_shared_cache(
    tmp_path: Path, own_cache: Path
) -> None:
    contracts = _project(tmp_path, GOOD, "Counter")
    _, _, cached = compile_contracts(tmp_path / "one" / "build", contracts_dir=contracts)
    assert not cached
    assert shared_cache_dir() == own_cache
    start = time.perf_counter()
    _, _, cached = compile_contracts(tmp_path / "two" / "build", contracts_dir=contracts)
    assert cached and time.perf_counter() - start < 3.0
    assert _files(tmp_path / "two" / "build") == _files(tmp_path / "one" / "build")


def test_a_damaged_cache_entry_is_detected_and_rebuilt(tmp_path: Path, own_cache: Path) -> None:
    contracts = _project(tmp_path, GOOD, "Counter")
    compile_contracts(tmp_path / "one" / "build", contracts_dir=contracts)
    (entry,) = (own_cache / "build").iterdir()
    artifact = entry / "Counter.json"
    artifact.write_text(artifact.read_text().replace('"bump"', '"pump"', 1))  # same size
    _, _, cached = compile_contracts(tmp_path / "two" / "build", contracts_dir=contracts)
    assert not cached  # compiled, not loaded from the damaged entry
    assert _files(tmp_path / "two" / "build") == _files(tmp_path / "one" / "build")
    # the compile replaced the entry: a third home copies it
    _, _, cached = compile_contracts(tmp_path / "three" / "build", contracts_dir=contracts)
    assert cached
    assert _files(tmp_path / "three" / "build") == _files(tmp_path / "one" / "build")


def test_attestia_build_publishes_a_current_build(tmp_path: Path, own_cache: Path) -> None:
    contracts = _project(tmp_path, GOOD, "Counter")
    compile_contracts(tmp_path / "one" / "build", contracts_dir=contracts)
    for entry in (own_cache / "build").iterdir():
        shutil.rmtree(entry)
    compile_contracts(tmp_path / "one" / "build", contracts_dir=contracts)  # a plain read
    assert not any((own_cache / "build").iterdir())
    _, _, cached = compile_contracts(tmp_path / "one" / "build", contracts_dir=contracts,
                                     publish=True)
    assert cached and len(list((own_cache / "build").iterdir())) == 1
