"""Reading a small file a user named, without ever blocking or swallowing a huge one.

A plain `open()` of a FIFO waits for a writer forever, a device can stream without end, and a
50 MB file named by mistake would be parsed in full. `read_regular_file` refuses all three
before reading: the path is checked with `os.stat` (no open at all for a FIFO or a device,
since opening some devices has effects), then opened with O_NONBLOCK and checked again with
`fstat` (the path may have been swapped in between), and at most `limit + 1` bytes are read.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

_KINDS = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


class FileRefused(Exception):
    """The file cannot be read or is not one to read; `str()` says why, in a few words."""


def _kind(mode: int) -> str | None:
    """None for a regular file, else what it is, in words."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "Is a directory"  # the words of EISDIR, which a plain open would have given
    for test, words in _KINDS:
        if test(mode):
            return f"not a regular file but {words}"
    return "not a regular file"


def _size(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MiB" if size >= 1024 * 1024 else f"{size} bytes"


def read_regular_file(path: Path, limit: int) -> bytes:
    """The bytes of a regular file of at most `limit` bytes; FileRefused otherwise."""
    try:
        kind = _kind(os.stat(path).st_mode)
        if kind is not None:
            raise FileRefused(f"cannot read: {kind}")
        flags = os.O_RDONLY  # the others are POSIX: Windows has no FIFO to block on
        for name in ("O_NONBLOCK", "O_NOCTTY", "O_CLOEXEC", "O_BINARY"):
            flags |= getattr(os, name, 0)
        fd = os.open(path, flags)
    except OSError as error:
        raise FileRefused(f"cannot read: {error.strerror or error}") from None
    try:
        info = os.fstat(fd)
        kind = _kind(info.st_mode)
        if kind is not None:
            raise FileRefused(f"cannot read: {kind}")
        if info.st_size > limit:
            raise FileRefused(f"the file is {_size(info.st_size)}; the limit is {_size(limit)}")
        chunks: list[bytes] = []
        total = 0
        while total <= limit:  # a file growing while read is cut at limit + 1, and refused
            chunk = os.read(fd, limit + 1 - total)
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    except OSError as error:
        raise FileRefused(f"cannot read: {error.strerror or error}") from None
    finally:
        os.close(fd)
    if total > limit:
        raise FileRefused(f"the file grew past the limit of {_size(limit)} while read")
    return b"".join(chunks)
