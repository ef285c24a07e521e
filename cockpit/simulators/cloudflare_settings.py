"""A Worker's secrets and plain-text vars, as CloudflareSimulator serves them.

Secrets (`…/workers/scripts/{script}/secrets`): PUT `{name, text, type}`, list and get answer
`{name, type}` only, DELETE by name; values are write-only, as at Cloudflare, so a test reads them
through `secret_value`, never over HTTP. PUT refuses with 10215 when the latest version is not the
one deployed (after a rollback), as wrangler reports it. Settings (`…/settings`): GET lists the
bindings, plain_text/json with their values and secret_text without; PATCH takes
multipart/form-data with a `settings` part holding `{"bindings": [...]}` and replaces the bindings
with that list, `inherit` keeping one as it is. Whether Cloudflare drops the bindings a PATCH
leaves out is unverified (../shared/reference/provider_apis_2.md 13.3); the simulator does, the
strict reading, so a client that forgets `inherit` for the secrets loses them here first.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
from typing import TYPE_CHECKING, Any

from cockpit.simulators.base import Reply, Request, SimulatorError

LATEST_NOT_DEPLOYED = 10215
# Codes this simulator picked: the reference does not say which ones Cloudflare uses here.
SECRET_NOT_FOUND = 10056
SETTINGS_BAD_REQUEST = 10021

VAR_TYPES = ("plain_text", "json")
SECRET_TYPES = ("secret_text", "secret_key")


def _error(status: int, code: int, message: str) -> SimulatorError:
    return SimulatorError(status, str(code), message)


def _ok(result: Any) -> Reply:
    return Reply(200, {"success": True, "errors": [], "messages": [], "result": result})


def form_parts(request: Request) -> dict[str, str]:
    """The text of each part of a multipart/form-data body, by its field name."""
    kind = request.headers.get("content-type", "")
    if not kind.startswith("multipart/form-data"):
        raise _error(400, SETTINGS_BAD_REQUEST, "Expected multipart/form-data")
    head = f"Content-Type: {kind}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + request.raw)
    parts: dict[str, str] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            parts[name] = payload.decode("utf-8")
    return parts


class WorkerSettings:
    """The routes and seeding helpers; mixed into CloudflareSimulator, which owns `workers`."""

    if TYPE_CHECKING:  # what CloudflareSimulator provides
        lock: Any

        def _worker(self, script: str) -> Any: ...
        def _worker_for(self, request: Request) -> Any: ...
        def _next_seq(self) -> int: ...

    def settings_routes(self, route: Any, script_path: str) -> None:
        route("GET", script_path + "/secrets", self._list_secrets)
        route("PUT", script_path + "/secrets", self._put_secret)
        route("GET", script_path + "/secrets/{secret_name}", self._get_secret)
        route("DELETE", script_path + "/secrets/{secret_name}", self._delete_secret)
        route("GET", script_path + "/settings", self._get_settings)
        route("PATCH", script_path + "/settings", self._patch_settings)

    # -- seeding and reading (tests) -------------------------------------------------------

    def set_secret(self, script: str, name: str, value: str) -> None:
        """As `wrangler secret put` would, without the API's checks."""
        with self.lock:
            worker = self._worker(script)
            worker.secrets[name] = {"type": "secret_text", "text": value}
            worker.secret_changes.append((self._next_seq(), name))

    def secret_value(self, script: str, name: str) -> str | None:
        with self.lock:
            found = self._worker(script).secrets.get(name)
            return None if found is None else str(found.get("text"))

    def set_vars(self, script: str, values: dict[str, Any]) -> None:
        """Replace the plain-text vars (str → plain_text, anything else → json)."""
        with self.lock:
            self._worker(script).vars = [
                {"type": "plain_text", "name": k, "text": v}
                if isinstance(v, str)
                else {"type": "json", "name": k, "json": v}
                for k, v in values.items()
            ]

    def var_values(self, script: str) -> dict[str, Any]:
        with self.lock:
            return {b["name"]: b.get("text", b.get("json")) for b in self._worker(script).vars}

    # -- secrets ---------------------------------------------------------------------------

    def _list_secrets(self, request: Request) -> Reply:
        worker = self._worker_for(request)
        return _ok([{"name": n, "type": s["type"]} for n, s in sorted(worker.secrets.items())])

    def _get_secret(self, request: Request) -> Reply:
        worker, name = self._worker_for(request), request.params["secret_name"]
        if name not in worker.secrets:
            raise _error(404, SECRET_NOT_FOUND, f"Secret {name} not found")
        return _ok({"name": name, "type": worker.secrets[name]["type"]})

    def _put_secret(self, request: Request) -> Reply:
        worker = self._worker_for(request)
        body = request.body if isinstance(request.body, dict) else {}
        name, text, kind = body.get("name"), body.get("text"), body.get("type")
        if not isinstance(name, str) or not name or kind not in SECRET_TYPES:
            message = 'Expected {"name", "text", "type": "secret_text"}'
            raise _error(400, SETTINGS_BAD_REQUEST, message)
        if kind == "secret_text" and not isinstance(text, str):
            raise _error(400, SETTINGS_BAD_REQUEST, "secret_text needs a text value")
        serving = worker.deployments[-1]["versions"] if worker.deployments else []
        latest = worker.versions[-1]["id"] if worker.versions else None
        if latest is not None and serving and latest not in [v["version_id"] for v in serving]:
            message = (
                "Secret edit failed. You attempted to modify a secret, but the latest version "
                "of your Worker isn't currently deployed."
            )
            raise _error(400, LATEST_NOT_DEPLOYED, message)
        worker.secrets[name] = {"type": kind, "text": text}
        worker.secret_changes.append((self._next_seq(), name))
        return _ok({"name": name, "type": kind})

    def _delete_secret(self, request: Request) -> Reply:
        worker, name = self._worker_for(request), request.params["secret_name"]
        if worker.secrets.pop(name, None) is None:
            raise _error(404, SECRET_NOT_FOUND, f"Secret {name} not found")
        worker.secret_changes.append((self._next_seq(), name))
        return _ok(None)

    # -- settings --------------------------------------------------------------------------

    def _get_settings(self, request: Request) -> Reply:
        worker = self._worker_for(request)
        secrets = [{"type": s["type"], "name": n} for n, s in sorted(worker.secrets.items())]
        return _ok(
            {
                "bindings": [dict(b) for b in worker.vars] + secrets,
                "compatibility_date": "2024-09-23",
                "usage_model": "standard",
                "logpush": False,
                "tags": [],
            }
        )

    def _patch_settings(self, request: Request) -> Reply:
        worker = self._worker_for(request)
        try:
            settings = json.loads(form_parts(request).get("settings", ""))
        except ValueError:
            raise _error(400, SETTINGS_BAD_REQUEST, "The settings part is not JSON") from None
        bindings = settings.get("bindings") if isinstance(settings, dict) else None
        if not isinstance(bindings, list):
            return self._get_settings(request)  # nothing about bindings: they stay
        old_vars = {b["name"]: b for b in worker.vars}
        new_vars: list[dict[str, Any]] = []
        new_secrets: dict[str, dict[str, Any]] = {}
        for binding in bindings:
            kind = binding.get("type") if isinstance(binding, dict) else None
            name = binding.get("name") if isinstance(binding, dict) else None
            if not isinstance(name, str) or not name:
                raise _error(400, SETTINGS_BAD_REQUEST, "Every binding needs a name")
            if kind == "inherit":
                if name in old_vars:
                    new_vars.append(old_vars[name])
                elif name in worker.secrets:
                    new_secrets[name] = worker.secrets[name]
                else:
                    raise _error(400, SETTINGS_BAD_REQUEST, f"No binding {name} to inherit")
            elif kind == "plain_text" and isinstance(binding.get("text"), str):
                new_vars.append({"type": kind, "name": name, "text": binding["text"]})
            elif kind == "json" and "json" in binding:
                new_vars.append({"type": kind, "name": name, "json": binding["json"]})
            elif kind == "secret_text" and isinstance(binding.get("text"), str):
                new_secrets[name] = {"type": kind, "text": binding["text"]}
            else:
                raise _error(400, SETTINGS_BAD_REQUEST, f"Binding {name}: bad type or value")
        for name in set(worker.secrets) ^ set(new_secrets):
            worker.secret_changes.append((self._next_seq(), name))
        worker.vars, worker.secrets = new_vars, new_secrets
        return self._get_settings(request)
