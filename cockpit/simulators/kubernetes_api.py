"""The requests the simulated API server serves on apps/v1 objects: what each one writes and
the Status it refuses with, as kubernetes.py routes them.

Writes decode their body strictly when asked (`fieldValidation=Strict`: 400, "strict decoding
error: unknown field"), otherwise drop unknown fields with a Warning header; validation is a
422 with `details.causes`; an update with a stale resourceVersion is a 409. A delete follows
its propagation policy (kubernetes_store.py) and answers as the API server does: a Success
Status for Background, the object with its deletionTimestamp and finalizer for Foreground and
Orphan (it lingers until the garbage collector is done, which here is at once).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

from cockpit.simulators.base import JSON, Request, SimulatorError
from cockpit.simulators.kubernetes_cluster import Cluster
from cockpit.simulators.kubernetes_objects import (
    default_deployment,
    json_patch,
    merge_patch,
    selector_string,
    strategic_merge,
)
from cockpit.simulators.kubernetes_schema import (
    DEPLOYMENT,
    SCALE,
    Schema,
    deployment_causes,
    go_value,
    invalid,
    invalid_details,
    prune,
    strict_message,
    unknown_fields,
)
from cockpit.simulators.kubernetes_store import Obj, timestamp

KINDS = {"deployments": "Deployment", "replicasets": "ReplicaSet"}
PATCHES: dict[str, Callable[[JSON, JSON], JSON]] = {
    "application/json-patch+json": json_patch,
    "application/merge-patch+json": merge_patch,
    "application/strategic-merge-patch+json": strategic_merge,
}
POLICIES = ("Background", "Foreground", "Orphan")


class AppsApi:
    """Deployments (create, read, replace, patch, delete, scale) and ReplicaSets (read, delete)."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.warnings: list[str] = []
        """Unknown fields dropped by the request being served (its Warning header)."""

    def existing(self, plural: str, namespace: str, name: str) -> Obj:
        found = self.cluster.get(plural, namespace, name)
        if found is None:
            group = "apps" if plural in KINDS else ""
            details = {"name": name, "group": group, "kind": plural}
            if not group:
                del details["group"]  # omitted when empty, as the API server's JSON does
            qualified = f"{plural}.{group}" if group else plural
            raise SimulatorError(
                404, "NotFound", f'{qualified} "{name}" not found', details=details
            )
        return found

    # -- decoding -----------------------------------------------------------------------------

    def decoded(self, body: JSON, request: Request, schema: Schema, *, patch: bool) -> Obj:
        """The body as the server decodes it: unknown fields refused (Strict), or dropped and
        warned about (Warn, the default), or dropped (Ignore)."""
        if patch:  # a patched object is encoded (keys sorted, as from a Go map) to be decoded
            body = json.loads(json.dumps(body, sort_keys=True))
        unknown = unknown_fields(body, schema)
        if unknown and request.query.get("fieldValidation") == "Strict":
            kind = "Scale" if schema is SCALE else "Deployment"
            message = strict_message(unknown)
            if not patch:
                message = f'{kind} in version "v1" cannot be handled as a {kind}: {message}'
            raise SimulatorError(400, "BadRequest", message)
        if unknown and request.query.get("fieldValidation") != "Ignore":
            self.warnings += unknown
        pruned: Obj = prune(body, schema)
        return pruned

    # -- writing ------------------------------------------------------------------------------

    def post(self, plural: str, request: Request) -> JSON:
        body, namespace = request.body, request.params["namespace"]
        if not isinstance(body, dict) or body.get("kind") != "Deployment":
            message = "the body of the request is not a Deployment (apps/v1)"
            raise SimulatorError(400, "BadRequest", message)
        if body.get("metadata", {}).get("namespace", namespace) != namespace:
            message = (
                "the namespace of the provided object does not match the namespace sent on "
                "the request"
            )
            raise SimulatorError(400, "BadRequest", message)
        obj = self.decoded(body, request, DEPLOYMENT, patch=False)
        self.existing("namespaces", "", namespace)  # objects are made in namespaces that exist
        if request.query.get("dryRun") == "All":
            return self.checked(obj, namespace)
        return self.create(namespace, obj)

    def create(self, namespace: str, body: Obj) -> Obj:
        obj = self.checked(copy.deepcopy(body), namespace)
        name = obj["metadata"]["name"]
        if self.cluster.get("deployments", namespace, name) is not None:
            details = {"name": name, "group": "apps", "kind": "deployments"}
            message = f'deployments.apps "{name}" already exists'
            raise SimulatorError(409, "AlreadyExists", message, details=details)
        obj["status"] = {}
        created = self.cluster.create("deployments", obj)
        self.cluster.sync(created)
        return created

    def checked(self, obj: Obj, namespace: str, was: Obj | None = None) -> Obj:
        """Defaults filled in and the API server's validation passed (for an update of `was`,
        its immutable selector too, after the spec's own errors, as the server lists them)."""
        meta = obj.setdefault("metadata", {})
        meta["namespace"] = namespace
        for key in ("uid", "resourceVersion", "generation", "creationTimestamp"):
            meta.pop(key, None)  # the server's to set, whatever a create sends
        name = meta.get("name")
        if not name:
            causes = [{"reason": "FieldValueRequired", "message": "Required value",
                       "field": "metadata.name"}]  # fmt: skip
            message, details = invalid_details("Deployment", "apps", "", causes)
            raise SimulatorError(422, "Invalid", message, details=details)
        default_deployment(obj.setdefault("spec", {}))
        causes = deployment_causes(obj["spec"])
        selector = obj["spec"].get("selector")
        if was is not None and selector != was["spec"]["selector"]:
            shown = f"Invalid value: {_go_selector(selector)}: field is immutable"
            causes.append(
                {"reason": "FieldValueInvalid", "message": shown, "field": "spec.selector"}
            )
        if causes:
            message, details = invalid_details("Deployment", "apps", name, causes)
            raise SimulatorError(422, "Invalid", message, details=details)
        return obj

    def put(self, plural: str, request: Request) -> JSON:
        current = self.existing(plural, request.params["namespace"], request.params["name"])
        if not isinstance(request.body, dict):
            raise SimulatorError(400, "BadRequest", "the body of the request is not an object")
        body = self.decoded(request.body, request, DEPLOYMENT, patch=False)
        return self.update(plural, current, body, request)

    def patch(self, plural: str, request: Request) -> JSON:
        current = self.existing(plural, request.params["namespace"], request.params["name"])
        patched = self.decoded(self.patched(current, request), request, DEPLOYMENT, patch=True)
        return self.update(plural, current, patched, request)

    def patched(self, current: Obj, request: Request) -> Obj:
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

    def update(self, plural: str, current: Obj, new: Obj, request: Request | None = None) -> Obj:
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
        updated = self.checked(copy.deepcopy(new), old_meta["namespace"], current)
        for key in ("uid", "creationTimestamp", "generation", "resourceVersion"):
            updated["metadata"][key] = old_meta[key]
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

    def delete(self, plural: str, request: Request) -> JSON:
        namespace, name = request.params["namespace"], request.params["name"]
        obj = self.existing(plural, namespace, name)
        options = request.body if isinstance(request.body, dict) else {}
        policy = request.query.get("propagationPolicy") or options.get("propagationPolicy")
        if policy is None and options.get("orphanDependents") is not None:
            policy = "Orphan" if options["orphanDependents"] else "Background"
        policy = policy or "Background"
        if policy not in POLICIES:
            cause = {
                "reason": "FieldValueNotSupported",
                "message": f'Unsupported value: "{policy}": supported values: "Foreground", '
                '"Background", "Orphan"',
                "field": "propagationPolicy",
            }
            message, details = invalid_details("DeleteOptions", "", "", [cause])
            raise SimulatorError(422, "Invalid", message, details=details)
        dry = "All" in (request.query.get("dryRun"), *(options.get("dryRun") or []))
        if policy != "Background":  # the object lingers with a finalizer until its GC is done
            answer = copy.deepcopy(obj)
            finalizer = "foregroundDeletion" if policy == "Foreground" else "orphan"
            answer["metadata"].update(deletionTimestamp=timestamp(), finalizers=[finalizer])
            answer["metadata"]["deletionGracePeriodSeconds"] = 0
        else:
            meta = obj["metadata"]
            details = {"name": name, "group": "apps", "kind": plural, "uid": meta["uid"]}
            answer = {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Success",
                "details": details,
            }
        if not dry:
            self.cluster.delete(plural, namespace, name, policy)
        return answer

    # -- the scale subresource (autoscaling/v1 Scale) -----------------------------------------

    def scale(self, plural: str, request: Request) -> JSON:
        deployment = self.existing(plural, request.params["namespace"], request.params["name"])
        if request.method == "GET":
            return scale_of(deployment)
        wanted = (
            request.body if request.method == "PUT" else self.patched(scale_of(deployment), request)
        )
        wanted = self.decoded(wanted, request, SCALE, patch=request.method == "PATCH")
        replicas = (wanted or {}).get("spec", {}).get("replicas")
        if not isinstance(replicas, int) or replicas < 0:
            cause = invalid("spec.replicas", replicas, "must be greater than or equal to 0")
            name = deployment["metadata"]["name"]
            message, details = invalid_details("Scale", "autoscaling", name, [cause])
            raise SimulatorError(422, "Invalid", message, details=details)
        changed = copy.deepcopy(deployment)
        changed["spec"]["replicas"] = replicas
        version = (wanted.get("metadata") or {}).get("resourceVersion")
        if version:  # PUT's optimistic concurrency, as `kubectl scale --resource-version` uses
            changed["metadata"]["resourceVersion"] = version
        return scale_of(self.update(plural, deployment, changed, request))


def scale_of(deployment: Obj) -> Obj:
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


def _go_selector(selector: Any) -> str:
    """A LabelSelector as Go's %#v prints it in the immutable-selector error."""
    labels = go_value((selector or {}).get("matchLabels") or {})
    expressions = (selector or {}).get("matchExpressions")
    shown = (
        "[]v1.LabelSelectorRequirement(nil)"
        if not expressions
        else "[]v1.LabelSelectorRequirement{...}"
    )
    return f"v1.LabelSelector{{MatchLabels:{labels}, MatchExpressions:{shown}}}"
