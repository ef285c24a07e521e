"""Pods and Events of the simulated cluster: what the ReplicaSet controller, the scheduler and
the kubelet would leave behind, so `kubectl get pods`, `describe` and `logs` see a real cluster.

A ReplicaSet the Deployment controller sizes to N replicas with R available owns N pods (named
`<replicaset>-<5 letters>`, labels from its template, an ownerReference to it), the R oldest of
them Running and Ready, the rest ContainerCreating, or ImagePullBackOff for a broken image. Each
change is an Event on the object that made it, worded as the controllers word theirs:
ScalingReplicaSet on the Deployment, SuccessfulCreate / SuccessfulDelete on the ReplicaSet,
Scheduled, Pulled, Created, Started (or Failed and BackOff) on the pod.
"""

from __future__ import annotations

import copy
import secrets
import time
from typing import Any

from cockpit.simulators.kubernetes_objects import images
from cockpit.simulators.kubernetes_store import Obj, Store, timestamp

NODE = "sim-node"
_LETTERS = "bcdfghjklmnpqrstvwxz2456789"


def record(
    store: Store,
    involved: Obj,
    reason: str,
    message: str,
    component: str,
    *,
    warning: bool = False,
) -> Obj:
    """A core/v1 Event about `involved`, as a controller or the kubelet records it."""
    meta, now = involved["metadata"], timestamp()
    event: Obj = {
        "kind": "Event",
        "apiVersion": "v1",
        "metadata": {
            "name": f"{meta['name']}.{time.time_ns():x}",  # by object, then time
            "namespace": meta["namespace"],
        },
        "involvedObject": {
            "kind": involved["kind"],
            "namespace": meta["namespace"],
            "name": meta["name"],
            "uid": meta["uid"],
            "apiVersion": involved["apiVersion"],
            "resourceVersion": meta.get("resourceVersion", ""),
        },
        "reason": reason,
        "message": message,
        "source": {"component": component, **({"host": NODE} if component == "kubelet" else {})},
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
        "type": "Warning" if warning else "Normal",
        "eventTime": None,
        "reportingComponent": component,
        "reportingInstance": NODE if component == "kubelet" else "",
    }
    return store.create("events", event)


def scaled(store: Store, deployment: Obj, rs: Obj, before: int, after: int) -> None:
    """The Deployment controller's event for resizing one of its ReplicaSets."""
    way = "up" if after > before else "down"
    message = f"Scaled {way} replica set {rs['metadata']['name']} from {before} to {after}"
    record(store, deployment, "ScalingReplicaSet", message, "deployment-controller")


def owned_pods(store: Store, rs: Obj) -> list[Obj]:
    """The ReplicaSet's pods, oldest first."""
    uid, namespace = rs["metadata"]["uid"], rs["metadata"]["namespace"]
    pods = [
        pod
        for (ns, _), pod in store.objects["pods"].items()
        if ns == namespace
        and any(ref.get("uid") == uid for ref in pod["metadata"].get("ownerReferences") or [])
    ]
    return sorted(pods, key=lambda pod: store.born.get(pod["metadata"]["uid"], 0))


def sync_pods(store: Store, rs: Obj, replicas: int, ready: int, broken: bool) -> None:
    """Make the ReplicaSet own `replicas` pods of which the `ready` oldest are ready."""
    pods = owned_pods(store, rs)
    while len(pods) > replicas:  # the ReplicaSet controller deletes unready, then newest first
        doomed = next((p for p in reversed(pods) if not is_ready(p)), pods[-1])
        pods.remove(doomed)
        name = doomed["metadata"]["name"]
        store.delete("pods", doomed["metadata"]["namespace"], name)
        record(store, rs, "SuccessfulDelete", f"Deleted pod: {name}", "replicaset-controller")
    while len(pods) < replicas:
        pods.append(_new_pod(store, rs, broken))
    for index, pod in enumerate(pods):
        wanted = index < ready and not broken
        if is_ready(pod) != wanted:
            _set_ready(store, pod, wanted)


def is_ready(pod: Obj) -> bool:
    conditions = pod.get("status", {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def _new_pod(store: Store, rs: Obj, broken: bool) -> Obj:
    meta, template = rs["metadata"], copy.deepcopy(rs["spec"]["template"])
    while True:
        name = f"{meta['name']}-{''.join(secrets.choice(_LETTERS) for _ in range(5))}"
        if store.get("pods", meta["namespace"], name) is None:
            break
    spec = template.get("spec") or {}
    spec.update(nodeName=NODE, serviceAccountName="default", serviceAccount="default")
    spec.setdefault("enableServiceLinks", True)
    spec.setdefault("priority", 0)
    pod_meta: Obj = {
        "name": name,
        "generateName": f"{meta['name']}-",
        "namespace": meta["namespace"],
        "labels": dict((template.get("metadata") or {}).get("labels") or {}),
        "ownerReferences": [
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "name": meta["name"],
                "uid": meta["uid"],
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ],
    }
    annotations = (template.get("metadata") or {}).get("annotations")
    if annotations:
        pod_meta["annotations"] = dict(annotations)
    pod: Obj = {"kind": "Pod", "apiVersion": "v1", "metadata": pod_meta, "spec": spec}
    ip = f"10.244.0.{store.version % 250 + 2}"
    pod["status"] = _status(pod, ready=False, broken=broken, ip=ip)
    store.create("pods", pod)
    record(store, rs, "SuccessfulCreate", f"Created pod: {name}", "replicaset-controller")
    record(
        store,
        pod,
        "Scheduled",
        f"Successfully assigned {meta['namespace']}/{name} to {NODE}",
        "default-scheduler",
    )
    if broken:
        image = next(iter(images(template)), "")
        failed = (
            f'Failed to pull image "{image}": rpc error: code = NotFound desc = failed to pull '
            f'and unpack image "{image}": not found'
        )
        record(store, pod, "Failed", failed, "kubelet", warning=True)
        record(store, pod, "BackOff", f'Back-off pulling image "{image}"', "kubelet", warning=True)
    return pod


def _set_ready(store: Store, pod: Obj, ready: bool) -> None:
    ip = pod["status"].get("podIP", "10.244.0.2")
    pod["status"] = _status(pod, ready=ready, broken=False, ip=ip)
    store.bump(pod)
    if ready:
        for container in pod["spec"].get("containers") or []:
            image, name = container.get("image", ""), container.get("name", "")
            pulled = f'Container image "{image}" already present on machine'
            record(store, pod, "Pulled", pulled, "kubelet")
            record(store, pod, "Created", f"Created container: {name}", "kubelet")
            record(store, pod, "Started", f"Started container {name}", "kubelet")


def _status(pod: Obj, *, ready: bool, broken: bool, ip: str) -> Obj:
    now = timestamp()
    flag = "True" if ready else "False"

    def condition(kind: str, status: str) -> Obj:
        found: Obj = {"type": kind, "status": status, "lastProbeTime": None}
        found["lastTransitionTime"] = now
        if status == "False":
            found["reason"] = "ContainersNotReady"
        return found

    statuses = []
    for container in pod["spec"].get("containers") or []:
        image = container.get("image", "")
        state: dict[str, Any]
        if ready:
            state = {"running": {"startedAt": now}}
        elif broken:
            state = {
                "waiting": {
                    "reason": "ImagePullBackOff",
                    "message": f'Back-off pulling image "{image}"',
                }
            }
        else:
            state = {"waiting": {"reason": "ContainerCreating"}}
        statuses.append(
            {
                "name": container.get("name", ""),
                "state": state,
                "lastState": {},
                "ready": ready,
                "restartCount": 0,
                "image": image,
                "imageID": "",
                "started": ready,
            }
        )
    return {
        "phase": "Running" if ready else "Pending",
        "conditions": [
            condition("PodReadyToStartContainers", "True"),
            condition("Initialized", "True"),
            condition("Ready", flag),
            condition("ContainersReady", flag),
            condition("PodScheduled", "True"),
        ],
        "hostIP": "10.0.0.10",
        "podIP": ip,
        "podIPs": [{"ip": ip}],
        "startTime": pod.get("status", {}).get("startTime", now),
        "containerStatuses": statuses,
        "qosClass": "BestEffort",
    }


def waiting_reason(pod: Obj) -> str | None:
    """Why the pod's first container is not running (None when it is)."""
    for status in pod.get("status", {}).get("containerStatuses") or []:
        waiting = status.get("state", {}).get("waiting")
        if waiting:
            return str(waiting.get("reason", "Waiting"))
    return None


DEFAULT_LOG = [
    "starting {image}",
    "listening on :8080",
    "ready: serving traffic",
]


def log_lines(pod: Obj, container: str, by_image: dict[str, list[str]]) -> list[tuple[str, str]]:
    """The container's log as (the kubelet's RFC 3339 nanosecond time, line): the lines set for
    its image, or a service's start-up, written as it started."""
    image = next(
        (c.get("image", "") for c in pod["spec"].get("containers") or [] if c["name"] == container),
        "",
    )
    started = str(pod.get("status", {}).get("startTime", timestamp()))
    lines = by_image.get(image, DEFAULT_LOG)
    return [
        (f"{started[:-1]}.{index:09d}Z", line.format(image=image, pod=pod["metadata"]["name"]))
        for index, line in enumerate(lines)
    ]
