"""A Kubernetes API server for Deployments, faithful enough that the real kubectl works on it.

It follows ../shared/reference/provider_apis.md §1 and is checked by running kubectl 1.32
against it (tests/test_kubernetes_simulator.py): `apply`, `annotate`, `get`, `set image`,
`scale`, `delete`, `rollout history|undo|status|pause|resume`. kubectl's rollout undo is
client-side (it lists the Deployment's ReplicaSets and JSON-patches the template back), so what
must be right here is what it reads: ReplicaSets owned through a controller ownerReference,
revision annotations the controller renumbers, and status conditions (kubernetes_cluster.py).
Errors are `Status` objects with the reason kubectl prints ("Error from server (NotFound): ...").

Served: discovery and server-side tables (kubernetes_kubectl.py); Deployments (list with label
and field selectors, across namespaces too, create, get, replace, JSON / merge / strategic merge
patch, dryRun=All, delete with its ReplicaSets, `/status`, `/scale`); ReplicaSets (read, delete);
an empty pod list; watches as long polls: a watch answers with the events since its
resourceVersion as soon as there are any, or with none after `watch_seconds`, and the client
watches again. kubectl sends its token only over TLS: `serve_tls()` before `start()`.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cockpit.simulators import kubernetes_kubectl as kubectl
from cockpit.simulators.base import JSON, Handler, Reply, Request, Simulator, SimulatorError
from cockpit.simulators.kubernetes_cluster import Cluster, Obj, revision
from cockpit.simulators.kubernetes_objects import (
    CHANGE_CAUSE,
    PatchError,
    default_deployment,
    deployment_problems,
    images,
    json_patch,
    merge_patch,
    selector_string,
    strategic_merge,
)

APPS = "/apis/apps/v1"
NS = APPS + "/namespaces/{namespace}"
KINDS = {"deployments": "Deployment", "replicasets": "ReplicaSet"}
REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}
PATCHES: dict[str, Callable[[JSON, JSON], JSON]] = {
    "application/json-patch+json": json_patch,
    "application/merge-patch+json": merge_patch,
    "application/strategic-merge-patch+json": strategic_merge,
}


class KubernetesSimulator(Simulator):
    """Deployments and ReplicaSets of a Kubernetes API server, on 127.0.0.1."""

    name = "kubernetes"

    def __init__(
        self,
        *,
        token: str = "sim-token",
        clock: Callable[[], float] | None = None,
        ready_seconds: float = 2.0,
        observe_seconds: float = 0.0,
        watch_seconds: float = 1.5,
    ) -> None:
        super().__init__(token=token, clock=clock)
        self.watch_seconds = watch_seconds
        self.certificate: Path | None = None
        self.cluster = Cluster(
            lambda: self.clock(), ready_seconds=ready_seconds, observe_seconds=observe_seconds
        )

    @property
    def broken_images(self) -> set[str]:
        """Images whose pods never become ready (ImagePullBackOff): rollouts to them get stuck."""
        return self.cluster.broken_images

    # -- what kubectl needs ---------------------------------------------------------------

    def serve_tls(self, directory: Path) -> Path:
        """Serve HTTPS with a new self-signed certificate (call before start()); returns it."""
        self.certificate, self.ssl_context = kubectl.self_signed(directory)
        return self.certificate

    def kubeconfig(self, path: Path, *, context: str = "sim", namespace: str = "default") -> Path:
        """Write a kubeconfig for the running simulator: its URL, certificate and token."""
        path.write_text(
            kubectl.kubeconfig(self.url, self.token, self.certificate, context, namespace)
        )
        path.chmod(0o600)
        return path

    # -- seeding and looking, for tests and the demo ----------------------------------------

    def add_deployment(
        self,
        name: str,
        image: str,
        *,
        namespace: str = "default",
        replicas: int = 3,
        change_cause: str | None = None,
    ) -> Obj:
        """A Deployment `name` running `image` (label app=name), already rolled out."""
        labels = {"app": name}
        template = {
            "metadata": {"labels": labels},
            "spec": {"containers": [{"name": name, "image": image}]},
        }
        meta: Obj = {"name": name, "labels": labels}
        if change_cause is not None:
            meta["annotations"] = {CHANGE_CAUSE: change_cause}
        spec = {"replicas": replicas, "selector": {"matchLabels": labels}, "template": template}
        with self.lock:
            self._create(
                namespace,
                {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta, "spec": spec},
            )
            self.settle()
            return self.deployment(name, namespace)

    def set_image(
        self, name: str, image: str, *, namespace: str = "default", change_cause: str | None = None
    ) -> None:
        """What `kubectl set image` does to the first container (and the change-cause), rolled
        out at once unless the image is broken."""
        with self.lock:
            current = self._existing("deployments", namespace, name)
            container = current["spec"]["template"]["spec"]["containers"][0]["name"]
            containers = [{"name": container, "image": image}]
            patch: Obj = {"spec": {"template": {"spec": {"containers": containers}}}}
            if change_cause is not None:
                patch["metadata"] = {"annotations": {CHANGE_CAUSE: change_cause}}
            self._update("deployments", current, strategic_merge(current, patch))
            self.settle()

    def settle(self) -> None:
        """Finish every rollout now, as if `ready_seconds` had passed; stuck ones (a broken
        image) stay stuck, their deadline counted from their start."""
        with self.lock:
            self.cluster.finish()

    def deployment(self, name: str, namespace: str = "default") -> Obj:
        """A copy of the Deployment as the API serves it now."""
        with self.lock:
            self.cluster.reconcile()
            return copy.deepcopy(self._existing("deployments", namespace, name))

    def history(self, name: str, namespace: str = "default") -> list[tuple[int, str | None, str]]:
        """(revision, change-cause, first image) of the Deployment's ReplicaSets, by revision."""
        with self.lock:
            self.cluster.reconcile()
            owned = self.cluster.owned(self._existing("deployments", namespace, name))
            return sorted(
                (
                    revision(rs),
                    rs["metadata"].get("annotations", {}).get(CHANGE_CAUSE),
                    images(rs["spec"]["template"])[0],
                )
                for rs in owned
            )

    # -- the platform's shape ---------------------------------------------------------------

    def error_body(self, status: int, code: str, message: str, **extra: Any) -> JSON:
        body = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": code if code[:1].isupper() else REASONS.get(status, "Unknown"),
            "code": status,
        }
        if extra.get("details"):
            body["details"] = extra["details"]
        return body

    def unauthorized(self, request: Request) -> Reply:
        return Reply(401, self.error_body(401, "Unauthorized", "Unauthorized"))

    def handle(self, request: Request) -> Reply:
        watch = request.method == "GET" and request.query.get("watch") in ("true", "1")
        if watch and self.authorized(request) and not self._fault_pending(request.path):
            return self._watch(request)
        return super().handle(request)

    def routes(self) -> None:
        for path, document in (
            ("/version", kubectl.VERSION),
            ("/api", kubectl.CORE_VERSIONS),
            ("/apis", kubectl.GROUPS),
            ("/api/v1", kubectl.CORE_V1),
            (APPS, kubectl.APPS_V1),
            ("/apis/autoscaling/v1", kubectl.AUTOSCALING_V1),
            ("/openapi/v3", kubectl.OPENAPI_V3_ROOT),
            ("/openapi/v3/apis/apps/v1", kubectl.OPENAPI_V3_APPS),
        ):
            self.route("GET", path, self._document(document))
        for plural in KINDS:
            one = f"{NS}/{plural}/{{name}}"
            self.route("GET", f"{APPS}/{plural}", self._on(self._list, plural))
            self.route("GET", f"{NS}/{plural}", self._on(self._list, plural))
            self.route("GET", one, self._on(self._get, plural))
            self.route("GET", f"{one}/status", self._on(self._get, plural))
            self.route("DELETE", one, self._on(self._delete, plural))
        one = f"{NS}/deployments/{{name}}"
        self.route("POST", f"{NS}/deployments", self._on(self._post, "deployments"))
        self.route("PUT", one, self._on(self._put, "deployments"))
        self.route("PATCH", one, self._on(self._patch, "deployments"))
        for method in ("GET", "PUT", "PATCH"):
            self.route(method, f"{one}/scale", self._on(self._scale, "deployments"))
        self.route("GET", "/api/v1/namespaces/{namespace}/pods", self._on(self._pods, "pods"))

    def _document(self, document: JSON) -> Handler:
        return lambda request: Reply(200, document)

    def _on(self, handler: Callable[[str, Request], JSON], plural: str) -> Handler:
        """Run the controller, then the handler; the answer is a copy (it is serialised after
        the lock is released)."""

        def run(request: Request) -> Reply:
            try:
                self.cluster.reconcile()
                body = handler(plural, request)
            except PatchError as error:
                raise SimulatorError(422, "Invalid", str(error)) from None
            return Reply(201 if request.method == "POST" else 200, copy.deepcopy(body))

        return run

    def _existing(self, plural: str, namespace: str, name: str) -> Obj:
        found = self.cluster.get(plural, namespace, name)
        if found is None:
            details = {"name": name, "group": "apps", "kind": plural}
            message = f'{plural}.apps "{name}" not found'
            raise SimulatorError(404, "NotFound", message, details=details)
        return found

    # -- reading ----------------------------------------------------------------------------

    def _list(self, plural: str, request: Request) -> JSON:
        labels, fields = (
            request.query.get("labelSelector", ""),
            request.query.get("fieldSelector", ""),
        )
        items = self.cluster.select(plural, request.params.get("namespace"), labels, fields)
        version = str(self.cluster.version)
        if _wants_table(request):
            return kubectl.table(plural, items, version)
        kind = f"{KINDS[plural]}List"
        return {
            "kind": kind,
            "apiVersion": "apps/v1",
            "metadata": {"resourceVersion": version},
            "items": items,
        }

    def _get(self, plural: str, request: Request) -> JSON:
        found = self._existing(plural, request.params["namespace"], request.params["name"])
        if _wants_table(request) and not request.path.endswith("/status"):
            return kubectl.table(plural, [found], str(self.cluster.version))
        return found

    def _pods(self, plural: str, request: Request) -> JSON:
        meta = {"resourceVersion": str(self.cluster.version)}
        return {"kind": "PodList", "apiVersion": "v1", "metadata": meta, "items": []}

    # -- writing ----------------------------------------------------------------------------

    def _post(self, plural: str, request: Request) -> JSON:
        body, namespace = request.body, request.params["namespace"]
        if not isinstance(body, dict) or body.get("kind") != "Deployment":
            raise SimulatorError(400, "BadRequest", "the body is not a Deployment")
        if body.get("metadata", {}).get("namespace", namespace) != namespace:
            message = (
                "the namespace of the provided object does not match the namespace sent on "
                "the request"
            )
            raise SimulatorError(400, "BadRequest", message)
        if request.query.get("dryRun") == "All":
            return self._checked(copy.deepcopy(body), namespace)
        return self._create(namespace, body)

    def _create(self, namespace: str, body: Obj) -> Obj:
        obj = self._checked(copy.deepcopy(body), namespace)
        name = obj["metadata"]["name"]
        if self.cluster.get("deployments", namespace, name) is not None:
            details = {"name": name, "group": "apps", "kind": "deployments"}
            message = f'deployments.apps "{name}" already exists'
            raise SimulatorError(409, "AlreadyExists", message, details=details)
        obj["status"] = {}
        created = self.cluster.create("deployments", obj)
        self.cluster.sync(created)
        return created

    def _checked(self, obj: Obj, namespace: str) -> Obj:
        """Defaults filled in and the API server's validation passed."""
        meta = obj.setdefault("metadata", {})
        meta["namespace"] = namespace
        name = meta.get("name")
        if not name:
            raise SimulatorError(
                422, "Invalid", "Deployment.apps is invalid: metadata.name: Required value"
            )
        default_deployment(obj.setdefault("spec", {}))
        problems = deployment_problems(obj["spec"])
        if problems:
            message = f'Deployment.apps "{name}" is invalid: {"; ".join(problems)}'
            details = {"name": name, "group": "apps", "kind": "Deployment"}
            raise SimulatorError(422, "Invalid", message, details=details)
        return obj

    def _put(self, plural: str, request: Request) -> JSON:
        current = self._existing(plural, request.params["namespace"], request.params["name"])
        if not isinstance(request.body, dict):
            raise SimulatorError(400, "BadRequest", "the body is not an object")
        return self._update(plural, current, request.body, request)

    def _patch(self, plural: str, request: Request) -> JSON:
        current = self._existing(plural, request.params["namespace"], request.params["name"])
        return self._update(plural, current, self._patched(current, request), request)

    def _patched(self, current: Obj, request: Request) -> Obj:
        media = request.headers.get("content-type", "").split(";")[0].strip()
        if media not in PATCHES:
            message = (
                "the body of the request was in an unknown format - accepted media types "
                f"include: {', '.join(PATCHES)}"
            )
            raise SimulatorError(415, "UnsupportedMediaType", message)
        patched = PATCHES[media](current, request.body)
        if not isinstance(patched, dict):
            raise SimulatorError(422, "Invalid", "the patch did not leave an object")
        return patched

    def _update(self, plural: str, current: Obj, new: Obj, request: Request | None = None) -> Obj:
        """A replace: immutable fields kept, resourceVersion checked, generation on spec change."""
        meta, old_meta = new.setdefault("metadata", {}), current["metadata"]
        name = old_meta["name"]
        details = {"name": name, "group": "apps", "kind": plural}
        if meta.get("name", name) != name:
            raise SimulatorError(
                400, "BadRequest", "the name of the object does not match the name on the URL"
            )
        if meta.get("resourceVersion", old_meta["resourceVersion"]) != old_meta["resourceVersion"]:
            message = (
                f'Operation cannot be fulfilled on {plural}.apps "{name}": the object has been '
                "modified; please apply your changes to the latest version and try again"
            )
            raise SimulatorError(409, "Conflict", message, details=details)
        updated = self._checked(copy.deepcopy(new), old_meta["namespace"])
        for key in ("uid", "creationTimestamp", "generation", "resourceVersion"):
            updated["metadata"][key] = old_meta[key]
        if updated["spec"]["selector"] != current["spec"]["selector"]:
            message = f'Deployment.apps "{name}" is invalid: spec.selector: field is immutable'
            raise SimulatorError(422, "Invalid", message, details=details)
        updated["status"] = current.get("status", {})
        updated["kind"], updated["apiVersion"] = current["kind"], current["apiVersion"]
        if updated["spec"] != current["spec"]:
            updated["metadata"]["generation"] += 1
        if request is not None and request.query.get("dryRun") == "All":
            return updated
        if updated == current:
            return current  # a write that changes nothing is not a write (no new resourceVersion)
        stored = self.cluster.put(plural, updated)
        self.cluster.sync(stored)
        return stored

    def _delete(self, plural: str, request: Request) -> JSON:
        obj = self._existing(plural, request.params["namespace"], request.params["name"])
        self.cluster.delete(plural, obj["metadata"]["namespace"], obj["metadata"]["name"])
        details = {
            "name": obj["metadata"]["name"],
            "group": "apps",
            "kind": plural,
            "uid": obj["metadata"]["uid"],
        }
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": details,
        }

    # -- the scale subresource (autoscaling/v1 Scale) ---------------------------------------

    def _scale(self, plural: str, request: Request) -> JSON:
        deployment = self._existing(plural, request.params["namespace"], request.params["name"])
        if request.method == "GET":
            return _scale_of(deployment)
        wanted = (
            request.body
            if request.method == "PUT"
            else self._patched(_scale_of(deployment), request)
        )
        replicas = (wanted or {}).get("spec", {}).get("replicas")
        if not isinstance(replicas, int) or replicas < 0:
            message = (
                f'Scale.autoscaling "{deployment["metadata"]["name"]}" is invalid: spec.replicas: '
                f"Invalid value: {replicas}: must be greater than or equal to 0"
            )
            raise SimulatorError(422, "Invalid", message)
        changed = copy.deepcopy(deployment)
        changed["spec"]["replicas"] = replicas
        version = (wanted.get("metadata") or {}).get("resourceVersion")
        if version:  # PUT's optimistic concurrency, as `kubectl scale --resource-version` uses
            changed["metadata"]["resourceVersion"] = version
        return _scale_of(self._update(plural, deployment, changed, request))

    # -- watches, as long polls -------------------------------------------------------------

    def _fault_pending(self, path: str) -> bool:
        with self.lock:
            return any(path.startswith(fault.path) for fault in self.faults)

    def _watch(self, request: Request) -> Reply:
        """Events since the request's resourceVersion, as soon as there are any (or none after
        `watch_seconds`; client-go calls a watch closed sooner than 1 s without events an
        error, and backs off)."""
        parts = request.path.rstrip("/").split("/")
        plural = parts[-1]
        namespace = parts[-2] if len(parts) >= 3 and parts[-3] == "namespaces" else None
        since = int(request.query.get("resourceVersion") or 0)
        labels, fields = (
            request.query.get("labelSelector", ""),
            request.query.get("fieldSelector", ""),
        )
        wait = min(
            self.watch_seconds, float(request.query.get("timeoutSeconds") or self.watch_seconds)
        )
        deadline = time.monotonic() + wait
        while True:
            with self.lock:
                self.cluster.reconcile()
                events = (
                    self.cluster.events(plural, namespace, labels, fields, since)
                    if plural in KINDS
                    else []
                )
            if events or time.monotonic() >= deadline or self._stopping.is_set():
                break
            self._stopping.wait(0.05)
        return Reply(200, raw="".join(kubectl.event_line(event) for event in events).encode())


def _scale_of(deployment: Obj) -> Obj:
    meta = deployment["metadata"]
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
        },
        "spec": {"replicas": deployment["spec"]["replicas"]},
        "status": {
            "replicas": deployment.get("status", {}).get("replicas", 0),
            "selector": selector_string(deployment["spec"]["selector"]),
        },
    }


def _wants_table(request: Request) -> bool:
    """kubectl get asks for server-side printing: Accept: application/json;as=Table;..."""
    return "as=Table" in request.headers.get("accept", "")
