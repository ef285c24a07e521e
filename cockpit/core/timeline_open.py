"""Opening the timeline a --db value names: a file path is the SQLite `Timeline`, a
``postgresql://`` URL the shared `PgTimeline`.

The password: the URL's own, else cockpit.toml's for that URL (`use_password`), else the first
line of a password file (``COCKPIT_DB_PASSWORD_FILE`` or the caller's), else ``PGPASSWORD``;
without any, libpq's own means (``~/.pgpass``). Whichever is used is registered with
`cockpit.core.redact` and never shown: messages and the commands printed for a user name the
URL without it (`public_url`).

Cheap to import: psycopg and the SQLite timeline are imported only when opened.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from cockpit.core.errors import TimelineError

if TYPE_CHECKING:
    from cockpit.core.clock import Clock
    from cockpit.core.pg_timeline import PgTimeline
    from cockpit.core.timeline import Timeline

    AnyTimeline: TypeAlias = Timeline | PgTimeline

POSTGRES_SCHEMES = ("postgresql", "postgres")
PASSWORD_FILE_ENV = "COCKPIT_DB_PASSWORD_FILE"

_configured: dict[str, str] = {}
"""Passwords cockpit.toml's [timeline] gives, by the URL they are for."""


def use_password(url: str, password: str) -> None:
    """Log in to `url` with `password` (cockpit.toml's, `cockpit.core.timeline_config`) unless
    the URL carries its own."""
    _configured[url] = password


def url_scheme(value: str) -> str | None:
    """The scheme when `value` is a URL (``scheme://...``), None for a file path."""
    scheme, found, _ = value.partition("://")
    return scheme if found and scheme.replace("+", "").isalpha() else None


def is_postgres(value: str | os.PathLike[str]) -> bool:
    """True for a ``postgresql://`` (or ``postgres://``) URL."""
    return isinstance(value, str) and url_scheme(value) in POSTGRES_SCHEMES


def public_url(url: str) -> str:
    """The URL without its password (in the authority or as a ``password=`` parameter), to
    be shown or printed in a command line."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hosts = netloc.rpartition("@")
        user = userinfo.partition(":")[0]
        netloc = f"{user}@{hosts}" if user else hosts
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k != "password"])
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _password(
    url: str, password_file: str | os.PathLike[str] | None, environ: Mapping[str, str]
) -> str | None:
    """The password to log in with, None when the URL has its own (or none is given)."""
    from urllib.parse import parse_qsl, urlsplit

    parts = urlsplit(url)
    if ":" in parts.netloc.rpartition("@")[0] or any(
        key == "password" for key, _ in parse_qsl(parts.query)
    ):
        return None  # the URL's: PgTarget takes it from there
    if url in _configured:
        return _configured[url]
    chosen = password_file if password_file is not None else environ.get(PASSWORD_FILE_ENV)
    if chosen:
        try:
            text = Path(chosen).read_text(encoding="utf-8")
        except OSError as error:
            raise TimelineError(
                f"{chosen}: cannot read the timeline's password file: {error.strerror or error}"
            ) from None
        lines = text.splitlines()
        return lines[0] if lines else ""
    return environ.get("PGPASSWORD") or None


def open_timeline(
    db: str | os.PathLike[str],
    *,
    create: bool = True,
    clock: Clock | None = None,
    actor: str | None = None,
    password_file: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> AnyTimeline:
    """The timeline `db` names: a SQLite file or a PostgreSQL database.

    Raises:
        TimelineError: A URL of another scheme, an unreadable password file, or whatever the
            backend raises when opening (its message never holds the password).
    """
    if isinstance(db, str):
        scheme = url_scheme(db)
        if scheme in POSTGRES_SCHEMES:
            from cockpit.core.pg_timeline import PgTimeline

            env = os.environ if environ is None else environ
            return PgTimeline(
                db,
                password=_password(db, password_file, env),
                clock=clock,
                actor=actor,
                create=create,
            )
        if scheme is not None:
            raise TimelineError(
                f"{scheme}://…: not a timeline database this cockpit can open; give a file "
                "path (SQLite) or a postgresql:// URL"
            )
    from cockpit.core.timeline import Timeline

    return Timeline(Path(db), clock=clock, actor=actor, create=create)
