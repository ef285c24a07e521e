"""The simulated cluster's state and its Deployment controller (provider_apis.md §1.2).

Objects are stored as the JSON the API server returns (camelCase, defaults filled), with a
resourceVersion bumped on every write, so a watch can be answered from it. The controller runs
whenever someone looks (`reconcile()`), reading `clock`:

- a Deployment whose template matches none of its ReplicaSets (ignoring pod-template-hash) gets a
  new one, `<deploy>-<hash>`, owned by it (ownerReference with controller: true), with revision
  max+1 and the Deployment's annotations copied (change-cause among them, the skip list not);
- a template that matches an old ReplicaSet (an undo) reuses it: its revision becomes max+1 and
  the old number goes into revision-history, so that revision leaves `rollout history`;
- the new ReplicaSet's pods become available linearly over `ready_seconds` while the old one's
  are taken down; pods of an image in `broken_images` never do, and once
  `progressDeadlineSeconds` pass the Progressing condition turns False, ProgressDeadlineExceeded;
- a paused Deployment gets no new ReplicaSet; `status.observedGeneration` catches up with a
  spec change `observe_seconds` after it; old ReplicaSets beyond `revisionHistoryLimit` go.
"""

from __future__ import annotations

import copy
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cockpit.simulators.kubernetes_objects import (
    ANNOTATIONS_NOT_COPIED,
    DESIRED_REPLICAS,
    HASH_LABEL,
    MAX_REPLICAS,
    REVISION,
    REVISION_HISTORY,
    canonical,
    images,
    parse_fields,
    parse_selector,
    same_template,
    selector_matches,
    template_hash,
)

Obj = dict[str, Any]


def timestamp() -> str:
    """Now as the API server writes times (RFC 3339, seconds, UTC)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def revision(rs: Obj) -> int:
    """A ReplicaSet's revision annotation (0 when missing or not a number, as kubectl reads it)."""
    try:
        return int(rs["metadata"].get("annotations", {}).get(REVISION, "0"))
    except ValueError:
        return 0


def _percent(value: Any, total: int, *, round_up: bool) -> int:
    if isinstance(value, str) and value.endswith("%"):
        exact = int(value[:-1]) * total / 100
        return math.ceil(exact) if round_up else math.floor(exact)
    return int(value or 0)


def fenceposts(spec: Obj, replicas: int) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) in pods: surge rounds up, unavailable down, never both 0.
    Recreate is treated as 0 surge, all unavailable."""
    if spec.get("strategy", {}).get("type") == "Recreate":
        return 0, replicas
    rolling = spec.get("strategy", {}).get("rollingUpdate") or {}
    surge = _percent(rolling.get("maxSurge", "25%"), replicas, round_up=True)
    unavailable = _percent(rolling.get("maxUnavailable", "25%"), replicas, round_up=False)
    return surge, 1 if surge == 0 and unavailable == 0 else unavailable


@dataclass
class Track:
    """What the controller remembers about one Deployment between looks."""

    generation: int
    seen_at: float
    observed: int = 0
    rs: str | None = None
    """The ReplicaSet being rolled out (the 'new' one)."""
    started: float = 0.0
    replicas: int = 0
    base: int = 0
    """Available pods of the new ReplicaSet when this rollout (or scale) started."""
    old: int = 0
    """Pods of the old ReplicaSets when it started."""
    old_rs: str | None = None


class Cluster:
    """Deployments and ReplicaSets by (namespace, name), and the controller that moves them."""

    def __init__(
        self, clock: Callable[[], float], *, ready_seconds: float, observe_seconds: float
    ) -> None:
        self.clock = clock
        self.ready_seconds = ready_seconds
        self.observe_seconds = observe_seconds
        self.objects: dict[str, dict[tuple[str, str], Obj]] = {"deployments": {}, "replicasets": {}}
        self.version = 0
        self.deleted: list[tuple[int, str, Obj]] = []
        """(resourceVersion at deletion, plural, object) for watches."""
        self.broken_images: set[str] = set()
        self.tracks: dict[str, Track] = {}
        self.born: dict[str, int] = {}
        """uid → the resourceVersion that created it (a watch's ADDED or MODIFIED)."""

    # -- storage ------------------------------------------------------------------------------

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
        matches = _matcher(namespace, labels, fields)
        return [obj for _, obj in sorted(self.objects[plural].items()) if matches(obj)]

    def create(self, plural: str, obj: Obj) -> Obj:
        meta = obj["metadata"]
        meta.update(uid=str(uuid.uuid4()), generation=1, creationTimestamp=timestamp())
        self.objects[plural][(meta["namespace"], meta["name"])] = self.bump(obj)
        self.born[meta["uid"]] = self.version
        return obj

    def put(self, plural: str, obj: Obj) -> Obj:
        meta = obj["metadata"]
        self.objects[plural][(meta["namespace"], meta["name"])] = self.bump(obj)
        return obj

    def delete(self, plural: str, namespace: str, name: str) -> Obj | None:
        obj = self.objects[plural].pop((namespace, name), None)
        if obj is not None:
            self.version += 1
            self.deleted.append((self.version, plural, obj))
            if plural == "deployments":  # background cascading deletion
                for rs in self.owned(obj):
                    self.delete("replicasets", namespace, rs["metadata"]["name"])
                self.tracks.pop(obj["metadata"]["uid"], None)
        return obj

    def events(
        self, plural: str, namespace: str | None, labels: str, fields: str, since: int
    ) -> list[Obj]:
        """Watch events after resourceVersion `since` (0: everything there is, ADDED)."""
        found = [
            (
                int(obj["metadata"]["resourceVersion"]),
                "ADDED" if self.born.get(obj["metadata"]["uid"], 0) > since else "MODIFIED",
                obj,
            )
            for obj in self.select(plural, namespace, labels, fields)
        ]
        matches = _matcher(namespace, labels, fields)
        found += [(v, "DELETED", obj) for v, p, obj in self.deleted if p == plural and matches(obj)]
        return [
            {"type": kind, "object": copy.deepcopy(obj)}
            for version, kind, obj in sorted(found, key=lambda event: event[0])
            if version > since
        ]

    def owned(self, deployment: Obj) -> list[Obj]:
        """ReplicaSets whose controller ownerReference is this Deployment, oldest first."""
        meta = deployment["metadata"]
        found = [
            rs
            for (ns, _), rs in self.objects["replicasets"].items()
            if ns == meta["namespace"]
            and any(
                ref.get("controller") and ref.get("uid") == meta["uid"]
                for ref in rs["metadata"].get("ownerReferences") or []
            )
        ]
        return sorted(
            found, key=lambda rs: (rs["metadata"]["creationTimestamp"], rs["metadata"]["name"])
        )

    # -- the controller -------------------------------------------------------------------------

    def reconcile(self) -> None:
        """One pass of the Deployment controller over every Deployment."""
        for deployment in list(self.objects["deployments"].values()):
            self.sync(deployment)

    def finish(self) -> None:
        """Every rollout that can finish (not to a broken image) finishes now."""
        for (namespace, _), deployment in self.objects["deployments"].items():
            track = self.tracks.get(deployment["metadata"]["uid"])
            rs = (
                None
                if track is None or track.rs is None
                else self.get("replicasets", namespace, track.rs)
            )
            if track is not None and rs is not None and not self._broken(rs):
                track.started -= 1e9
        self.reconcile()

    def sync(self, deployment: Obj) -> None:
        now = self.clock()
        meta, spec = deployment["metadata"], deployment["spec"]
        track = self.tracks.setdefault(meta["uid"], Track(meta["generation"], now))
        if track.generation != meta["generation"]:
            track.generation, track.seen_at = meta["generation"], now
        if track.observed < track.generation and now >= track.seen_at + self.observe_seconds:
            track.observed = track.generation
        if track.observed < meta["generation"]:
            return  # the controller has not seen this spec yet
        owned = self.owned(deployment)
        new = next(
            (rs for rs in owned if same_template(rs["spec"]["template"], spec["template"])), None
        )
        paused = bool(spec.get("paused"))
        if not paused:
            if new is None:
                new = self._new_replicaset(deployment, owned)
                owned.append(new)
            self._sync_revision(deployment, new, owned)
        if paused or new is None:
            self._paused_status(deployment, owned, new, track)
            return
        replicas = int(spec.get("replicas", 1))
        if track.rs != new["metadata"]["name"] or track.replicas != replicas:
            self._start(track, now, new, owned, replicas)
        self._roll(deployment, owned, new, track, now)
        self._clean_up(deployment, owned, new)

    def _new_replicaset(self, deployment: Obj, owned: list[Obj]) -> Obj:
        meta, spec = deployment["metadata"], deployment["spec"]
        template = copy.deepcopy(spec["template"])
        collisions = int(deployment.get("status", {}).get("collisionCount", 0))
        while True:
            pod_hash = template_hash(template, collisions)
            name = f"{meta['name']}-{pod_hash}"
            if self.get("replicasets", meta["namespace"], name) is None:
                break
            collisions += 1
            deployment.setdefault("status", {})["collisionCount"] = collisions
        template.setdefault("metadata", {}).setdefault("labels", {})[HASH_LABEL] = pod_hash
        selector = copy.deepcopy(spec["selector"])
        selector.setdefault("matchLabels", {})[HASH_LABEL] = pod_hash
        rs: Obj = {
            "kind": "ReplicaSet",
            "apiVersion": "apps/v1",
            "metadata": {
                "name": name,
                "namespace": meta["namespace"],
                "labels": dict(template["metadata"]["labels"]),
                "annotations": {},
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "Deployment",
                        "name": meta["name"],
                        "uid": meta["uid"],
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "spec": {"replicas": 0, "selector": selector, "template": template},
            "status": {"replicas": 0},
        }
        if "minReadySeconds" in spec:
            rs["spec"]["minReadySeconds"] = spec["minReadySeconds"]
        return self.create("replicasets", rs)

    def _sync_revision(self, deployment: Obj, new: Obj, owned: list[Obj]) -> None:
        """SetNewReplicaSetAnnotations: revision max+1 (history kept on reuse), annotations."""
        before = canonical(new["metadata"])
        annotations = new["metadata"].setdefault("annotations", {})
        wanted = max((revision(rs) for rs in owned if rs is not new), default=0) + 1
        had = REVISION in annotations
        old = revision(new)
        if old < wanted:
            annotations[REVISION] = str(wanted)
            if had:
                history = annotations.get(REVISION_HISTORY, "")
                annotations[REVISION_HISTORY] = f"{history},{old}" if history else str(old)
        for key, value in (deployment["metadata"].get("annotations") or {}).items():
            if key not in ANNOTATIONS_NOT_COPIED:
                annotations[key] = value
        replicas = int(deployment["spec"].get("replicas", 1))
        annotations[DESIRED_REPLICAS] = str(replicas)
        annotations[MAX_REPLICAS] = str(replicas + fenceposts(deployment["spec"], replicas)[0])
        if canonical(new["metadata"]) != before:
            self.bump(new)
        deployment_annotations = deployment["metadata"].setdefault("annotations", {})
        if deployment_annotations.get(REVISION) != annotations[REVISION]:
            deployment_annotations[REVISION] = annotations[REVISION]
            self.bump(deployment)

    def _start(self, track: Track, now: float, new: Obj, owned: list[Obj], replicas: int) -> None:
        """A new rollout (or a scale): remember where it starts from."""
        others = [rs for rs in owned if rs is not new and rs["spec"].get("replicas", 0) > 0]
        serving = max(others, key=lambda rs: rs["spec"]["replicas"], default=None)
        track.rs, track.started, track.replicas = new["metadata"]["name"], now, replicas
        track.base = min(replicas, int(new["status"].get("availableReplicas", 0)))
        track.old = sum(int(rs["spec"]["replicas"]) for rs in others)
        track.old_rs = None if serving is None else serving["metadata"]["name"]

    def _roll(self, deployment: Obj, owned: list[Obj], new: Obj, track: Track, now: float) -> None:
        """A rolling update at this moment: new pods ready by the clock, old ones taken down as
        far as maxUnavailable allows, new ones created as far as maxSurge allows."""
        spec = deployment["spec"]
        replicas = track.replicas
        surge, unavailable = fenceposts(spec, replicas)
        fraction = 1.0 if self.ready_seconds <= 0 else (now - track.started) / self.ready_seconds
        if self._broken(new):
            ready = 0
        elif replicas <= track.base:
            ready = replicas
        else:
            ready = track.base + math.floor((replicas - track.base) * min(1.0, max(0.0, fraction)))
        old_rs = next((rs for rs in owned if rs["metadata"]["name"] == track.old_rs), None)
        old_healthy = old_rs is not None and not self._broken(old_rs)
        old = max(0, min(track.old, replicas - unavailable - ready)) if old_healthy else 0
        created = max(ready, min(replicas, replicas + surge - old))
        for rs in owned:
            if rs is new:
                self._set_rs(rs, created, ready)
            elif rs is old_rs:
                self._set_rs(rs, old, old)
            else:
                self._set_rs(rs, 0, 0)
        available = ready + old
        name = new["metadata"]["name"]
        if ready == replicas and old == 0:
            progressing = (
                "True",
                "NewReplicaSetAvailable",
                f'ReplicaSet "{name}" has successfully progressed.',
            )
        elif now - track.started > float(spec.get("progressDeadlineSeconds", 600)):
            progressing = (
                "False",
                "ProgressDeadlineExceeded",
                f'ReplicaSet "{name}" has timed out progressing.',
            )
        else:
            progressing = ("True", "ReplicaSetUpdated", f'ReplicaSet "{name}" is progressing.')
        self._set_status(
            deployment,
            _counts(created + old, created, available, track.observed),
            available >= replicas - unavailable,
            progressing,
        )

    def _paused_status(
        self, deployment: Obj, owned: list[Obj], new: Obj | None, track: Track
    ) -> None:
        total = sum(int(rs["status"].get("replicas", 0)) for rs in owned)
        available = sum(int(rs["status"].get("availableReplicas", 0)) for rs in owned)
        updated = 0 if new is None else int(new["status"].get("replicas", 0))
        replicas = int(deployment["spec"].get("replicas", 1))
        _, unavailable = fenceposts(deployment["spec"], replicas)
        self._set_status(
            deployment,
            _counts(total, updated, available, track.observed),
            available >= replicas - unavailable,
            ("Unknown", "DeploymentPaused", "Deployment is paused"),
        )

    def _clean_up(self, deployment: Obj, owned: list[Obj], new: Obj) -> None:
        limit = int(deployment["spec"].get("revisionHistoryLimit", 10))
        idle = [
            rs
            for rs in owned
            if rs is not new
            and rs["spec"]["replicas"] == 0
            and rs["status"].get("replicas", 0) == 0
        ]
        for rs in sorted(idle, key=revision)[: max(0, len(idle) - limit)]:
            self.delete("replicasets", rs["metadata"]["namespace"], rs["metadata"]["name"])

    def _broken(self, rs: Obj) -> bool:
        return any(image in self.broken_images for image in images(rs["spec"]["template"]))

    def _set_rs(self, rs: Obj, replicas: int, available: int) -> None:
        status = {
            "replicas": replicas,
            "fullyLabeledReplicas": replicas,
            "readyReplicas": available,
            "availableReplicas": available,
            "observedGeneration": rs["metadata"]["generation"],
        }
        status = {k: v for k, v in status.items() if v or k == "replicas"}
        if rs["spec"]["replicas"] != replicas or rs.get("status") != status:
            rs["spec"]["replicas"] = replicas
            rs["status"] = status
            self.bump(rs)

    def _set_status(
        self,
        deployment: Obj,
        status: Obj,
        available: bool | None = None,
        progressing: tuple[str, str, str] | None = None,
    ) -> None:
        old = deployment.get("status") or {}
        conditions = {c["type"]: c for c in old.get("conditions") or []}
        if available is not None:
            reason = "MinimumReplicasAvailable" if available else "MinimumReplicasUnavailable"
            text = f"Deployment {'has' if available else 'does not have'} minimum availability."
            _condition(conditions, "Available", ("True" if available else "False", reason, text))
        if progressing is not None:
            _condition(conditions, "Progressing", progressing)
        if conditions:
            status["conditions"] = [
                conditions[k] for k in ("Available", "Progressing") if k in conditions
            ]
        if "collisionCount" in old:
            status["collisionCount"] = old["collisionCount"]
        if status != old:
            deployment["status"] = status
            self.bump(deployment)


def _matcher(namespace: str | None, labels: str, fields: str) -> Callable[[Obj], bool]:
    """Whether an object is in the namespace and matches the label and field selectors."""
    wanted = parse_selector(labels)
    terms = parse_fields(fields)

    def matches(obj: Obj) -> bool:
        meta = obj["metadata"]
        values = {"metadata.name": meta["name"], "metadata.namespace": meta["namespace"]}
        return (
            namespace in (None, meta["namespace"])
            and selector_matches(wanted, meta.get("labels") or {})
            and all((values.get(key) == value) == equal for key, equal, value in terms)
        )

    return matches


def _counts(replicas: int, updated: int, available: int, observed: int) -> Obj:
    """A DeploymentStatus's numbers; zeros are left out, as the API server's omitempty does."""
    counts = {
        "observedGeneration": observed,
        "replicas": replicas,
        "updatedReplicas": updated,
        "readyReplicas": available,
        "availableReplicas": available,
        "unavailableReplicas": max(0, replicas - available),
    }
    return {k: v for k, v in counts.items() if v}


def _condition(conditions: dict[str, Obj], kind: str, value: tuple[str, str, str]) -> None:
    status, reason, message = value
    old = conditions.get(kind)
    if old is not None and (old["status"], old["reason"], old["message"]) == value:
        return
    now = timestamp()
    transition = old["lastTransitionTime"] if old is not None and old["status"] == status else now
    conditions[kind] = {
        "type": kind,
        "status": status,
        "lastUpdateTime": now,
        "lastTransitionTime": transition,
        "reason": reason,
        "message": message,
    }
