"""What a backup file is, told from its content: a pg_dump archive, gzip'd SQL or plain SQL.

The runbooks keep `pg_dump > backup.sql` and `backup.sql.gz` as often as `pg_dump -Fc`
archives, and a name can lie (a download saved under the wrong name, an error page saved as
`.sql.gz`), so the format comes from the first bytes: 'PGDMP' is a custom archive, 'ustar' at
257 a tar one (pg_restore reads both), 1f 8b gzip, anything else must be SQL text.

`inspect()` reads a SQL file once, whole, before anything is touched: its sha256, the gzip
stream to its end (a truncated or corrupt one is refused here, not half-way through a restore),
no NUL byte (binary is not SQL), SQL statements near the top, and no psql meta-command outside
COPY data other than pg_dump's own `\\restrict`/`\\unrestrict`: a `\\connect` (pg_dump --create,
pg_dumpall) would leave the single transaction, a `\\!` would run a shell on this host.

`SqlStream` yields the SQL a restore feeds to psql while hashing the raw bytes as read, so the
restore can refuse to commit unless what it fed is exactly the file the plan checked.
"""

from __future__ import annotations

import gzip
import hashlib
import re
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any, BinaryIO, cast

from cockpit.core.errors import ProviderError

CHUNK = 1 << 20
HEAD = 64 * 1024
"""How much of the SQL must show a statement for the file to pass as SQL."""
FORMATS = {
    "custom": "pg_dump custom archive",
    "tar": "pg_dump tar archive",
    "plain": "plain SQL",
    "gzip": "gzip'd plain SQL",
}
ARCHIVES = ("custom", "tar")
"""Restored with pg_restore; the others with psql."""
STATEMENT = re.compile(
    rb"^\s*(CREATE|ALTER|INSERT|COPY|SET|SELECT|DROP|BEGIN|START|COMMENT|GRANT|REVOKE|UPDATE|"
    rb"DELETE|WITH|DO|TRUNCATE|\\restrict)\b",
    re.IGNORECASE | re.MULTILINE,
)
COPY_START = re.compile(rb"^COPY\s.*\bFROM\s+stdin\s*;\s*$", re.IGNORECASE)
ALLOWED_META = (b"\\restrict", b"\\unrestrict")
SHA256 = re.compile(r"(?:sha256:)?([0-9a-fA-F]{64})")


def detect(path: Path) -> str:
    """custom | tar | gzip | plain, from the first bytes (ProviderError if unreadable)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(512)
    except OSError as error:
        raise ProviderError(f"cannot read {path}: {error.strerror or error}") from None
    if head.startswith(b"PGDMP"):
        return "custom"
    if head[257:262] == b"ustar":
        return "tar"
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    return "plain"


def name_mismatch(path: Path, kind: str) -> str | None:
    """A warning when the name says another format than the content does."""
    name = path.name.lower()
    gz = name.endswith(".gz")
    if (kind == "gzip") != gz:
        said = "gzip" if gz else "not gzip'd"
        return f"{path.name} is named {said}, but its content is {FORMATS[kind]} (used that)"
    if kind in ARCHIVES and name.endswith(".sql"):
        return f"{path.name} is named .sql, but its content is a {FORMATS[kind]} (used that)"
    return None


@dataclass(frozen=True)
class SqlFile:
    """A SQL backup as read whole: its format, sizes and sha256."""

    path: str
    format: str
    size: int
    sha256: str
    sql_bytes: int
    lines: int

    def describe(self) -> str:
        """'gzip'd plain SQL, 12,345 bytes (98,765 bytes of SQL, 1,020 lines)'."""
        unpacked = f"{self.sql_bytes:,} bytes of SQL, " if self.format == "gzip" else ""
        return f"{FORMATS[self.format]}, {self.size:,} bytes ({unpacked}{self.lines:,} lines)"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class HashingReader:
    """A raw file read through, counted and hashed as gzip (or the caller) reads it."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.digest = hashlib.sha256()
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.digest.update(data)
        self.count += len(data)
        return data

    def drain(self) -> None:
        """Hash what the decompressor left unread (trailing bytes), so the digest is the file's."""
        while self.read(CHUNK):
            pass


class SqlStream:
    """The SQL of a plain or gzip'd file, chunk by chunk; `sha256` once it is read to the end.

    Raises ProviderError for a file that is gone, unreadable, or not a whole gzip stream.
    """

    def __init__(self, path: Path, kind: str) -> None:
        self.path = path
        self.kind = kind
        try:
            self.raw = path.open("rb")
        except FileNotFoundError:
            raise ProviderError(f"{path.name} is gone (no file at {path})") from None
        except OSError as error:
            raise ProviderError(f"cannot read {path}: {error.strerror or error}") from None
        self.reader = HashingReader(self.raw)
        self.unpacked: gzip.GzipFile | HashingReader = (
            gzip.GzipFile(fileobj=cast("BinaryIO", self.reader), mode="rb")
            if kind == "gzip"
            else self.reader
        )

    def __enter__(self) -> SqlStream:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.raw.close()

    def chunks(self) -> Iterator[bytes]:
        while True:
            try:
                chunk = self.unpacked.read(CHUNK)
            except EOFError:
                raise ProviderError(
                    f"{self.path.name} is a truncated gzip file (it ends before the end of its "
                    "compressed stream): a partial download or copy"
                ) from None
            except (gzip.BadGzipFile, zlib.error) as error:
                raise ProviderError(f"{self.path.name} is not a valid gzip file: {error}") from None
            except OSError as error:
                raise ProviderError(f"cannot read {self.path}: {error.strerror or error}") from None
            if not chunk:
                break
            yield chunk
        self.reader.drain()

    @property
    def sha256(self) -> str:
        return self.reader.digest.hexdigest()

    @property
    def size(self) -> int:
        return self.reader.count


def inspect(path: Path, kind: str) -> SqlFile:
    """Read a plain or gzip'd SQL file whole; refuse what psql must not be given."""
    sql_bytes, lines, carry = 0, 0, b""
    head = bytearray()
    in_copy = False
    with SqlStream(path, kind) as stream:
        for chunk in stream.chunks():
            nul = chunk.find(b"\x00")
            if nul >= 0:
                raise ProviderError(
                    f"{path.name} is binary ({FORMATS[kind]} expected, a NUL byte at byte "
                    f"{sql_bytes + nul:,}): not a SQL backup"
                )
            if len(head) < HEAD:
                head += chunk[: HEAD - len(head)]
            sql_bytes += len(chunk)
            text = carry + chunk
            parts = text.split(b"\n")
            carry = parts.pop()
            for line in parts:
                lines += 1
                in_copy = _scan(path, line, lines, in_copy)
        if carry:
            lines += 1
            _scan(path, carry, lines, in_copy)
        if sql_bytes == 0:
            raise ProviderError(f"{path.name} is empty: not a backup")
        if not STATEMENT.search(bytes(head)):
            first = bytes(head).strip().split(b"\n", 1)[0][:60].decode("utf-8", "replace")
            raise ProviderError(
                f"{path.name} does not look like SQL: no statement in its first "
                f"{min(HEAD, sql_bytes):,} bytes (it starts {first!r})"
            )
        return SqlFile(str(path), kind, stream.size, stream.sha256, sql_bytes, lines)


def _scan(path: Path, line: bytes, number: int, in_copy: bool) -> bool:
    """Whether the next line is COPY data; refuses a meta-command outside it."""
    if in_copy:
        return line.rstrip(b"\r") != b"\\."
    if COPY_START.match(line.rstrip(b"\r")):
        return True
    if line.startswith(b"\\") and not line.startswith(ALLOWED_META):
        command = line.split(maxsplit=1)[0][:20].decode("utf-8", "replace")
        raise ProviderError(
            f"{path.name} line {number:,}: psql meta-command {command}: not run by the cockpit "
            "(\\connect leaves the single transaction, as in pg_dump --create or pg_dumpall "
            "output; \\! runs a shell here); restore it by hand if it is what you mean"
        )
    return False


def expected_sha256(path: Path, params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(sha256, where it comes from): the parameter's and a `<file>.sha256` beside it."""
    found = []
    given = params.get("sha256")
    if given:
        match = SHA256.fullmatch(str(given).strip())
        if match is None:
            raise ProviderError(f"sha256 must be 64 hex digits, not {str(given)[:80]!r}")
        found.append((match.group(1).lower(), "the sha256 parameter"))
    sidecar = path.with_name(path.name + ".sha256")
    if sidecar.is_file():
        try:
            words = sidecar.read_text(encoding="utf-8", errors="replace").split()
        except OSError as error:
            raise ProviderError(f"cannot read {sidecar}: {error.strerror or error}") from None
        match = SHA256.fullmatch(words[0]) if words else None
        if match is None:
            raise ProviderError(f"{sidecar.name} holds no sha256 (sha256sum's format expected)")
        found.append((match.group(1).lower(), sidecar.name))
    return found


def check_sha256(path: Path, digest: str, params: Mapping[str, Any]) -> str | None:
    """Refuse a file whose sha256 is not the one given; say what it was checked against."""
    expected = expected_sha256(path, params)
    for value, source in expected:
        if value != digest:
            raise ProviderError(
                f"{path.name}: sha256 {digest[:16]}… does not match {source} "
                f"({value[:16]}…): a damaged or different file; refused, nothing was touched"
            )
    if not expected:
        return None
    return f"sha256 {digest[:12]}… matches {' and '.join(source for _, source in expected)}"
