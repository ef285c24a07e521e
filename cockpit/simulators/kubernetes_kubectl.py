"""What only kubectl needs: discovery documents, an OpenAPI v3 stub and server-side tables.

Logged from the real kubectl: it asks `/version`, `/api` and `/apis` (accepting aggregated
discovery but falling back to the legacy documents served here), then `/api/v1` and
`/apis/apps/v1`. `kubectl apply` validates by default: it looks in OpenAPI v3 for the
`fieldValidation` query parameter on the Deployment's PATCH and, finding it, leaves validation
to the server instead of downloading the OpenAPI v2 schema (protobuf, not served). So the
OpenAPI v3 document below holds only that much, and `x-kubernetes-group-version-kind` is what
kubectl matches on; it has no schemas, so `kubectl explain` says it cannot explain (exit 1).
`kubectl get` asks for a `Table` (Accept: ...;as=Table;g=meta.k8s.io) and prints its cells, so
the columns are the API server's: NAME READY UP-TO-DATE AVAILABLE AGE for Deployments, NAME
READY STATUS RESTARTS AGE for pods, LAST SEEN TYPE REASON OBJECT MESSAGE for events. Discovery
lists exactly the resources and verbs the simulator serves.
"""

from __future__ import annotations

import base64
import calendar
import json
import ssl
import subprocess
import time
from pathlib import Path
from typing import Any

from cockpit.simulators.kubernetes_objects import selector_string

VERSION = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.0-sim",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2024-12-11T00:00:00Z",
    "goVersion": "go1.23.4",
    "compiler": "gc",
    "platform": "linux/amd64",
}

CORE_VERSIONS = {
    "kind": "APIVersions",
    "versions": ["v1"],
    "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}],
}

_APPS = {"groupVersion": "apps/v1", "version": "v1"}
GROUPS = {
    "kind": "APIGroupList",
    "apiVersion": "v1",
    "groups": [
        {"name": "apps", "versions": [_APPS], "preferredVersion": _APPS},
    ],
}

_WRITABLE = ["create", "delete", "get", "list", "patch", "update", "watch"]
"""The verbs advertised are the ones served: no deletecollection, status is read-only."""


def _resources(group_version: str, resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    }


def _resource(
    name: str, kind: str, verbs: list[str], short: str = "", all_: bool = True
) -> dict[str, Any]:
    sub = "/" in name
    found: dict[str, Any] = {
        "name": name,
        "singularName": "" if sub else kind.lower(),
        "namespaced": kind != "Namespace",
        "kind": kind,
        "verbs": verbs,
    }
    if short:
        found["shortNames"] = [short]
    if all_ and not sub:
        found["categories"] = ["all"]
    return found


_SCALE = {**_resource("deployments/scale", "Scale", ["get", "patch", "update"])}
_SCALE.update(group="autoscaling", version="v1")
APPS_V1 = _resources(
    "apps/v1",
    [
        _resource("deployments", "Deployment", _WRITABLE, "deploy"),
        _SCALE,
        _resource("deployments/status", "Deployment", ["get"]),
        _resource("replicasets", "ReplicaSet", ["delete", "get", "list", "watch"], "rs"),
        _resource("replicasets/status", "ReplicaSet", ["get"]),
    ],
)
CORE_V1 = _resources(
    "v1",
    [
        _resource("events", "Event", ["get", "list", "watch"], "ev", all_=False),
        _resource("namespaces", "Namespace", ["get", "list", "watch"], "ns", all_=False),
        _resource("pods", "Pod", ["get", "list", "watch"], "po"),
        _resource("pods/log", "Pod", ["get"]),
    ],
)

OPENAPI_V3_ROOT = {
    "paths": {
        "apis/apps/v1": {"serverRelativeURL": "/openapi/v3/apis/apps/v1?hash=SIMULATOR"},
    }
}


def _patch_operation(kind: str) -> dict[str, Any]:
    return {
        "patch": {
            "x-kubernetes-group-version-kind": {"group": "apps", "version": "v1", "kind": kind},
            "parameters": [
                {"name": "fieldValidation", "in": "query", "schema": {"type": "string"}},
                {"name": "dryRun", "in": "query", "schema": {"type": "string"}},
            ],
            "responses": {"200": {"description": "OK"}},
        }
    }


OPENAPI_V3_APPS = {
    "openapi": "3.0.0",
    "info": {"title": "Kubernetes (simulator)", "version": "v1.32.0"},
    # No schemas: `kubectl explain` says it finds none ("GVK ... not found in OpenAPI schema")
    # rather than explain fields from a partial one.
    "components": {"schemas": {}},
    "paths": {
        "/apis/apps/v1/namespaces/{namespace}/deployments/{name}": _patch_operation("Deployment"),
        "/apis/apps/v1/namespaces/{namespace}/replicasets/{name}": _patch_operation("ReplicaSet"),
    },
}


def _column(name: str, description: str, priority: int = 0, kind: str = "string") -> dict[str, Any]:
    return {
        "name": name,
        "type": kind,
        "format": "name" if name == "Name" else "",
        "description": description,
        "priority": priority,
    }


_AGE = "Time since the object was created."
_WIDE = [
    _column("Containers", "Names of each container in the template.", 1),
    _column("Images", "Images referenced by each container in the template.", 1),
    _column("Selector", "Label selector for pods.", 1),
]
COLUMNS = {
    "deployments": [
        _column("Name", "Name must be unique within a namespace."),
        _column("Ready", "Number of the pod with ready state"),
        _column("Up-to-date", "Pods with the desired template.", kind="integer"),
        _column("Available", "Available pods.", kind="integer"),
        _column("Age", _AGE),
        *_WIDE,
    ],
    "replicasets": [
        _column("Name", "Name must be unique within a namespace."),
        _column("Desired", "Replicas is the number of desired replicas.", kind="integer"),
        _column("Current", "Observed replicas.", kind="integer"),
        _column("Ready", "The number of ready replicas for this replica set.", kind="integer"),
        _column("Age", _AGE),
        *_WIDE,
    ],
    "namespaces": [
        _column("Name", "Name must be unique within a namespace."),
        _column("Status", "The status of the namespace"),
        _column("Age", _AGE),
    ],
    "pods": [
        _column("Name", "Name must be unique within a namespace."),
        _column("Ready", "The aggregate readiness state of this pod for accepting traffic."),
        _column("Status", "The aggregate status of the containers in this pod."),
        _column("Restarts", "The number of times the containers in this pod have been "
                "restarted and when the last container in this pod has restarted."),
        _column("Age", _AGE),
        _column("IP", "IP address allocated to the pod.", 1),
        _column("Node", "Name of the node the pod is assigned to.", 1),
        _column("Nominated Node", "Name of the node where the pod is nominated.", 1),
        _column("Readiness Gates", "Pod readiness gates.", 1),
    ],
    "events": [
        _column("Last Seen", "Time when last this event was observed."),
        _column("Type", "Type of this event (Normal, Warning)."),
        _column("Reason", "This should be a short, machine understandable string."),
        _column("Object", "The object that this event is about."),
        _column("Subobject", "The subobject this event is about.", 1),
        _column("Source", "The component reporting this event.", 1),
        _column("Message", "A human-readable description of the status of this operation."),
        _column("First Seen", "The time at which the event was first recorded.", 1),
        _column("Count", "The number of times this event has occurred.", 1, "integer"),
        _column("Name", "Name must be unique within a namespace.", 1),
    ],
}  # fmt: skip


def human_age(created: str) -> str:
    """The API server's AGE cell (duration.HumanDuration, shortened past two days)."""
    seconds = int(time.time() - calendar.timegm(time.strptime(created, "%Y-%m-%dT%H:%M:%SZ")))
    minutes, hours = seconds // 60, seconds // 3600
    if seconds < 120:
        return f"{max(0, seconds)}s"
    if minutes < 10:
        return f"{minutes}m{seconds % 60}s" if seconds % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    return f"{hours}h" if hours < 48 else f"{hours // 24}d"


def _pod_cells(pod: dict[str, Any]) -> list[Any]:
    status = pod.get("status", {})
    containers = status.get("containerStatuses") or []
    ready = sum(1 for c in containers if c.get("ready"))
    waiting = next((c["state"]["waiting"] for c in containers if "waiting" in c["state"]), None)
    phase = status.get("phase", "Pending")
    if pod["metadata"].get("deletionTimestamp"):
        phase = "Terminating"
    return [
        pod["metadata"]["name"],
        f"{ready}/{len(pod['spec'].get('containers') or [])}",
        waiting.get("reason", phase) if waiting else phase,
        str(sum(int(c.get("restartCount", 0)) for c in containers)),
        human_age(pod["metadata"]["creationTimestamp"]),
        status.get("podIP", "<none>"),
        pod["spec"].get("nodeName", "<none>"),
        "<none>",
        "<none>",
    ]


def _event_cells(event: dict[str, Any]) -> list[Any]:
    involved = event["involvedObject"]
    source = event.get("source", {})
    shown = ", ".join(v for v in (source.get("component"), source.get("host")) if v)
    return [
        human_age(event["lastTimestamp"]),
        event["type"],
        event["reason"],
        f"{involved['kind'].lower()}/{involved['name']}",
        involved.get("fieldPath", ""),
        shown,
        event["message"],
        human_age(event["firstTimestamp"]),
        event.get("count", 1),
        event["metadata"]["name"],
    ]


def table(plural: str, items: list[dict[str, Any]], version: str) -> dict[str, Any]:
    """A meta.k8s.io/v1 Table of Deployments, ReplicaSets, pods or events, as `kubectl get`
    prints it."""
    rows = []
    for obj in items:
        cells: list[Any]
        if plural == "namespaces":
            meta = obj["metadata"]
            cells = [meta["name"], obj["status"]["phase"], human_age(meta["creationTimestamp"])]
            rows.append({"cells": cells, "object": _partial(obj)})
            continue
        if plural in ("pods", "events"):
            cells = _pod_cells(obj) if plural == "pods" else _event_cells(obj)
            rows.append({"cells": cells, "object": _partial(obj)})
            continue
        spec, status, meta = obj["spec"], obj.get("status", {}), obj["metadata"]
        containers = spec["template"].get("spec", {}).get("containers") or []
        if plural == "deployments":
            ready = f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 1)}"
            cells = [
                meta["name"],
                ready,
                status.get("updatedReplicas", 0),
                status.get("availableReplicas", 0),
            ]
        else:
            cells = [
                meta["name"],
                spec.get("replicas", 0),
                status.get("replicas", 0),
                status.get("readyReplicas", 0),
            ]
        cells += [
            human_age(meta["creationTimestamp"]),
            ",".join(c.get("name", "") for c in containers),
            ",".join(c.get("image", "") for c in containers),
            selector_string(spec.get("selector")),
        ]
        rows.append({"cells": cells, "object": _partial(obj)})
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": version},
        "columnDefinitions": COLUMNS[plural],
        "rows": rows,
    }


def _partial(obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj["metadata"],
    }


def partial_list(items: list[dict[str, Any]], version: str) -> dict[str, Any]:
    """A PartialObjectMetadataList (Accept: ...;as=PartialObjectMetadataList;g=meta.k8s.io)."""
    return {
        "kind": "PartialObjectMetadataList",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": version},
        "items": [_partial(obj) for obj in items],
    }


def negotiate(accept: str) -> str | None:
    """What to answer a GET with, by its Accept header: "table", "partial" (metadata only),
    "json", or None when nothing it accepts can be served (a 406: no protobuf, no YAML)."""
    if not accept.strip():
        return "json"
    for offer in accept.split(","):
        media, *options = (part.strip() for part in offer.split(";"))
        params = dict(o.split("=", 1) for o in options if "=" in o)
        shape = params.get("as")
        if shape is not None:
            if params.get("g") != "meta.k8s.io" or params.get("v") not in ("v1", "v1beta1"):
                continue
            if shape == "Table":
                return "table"
            if shape in ("PartialObjectMetadata", "PartialObjectMetadataList"):
                return "partial"
            continue
        if media in ("application/json", "application/*", "*/*"):
            return "json"
    return None


def self_signed(directory: Path) -> tuple[Path, ssl.SSLContext]:
    """A self-signed certificate for 127.0.0.1 in `directory` (made by openssl unless it is
    there already; Go checks the SAN) and a server context holding it."""
    cert, key = directory / "simulator.crt", directory / "simulator.key"
    if not (cert.exists() and key.exists()):
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2",
             "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
            check=True, capture_output=True, timeout=30,
        )  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return cert, context


def kubeconfig(url: str, token: str, certificate: Path | None, context: str, namespace: str) -> str:
    """A kubeconfig (JSON, which kubectl reads as YAML) with one cluster, user and context."""
    cluster: dict[str, Any] = {"server": url}
    if certificate is not None:
        cluster["certificate-authority-data"] = base64.b64encode(certificate.read_bytes()).decode()
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": context, "cluster": cluster}],
        "users": [{"name": context, "user": {"token": token}}],
        "contexts": [
            {
                "name": context,
                "context": {"cluster": context, "user": context, "namespace": namespace},
            }
        ],
        "current-context": context,
    }
    return json.dumps(config, indent=2)


def event_line(event: dict[str, Any]) -> str:
    """One watch event as the stream carries it: a JSON object per line."""
    return json.dumps(event) + "\n"
