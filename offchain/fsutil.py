"""Atomic file writes: the one way Attestia persists a file.

Crash safety: a reader (another process, or this one after a crash or power loss) sees either
the old file or the new one, never a half-written file. The data goes to a temporary file in
the target's directory (same file system, so the rename is atomic), is flushed and fsync'ed,
renamed over the target with :func:`os.replace`, and then the directory itself is fsync'ed so
that the rename survives a crash too. On any failure the temporary file is removed and the
error re-raised; the target is left as it was.

Temporary names start with ``.`` and end with ``.tmp`` (``.<name>.<random>.tmp``), so spool
readers that skip hidden files or take only ``*.json`` (the worker's inbox) never see one.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

__all__ = ["atomic_write_bytes", "atomic_write_json", "atomic_write_text", "fsync_dir"]


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
                       mode: int | None = None) -> Path:
    """Replace ``path`` with ``data`` atomically and durably; returns the path.

    ``mode`` sets the file's permission bits (e.g. ``0o600`` for secrets) before any data is
    written; without it the file gets ``0o666`` minus the umask, as ``open`` would give.
    The parent directory must exist.
    """
    target = Path(path)
    directory = target.parent
    fd, tmp = _create_temp(target)
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            fd = -1  # the file object owns it now
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(directory)
    return target


def atomic_write_text(path: str | os.PathLike[str], text: str, *, encoding: str = "utf-8",
                      mode: int | None = None) -> Path:
    """:func:`atomic_write_bytes` of ``text`` encoded (UTF-8 unless told otherwise)."""
    return atomic_write_bytes(path, text.encode(encoding), mode=mode)


def atomic_write_json(path: str | os.PathLike[str], obj: Any, *, mode: int | None = None,
                      **dumps_kwargs: Any) -> Path:
    """:func:`atomic_write_bytes` of ``json.dumps(obj, **dumps_kwargs)`` as UTF-8.

    The object is serialised before any file is created, so an object ``json`` cannot
    encode leaves no trace and the old file untouched.
    """
    return atomic_write_bytes(path, json.dumps(obj, **dumps_kwargs).encode(), mode=mode)


def _create_temp(target: Path) -> tuple[int, Path]:
    """A new, exclusively created ``.<name>.<random>.tmp`` beside ``target``.

    Like :func:`tempfile.mkstemp`, but created with mode ``0o666`` so the umask applies as it
    would to a plain ``open`` (mkstemp's ``0o600`` would make every persisted file private).
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name beside {target}")
