"""offchain.storage.atomic: atomic writes leave the old file or the new one, never a half or a
temp."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from offchain.request.inbox import inbox_files, submit_offchain
from offchain.storage import atomic
from offchain.storage.atomic import atomic_write_bytes, atomic_write_json, atomic_write_text


def _names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_bytes_text_and_json_are_written(tmp_path: Path) -> None:
    assert atomic_write_bytes(tmp_path / "a.bin", b"\x00\x01") == tmp_path / "a.bin"
    atomic_write_text(tmp_path / "b.txt", "héllo")
    atomic_write_json(tmp_path / "c.json", {"x": [1, 2]}, indent=1, sort_keys=True)
    assert (tmp_path / "a.bin").read_bytes() == b"\x00\x01"
    assert (tmp_path / "b.txt").read_bytes() == "héllo".encode()
    assert (tmp_path / "c.json").read_text() == json.dumps({"x": [1, 2]}, indent=1)
    assert _names(tmp_path) == ["a.bin", "b.txt", "c.json"]  # no temporary file left


def test_replaces_an_existing_file_and_accepts_str_paths(tmp_path: Path) -> None:
    target = tmp_path / "f.json"
    target.write_text("old")
    atomic_write_json(str(target), {"new": True})
    assert json.loads(target.read_text()) == {"new": True}
    assert _names(tmp_path) == ["f.json"]


def test_unencodable_object_leaves_old_file_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "f.json"
    target.write_text('{"old": 1}')
    with pytest.raises(TypeError):
        atomic_write_json(target, {"bad": object()})
    assert target.read_text() == '{"old": 1}'
    assert _names(tmp_path) == ["f.json"]


@pytest.mark.parametrize("failing", ["replace", "fsync", "write"])
def test_failure_mid_write_leaves_old_file_and_no_temp(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str) -> None:
    target = tmp_path / "f.bin"
    target.write_bytes(b"old")

    def boom(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    if failing == "write":
        real_fdopen = os.fdopen

        class FullDisk:  # the real file object, except that write fails
            def __init__(self, fd: int, *args: object) -> None:
                self.handle = real_fdopen(fd, *args)

            def __enter__(self) -> FullDisk:
                return self

            def __exit__(self, *exc: object) -> None:
                self.handle.close()

            def write(self, data: bytes) -> int:
                raise OSError(28, "No space left on device")

        monkeypatch.setattr(atomic.os, "fdopen", FullDisk)
    else:
        monkeypatch.setattr(atomic.os, failing, boom)
    with pytest.raises(OSError, match="No space left"):
        atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"old"
    assert _names(tmp_path) == ["f.bin"]


def test_interrupt_also_cleans_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(atomic.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_bytes(tmp_path / "f", b"x")
    assert _names(tmp_path) == []


def test_file_and_directory_are_fsynced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[tuple[str, bool]] = []  # (event, is_directory), in order
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        synced.append(("fsync", stat.S_ISDIR(os.fstat(fd).st_mode)))
        real_fsync(fd)

    def replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        synced.append(("replace", False))
        real_replace(src, dst)

    monkeypatch.setattr(atomic.os, "fsync", fsync)
    monkeypatch.setattr(atomic.os, "replace", replace)
    atomic_write_bytes(tmp_path / "f", b"x")
    # The data is on disk before the rename; the directory entry is flushed after it.
    assert synced == [("fsync", False), ("replace", False), ("fsync", True)]


def test_temp_file_is_hidden_in_the_same_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Path] = []
    real_replace = os.replace

    def replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        seen.append(Path(src))
        real_replace(src, dst)

    monkeypatch.setattr(atomic.os, "replace", replace)
    atomic_write_bytes(tmp_path / "0001-req.json", b"{}")
    atomic_write_bytes(tmp_path / "0001-req.json", b"{}")
    (first, second) = seen
    assert first != second  # unique per write
    for tmp in seen:
        assert tmp.parent == tmp_path
        assert tmp.name.startswith(".0001-req.json.") and tmp.name.endswith(".tmp")


def test_inbox_reader_never_lists_a_temp_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                              ) -> None:
    inbox = tmp_path / "inbox"
    listed: list[list[Path]] = []
    real_replace = os.replace

    def replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        listed.append(inbox_files(inbox))  # what a reader sees while the temp file exists
        real_replace(src, dst)

    monkeypatch.setattr(atomic.os, "replace", replace)
    path = submit_offchain(inbox, {"requestId": "0x00"})
    assert listed == [[]]
    assert inbox_files(inbox) == [path]


def test_mode_sets_permissions(tmp_path: Path) -> None:
    secret = tmp_path / "state.json"
    secret.write_text("{}")
    secret.chmod(0o644)
    atomic_write_json(secret, {"key": "k"}, mode=0o600)
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600


def test_default_permissions_follow_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        atomic_write_bytes(tmp_path / "public", b"x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "public").stat().st_mode) == 0o644


def test_missing_directory_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        atomic_write_bytes(tmp_path / "absent" / "f", b"x")


def test_a_secret_is_owner_only_from_its_first_byte(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The temporary file is created 0o600: a reader who opened it while it was still empty
    could otherwise read the key written into it afterwards."""
    created: list[int] = []
    real_open = os.open

    def spy(path: str | os.PathLike[str], flags: int, mode: int = 0o777, **kw: object) -> int:
        if flags & os.O_CREAT:
            created.append(mode)
        return real_open(path, flags, mode)

    monkeypatch.setattr(atomic.os, "open", spy)
    old = os.umask(0)  # even with no umask to narrow it
    try:
        atomic_write_text(tmp_path / "k", "secret", mode=0o600)
    finally:
        os.umask(old)
    assert created == [0o600]
    assert stat.S_IMODE((tmp_path / "k").stat().st_mode) == 0o600


def test_no_replace_never_overwrites(tmp_path: Path) -> None:
    target = tmp_path / "key"
    assert atomic_write_bytes(target, b"first", replace=False) == target
    with pytest.raises(FileExistsError):
        atomic_write_bytes(target, b"second", replace=False)
    assert target.read_bytes() == b"first"
    assert _names(tmp_path) == ["key"]


def test_encryption_key_is_created_once_owner_only(tmp_path: Path) -> None:
    from offchain.sealing import EncryptionKey

    path = tmp_path / "worker" / "encryption.key"
    key = EncryptionKey.load_or_create(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text() == key.secret.hex()
    assert EncryptionKey.load_or_create(path) == key
    assert _names(path.parent) == ["encryption.key"]


# -- replacing_dir: a directory swapped in whole, or not at all ------------------------------

def _tree(root: Path) -> dict[str, tuple[int, bytes | None]]:
    """Every entry under ``root``: its mode and (files) its bytes."""
    return {str(p.relative_to(root)): (p.stat().st_mode, p.read_bytes() if p.is_file() else None)
            for p in sorted(root.rglob("*"))}


def _old_dir(parent: Path) -> Path:
    target = parent / "pkg"
    (target / "zk").mkdir(parents=True)
    (target / "model.onnx").write_bytes(b"old model")
    (target / "zk" / "pk.key").write_bytes(b"old key")
    (target / "model.onnx").chmod(0o640)
    return target


def test_replacing_dir_builds_a_new_directory(tmp_path: Path) -> None:
    target = tmp_path / "absent" / "pkg"
    with atomic.replacing_dir(target) as new:
        assert new.parent == target.parent and new.name.startswith(".pkg.")
        assert new.name.endswith(".tmp") and list(new.iterdir()) == []
        (new / "a").write_bytes(b"A")
        assert not target.exists()  # nothing visible until complete
    assert _tree(target) == {"a": ((target / "a").stat().st_mode, b"A")}
    assert _names(target.parent) == ["pkg"]


def test_replacing_dir_swaps_in_whole_and_removes_the_old(tmp_path: Path) -> None:
    target = _old_dir(tmp_path)
    with atomic.replacing_dir(target) as new:
        (new / "model.onnx").write_bytes(b"new model")
        assert (target / "model.onnx").read_bytes() == b"old model"
    assert sorted(p.name for p in target.iterdir()) == ["model.onnx"]
    assert (target / "model.onnx").read_bytes() == b"new model"
    assert _names(tmp_path) == ["pkg"]


def test_replacing_dir_keep_others_carries_what_the_new_lacks(tmp_path: Path) -> None:
    target = _old_dir(tmp_path)
    with atomic.replacing_dir(target, keep_others=True) as new:
        (new / "model.onnx").write_bytes(b"new model")
    assert (target / "model.onnx").read_bytes() == b"new model"
    assert (target / "zk" / "pk.key").read_bytes() == b"old key"
    assert _names(tmp_path) == ["pkg"]


@pytest.mark.parametrize("keep_others", [False, True])
def test_replacing_dir_failure_in_the_build_leaves_the_old_byte_for_byte(
        tmp_path: Path, keep_others: bool) -> None:
    target = _old_dir(tmp_path)
    before = _tree(target)
    with pytest.raises(RuntimeError, match="ezkl"), \
            atomic.replacing_dir(target, keep_others=keep_others) as new:
        (new / "model.onnx").write_bytes(b"half")
        raise RuntimeError("ezkl failed")
    assert _tree(target) == before
    assert _names(tmp_path) == ["pkg"]


@pytest.mark.parametrize("keep_others", [False, True])
def test_replacing_dir_failure_in_the_swap_puts_the_old_back(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keep_others: bool) -> None:
    target = _old_dir(tmp_path)
    before = _tree(target)
    real_rename = Path.rename

    def rename(self: Path, dst: str | os.PathLike[str]) -> Path:
        if self.name.endswith(".tmp") and Path(dst) == target:  # the final step of the swap
            raise OSError(5, "Input/output error")
        return real_rename(self, dst)

    monkeypatch.setattr(Path, "rename", rename)
    with pytest.raises(OSError, match="Input/output"), \
            atomic.replacing_dir(target, keep_others=keep_others) as new:
        (new / "model.onnx").write_bytes(b"new model")
    assert _tree(target) == before
    assert _names(tmp_path) == ["pkg"]
