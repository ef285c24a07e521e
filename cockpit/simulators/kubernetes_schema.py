"""What the API server knows of a Deployment's fields, and what its validation refuses.

kubectl sends `fieldValidation=Strict` on create, apply and replace: a field the apps/v1 schema
does not have is then a 400 BadRequest, "strict decoding error: unknown field \"spec.foo\"";
with Warn (the server's default) the field is dropped and named in a `Warning` header, with
Ignore only dropped. FIELDS is the schema as far as the simulator checks it: every field of a
Deployment down to the containers, their ports, env and mounts; subtrees it does not model
(probes, affinity, volumes, resources...) are accepted as they come, never refused.

Validation errors are 422 Invalid with `details.causes`, one per field, worded as the API
server's field.Error ("spec.replicas: Invalid value: -1: must be greater than or equal to 0"),
which kubectl prints as `The Deployment "web" is invalid: <field>: <message>`.
"""

from __future__ import annotations

import json
from typing import Any

from cockpit.simulators.kubernetes_objects import parse_selector, selector_matches, selector_string

Schema = dict[str, Any]
"""field → None (accepted as it comes), a Schema (an object), or [Schema] (a list of them)."""


def _names(*names: str) -> Schema:
    return dict.fromkeys(names)


OWNER_REFERENCE = _names("apiVersion", "kind", "name", "uid", "controller", "blockOwnerDeletion")
OBJECT_META: Schema = {
    **_names(
        "name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation",
        "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels",
        "annotations", "finalizers", "managedFields",
    ),
    "ownerReferences": [OWNER_REFERENCE],
}  # fmt: skip
LABEL_SELECTOR: Schema = {
    "matchLabels": None,
    "matchExpressions": [_names("key", "operator", "values")],
}
CONTAINER: Schema = {
    **_names(
        "name", "image", "command", "args", "workingDir", "envFrom", "resources", "resizePolicy",
        "restartPolicy", "volumeDevices", "livenessProbe", "readinessProbe", "startupProbe",
        "lifecycle", "terminationMessagePath", "terminationMessagePolicy", "imagePullPolicy",
        "securityContext", "stdin", "stdinOnce", "tty",
    ),
    "ports": [_names("name", "hostPort", "containerPort", "protocol", "hostIP")],
    "env": [_names("name", "value", "valueFrom")],
    "volumeMounts": [
        _names("name", "readOnly", "recursiveReadOnly", "mountPath", "subPath",
               "mountPropagation", "subPathExpr")
    ],
}  # fmt: skip
POD_SPEC: Schema = {
    **_names(
        "volumes", "ephemeralContainers", "restartPolicy", "terminationGracePeriodSeconds",
        "activeDeadlineSeconds", "dnsPolicy", "nodeSelector", "serviceAccountName",
        "serviceAccount", "automountServiceAccountToken", "nodeName", "hostNetwork", "hostPID",
        "hostIPC", "shareProcessNamespace", "securityContext", "imagePullSecrets", "hostname",
        "subdomain", "affinity", "schedulerName", "tolerations", "hostAliases",
        "priorityClassName", "priority", "dnsConfig", "readinessGates", "runtimeClassName",
        "enableServiceLinks", "preemptionPolicy", "overhead", "topologySpreadConstraints",
        "setHostnameAsFQDN", "os", "hostUsers", "schedulingGates", "resourceClaims", "resources",
    ),
    "initContainers": [CONTAINER],
    "containers": [CONTAINER],
}  # fmt: skip
DEPLOYMENT_SPEC: Schema = {
    **_names("replicas", "minReadySeconds", "revisionHistoryLimit", "paused",
             "progressDeadlineSeconds"),
    "selector": LABEL_SELECTOR,
    "template": {"metadata": OBJECT_META, "spec": POD_SPEC},
    "strategy": {"type": None, "rollingUpdate": _names("maxUnavailable", "maxSurge")},
}  # fmt: skip
DEPLOYMENT: Schema = {
    "apiVersion": None,
    "kind": None,
    "metadata": OBJECT_META,
    "spec": DEPLOYMENT_SPEC,
    "status": _names(
        "observedGeneration", "replicas", "updatedReplicas", "readyReplicas",
        "availableReplicas", "unavailableReplicas", "terminatingReplicas", "conditions",
        "collisionCount",
    ),
}  # fmt: skip
SCALE: Schema = {
    "apiVersion": None,
    "kind": None,
    "metadata": OBJECT_META,
    "spec": _names("replicas"),
    "status": _names("replicas", "selector"),
}


def unknown_fields(value: Any, schema: Schema = DEPLOYMENT, path: str = "") -> list[str]:
    """The paths of fields the schema does not have, as the strict decoder names them."""
    found: list[str] = []
    if not isinstance(value, dict):
        return found
    for key, child in value.items():
        where = f"{path}.{key}" if path else key
        if key not in schema:
            found.append(where)
        elif isinstance(schema[key], dict):
            found += unknown_fields(child, schema[key], where)
        elif isinstance(schema[key], list) and isinstance(child, list):
            for index, item in enumerate(child):
                found += unknown_fields(item, schema[key][0], f"{where}[{index}]")
    return found


def prune(value: Any, schema: Schema = DEPLOYMENT) -> Any:
    """The object without the fields the schema does not have (what the server stores)."""
    if not isinstance(value, dict):
        return value
    kept: dict[str, Any] = {}
    for key, child in value.items():
        if key not in schema:
            continue
        if isinstance(schema[key], dict):
            kept[key] = prune(child, schema[key])
        elif isinstance(schema[key], list) and isinstance(child, list):
            kept[key] = [prune(item, schema[key][0]) for item in child]
        else:
            kept[key] = child
    return kept


def strict_message(paths: list[str]) -> str:
    """The strict decoder's error for unknown fields."""
    return "strict decoding error: " + ", ".join(f'unknown field "{path}"' for path in paths)


def warnings(paths: list[str]) -> str:
    """The Warning header of a Warn validation (one 299 warning per field, comma-joined)."""
    return ", ".join(f'299 - "unknown field \\"{path}\\""' for path in paths)


# -- validation -------------------------------------------------------------------------------

Cause = dict[str, str]


def go_value(value: Any) -> str:
    """A value as the API server's messages print it (Go's %#v for the shapes a Deployment has)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
        pairs = ", ".join(f"{json.dumps(k)}:{json.dumps(v)}" for k, v in sorted(value.items()))
        return f"map[string]string{{{pairs}}}"
    if isinstance(value, str):
        return json.dumps(value)
    return str(value) if value is not None else "null"


def invalid(field: str, value: Any, detail: str) -> Cause:
    return {
        "reason": "FieldValueInvalid",
        "message": f"Invalid value: {go_value(value)}: {detail}",
        "field": field,
    }


def required(field: str) -> Cause:
    return {"reason": "FieldValueRequired", "message": "Required value", "field": field}


def deployment_causes(spec: Any) -> list[Cause]:
    """What the API server's validation refuses in a (defaulted) Deployment spec."""
    causes: list[Cause] = []
    selector = spec.get("selector")
    template = spec.get("template") or {}
    labels = (template.get("metadata") or {}).get("labels") or {}
    if not selector:
        causes.append(required("spec.selector"))
    elif not selector_matches(parse_selector(selector_string(selector)), labels):
        detail = "`selector` does not match template `labels`"
        causes.append(invalid("spec.template.metadata.labels", labels, detail))
    containers = (template.get("spec") or {}).get("containers")
    if not containers:
        causes.append(required("spec.template.spec.containers"))
    for index, container in enumerate(containers or []):
        for key in ("name", "image"):
            if not container.get(key):
                causes.append(required(f"spec.template.spec.containers[{index}].{key}"))
    replicas = spec.get("replicas")
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        detail = "must be greater than or equal to 0"
        causes.append(invalid("spec.replicas", replicas, detail))
    return causes


def invalid_details(kind: str, group: str, name: str, causes: list[Cause]) -> tuple[str, Any]:
    """The 422's message and details for `causes`."""
    listed = [f"{c['field']}: {c['message']}" for c in causes]
    text = listed[0] if len(listed) == 1 else f"[{', '.join(listed)}]"
    qualified = f"{kind}.{group}" if group else kind
    message = f'{qualified} "{name}" is invalid: {text}'
    return message, {"name": name, "group": group, "kind": kind, "causes": causes}
