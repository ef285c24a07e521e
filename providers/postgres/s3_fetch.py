"""Backups in S3 or R2: fetched to a private local file, checked, then restored like any other.

`s3://bucket/db/backup.sql.gz` (or `r2://…`, or `?versionId=…` / the `version_id` parameter) is
downloaded into `<backup_dir>/fetched/` through a 0600 temp file that is renamed into place only
once it is whole: its size is the object's ContentLength, no more than `max_bytes`, and its
sha256, hashed as it streams in, is the one the procedure gives (the `sha256` parameter), the
object's `sha256` metadata or a `<key>.sha256` object beside it. Anything else removes the
partial file and refuses with the object's name before the restore is planned. A verified
download leaves `<file>.sha256` beside it, so the plan's own check (restore_plan) says so again.

`candidates()` lists the backups under a prefix (`backup_prefix: r2://pitchey-backups/db/`)
that `backup_pattern` matches, newest first, for the action screen's list.
"""

from __future__ import annotations

import fnmatch
import hashlib
import logging
import os
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from cockpit.core.errors import ProviderError
from providers.postgres import source
from providers.postgres.backup_file import SHA256
from providers.postgres.object_store import (
    BucketOptions,
    ObjectUrl,
    client,
    cut_short,
    failure,
    options_for,
)

if TYPE_CHECKING:
    from providers.postgres.provider import PostgresProvider

CHUNK = 1 << 20
MiB = 1 << 20
PROGRESS_FROM = 16 * MiB
"""Smaller objects download in a moment: no progress lines for them."""
SIDECAR_MAX = 4096
log = logging.getLogger(__name__)
Progress = Callable[[int, int], None]
"""(bytes so far, bytes in all)."""


def fetch(provider: PostgresProvider, url: str, params: Mapping[str, Any]) -> Path:
    """The FETCHERS entry for s3:// and r2://: the verified local copy of the object."""
    version = str(params.get("version_id") or "") or None
    where = ObjectUrl.parse(url, version)
    if where.scheme == "r2" and where.version_id:
        raise ProviderError(f"{where}: R2 keeps no object versions; name the key alone")
    if not where.key or where.key.endswith("/"):
        raise ProviderError(f"{url} names no object (a key after the bucket is needed)")
    options = options_for(where.scheme, provider.opts.s3, provider.opts.r2)
    folder = provider.backup_dir() / "fetched"
    folder.mkdir(mode=0o700, exist_ok=True)
    path = download(
        client(where.scheme, options),
        where,
        folder,
        options,
        given=str(params.get("sha256") or "") or None,
        progress=_logged(where),
    )
    return path


def download(
    s3: Any,
    where: ObjectUrl,
    folder: Path,
    options: BucketOptions,
    *,
    given: str | None = None,
    progress: Progress | None = None,
) -> Path:
    """Stream the object into folder/<its name> (0600), checked as described above."""
    extra = {"VersionId": where.version_id} if where.version_id else {}
    attempts = options.max_attempts
    try:
        answer = s3.get_object(Bucket=where.bucket, Key=where.key, **extra)
    except Exception as error:
        raise failure(error, where, "cannot fetch", attempts) from None
    size = int(answer.get("ContentLength") or 0)
    body = answer["Body"]
    if size > options.max_bytes:
        body.close()
        raise ProviderError(
            f"{where} is {size:,} bytes, over the {options.max_bytes:,}-byte limit "
            "(s3/r2 max_bytes): not downloaded"
        )
    try:
        expected = _expected(s3, where, answer, given, attempts)
    except BaseException:
        body.close()
        raise
    name = PurePosixPath(where.key).name
    try:
        handle, temp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".part")
    except OSError as error:
        body.close()
        raise ProviderError(f"cannot write into {folder}: {error.strerror or error}") from None
    deadline = time.monotonic() + options.download_seconds
    try:
        digest, count = _stream(body, handle, where, size, options, deadline, progress)
        if count != size:
            raise cut_short(where, f"{count:,} of {size:,} bytes arrived")
        actual = digest.hexdigest()
        for value, whence in expected:
            if value != actual:
                raise ProviderError(
                    f"{where}: sha256 {actual[:16]}… does not match {whence} ({value[:16]}…): a "
                    "damaged or different object; the download was removed, nothing restored"
                )
        path = folder / name
        os.replace(temp, path)
    except OSError as error:  # the disk, not the download (its read errors are caught above)
        Path(temp).unlink(missing_ok=True)
        raise ProviderError(
            f"cannot write {where} into {folder}: {error.strerror or error}; nothing restored"
        ) from None
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    finally:
        body.close()
    sidecar = path.with_name(name + ".sha256")
    sidecar.unlink(missing_ok=True)
    if expected:
        # restore_plan checks the file against this again, and names it in the plan.
        sidecar.write_text(f"{actual}  {name}\n", encoding="utf-8")
        sidecar.chmod(0o600)
    source.FETCHED[str(path)] = f"fetched from {where}, {count:,} bytes" + (
        f", sha256 checked against {' and '.join(w for _, w in expected)}" if expected else ""
    )
    return path


def _stream(
    body: Any,
    handle: int,
    where: ObjectUrl,
    size: int,
    options: BucketOptions,
    deadline: float,
    progress: Progress | None,
) -> tuple[Any, int]:
    """Body → the temp file, hashed and counted; refuses what outgrows the size or deadline."""
    from botocore import exceptions as bx
    from urllib3 import exceptions as ux

    digest, count, told = hashlib.sha256(), 0, 0
    with os.fdopen(handle, "wb") as out:
        while True:
            try:
                chunk = body.read(CHUNK)
            except (bx.BotoCoreError, ux.HTTPError, OSError) as error:
                if isinstance(error, bx.ReadTimeoutError | ux.ReadTimeoutError):
                    raise cut_short(where, f"no data for {options.timeout_seconds:g} s") from None
                raise cut_short(where, f"{count:,} of {size:,} bytes, then {error}") from None
            if not chunk:
                break
            count += len(chunk)
            if count > options.max_bytes or count > size:
                raise ProviderError(
                    f"{where} sent more than its {size:,} bytes (limit {options.max_bytes:,}): "
                    "refused, the download was removed"
                )
            digest.update(chunk)
            out.write(chunk)
            if time.monotonic() > deadline:
                raise cut_short(where, f"not whole after {options.download_seconds:g} s")
            if progress is not None and size >= PROGRESS_FROM and count - told >= size // 20:
                told = count
                progress(count, size)
        out.flush()
        os.fsync(out.fileno())
    return digest, count


def _expected(
    s3: Any, where: ObjectUrl, answer: Mapping[str, Any], given: str | None, attempts: int
) -> list[tuple[str, str]]:
    """(sha256, where it comes from): the parameter, the object's metadata, `<key>.sha256`."""
    found = []
    if given:
        match = SHA256.fullmatch(given.strip())
        if match is None:
            raise ProviderError(f"sha256 must be 64 hex digits, not {given[:80]!r}")
        found.append((match.group(1).lower(), "the sha256 parameter"))
    meta = {str(k).lower(): str(v) for k, v in (answer.get("Metadata") or {}).items()}
    if "sha256" in meta:
        match = SHA256.fullmatch(meta["sha256"].strip())
        if match is None:
            raise ProviderError(f"{where}: its sha256 metadata is not 64 hex digits")
        found.append((match.group(1).lower(), "the object's sha256 metadata"))
    if where.version_id:
        return found  # `<key>.sha256` describes the latest version, not the one asked for
    sidecar = where.at(where.key + ".sha256")
    try:
        body = s3.get_object(Bucket=where.bucket, Key=sidecar.key)["Body"]
        try:
            text = body.read(SIDECAR_MAX)
        finally:
            body.close()
    except Exception as error:
        code = getattr(error, "response", {}).get("Error", {}).get("Code")
        if code in ("NoSuchKey", "404"):
            return found
        raise failure(error, sidecar, "cannot read the checksum", attempts) from None
    words = text.decode("utf-8", "replace").split()
    match = SHA256.fullmatch(words[0]) if words else None
    if match is None:
        raise ProviderError(f"{sidecar} holds no sha256 (sha256sum's format expected)")
    found.append((match.group(1).lower(), f"{sidecar.key}"))
    return found


def _logged(where: ObjectUrl) -> Progress:
    def told(count: int, size: int) -> None:
        percent = 100 * count // size
        log.info("fetching %s: %d of %d MiB (%d%%)", where, count // MiB, size // MiB, percent)

    return told


def listed_remotely(provider: PostgresProvider, params: Mapping[str, Any]) -> bool:
    """Whether the candidates come from backup_prefix's bucket: only where that store is
    configured (options s3 or r2), so a procedure naming its R2 folder still offers the local
    backup_dir's files on a host without R2 access (the runbook's download by hand, the demo)."""
    prefix = str(params.get("backup_prefix") or "")
    if not prefix:
        return False
    scheme = ObjectUrl.parse(prefix).scheme
    return (provider.opts.r2 if scheme == "r2" else provider.opts.s3) is not None


def candidates(provider: PostgresProvider, params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(url, label) of the backups under backup_prefix that backup_pattern matches, newest
    first; at most 1,000 keys are looked at (one page), so a prefix should name the folder."""
    prefix = ObjectUrl.parse(str(params["backup_prefix"]))
    options = options_for(prefix.scheme, provider.opts.s3, provider.opts.r2)
    s3 = client(prefix.scheme, options)
    try:
        page = s3.list_objects_v2(Bucket=prefix.bucket, Prefix=prefix.key, MaxKeys=1000)
    except Exception as error:
        raise failure(error, prefix, "cannot list", options.max_attempts) from None
    pattern = str(params.get("backup_pattern") or "")
    found = [
        item
        for item in page.get("Contents", [])
        if (
            fnmatch.fnmatch(PurePosixPath(item["Key"]).name, pattern)
            if pattern
            else str(item["Key"]).endswith(source.BACKUP_SUFFIXES)
        )
    ]
    found.sort(key=lambda item: item["LastModified"], reverse=True)
    return [
        (
            str(prefix.at(item["Key"])),
            f"{PurePosixPath(item['Key']).name} · {int(item['Size']) / 1e6:.1f} MB · "
            f"{item['LastModified']:%Y-%m-%d %H:%M UTC}",
        )
        for item in found
    ]


source.FETCHERS["s3"] = fetch
source.FETCHERS["r2"] = fetch
