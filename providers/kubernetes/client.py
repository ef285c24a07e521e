"""The Kubernetes provider's API client: one cluster, every call bounded and worded alike.

The `kubernetes` package is imported on first use (it costs half a second). The cluster comes
from the options' host and token, or a kubeconfig and its context (which may name the
namespace). Every call has a `_request_timeout` and reads the raw JSON, so errors are worded as
the HTTP providers word them (providers/api.py); a 429 is retried after Retry-After while the
action's deadline allows.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from cockpit.core.actions import Report
from cockpit.core.errors import ProviderError, ProviderTimeout, ProviderUnavailable
from providers.api import ApiError
from providers.kubernetes.rollout import Obj, selector_string

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

    from providers.kubernetes.provider import KubernetesOptions


class Cluster:
    """The API server the options name, connected (and the package imported) on first use."""

    def __init__(self, options: KubernetesOptions) -> None:
        self.opts = options
        self._client: ApiClient | None = None
        self._namespace = options.namespace
        self.context = options.context
        """The kubeconfig context (once connected, the one chosen), named on kubectl lines."""

    def close(self) -> None:
        if self._client is not None:
            self._client.close()  # type: ignore[no-untyped-call]
            self._client = None

    @property
    def client(self) -> ApiClient:
        """The kubernetes ApiClient, made (and the package imported) on first use."""
        if self._client is None:
            self._client = self._connect()
        return self._client

    def _connect(self) -> ApiClient:
        from kubernetes import client, config

        settings = client.Configuration()
        if self.opts.kubeconfig is not None:
            try:
                contexts, active = config.list_kube_config_contexts(self.opts.kubeconfig)  # type: ignore[no-untyped-call]
                chosen = next((c for c in contexts if c["name"] == self.opts.context), None) or (
                    active if self.opts.context is None else None
                )
                if chosen is None:
                    names = ", ".join(c["name"] for c in contexts)
                    raise ProviderError(
                        f"kubeconfig {self.opts.kubeconfig} has no context "
                        f"{self.opts.context!r} (it has: {names})"
                    )
                config.load_kube_config(  # type: ignore[no-untyped-call]
                    self.opts.kubeconfig,
                    chosen["name"],
                    client_configuration=settings,
                    persist_config=False,
                )
            except (OSError, config.ConfigException) as error:
                raise ProviderError(
                    f"cannot use kubeconfig {self.opts.kubeconfig}: {error}"
                ) from None
            self.context = chosen["name"]
            self._namespace = self._namespace or chosen.get("context", {}).get("namespace")
        if self.opts.host is not None:
            settings.host = self.opts.host.rstrip("/")
        if self.opts.token is not None:
            settings.api_key = {"BearerToken": self.opts.token.get_secret_value()}
            settings.api_key_prefix = {"BearerToken": "Bearer"}
        if self.opts.ca_file is not None:
            settings.ssl_ca_cert = self.opts.ca_file
        if not self.opts.verify_tls:
            settings.verify_ssl = False
        settings.retries = False  # one attempt per call: timeouts and 429s are ours to handle
        return client.ApiClient(settings)

    @property
    def host(self) -> str:
        return str(self.client.configuration.host)

    def namespace(self, params: Mapping[str, Any] | None = None) -> str:
        """The action's namespace, else the options', else the context's, else "default"."""
        if (params or {}).get("namespace"):
            return str((params or {})["namespace"])
        _ = self.client  # connecting reads the kubeconfig, which may name the namespace
        return self._namespace or "default"

    @property
    def where(self) -> str:
        """The context's name, or the API server's URL without one."""
        host = self.host  # connecting reads the kubeconfig, which names the context
        return self.context or host

    def apps(self) -> Any:
        """The AppsV1Api on this client."""
        from kubernetes.client import AppsV1Api

        return AppsV1Api(self.client)

    def request(
        self,
        what: str,
        method: Callable[..., Any],
        *args: Any,
        report: Report | None = None,
        **kw: Any,
    ) -> Any:
        """One API call → its parsed JSON; every failure a ProviderError worded like the HTTP
        providers' (providers/api.py). A 429 is retried after Retry-After while the action's
        deadline allows."""
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError, NewConnectionError, TimeoutError

        attempts = 0
        while True:
            if report is not None:
                report.check()
            try:
                response = method(
                    *args, _preload_content=False, _request_timeout=self.opts.timeout_seconds, **kw
                )
                data: bytes = response.data
            except ApiException as error:
                if error.status == 429 and attempts < self.opts.max_retries and report is not None:
                    wait = _retry_after(error.headers)
                    if report.remaining is None or wait < report.remaining:
                        attempts += 1
                        report.log(f"rate limited by {self.host}; retrying in {wait:g} s")
                        report.sleep(wait)
                        continue
                raise _api_error(error, what, self.host) from None
            except NewConnectionError as error:  # a ConnectTimeoutError subclass in urllib3
                raise ProviderUnavailable(f"{what}: {self.host}: {_reason(error)}") from None
            except TimeoutError:
                raise ProviderTimeout(
                    f"{what}: no answer from {self.host} within {self.opts.timeout_seconds:g} s"
                ) from None
            except (HTTPError, OSError) as error:
                raise ProviderUnavailable(f"{what}: {self.host}: {_reason(error)}") from None
            try:
                return json.loads(data)
            except ValueError:
                raise ProviderError(
                    f"{what}: the answer from {self.host} is not valid JSON "
                    f"(status {response.status}, {len(data)} bytes)"
                ) from None

    def deployment(self, name: str, namespace: str, report: Report | None = None) -> Obj:
        """The Deployment as the API serves it; a clear error when there is none."""
        try:
            body = self.request(
                f"read deployment {name}",
                self.apps().read_namespaced_deployment,
                name,
                namespace,
                report=report,
            )
        except ApiError as error:
            if error.status == 404:
                raise ProviderError(
                    f'deployment "{name}" not found in namespace {namespace} on {self.where} '
                    f"(kubectl: {error.message})"
                ) from None
            raise
        if not isinstance(body, dict) or not isinstance(body.get("spec"), dict):
            raise ProviderError(f"read deployment {name}: the answer is not a Deployment")
        return body

    def replicasets(self, deployment: Obj, report: Report | None = None) -> list[Obj]:
        """The ReplicaSets the Deployment controls, oldest first (kubectl's GetAllReplicaSets):
        listed by its selector, kept when an ownerReference with controller=true has its uid."""
        meta = deployment["metadata"]
        body = self.request(
            f"list the replicasets of deployment {meta['name']}",
            self.apps().list_namespaced_replica_set,
            meta["namespace"],
            label_selector=selector_string(deployment["spec"].get("selector") or {}),
            report=report,
        )
        items = body.get("items") if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise ProviderError(f"list the replicasets of {meta['name']}: the answer has no items")
        owned = [
            rs
            for rs in items
            if any(
                ref.get("controller") and ref.get("uid") == meta.get("uid")
                for ref in rs.get("metadata", {}).get("ownerReferences") or []
            )
        ]
        return sorted(
            owned,
            key=lambda rs: (rs["metadata"].get("creationTimestamp") or "", rs["metadata"]["name"]),
        )

    def url(
        self, namespace: str, name: str = "", sub: str = "", params: Mapping[str, str] | None = None
    ) -> str:
        """The API URL of a Deployment (or of the namespace's ReplicaSets), as plans show it."""
        path = f"/apis/apps/v1/namespaces/{quote(namespace)}/"
        path += f"deployments/{quote(name)}{sub}" if name else "replicasets"
        return f"{self.host}{path}" + (f"?{urlencode(params)}" if params else "")


def _retry_after(headers: Any) -> float:
    try:
        return max(0.0, float((headers or {}).get("Retry-After", "1")))
    except ValueError:
        return 1.0


def _api_error(error: Any, what: str, host: str) -> ProviderError:
    """An ApiException as providers/api.py words an HTTP error (Status message inside)."""
    status = int(error.status or 0)
    if status == 0:  # the client's own failure (TLS, an unusable request)
        return ProviderUnavailable(f"{what}: {host}: {error.reason}")
    message = str(error.reason or "error")
    try:
        body = json.loads(error.body or "")
        if isinstance(body, dict) and body.get("message"):
            message = str(body["message"])
    except (TypeError, ValueError):
        pass
    if status == 429:
        message += f"; retry after {(error.headers or {}).get('Retry-After', '?')} s"
    return ApiError(status, message, what)


def _reason(error: BaseException) -> str:
    """'connection refused', or what urllib3 says after naming its connection object."""
    text = str(error)
    return "connection refused" if "Connection refused" in text else text.split(">: ", 1)[-1]
