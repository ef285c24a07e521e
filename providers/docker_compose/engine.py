"""The Docker Engine API client of the docker_compose provider.

A docker.APIClient for a unix://, tcp:// or ssh:// URL, made (and the SDK imported) on first
use. Every call goes through `call()`, so every failure is a ProviderError that says what and
where (NotThere for a 404). Before an ssh:// URL is used, one `ssh -o BatchMode=yes` checks that
the SDK's ssh client can neither hang nor prompt.
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from cockpit.core.errors import ProviderError, ProviderTimeout, ProviderUnavailable
from providers import subprocesses

T = TypeVar("T")


class NotThere(ProviderError):
    """Docker answered 404: no such container or image."""


class Engine:
    """One Docker Engine, its API version pinned, each call bounded by `timeout_seconds`."""

    def __init__(self, base_url: str, api_version: str, timeout_seconds: float) -> None:
        self.base_url = base_url
        self.api_version = api_version
        self.timeout_seconds = timeout_seconds
        self._api: Any = None

    def close(self) -> None:
        if self._api is not None:
            self._api.close()
            self._api = None

    @property
    def api(self) -> Any:
        """docker.APIClient for base_url, made on first use (the SDK is imported then)."""
        if self._api is None:
            self._api = self._connect()
        return self._api

    def _connect(self) -> Any:
        url = self.base_url
        try:
            import docker  # type: ignore[import-untyped]
        except ImportError:
            raise ProviderError(
                "the docker_compose provider needs the docker SDK: "
                "pip install 'rollback-cockpit[docker]'"
            ) from None
        ssh = url.startswith("ssh://")
        if ssh:
            if not has_paramiko():
                raise ProviderError(
                    "ssh:// needs paramiko, which the docker SDK imports for any ssh:// URL "
                    "(even with the ssh client): pip install 'docker[ssh]'. Or forward the "
                    "socket and use unix://: ssh -NL /tmp/docker.sock:/var/run/docker.sock "
                    f"{urlsplit(url).netloc}"
                )
            check_ssh(url, self.timeout_seconds)
        try:
            return docker.APIClient(
                base_url=url,
                version=self.api_version,
                timeout=self.timeout_seconds,
                use_ssh_client=ssh,
            )
        except docker.errors.DockerException as error:
            raise ProviderError(f"cannot use Docker at {url}: {error}") from None

    def url(self, path: str) -> str:
        """The Engine API URL of `path`, as the plan shows its calls."""
        return f"{self.base_url.rstrip('/')}/v{self.api_version}{path}"

    def containers(self, labels: list[str]) -> list[dict[str, Any]]:
        """Inspect every container (running or not) with these labels."""
        listed = self.call(
            "list containers", lambda: self.api.containers(all=True, filters={"label": labels})
        )
        found = []
        for summary in listed:
            try:
                found.append(self.inspect(summary["Id"]))
            except NotThere:  # removed while we looked
                continue
        return found

    def inspect(self, container: str) -> dict[str, Any]:
        """The container's inspect data (by id or name); NotThere if missing."""
        found: dict[str, Any] = self.call(
            f"inspect container {container[:64]}", lambda: self.api.inspect_container(container)
        )
        return found

    def image(self, ref: str) -> dict[str, Any]:
        """The image's inspect data (by id, id prefix, digest or tag); NotThere if missing."""
        found: dict[str, Any] = self.call(
            f"inspect image {ref}", lambda: self.api.inspect_image(ref)
        )
        return found

    def ping(self) -> tuple[str, str]:
        """GET /_ping: the Engine's Server and Api-Version headers (/version is slow on podman)."""
        answer = self.call(
            "ping the Engine",
            lambda: self.api.get(f"{self.api.base_url}/_ping", timeout=self.timeout_seconds),
        )
        if answer.status_code != 200:
            raise ProviderUnavailable(
                f"ping the Engine: Docker at {self.base_url} answered {answer.status_code}: "
                f"{answer.text[:200]}"
            )
        server = str(answer.headers.get("Server") or "Docker Engine").removesuffix(" (linux)")
        return server, str(answer.headers.get("Api-Version") or "?")

    def call(self, what: str, call: Callable[[], T]) -> T:
        """One Engine call; every failure becomes a ProviderError that says what and where."""
        import docker.errors  # type: ignore[import-untyped]
        import requests.exceptions

        where = self.base_url
        try:
            return call()
        except docker.errors.NotFound as error:
            raise NotThere(f"{what}: {explanation(error)}") from None
        except docker.errors.APIError as error:
            raise ProviderError(
                f"{what}: Docker at {where} answered {error.status_code}: {explanation(error)}"
            ) from None
        except requests.exceptions.Timeout:
            raise ProviderTimeout(
                f"{what}: no answer from Docker at {where} within {self.timeout_seconds:g} s"
            ) from None
        except requests.exceptions.ConnectionError as error:
            raise ProviderUnavailable(
                f"{what}: cannot reach Docker at {where}: {cause(error)}"
            ) from None
        except (docker.errors.DockerException, requests.exceptions.RequestException) as error:
            raise ProviderError(f"{what}: Docker at {where}: {error}") from None


def has_paramiko() -> bool:
    """Whether the SDK's ssh support can load (it imports paramiko even for the ssh client)."""
    return importlib.util.find_spec("paramiko") is not None


def check_ssh(url: str, timeout: float) -> None:
    """Check what the SDK's ssh client needs, in a way that cannot hang or prompt.

    The SDK runs `ssh host docker system dial-stdio` for each connection, with no timeout on its
    reads and the terminal still attached. So first: one `ssh -o BatchMode=yes` (a key, no
    password prompt), with a connect timeout, running the server's docker CLI, in a session of
    its own (no terminal to ask on) killed whole if it does not answer.
    """
    parts = urlsplit(url)
    command = ["ssh", "-o", "BatchMode=yes", "-o", f"ConnectTimeout={max(1, math.ceil(timeout))}"]
    if parts.username:
        command += ["-l", parts.username]
    if parts.port:
        command += ["-p", str(parts.port)]
    command += ["--", str(parts.hostname), "docker version --format '{{.Server.Version}}'"]
    try:
        done = subprocesses.run(command, f"ssh {parts.netloc} docker version", timeout=timeout + 5)
    except subprocesses.NotRunnable as error:
        if error.missing:
            raise ProviderError(f"{url}: there is no ssh client here (openssh-client)") from None
        raise
    except ProviderTimeout:
        raise ProviderTimeout(f"{url}: ssh did not answer within {timeout + 5:g} s") from None
    if done.returncode != 0:
        said = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
        raise ProviderUnavailable(
            f"{url}: `ssh {parts.netloc} docker version` failed: {said}. The docker SDK needs "
            "ssh with a key (no prompt), a known host key and the docker CLI on the server"
        )


def explanation(error: Any) -> str:
    return str(getattr(error, "explanation", None) or error).strip()


def cause(error: BaseException) -> str:
    """The OS error under a requests ConnectionError, in words."""
    seen: list[BaseException] = []
    pending: list[Any] = [error]
    while pending:
        item = pending.pop()
        if not isinstance(item, BaseException) or item in seen:
            continue
        seen.append(item)
        if isinstance(item, FileNotFoundError):
            return "no such socket (is the Docker daemon running there?)"
        if isinstance(item, ConnectionRefusedError):
            return "connection refused (nothing listens there)"
        if isinstance(item, PermissionError):
            return "permission denied (is this user allowed to use the Docker socket?)"
        pending += [item.__cause__, item.__context__, *item.args]
    return str(error)
