"""One configured HTTP request for the `http_action` provider: secrets, templating, the curl line.

Secrets come from the environment or a file, as every provider's token does, and are named:

    [providers.http_action.options]
    base_url = "https://deploy.example.com"
    token = { env = "DEPLOY_TOKEN" }                     # Authorization: Bearer …
    secrets = { HOOK_KEY = { env = "DEPLOY_HOOK_KEY" } }  # ${HOOK_KEY} in headers and bodies

A procedure writes `${HOOK_KEY}` where the value goes; only configured names resolve, so a
procedure file cannot read the cockpit's environment. The value is used for the request alone:
a plan shows `[redacted]`, the curl line the shell reference (`"$DEPLOY_HOOK_KEY"`, or
`"$(cat /run/secrets/x)"`), so a responder can run it by hand without the value ever being
written down.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from cockpit.core.errors import ProviderError
from cockpit.core.redact import REDACTED, register_secret

REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
"""`${NAME}`: a configured secret's place in a header or a body."""
TOKEN_NAME = "TOKEN"
"""The name `${TOKEN}` and the bearer header give the `token` option."""


@dataclass(frozen=True)
class NamedSecret:
    """A secret's value and how a shell line refers to it without it."""

    value: SecretStr
    shell: str
    """`"$NAME"` or `"$(cat PATH)"`: what the curl line carries in its place."""


def read_secret(raw: Any, name: str) -> NamedSecret:
    """{env = NAME}, {file = PATH} or a literal → a registered NamedSecret."""
    if isinstance(raw, NamedSecret):
        return raw
    if isinstance(raw, SecretStr):
        raw = raw.get_secret_value()
    if isinstance(raw, Mapping) and set(raw) == {"env"}:
        env = str(raw["env"])
        if env not in os.environ:
            raise ValueError(f"environment variable {env} is not set")
        value, shell = os.environ[env], f'"${env}"'
    elif isinstance(raw, Mapping) and set(raw) == {"file"}:
        path = Path(str(raw["file"])).expanduser()
        try:
            value = path.read_text(encoding="utf-8").strip()
        except OSError as error:
            raise ValueError(f"cannot read secret file {path}: {error.strerror}") from None
        shell = f'"$(cat {shlex.quote(str(path))})"'
    elif isinstance(raw, str):
        value, shell = raw, f'"${name}"'  # set inline: the curl line names a variable to set
    else:
        raise ValueError("a secret is { env = NAME } or { file = PATH }")
    if not value:
        raise ValueError(f"secret {name} is empty")
    register_secret(value)
    return NamedSecret(SecretStr(value), shell)


class Secrets:
    """The configured secrets by name; fills `${NAME}` three ways: sent, shown, as shell."""

    def __init__(self, named: Mapping[str, NamedSecret]) -> None:
        self.named = dict(named)

    def check(self, text: str, where: str) -> None:
        """Refuse a `${NAME}` that names no configured secret."""
        for name in REFERENCE.findall(text):
            if name not in self.named:
                known = ", ".join(sorted(self.named)) or "none are configured"
                raise ProviderError(f"{where} uses ${{{name}}}, not a configured secret ({known})")

    def fill(self, text: str) -> str:
        """The text as sent: each reference replaced by its value."""
        return REFERENCE.sub(lambda m: self.named[m.group(1)].value.get_secret_value(), text)

    def masked(self, text: str) -> str:
        """The text as a plan shows it."""
        return REFERENCE.sub(REDACTED, text)

    def shell(self, text: str) -> str:
        """The text as one shell word: single-quoted without references, else double-quoted
        with each reference as its variable (`"X-Key: $HOOK_KEY"`)."""
        if not REFERENCE.search(text):
            return shlex.quote(text)
        parts, last = ['"'], 0
        for match in REFERENCE.finditer(text):
            parts.append(_in_double_quotes(text[last : match.start()]))
            parts.append(self.named[match.group(1)].shell[1:-1])
            last = match.end()
        parts += [_in_double_quotes(text[last:]), '"']
        return "".join(parts)

    def values(self) -> list[str]:
        """Every value, longest first (a value containing another goes whole)."""
        found = [s.value.get_secret_value() for s in self.named.values()]
        return sorted(found, key=len, reverse=True)


@dataclass(frozen=True)
class Request:
    """One request as a procedure's params describe it, checked, secrets still as references."""

    method: str
    path: str
    headers: tuple[tuple[str, str], ...]
    body: str | None
    body_type: str
    """`json` (the body is a JSON document) or `text`."""
    statuses: tuple[str, ...]
    """Statuses (`200`) or classes (`2xx`) that pass."""
    expect_text: str

    def matches(self, status: int) -> bool:
        """Whether `status` is one this request expects."""
        return any(item in (str(status), f"{str(status)[0]}xx") for item in self.statuses)

    def as_data(self) -> dict[str, Any]:
        """What execute needs, for Plan.data (references, never values)."""
        return {
            "method": self.method,
            "path": self.path,
            "headers": [list(pair) for pair in self.headers],
            "body": self.body,
            "body_type": self.body_type,
            "statuses": list(self.statuses),
            "expect_text": self.expect_text,
        }

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Request:
        """The request Plan.data holds."""
        return cls(
            data["method"],
            data["path"],
            tuple((str(k), str(v)) for k, v in data["headers"]),
            data["body"],
            data["body_type"],
            tuple(data["statuses"]),
            data["expect_text"],
        )

    def wants(self) -> str:
        """'200/204 with "ok" in the body'."""
        text = f" with {self.expect_text!r} in the body" if self.expect_text else ""
        return "/".join(self.statuses) + text


METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def _in_double_quotes(text: str) -> str:
    return "".join("\\" + c if c in '\\"$`' else c for c in text)


def parse_request(params: Mapping[str, Any], prefix: str, secrets: Secrets) -> Request | None:
    """The request `params` describe under `prefix` ("" for the action, `verify_`, `undo_`);
    None when it names no path. Raises a ProviderError naming the bad parameter."""
    path = str(params.get(f"{prefix}path") or "")
    if not path:
        return None
    if not path.startswith("/") or "://" in path or path.startswith("//"):
        raise ProviderError(f"{prefix}path must be a path under base_url (/…), not {path!r}")
    secrets.check(path, f"{prefix}path")
    default = "GET" if prefix == "verify_" else "POST"
    method = str(params.get(f"{prefix}method") or default).upper()
    if method not in METHODS:
        raise ProviderError(f"{prefix}method must be one of {', '.join(METHODS)}, not {method!r}")
    headers = _headers(params.get("headers"), secrets) if prefix != "verify_" else ()
    body, body_type = _body(params, prefix, secrets)
    statuses = _statuses(params.get(f"{prefix}expect_status", "2xx"), f"{prefix}expect_status")
    expect_text = str(params.get(f"{prefix}expect_text") or "")
    return Request(method, path, headers, body, body_type, statuses, expect_text)


def _headers(raw: Any, secrets: Secrets) -> tuple[tuple[str, str], ...]:
    if raw is None or raw == []:
        return ()
    lines = [raw] if isinstance(raw, str) else raw
    if not isinstance(lines, list) or not all(isinstance(line, str) for line in lines):
        raise ProviderError('headers must be a list of "Name: value" lines')
    found = []
    for line in lines:
        name, colon, value = line.partition(":")
        if not colon or not re.fullmatch(r"[A-Za-z0-9-]+", name.strip()):
            raise ProviderError(f'headers: {secrets.masked(line)!r} is not "Name: value"')
        secrets.check(value, f"header {name.strip()}")
        found.append((name.strip(), value.strip()))
    return tuple(found)


def _body(params: Mapping[str, Any], prefix: str, secrets: Secrets) -> tuple[str | None, str]:
    raw = params.get(f"{prefix}body")
    kind = str(params.get(f"{prefix}body_type") or "json").lower()
    if kind not in ("json", "text"):
        raise ProviderError(f"{prefix}body_type must be json or text, not {kind!r}")
    if raw is None or raw == "":
        return None, kind
    text = raw if isinstance(raw, str) else json.dumps(raw)
    secrets.check(text, f"{prefix}body")
    if kind == "json":
        try:
            json.loads(text)
        except ValueError as error:
            raise ProviderError(f"{prefix}body is not valid JSON: {error}") from None
    return text, kind


def _statuses(value: Any, key: str) -> tuple[str, ...]:
    items = value if isinstance(value, list) else str(value).replace(",", " ").split()
    wanted = tuple(str(item).strip().lower() for item in items)
    if not wanted:
        raise ProviderError(f"{key} names no status")
    for item in wanted:
        if not re.fullmatch(r"[1-5](\d\d|xx)", item):
            raise ProviderError(f"{key}: {item!r} is not a status (200) or class (2xx)")
    return wanted


def curl_line(
    request: Request, url: str, secrets: Secrets, timeout: float, auth: str | None
) -> str:
    """The equivalent curl command, secrets as shell references (`auth`: the token's)."""
    words = ["curl", "-sS", "--max-time", f"{timeout:g}", "-X", request.method, shlex.quote(url)]
    headers = list(request.headers)
    if auth is not None and not any(name.lower() == "authorization" for name, _ in headers):
        words += ["-H", f'"Authorization: Bearer {auth[1:-1]}"']
    if request.body is not None and request.body_type == "json":
        headers.append(("Content-Type", "application/json"))
    for name, value in headers:
        words += ["-H", secrets.shell(f"{name}: {value}")]
    if request.body is not None:
        words += ["--data-raw", secrets.shell(request.body)]
    return " ".join(words)


def masked_body(request: Request, secrets: Secrets) -> Any:
    """The body as a plan shows it: parsed JSON (or text), secrets masked."""
    if request.body is None:
        return None
    text = secrets.masked(request.body)
    if request.body_type == "json":
        try:
            return json.loads(text)
        except ValueError:  # a reference inside a number's place: shown as text
            return text
    return text
