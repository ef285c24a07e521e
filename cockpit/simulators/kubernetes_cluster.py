"""The simulated cluster's Deployment controller (provider_apis.md §1.2), over its store.

The store (kubernetes_store.py) keeps the objects; the controller runs whenever someone looks
(`reconcile()`), reading `clock`:

- a Deployment whose template matches none of its ReplicaSets (ignoring pod-template-hash) gets a
  new one, `<deploy>-<hash>`, owned by it (ownerReference with controller: true), with revision
  max+1 and the Deployment's annotations copied (change-cause among them, the skip list not);
- a template that matches an old ReplicaSet (an undo) reuses it: its revision becomes max+1 and
  the old number goes into revision-history, so that revision leaves `rollout history`;
- the new ReplicaSet's pods become available linearly over `ready_seconds` from its start (a
  ReplicaSet deleted and made again starts again from none) while the old one's are taken
  down; its pods and their events follow (kubernetes_pods.py); pods of an image in
  `broken_images` never become ready, and once
  `progressDeadlineSeconds` pass the Progressing condition turns False, ProgressDeadlineExceeded;
- a paused Deployment gets no new ReplicaSet; `status.observedGeneration` catches up with a
  spec change `observe_seconds` after it; old ReplicaSets beyond `revisionHistoryLimit` go;
- ReplicaSets orphaned by a deleted Deployment are adopted by one whose selector matches.
"""

from __future__ import annotations

import copy
import math
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
    parse_selector,
    same_template,
    selector_matches,
    selector_string,
    template_hash,
)
from cockpit.simulators.kubernetes_pods import scaled, sync_pods
from cockpit.simulators.kubernetes_store import Obj, Store, timestamp


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
    """The uid of the ReplicaSet being rolled out (the 'new' one): one deleted and made again
    under the same name is a new rollout, from no ready pods."""
    started: float = 0.0
    replicas: int = 0
    base: int = 0
    """Available pods of the new ReplicaSet when this rollout (or scale) started."""
    old: int = 0
    """Pods of the old ReplicaSets when it started."""
    old_rs: str | None = None
    applied: int = 0
    """The new ReplicaSet's ready pods when the controller last sized its ReplicaSets."""


class Cluster(Store):
    """The store (kubernetes_store.py) and the controllers that move what is in it."""

    def __init__(
        self, clock: Callable[[], float], *, ready_seconds: float, observe_seconds: float
    ) -> None:
        super().__init__()
        self.clock = clock
        self.ready_seconds = ready_seconds
        self.observe_seconds = observe_seconds
        self.broken_images: set[str] = set()
        self.tracks: dict[str, Track] = {}

    def forget(self, uid: str) -> None:
        self.tracks.pop(uid, None)

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
        for deployment in self.objects["deployments"].values():
            track = self.tracks.get(deployment["metadata"]["uid"])
            rs = None if track is None else self._by_uid(track.rs)
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
        self._adopt(deployment)
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
        if track.rs != new["metadata"]["uid"] or track.replicas != replicas:
            self._start(track, now, new, owned, replicas)
        self._roll(deployment, owned, new, track, now)
        self._clean_up(deployment, owned, new)

    def _adopt(self, deployment: Obj) -> None:
        """Claim ReplicaSets its selector matches that no controller owns (orphaned by a
        `delete --cascade=orphan` of an earlier Deployment), as the controller does."""
        meta = deployment["metadata"]
        wanted = parse_selector(selector_string(deployment["spec"]["selector"]))
        for (namespace, _), rs in sorted(self.objects["replicasets"].items()):
            refs = rs["metadata"].get("ownerReferences") or []
            if (
                namespace == meta["namespace"]
                and not any(ref.get("controller") for ref in refs)
                and selector_matches(wanted, rs["metadata"].get("labels") or {})
            ):
                rs["metadata"]["ownerReferences"] = [*refs, _owner(deployment)]
                self.bump(rs)

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
                "ownerReferences": [_owner(deployment)],
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
        track.rs, track.started, track.replicas = new["metadata"]["uid"], now, replicas
        track.base = min(replicas, int(new["status"].get("availableReplicas", 0)))
        track.old = sum(int(rs["spec"]["replicas"]) for rs in others)
        track.old_rs = None if serving is None else serving["metadata"]["uid"]
        track.applied = track.base

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
        old_rs = next((rs for rs in owned if rs["metadata"]["uid"] == track.old_rs), None)
        old_healthy = old_rs is not None and not self._broken(old_rs)
        # Each pod that became ready since the last look is a step of its own, as the real
        # controller takes them: its ScalingReplicaSet events read one step at a time.
        for step in [*range(track.applied + 1, ready), ready]:
            old = max(0, min(track.old, replicas - unavailable - step)) if old_healthy else 0
            created = max(step, min(replicas, replicas + surge - old))
            for rs in owned:
                if rs is new:
                    self._set_rs(deployment, rs, created, step)
                elif rs is old_rs:
                    self._set_rs(deployment, rs, old, old)
                else:
                    self._set_rs(deployment, rs, 0, 0)
        track.applied = ready
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

    def _by_uid(self, uid: str | None) -> Obj | None:
        found = self.objects["replicasets"].values()
        return next((rs for rs in found if rs["metadata"]["uid"] == uid), None)

    def _set_rs(self, deployment: Obj, rs: Obj, replicas: int, available: int) -> None:
        """Size a ReplicaSet and its pods; a resize is the Deployment's ScalingReplicaSet event."""
        before = int(rs["spec"].get("replicas", 0))
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
        if before != replicas:
            scaled(self, deployment, rs, before, replicas)
        sync_pods(self, rs, replicas, available, self._broken(rs))

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


def _owner(deployment: Obj) -> Obj:
    meta = deployment["metadata"]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


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
