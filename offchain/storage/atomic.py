"""Atomic file writes: the one way Attestia persists a file.

Crash safety: a reader (another process, or this one after a crash or power loss) sees either
the old file or the new one, never a half-written file. The data goes to a temporary file in
the target's directory (same file system, so the rename is atomic), is flushed and fsync'ed,
renamed over the target with :func:`os.replace`, and then the directory itself is fsync'ed so
that the rename survives a crash too. On any failure the temporary file is removed and the
error re-raised; the target is left as it was.

Temporary names start with ``.`` and end with ``.tmp`` (``.<name>.<random>.tmp``), so spool
readers that skip hidden files or take only ``*.json`` (the worker's inbox) never see one.

A directory is replaced the same way (:func:`replacing_dir`): its new contents are built in a
hidden directory beside it and swapped in only when complete.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["atomic_write_bytes", "atomic_write_json", "atomic_write_text", "fsync_dir",
           "replacing_dir"]


def fsync_dir(directory: str | os.PathLike[str]) -> None:
    """Flush a directory's entries (a rename or a new file in it) to disk."""
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
    try:
        fd = os.open(directory, flags)
    except OSError:  # platforms that cannot open a directory (Windows): nothing to flush
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems refuse fsync on a directory; the rename is done
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *,
                       mode: int | None = None, replace: bool = True) -> Path:
    """Replace ``path`` with ``data`` atomically and durably; returns the path.

    ``mode`` sets the file's permission bits (e.g. ``0o600`` for secrets): the temporary file
    is created with them (never more open, even while empty: permissions are checked when a
    file is opened, so a reader who opened it early could read what is written later); without
    it the file gets ``0o666`` minus the umask, as ``open`` would give.
    ``replace=False`` never overwrites: if ``path`` exists (or appears meanwhile) the write
    raises :class:`FileExistsError` and leaves it alone (a hard link, not a rename, puts the
    complete file in place). The parent directory must exist.
    """
    target = Path(path)
    directory = target.parent
    fd, tmp = _create_temp(target, 0o666 if mode is None else mode)
    try:
        if mode is not None:
            os.fchmod(fd, mode)  # exactly ``mode``, whatever the umask took away
        with os.fdopen(fd, "wb") as handle:
            fd = -1  # the file object owns it now
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if replace:
            os.replace(tmp, target)
        else:
            os.link(tmp, target)
            tmp.unlink()
    except BaseException:
        if fd >= 0:
            os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(directory)
    return target


def atomic_write_text(path: str | os.PathLike[str], text: str, *, encoding: str = "utf-8",
                      mode: int | None = None, replace: bool = True) -> Path:
    """:func:`atomic_write_bytes` of ``text`` encoded (UTF-8 unless told otherwise)."""
    return atomic_write_bytes(path, text.encode(encoding), mode=mode, replace=replace)


def atomic_write_json(path: str | os.PathLike[str], obj: Any, *, mode: int | None = None,
                      **dumps_kwargs: Any) -> Path:
    """:func:`atomic_write_bytes` of ``json.dumps(obj, **dumps_kwargs)`` as UTF-8.

    The object is serialised before any file is created, so an object ``json`` cannot
    encode leaves no trace and the old file untouched.
    """
    return atomic_write_bytes(path, json.dumps(obj, **dumps_kwargs).encode(), mode=mode)


@contextmanager
def replacing_dir(target: str | os.PathLike[str], *, keep_others: bool = False
                  ) -> Iterator[Path]:
    """Build a directory's new contents beside it; swap them in only when complete.

    Yields a new, empty ``.<name>.<random>.tmp`` directory beside ``target`` (same file
    system, so renames are atomic; created with ``0o777`` minus the umask, as ``mkdir``
    would). When the block ends without an exception it takes ``target``'s place (two renames
    in one directory, then the parent is fsync'ed) and the old directory is removed. If the
    block, or the swap itself, fails, the temporary directory is removed and ``target`` is left
    as it was, byte for byte. The parent directory is created if missing.

    ``keep_others`` carries over (moves, never copies) the old directory's entries that the
    new one does not have: a model package rebuilt in place keeps its ``zk/`` artifacts.
    """
    final = Path(target)
    final.parent.mkdir(parents=True, exist_ok=True)
    new = _create_temp_dir(final)
    try:
        yield new
        _swap_in(new, final, keep_others)
    except BaseException:
        shutil.rmtree(new, ignore_errors=True)
        raise


def _swap_in(new: Path, target: Path, keep_others: bool) -> None:
    if not target.exists() and not target.is_symlink():
        new.rename(target)
        fsync_dir(target.parent)
        return
    old = target.with_name(f".{target.name}.{secrets.token_hex(6)}.old")
    target.rename(old)
    carried: list[str] = []
    try:
        if keep_others and old.is_dir():
            for entry in sorted(old.iterdir()):
                if not os.path.lexists(new / entry.name):
                    entry.rename(new / entry.name)
                    carried.append(entry.name)
        new.rename(target)
    except BaseException:  # put the old directory back as it was
        for name in carried:
            (new / name).rename(old / name)
        old.rename(target)
        raise
    fsync_dir(target.parent)
    if old.is_dir() and not old.is_symlink():
        shutil.rmtree(old, ignore_errors=True)
    else:
        old.unlink(missing_ok=True)


def _create_temp_dir(target: Path) -> Path:
    """A new, empty ``.<name>.<random>.tmp`` directory beside ``target``."""
    for _ in range(100):
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
        try:
            tmp.mkdir()
        except FileExistsError:
            continue
        return tmp
    raise FileExistsError(f"no free temporary name beside {target}")


def _create_temp(target: Path, mode: int) -> tuple[int, Path]:
    """A new, exclusively created ``.<name>.<random>.tmp`` beside ``target``.

    Like :func:`tempfile.mkstemp`, but created with ``mode`` (``0o666`` unless a caller asks
    for less) so the umask applies as it would to a plain ``open`` (mkstemp's ``0o600`` would
    make every persisted file private).
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
        try:
            return os.open(tmp, flags, mode), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name beside {target}")
