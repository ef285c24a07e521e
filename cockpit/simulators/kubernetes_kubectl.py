"""What only kubectl needs: discovery documents, an OpenAPI v3 stub and server-side tables.

Logged from the real kubectl: it asks `/version`, `/api` and `/apis` (accepting aggregated
discovery but falling back to the legacy documents served here), then `/api/v1` and
`/apis/apps/v1`. `kubectl apply` validates by default: it looks in OpenAPI v3 for the
`fieldValidation` query parameter on the Deployment's PATCH and, finding it, leaves validation
to the server instead of downloading the OpenAPI v2 schema (protobuf, not served). So the
OpenAPI v3 document below holds only that much, and `x-kubernetes-group-version-kind` is what
kubectl matches on. `kubectl get` asks for a `Table` (Accept: ...;as=Table;g=meta.k8s.io) and
prints its cells, so the columns are the API server's: NAME READY UP-TO-DATE AVAILABLE AGE.
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
_AUTOSCALING = {"groupVersion": "autoscaling/v1", "version": "v1"}
GROUPS = {
    "kind": "APIGroupList",
    "apiVersion": "v1",
    "groups": [
        {"name": "apps", "versions": [_APPS], "preferredVersion": _APPS},
        {"name": "autoscaling", "versions": [_AUTOSCALING], "preferredVersion": _AUTOSCALING},
    ],
}

_ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
_SUB_VERBS = ["get", "patch", "update"]


def _resources(group_version: str, resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    }


def _workload(plural: str, kind: str, short: str) -> list[dict[str, Any]]:
    return [
        {
            "name": plural,
            "singularName": kind.lower(),
            "namespaced": True,
            "kind": kind,
            "verbs": _ALL_VERBS,
            "shortNames": [short],
            "categories": ["all"],
        },
        {
            "name": f"{plural}/scale",
            "singularName": "",
            "namespaced": True,
            "group": "autoscaling",
            "version": "v1",
            "kind": "Scale",
            "verbs": _SUB_VERBS,
        },
        {
            "name": f"{plural}/status",
            "singularName": "",
            "namespaced": True,
            "kind": kind,
            "verbs": _SUB_VERBS,
        },
    ]


APPS_V1 = _resources(
    "apps/v1",
    _workload("deployments", "Deployment", "deploy") + _workload("replicasets", "ReplicaSet", "rs"),
)
AUTOSCALING_V1 = _resources("autoscaling/v1", [])
CORE_V1 = _resources(
    "v1",
    [
        {
            "name": "namespaces",
            "singularName": "namespace",
            "namespaced": False,
            "kind": "Namespace",
            "verbs": ["get", "list"],
            "shortNames": ["ns"],
        },
        {
            "name": "pods",
            "singularName": "pod",
            "namespaced": True,
            "kind": "Pod",
            "verbs": ["get", "list", "watch"],
            "shortNames": ["po"],
            "categories": ["all"],
        },
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


def table(plural: str, items: list[dict[str, Any]], version: str) -> dict[str, Any]:
    """A meta.k8s.io/v1 Table of Deployments or ReplicaSets, as `kubectl get` prints it."""
    rows = []
    for obj in items:
        spec, status, meta = obj["spec"], obj.get("status", {}), obj["metadata"]
        containers = spec["template"].get("spec", {}).get("containers") or []
        if plural == "deployments":
            ready = f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 1)}"
            cells: list[Any] = [
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
        partial = {
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": meta,
        }
        rows.append({"cells": cells, "object": partial})
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": version},
        "columnDefinitions": COLUMNS[plural],
        "rows": rows,
    }


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
