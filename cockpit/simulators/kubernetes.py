"""A Kubernetes API server for Deployments, faithful enough that the real kubectl works on it.

It follows ../shared/reference/provider_apis.md §1 and is checked by running kubectl 1.32
against it (tests/test_kubernetes_simulator.py). kubectl's rollout undo is client-side (it lists
the Deployment's ReplicaSets and JSON-patches the template back), so what must be right here is
what it reads: ReplicaSets owned through a controller ownerReference, revision annotations the
controller renumbers, and status conditions (kubernetes_cluster.py). Errors are `Status`
objects with the reason kubectl prints ("Error from server (NotFound): ...").

Served, and advertised by discovery with exactly these verbs (kubernetes_kubectl.py):
Deployments (list with label and field selectors, across namespaces too, create, get, replace,
JSON / merge / strategic merge patch, dryRun=All, delete with a propagation policy, `/status`
read, `/scale`; kubernetes_api.py); ReplicaSets (read, delete); the pods of each ReplicaSet,
ready one by one on the simulator's clock, and their logs (kubernetes_pods.py); the events
the controllers and the kubelet record; namespaces (read: the four a cluster starts with and
those seeded; nothing is made in another); watches of all of these, which stay open and stream
(kubernetes_watch.py); /healthz, /livez, /readyz. Strict field validation, 422s with
`details.causes`. The garbage collector and the kubelet act at once: a deleted object's
dependents go with it, and pods have no termination grace period.

Refused as a real server refuses what it does not serve: a protobuf (or CBOR, YAML) body is a
415, so `kubectl create deployment` and `kubectl auth can-i`, whose typed clients send
protobuf, fail saying so, and so does a server-side apply; an Accept that allows neither JSON
nor a Table is a 406; any other path a 404 Status, any other verb a 405 (deleting a pod,
writing a ReplicaSet); the OpenAPI v3 document has no schemas, so `kubectl explain` says it
cannot. kubectl sends its token only over TLS: `serve_tls()` before `start()`.

What kubectl prints against it, which is what a real API server makes kubectl print: the tests
run this table. Steps are separated by ` ; `, `wait N` moves the simulator's clock N seconds;
each command is followed by the exit code of its last step and its output, or a distinctive
part of it (whitespace collapsed). The Deployment `web` runs web:1 (ReplicaSet web-7bd485c9ff,
3 pods); web:2's is web-7b8c7687c6; pods of web:bad never start.

    $ kubectl get pods
      → 0: 1/1 Running 0
    $ kubectl get pods
      → 0: READY STATUS RESTARTS AGE web-7bd485c9ff-
    $ kubectl get deploy,rs,pods
      → 0: replicaset.apps/web-7bd485c9ff 3 3 3
    $ kubectl get pods -l pod-template-hash=7bd485c9ff -o name
      → 0: pod/web-7bd485c9ff-
    $ kubectl set image deployment/web web=web:2 ; kubectl get rs web-7b8c7687c6
      → 0: web-7b8c7687c6 1 1 0
    $ kubectl set image deployment/web web=web:2 ; kubectl get pods
      → 0: 0/1 ContainerCreating
    $ kubectl set image deployment/web web=web:2 ; wait 5 ; kubectl get rs
      → 0: web-7b8c7687c6 2 2 1
    $ kubectl set image deployment/web web=web:2 ; wait 10 ; kubectl get rs
      → 0: web-7b8c7687c6 3 3 3
    $ kubectl delete rs web-7bd485c9ff ; kubectl get rs web-7bd485c9ff
      → 0: web-7bd485c9ff 3 3 0
    $ kubectl delete rs web-7bd485c9ff ; wait 5 ; kubectl get rs web-7bd485c9ff
      → 0: web-7bd485c9ff 3 3 1
    $ kubectl set image deployment/web web=web:bad ; wait 60 ; kubectl get pods
      → 0: 0/1 ImagePullBackOff
    $ kubectl describe deployment web
      → 0: deployment-controller Scaled up replica set web-7bd485c9ff from 0 to 3
    $ kubectl scale deployment/web --replicas=5 ; kubectl describe deployment web
      → 0: Scaled up replica set web-7bd485c9ff from 3 to 5
    $ kubectl set image deployment/web web=web:2 ; wait 10 ; kubectl describe deployment web
      → 0: Scaled down replica set web-7bd485c9ff from 1 to 0
    $ kubectl describe rs web-7bd485c9ff
      → 0: replicaset-controller Created pod: web-7bd485c9ff-
    $ kubectl describe pods -l app=web
      → 0: kubelet Started container web
    $ kubectl set image deployment/web web=web:bad ; kubectl describe pods -l
        pod-template-hash=7f797966b7
      → 0: kubelet Back-off pulling image "web:bad"
    $ kubectl get events --field-selector reason=ScalingReplicaSet
      → 0: Normal ScalingReplicaSet deployment/web Scaled up replica set web-7bd485c9ff from 0 to 3
    $ kubectl get events --field-selector spec.foo=bar
      → 1: field label not supported: spec.foo
    $ kubectl delete deployment web ; kubectl get deployments
      → 0: No resources found in default namespace.
    $ kubectl delete deployment web --cascade=foreground ; kubectl get rs,pods
      → 0: No resources found in default namespace.
    $ kubectl delete deployment web --cascade=orphan
      → 0: deployment.apps "web" deleted
    $ kubectl delete deployment web --cascade=orphan ; kubectl get rs,pods
      → 0: replicaset.apps/web-7bd485c9ff 3 3 3
    $ kubectl delete deployment web --cascade=orphan ; kubectl get rs -o
        custom-columns=NAME:.metadata.name,OWNER:.metadata.ownerReferences
      → 0: NAME OWNER web-7bd485c9ff <none>
    $ kubectl delete deployment web --cascade=orphan ; kubectl apply -f web.yaml ; kubectl get rs
        -o custom-columns=NAME:.metadata.name,OWNER:.metadata.ownerReferences[0].kind
      → 0: NAME OWNER web-7bd485c9ff Deployment
    $ kubectl apply -f unknown-field.yaml
      → 1: Error from server (BadRequest): error when creating "unknown-field.yaml": Deployment in
          version "v1" cannot be handled as a Deployment: strict decoding error: unknown field
          "spec.foo"
    $ kubectl apply -f web.yaml ; kubectl apply -f web-unknown-field.yaml
      → 1: error when patching "web-unknown-field.yaml": strict decoding error: unknown field
          "spec.template.spec.containers[0].imagePolicy"
    $ kubectl replace -f web-unknown-field.yaml
      → 1: cannot be handled as a Deployment: strict decoding error: unknown field
          "spec.template.spec.containers[0].imagePolicy"
    $ kubectl apply -f unknown-field.yaml --validate=warn
      → 0: Warning: unknown field "spec.foo"
    $ kubectl apply -f unknown-field.yaml --validate=false
      → 0: deployment.apps/api created
    $ kubectl patch deployment web -p '{"spec":{"replicas":-1}}'
      → 1: The Deployment "web" is invalid: spec.replicas: Invalid value: -1: must be greater than
          or equal to 0
    $ kubectl patch deployment web --type=json -p
        '[{"op":"replace","path":"/spec/template/metadata/labels","value":{"app":"x"}}]'
      → 1: The Deployment "web" is invalid: spec.template.metadata.labels: Invalid value:
          map[string]string{"app":"x"}: `selector` does not match template `labels`
    $ kubectl patch deployment web --patch-file selector-patch.yaml
      → 1: The Deployment "web" is invalid: spec.selector: Invalid value:
          v1.LabelSelector{MatchLabels:map[string]string{"app":"x"},
          MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable
    $ kubectl patch deployment web --patch-file selector-only-patch.yaml
      → 1: The Deployment "web" is invalid: * spec.template.metadata.labels: Invalid value:
          map[string]string{"app":"web"}: `selector` does not match template `labels` *
          spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"x"},
          MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable
    $ kubectl logs deployment/web
      → 0: Found 3 pods, using pod/web-7bd485c9ff-
    $ kubectl logs deployment/web
      → 0: starting web:1
    $ kubectl logs deployment/web --tail=1
      → 0: ready: serving traffic
    $ kubectl logs deployment/web --tail=1 --timestamps
      → 0: .000000002Z ready: serving traffic
    $ kubectl logs deployment/web --previous
      → 1: previous terminated container "web" in pod
    $ kubectl set image deployment/web web=web:bad ; kubectl logs -l pod-template-hash=7f797966b7
      → 1: is waiting to start: trying and failing to pull image
    $ kubectl apply --server-side -f web.yaml
      → 1: error: Server-side apply not available on the server: (the body of the request was in an
          unknown format - accepted media types include: application/json-patch+json,
          application/merge-patch+json, application/strategic-merge-patch+json)
    $ kubectl create deployment api --image=api:1
      → 1: error: failed to create deployment: the body of the request was in an unknown format -
          accepted media types include: application/json
    $ kubectl auth can-i delete deployments
      → 1: Error from server (UnsupportedMediaType): the body of the request was in an unknown
          format - accepted media types include: application/json
    $ kubectl api-resources --no-headers
      → 0: events ev v1 true Event namespaces ns v1 false Namespace pods po v1 true Pod deployments
          deploy apps/v1 true Deployment replicasets rs apps/v1 true ReplicaSet
    $ kubectl patch rs web-7bd485c9ff -p '{"spec":{"replicas":1}}'
      → 1: Error from server (MethodNotAllowed): the server does not allow this method on the
          requested resource
    $ kubectl scale rs web-7bd485c9ff --replicas=1
      → 1: Error from server (NotFound): the server could not find the requested resource
    $ kubectl delete pods -l app=web
      → 1: Error from server (MethodNotAllowed): the server does not allow this method on the
          requested resource
    $ kubectl exec deployment/web -- ls
      → 1: Error from server (NotFound): the server could not find the requested resource
    $ kubectl get namespaces
      → 0: NAME STATUS AGE default Active
    $ kubectl apply -n nope -f web.yaml
      → 1: Error from server (NotFound): error when creating "web.yaml": namespaces "nope" not
          found
    $ kubectl explain deployment
      → 1: error: GVK map[group:apps kind:Deployment version:v1] not found in OpenAPI schema
    $ kubectl get --raw /apis/batch/v1
      → 1: Error from server (NotFound): the server could not find the requested resource
    $ kubectl get --raw /healthz
      → 0: ok
    $ kubectl get --raw /readyz
      → 0: ok
    $ kubectl get --raw /livez?verbose
      → 0: [+]ping ok
    $ kubectl get deployment web -w --request-timeout=2s
      → 0: NAME READY UP-TO-DATE AVAILABLE AGE web 3/3 3 3
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cockpit.simulators import kubernetes_kubectl as kubectl
from cockpit.simulators import kubernetes_watch as watching
from cockpit.simulators.base import JSON, Handler, Reply, Request, Simulator, SimulatorError
from cockpit.simulators.kubernetes_api import KINDS, AppsApi
from cockpit.simulators.kubernetes_cluster import Cluster, revision
from cockpit.simulators.kubernetes_objects import (
    CHANGE_CAUSE,
    PatchError,
    images,
    strategic_merge,
)
from cockpit.simulators.kubernetes_schema import warnings
from cockpit.simulators.kubernetes_store import Obj, SelectorError

APPS = "/apis/apps/v1"
NS = APPS + "/namespaces/{namespace}"
CORE = "/api/v1"
CORE_NS = CORE + "/namespaces/{namespace}"
TYPES = {
    **{plural: (kind, "apps/v1") for plural, kind in KINDS.items()},
    "pods": ("Pod", "v1"),
    "events": ("Event", "v1"),
    "namespaces": ("Namespace", "v1"),
}
"""plural → (kind, apiVersion) of everything served."""
HEALTH = ("/healthz", "/livez", "/readyz")
REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}
GENERIC = {
    "not_found": "the server could not find the requested resource",
    "method_unknown": "the server does not allow this method on the requested resource",
}
"""The base's answers for a path or a method no route serves, in the API server's words."""
BODY_TYPES = (
    "application/json",
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
)
"""The only bodies read: no protobuf (kubectl's typed clients send it), CBOR or YAML."""


class KubernetesSimulator(Simulator):
    """Deployments, their ReplicaSets, pods and events, of a Kubernetes API server on 127.0.0.1."""

    name = "kubernetes"

    def __init__(
        self,
        *,
        token: str = "sim-token",
        clock: Callable[[], float] | None = None,
        ready_seconds: float = 2.0,
        observe_seconds: float = 0.0,
        watch_seconds: float = 1800.0,
    ) -> None:
        self.cluster = Cluster(
            lambda: self.clock(), ready_seconds=ready_seconds, observe_seconds=observe_seconds
        )
        self.apps = AppsApi(self.cluster)  # before the base's __init__, which routes to it
        super().__init__(token=token, clock=clock)
        self.watch_seconds = watch_seconds
        """How long a watch that names no timeoutSeconds stays open (the API server's default
        is 30 to 60 minutes)."""
        self.certificate: Path | None = None
        self.pod_logs: dict[str, list[str]] = {}
        """image → the lines its containers log (`{image}` and `{pod}` filled in); others log
        a service's start-up."""

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
            self.cluster.add_namespace(namespace)
            self.apps.create(
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
            current = self.apps.existing("deployments", namespace, name)
            container = current["spec"]["template"]["spec"]["containers"][0]["name"]
            containers = [{"name": container, "image": image}]
            patch: Obj = {"spec": {"template": {"spec": {"containers": containers}}}}
            if change_cause is not None:
                patch["metadata"] = {"annotations": {CHANGE_CAUSE: change_cause}}
            self.apps.update("deployments", current, strategic_merge(current, patch))
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
            return copy.deepcopy(self.apps.existing("deployments", namespace, name))

    def history(self, name: str, namespace: str = "default") -> list[tuple[int, str | None, str]]:
        """(revision, change-cause, first image) of the Deployment's ReplicaSets, by revision."""
        with self.lock:
            self.cluster.reconcile()
            owned = self.cluster.owned(self.apps.existing("deployments", namespace, name))
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
            "message": GENERIC.get(code, message),
            "reason": code if code[:1].isupper() else REASONS.get(status, "Unknown"),
            "details": extra.get("details") or {},
            "code": status,
        }
        if not body["details"] and code not in GENERIC:
            del body["details"]
        return body

    def unauthorized(self, request: Request) -> Reply:
        return Reply(401, self.error_body(401, "Unauthorized", "Unauthorized"))

    def unreadable(self, headers: dict[str, str], raw: bytes) -> Reply | None:
        media = headers.get("content-type", "").split(";")[0].strip().lower()
        if not raw or media in ("", *BODY_TYPES):
            return None
        if headers.get("authorization") != f"Bearer {self.token}":
            return Reply(401, self.error_body(401, "Unauthorized", "Unauthorized"))  # first
        accepted = ", ".join(BODY_TYPES[1:]) if media.endswith("patch+yaml") else BODY_TYPES[0]
        message = (
            "the body of the request was in an unknown format - accepted media types include: "
            + accepted
        )
        return Reply(415, self.error_body(415, "UnsupportedMediaType", message))

    def handle(self, request: Request) -> Reply:
        if request.method == "GET" and request.path.rstrip("/") in HEALTH:
            return self._health(request)  # public, as the API server's are
        if self._fault_pending(request.path) or not self.authorized(request):
            return super().handle(request)
        shape = kubectl.negotiate(request.headers.get("accept", ""))
        if request.path.startswith("/api") and shape is None:
            message = (
                "only the following media types are accepted: application/json, "
                "application/json;as=Table;v=v1;g=meta.k8s.io"
            )
            return Reply(406, self.error_body(406, "NotAcceptable", message))
        if request.method == "GET" and request.query.get("watch") in ("true", "1"):
            return self._watch(request)
        return super().handle(request)

    def routes(self) -> None:
        for path, document in (
            ("/version", kubectl.VERSION),
            ("/api", kubectl.CORE_VERSIONS),
            ("/apis", kubectl.GROUPS),
            (CORE, kubectl.CORE_V1),
            (APPS, kubectl.APPS_V1),
            ("/openapi/v3", kubectl.OPENAPI_V3_ROOT),
            ("/openapi/v3/apis/apps/v1", kubectl.OPENAPI_V3_APPS),
        ):
            self.route("GET", path, self._document(document))
        self.route("GET", f"{CORE}/namespaces", self._on(self._list, "namespaces"))
        self.route("GET", f"{CORE}/namespaces/{{name}}", self._on(self._namespace, "namespaces"))
        for plural in [p for p in TYPES if p != "namespaces"]:  # namespaces: cluster-scoped
            root, namespaced = (APPS, NS) if plural in KINDS else (CORE, CORE_NS)
            self.route("GET", f"{root}/{plural}", self._on(self._list, plural))
            self.route("GET", f"{namespaced}/{plural}", self._on(self._list, plural))
            self.route("GET", f"{namespaced}/{plural}/{{name}}", self._on(self._get, plural))
        for plural in KINDS:
            one = f"{NS}/{plural}/{{name}}"
            self.route("GET", f"{one}/status", self._on(self._get, plural))
            self.route("DELETE", one, self._on(self.apps.delete, plural))
        one = f"{NS}/deployments/{{name}}"
        self.route("POST", f"{NS}/deployments", self._on(self.apps.post, "deployments"))
        self.route("PUT", one, self._on(self.apps.put, "deployments"))
        self.route("PATCH", one, self._on(self.apps.patch, "deployments"))
        for method in ("GET", "PUT", "PATCH"):
            self.route(method, f"{one}/scale", self._on(self.apps.scale, "deployments"))
        self.route("GET", f"{CORE_NS}/pods/{{name}}/log", self._log)

    def _document(self, document: JSON) -> Handler:
        return lambda request: Reply(200, document)

    def _on(self, handler: Callable[[str, Request], JSON], plural: str) -> Handler:
        """Run the controller, then the handler; the answer is a copy (it is serialised after
        the lock is released), with a Warning header for the unknown fields it dropped."""

        def run(request: Request) -> Reply:
            self.apps.warnings = []
            try:
                self.cluster.reconcile()
                body = handler(plural, request)
            except PatchError as error:
                raise SimulatorError(422, "Invalid", str(error)) from None
            except SelectorError as error:
                raise SimulatorError(400, "BadRequest", str(error)) from None
            headers = {"Warning": warnings(self.apps.warnings)} if self.apps.warnings else {}
            status = 201 if request.method == "POST" else 200
            return Reply(status, copy.deepcopy(body), headers)

        return run

    # -- reading ----------------------------------------------------------------------------

    def _list(self, plural: str, request: Request) -> JSON:
        labels, fields = (
            request.query.get("labelSelector", ""),
            request.query.get("fieldSelector", ""),
        )
        items = self.cluster.select(plural, request.params.get("namespace"), labels, fields)
        version = str(self.cluster.version)
        shape = kubectl.negotiate(request.headers.get("accept", ""))
        if shape == "table":
            return kubectl.table(plural, items, version)
        if shape == "partial":
            return kubectl.partial_list(items, version)
        kind, api_version = TYPES[plural]
        return {
            "kind": f"{kind}List",
            "apiVersion": api_version,
            "metadata": {"resourceVersion": version},
            "items": items,
        }

    def _get(self, plural: str, request: Request) -> JSON:
        found = self.apps.existing(plural, request.params["namespace"], request.params["name"])
        shape = kubectl.negotiate(request.headers.get("accept", ""))
        if request.path.endswith("/status") or shape == "json":
            return found
        if shape == "table":
            return kubectl.table(plural, [found], str(self.cluster.version))
        return kubectl.partial_list([found], "")["items"][0]

    def _namespace(self, plural: str, request: Request) -> JSON:
        request.params["namespace"] = ""  # cluster-scoped
        return self._get(plural, request)

    def _log(self, request: Request) -> Reply:
        self.cluster.reconcile()
        return watching.log(self, request)

    def _health(self, request: Request) -> Reply:
        """/healthz, /livez, /readyz: "ok", or each check with `?verbose`."""
        text = "text/plain; charset=utf-8"
        if "verbose" not in request.query:
            return Reply(200, raw=b"ok", content_type=text)
        checks = ("ping", "log", "etcd", "poststarthook/start-apiextensions-controllers")
        what = request.path.strip("/").rstrip("z")
        lines = [f"[+]{check} ok" for check in checks] + [f"{what}z check passed"]
        return Reply(200, raw=("\n".join(lines) + "\n").encode(), content_type=text)

    # -- watches ----------------------------------------------------------------------------

    @property
    def stopping(self) -> threading.Event:
        """Set when the server stops: open watches and followed logs end."""
        return self._stopping

    def _fault_pending(self, path: str) -> bool:
        with self.lock:
            return any(path.startswith(fault.path) for fault in self.faults)

    def _watch(self, request: Request) -> Reply:
        return watching.watch(self, request) or super().handle(request)
