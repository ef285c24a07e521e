"""Watches and pod logs: responses that stay open and stream as the cluster changes.

A watch (`?watch=true`) answers 200 at once and then writes one JSON event per line, `{"type":
"ADDED"|"MODIFIED"|"DELETED", "object": ...}`, as changes happen after its resourceVersion (none
or "0": the objects there are, as ADDED, first), until its `timeoutSeconds` (or the server's
own, `watch_seconds`) pass or the server stops. When the Accept header asks for a Table
(`kubectl get -w`) each event's object is a Table of that one row, as the API server sends.
The controller runs between looks, so a rollout streams as it progresses.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

from cockpit.simulators import kubernetes_kubectl as kubectl
from cockpit.simulators.base import Reply, Request, SimulatorError
from cockpit.simulators.kubernetes_api import KINDS
from cockpit.simulators.kubernetes_cluster import Cluster
from cockpit.simulators.kubernetes_pods import log_lines, waiting_reason
from cockpit.simulators.kubernetes_store import Obj, SelectorError, matcher

if TYPE_CHECKING:
    from cockpit.simulators.kubernetes import KubernetesSimulator

POLL_SECONDS = 0.05


def events(
    cluster: Cluster,
    lock: AbstractContextManager[object],
    stopping: threading.Event,
    where: tuple[str, str | None, str, str],
    since: int,
    seconds: float,
    shown: Callable[[str, Obj], Obj],
) -> Iterator[bytes]:
    """The watch's lines, from `since` until `seconds` pass or `stopping` is set."""
    plural, namespace, labels, fields = where
    deadline = time.monotonic() + seconds
    if since == 0:  # no version: what there is now, then what changes
        with lock:
            cluster.reconcile()
            current = cluster.select(plural, namespace, labels, fields)
            initial = [{"type": "ADDED", "object": shown(plural, obj)} for obj in current]
            since = cluster.version
        yield "".join(json.dumps(event) + "\n" for event in initial).encode()
    while time.monotonic() < deadline and not stopping.is_set():
        with lock:
            cluster.reconcile()
            changes = cluster.changes(plural, namespace, labels, fields, since)
            lines = []
            for change in changes:
                since = max(since, int(change["object"]["metadata"]["resourceVersion"]))
                event = {"type": change["type"], "object": shown(plural, change["object"])}
                lines.append(json.dumps(event) + "\n")
        if lines:
            yield "".join(lines).encode()
        stopping.wait(POLL_SECONDS)


def check(plural: str, namespace: str | None, labels: str, fields: str) -> None:
    """Raise SelectorError now, before the 200 is sent, for a selector the server refuses."""
    matcher(plural, namespace, labels, fields)


def follow(
    cluster: Cluster,
    lock: AbstractContextManager[object],
    stopping: threading.Event,
    pod: Obj,
    written: bytes,
) -> Iterator[bytes]:
    """`kubectl logs -f`: the log so far, then open until the pod is gone or the server stops
    (the simulated containers write nothing more)."""
    yield written
    meta = pod["metadata"]
    while not stopping.is_set():
        with lock:
            cluster.reconcile()
            now = cluster.get("pods", meta["namespace"], meta["name"])
        if now is None or now["metadata"]["uid"] != meta["uid"]:
            return
        stopping.wait(POLL_SECONDS * 4)


def log(sim: KubernetesSimulator, request: Request) -> Reply:
    """A container's log (text), or `follow`ed: streamed until the pod goes."""
    pod = sim.apps.existing("pods", request.params["namespace"], request.params["name"])
    name = pod["metadata"]["name"]
    containers = [c["name"] for c in pod["spec"].get("containers") or []]
    container = request.query.get("container") or (containers[0] if containers else "")
    if container not in containers:
        message = f"container {container} is not valid for pod {name}"
        raise SimulatorError(400, "BadRequest", message)
    if request.query.get("previous") in ("true", "1"):
        message = f'previous terminated container "{container}" in pod "{name}" not found'
        raise SimulatorError(400, "BadRequest", message)
    waiting = waiting_reason(pod)
    if waiting is not None:
        why = "trying and failing to pull image" if waiting == "ImagePullBackOff" else waiting
        message = f'container "{container}" in pod "{name}" is waiting to start: {why}'
        raise SimulatorError(400, "BadRequest", message)
    written = _written(log_lines(pod, container, sim.pod_logs), request.query)
    text = "text/plain"
    if request.query.get("follow") in ("true", "1"):
        stream = follow(sim.cluster, sim.lock, sim.stopping, copy.deepcopy(pod), written)
        return Reply(200, stream=stream, content_type=text)
    return Reply(200, raw=written, content_type=text)


def _written(lines: list[tuple[str, str]], query: dict[str, str]) -> bytes:
    """The log as PodLogOptions select it: sinceSeconds / sinceTime, tailLines, timestamps,
    limitBytes."""
    since = query.get("sinceTime")
    if query.get("sinceSeconds", "").isdigit():
        moment = time.time() - int(query["sinceSeconds"])
        since = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(moment))
    if since:
        lines = [(at, line) for at, line in lines if at[:19] >= since[:19]]
    tail = query.get("tailLines", "")
    if tail.isdigit():
        lines = lines[len(lines) - min(len(lines), int(tail)) :]
    stamped = query.get("timestamps") in ("true", "1")
    written = "".join(f"{at} {line}\n" if stamped else f"{line}\n" for at, line in lines).encode()
    limit = query.get("limitBytes", "")
    return written[: int(limit)] if limit.isdigit() else written


def watch(sim: KubernetesSimulator, request: Request) -> Reply | None:
    """A watch that stays open and streams, or None for a path no watch is made on."""
    found = _watched(request.path)
    if found is None:
        return None  # the path's own answer (a 404 or 405)
    plural, namespace, name = found
    labels = request.query.get("labelSelector", "")
    fields = request.query.get("fieldSelector", "")
    if name is not None:  # a watch of one object is a list watch of that name
        fields = ",".join(filter(None, [fields, f"metadata.name={name}"]))
    try:
        check(plural, namespace, labels, fields)
        since = int(request.query.get("resourceVersion") or 0)
    except (SelectorError, ValueError) as error:
        return Reply(400, sim.error_body(400, "BadRequest", str(error)))
    seconds = float(request.query.get("timeoutSeconds") or sim.watch_seconds)
    as_table = kubectl.negotiate(request.headers.get("accept", "")) == "table"

    def shown(plural: str, obj: Obj) -> Obj:
        return kubectl.table(plural, [obj], obj["metadata"]["resourceVersion"]) if as_table else obj

    stream = events(
        sim.cluster, sim.lock, sim.stopping, (plural, namespace, labels, fields),
        since, seconds, shown,
    )  # fmt: skip
    return Reply(200, stream=stream)


def _watched(path: str) -> tuple[str, str | None, str | None] | None:
    """(plural, namespace, name) of a path a watch can be made on, or None."""
    parts = path.strip("/").split("/")
    group: tuple[str, ...]
    if parts[:2] == ["api", "v1"]:
        rest, group = parts[2:], ("pods", "events", "namespaces")
    elif parts[:3] == ["apis", "apps", "v1"]:
        rest, group = parts[3:], tuple(KINDS)
    else:
        return None
    namespace = None
    if len(rest) >= 3 and rest[0] == "namespaces":
        namespace, rest = rest[1], rest[2:]
    if not rest or rest[0] not in group or len(rest) > 2:
        return None
    return rest[0], namespace, rest[1] if len(rest) == 2 else None
