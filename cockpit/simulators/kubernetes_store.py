"""The simulated API server's storage: objects by kind, resourceVersions, selectors, deletion.

Objects are kept as the JSON the API server returns, keyed by (namespace, name) under their
plural (deployments, replicasets, pods, events). Every write takes the next resourceVersion, so
a watch is answered from the store: what changed after the version it names. Deletion follows
the API's propagation policies through ownerReferences, as the garbage collector does:

- Background (the default for these kinds): the object goes, then its dependents;
- Foreground: the dependents go first, then the object (which meanwhile carries a
  deletionTimestamp and the `foregroundDeletion` finalizer, as a watch sees);
- Orphan: the dependents stay, with the ownerReference to the deleted object removed.
"""

from __future__ import annotations

import copy
import time
import uuid
from collections.abc import Callable
from typing import Any

from cockpit.simulators.kubernetes_objects import PatchError, parse_fields, parse_selector
from cockpit.simulators.kubernetes_objects import selector_matches as labels_match

Obj = dict[str, Any]
PLURALS = ("namespaces", "deployments", "replicasets", "pods", "events")
INITIAL_NAMESPACES = ("default", "kube-node-lease", "kube-public", "kube-system")

_META_FIELDS = ("metadata.name", "metadata.namespace")
FIELD_LABELS: dict[str, tuple[str, ...]] = {
    "namespaces": ("metadata.name", "status.phase"),
    "deployments": _META_FIELDS,
    "replicasets": (*_META_FIELDS, "status.replicas"),
    "pods": (
        *_META_FIELDS,
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "status.phase",
        "status.podIP",
        "status.nominatedNodeName",
    ),
    "events": (
        *_META_FIELDS,
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
    ),
}
"""The field selectors the API server supports for each kind; any other is a 400."""


def timestamp() -> str:
    """Now as the API server writes times (RFC 3339, seconds, UTC)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def field_value(obj: Obj, path: str) -> str:
    """A field selector's value of an object (`source` is an Event's source.component)."""
    if path == "source":
        path = "source.component"
    node: Any = obj
    for part in path.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return "" if node is None else str(node)


class SelectorError(ValueError):
    """A label or field selector the API server refuses (400 BadRequest)."""


def matcher(plural: str, namespace: str | None, labels: str, fields: str) -> Callable[[Obj], bool]:
    """Whether an object is in the namespace and matches the label and field selectors; a
    selector the API server would refuse raises SelectorError."""
    try:
        wanted = parse_selector(labels)
        terms = parse_fields(fields)
    except PatchError as error:
        raise SelectorError(str(error)) from None
    for key, _, _ in terms:
        if key not in FIELD_LABELS[plural]:
            raise SelectorError(f"field label not supported: {key}")

    def matches(obj: Obj) -> bool:
        meta = obj["metadata"]
        return (
            namespace in (None, meta.get("namespace"))
            and labels_match(wanted, meta.get("labels") or {})
            and all((field_value(obj, key) == value) == equal for key, equal, value in terms)
        )

    return matches


class Store:
    """Objects by plural and (namespace, name), with the resourceVersion of the last write."""

    def __init__(self) -> None:
        self.objects: dict[str, dict[tuple[str, str], Obj]] = {plural: {} for plural in PLURALS}
        self.version = 0
        self.deleted: list[tuple[int, str, Obj]] = []
        """(resourceVersion at deletion, plural, object) for watches."""
        self.born: dict[str, int] = {}
        """uid → the resourceVersion that created it (a watch's ADDED or MODIFIED)."""
        for name in INITIAL_NAMESPACES:
            self.add_namespace(name)

    def add_namespace(self, name: str) -> None:
        """An Active namespace (cluster-scoped: stored under the namespace "")."""
        if self.get("namespaces", "", name) is None:
            namespace = {
                "kind": "Namespace",
                "apiVersion": "v1",
                "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name}},
                "spec": {"finalizers": ["kubernetes"]},
                "status": {"phase": "Active"},
            }
            self.create("namespaces", namespace)

    def bump(self, obj: Obj) -> Obj:
        """Give an object the next resourceVersion (every write does)."""
        self.version += 1
        obj["metadata"]["resourceVersion"] = str(self.version)
        return obj

    def get(self, plural: str, namespace: str, name: str) -> Obj | None:
        return self.objects[plural].get((namespace, name))

    def select(
        self, plural: str, namespace: str | None, labels: str = "", fields: str = ""
    ) -> list[Obj]:
        """Objects in a namespace (or all), filtered by label and field selectors, by name."""
        matches = matcher(plural, namespace, labels, fields)
        return [obj for _, obj in sorted(self.objects[plural].items()) if matches(obj)]

    def create(self, plural: str, obj: Obj) -> Obj:
        meta = obj["metadata"]
        meta.update(uid=str(uuid.uuid4()), creationTimestamp=timestamp())
        if plural in ("deployments", "replicasets"):
            meta["generation"] = 1
        self.objects[plural][(meta.get("namespace", ""), meta["name"])] = self.bump(obj)
        self.born[meta["uid"]] = self.version
        return obj

    def put(self, plural: str, obj: Obj) -> Obj:
        meta = obj["metadata"]
        self.objects[plural][(meta["namespace"], meta["name"])] = self.bump(obj)
        return obj

    def dependents(self, owner: Obj) -> list[tuple[str, Obj]]:
        """(plural, object) of everything with an ownerReference to `owner`, in its namespace."""
        uid, namespace = owner["metadata"]["uid"], owner["metadata"]["namespace"]
        return [
            (plural, obj)
            for plural in ("replicasets", "pods")
            for (ns, _), obj in sorted(self.objects[plural].items())
            if ns == namespace
            and any(ref.get("uid") == uid for ref in obj["metadata"].get("ownerReferences") or [])
        ]

    def delete(self, plural: str, namespace: str, name: str, policy: str = "Background") -> None:
        """Delete an object and, by `policy`, its dependents (see the module's docstring)."""
        obj = self.objects[plural].get((namespace, name))
        if obj is None:
            return
        uid = obj["metadata"]["uid"]
        dependents = self.dependents(obj)
        if policy == "Orphan":
            for _, dependent in dependents:
                refs = dependent["metadata"]["ownerReferences"]
                kept = [ref for ref in refs if ref.get("uid") != uid]
                if kept:
                    dependent["metadata"]["ownerReferences"] = kept
                else:
                    del dependent["metadata"]["ownerReferences"]
                self.bump(dependent)
            dependents = []
        if policy == "Foreground":
            obj["metadata"].update(deletionTimestamp=timestamp(), finalizers=["foregroundDeletion"])
            obj["metadata"]["deletionGracePeriodSeconds"] = 0
            self.bump(obj)
            for kind, dependent in dependents:
                self.delete(kind, namespace, dependent["metadata"]["name"], "Foreground")
        del self.objects[plural][(namespace, name)]
        self.bump(obj)  # a watch's DELETED carries the deletion's resourceVersion
        self.deleted.append((self.version, plural, obj))
        self.forget(uid)
        if policy == "Background":
            for kind, dependent in dependents:
                self.delete(kind, namespace, dependent["metadata"]["name"])

    def forget(self, uid: str) -> None:
        """What else the simulator remembers about a deleted object (the controller's)."""

    def changes(
        self, plural: str, namespace: str | None, labels: str, fields: str, since: int
    ) -> list[Obj]:
        """Watch events after resourceVersion `since` (0: everything there is, ADDED)."""
        matches = matcher(plural, namespace, labels, fields)
        found = [
            (
                int(obj["metadata"]["resourceVersion"]),
                "ADDED" if self.born.get(obj["metadata"]["uid"], 0) > since else "MODIFIED",
                obj,
            )
            for obj in self.objects[plural].values()
            if matches(obj)
        ]
        found += [(v, "DELETED", obj) for v, p, obj in self.deleted if p == plural and matches(obj)]
        return [
            {"type": kind, "object": copy.deepcopy(obj)}
            for version, kind, obj in sorted(found, key=lambda event: event[0])
            if version > since
        ]
