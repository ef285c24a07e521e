"""What the Kubernetes simulator does to objects: the three patch types, selectors, defaults.

kubectl and the Python client send three patch media types (provider_apis.md §1.6):
JSON Patch (RFC 6902, `kubectl rollout undo`), JSON merge patch (RFC 7386, `kubectl scale`,
`kubectl annotate`) and the strategic merge patch (`kubectl apply`, `rollout pause`, the Python
client's dict bodies). The strategic merge here knows the merge keys of the lists a Deployment
has (containers by name, ports by containerPort, ...) and the directives kubectl's apply emits
(`$setElementOrder`, `$patch`, `$retainKeys`, `$deleteFromPrimitiveList`); any other list is
replaced, as for an unknown field. Label selectors are the API server's string syntax.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

JSON = Any

HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
CHANGE_CAUSE = "kubernetes.io/change-cause"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
ANNOTATIONS_NOT_COPIED = frozenset(
    {
        LAST_APPLIED,
        REVISION,
        REVISION_HISTORY,
        DESIRED_REPLICAS,
        MAX_REPLICAS,
        "deprecated.deployment.rollback.to",
    }
)
"""The controller's (and kubectl undo's) skip list: never copied between Deployment and RS."""

MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "ports": "containerPort",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "topologySpreadConstraints": "topologyKey",
    "conditions": "type",
    "ownerReferences": "uid",
}
"""patchMergeKey of the object-lists in a Deployment (and its status and metadata)."""


class PatchError(ValueError):
    """A patch that cannot be applied; the server answers 422 (or 400) with the message."""


# -- JSON Patch (RFC 6902) --------------------------------------------------------------------


def json_patch(document: JSON, operations: JSON) -> JSON:
    """Apply RFC 6902 operations to a copy of `document`."""
    if not isinstance(operations, list):
        raise PatchError("a JSON patch is a list of operations")
    result = copy.deepcopy(document)
    for operation in operations:
        if not isinstance(operation, dict) or "op" not in operation or "path" not in operation:
            raise PatchError(f"invalid JSON patch operation: {json.dumps(operation)}")
        op, path = operation["op"], _pointer(str(operation["path"]))
        if op in ("add", "replace", "test") and "value" not in operation:
            raise PatchError(f'missing value for "{op}" at {operation["path"]}')
        if op == "test":
            if _get(result, path) != operation["value"]:
                raise PatchError(f"test failed at {operation['path']}")
        elif op == "remove":
            result = _remove(result, path)
        elif op in ("add", "replace"):
            if op == "replace":
                _get(result, path)  # must exist
            result = _put(result, path, copy.deepcopy(operation["value"]), insert=op == "add")
        elif op in ("move", "copy"):
            source = _pointer(str(operation.get("from", "")))
            value = copy.deepcopy(_get(result, source))
            if op == "move":
                result = _remove(result, source)
            result = _put(result, path, value, insert=True)
        else:
            raise PatchError(f"unknown JSON patch operation {op!r}")
    return result


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f"invalid JSON pointer {path!r}")
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _index(container: list[Any], part: str, *, insert: bool = False) -> int:
    if insert and part == "-":
        return len(container)
    if not part.isdigit() or int(part) > len(container) - (0 if insert else 1):
        raise PatchError(f"array index {part!r} out of range")
    return int(part)


def _get(document: JSON, path: list[str]) -> JSON:
    node = document
    for part in path:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list):
            node = node[_index(node, part)]
        else:
            raise PatchError(f"path /{'/'.join(path)} does not exist")
    return node


def _put(document: JSON, path: list[str], value: JSON, *, insert: bool) -> JSON:
    if not path:
        return value
    parent = _get(document, path[:-1])
    last = path[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        if insert:
            parent.insert(_index(parent, last, insert=True), value)
        else:
            parent[_index(parent, last)] = value
    else:
        raise PatchError(f"path /{'/'.join(path)} does not exist")
    return document


def _remove(document: JSON, path: list[str]) -> JSON:
    if not path:
        raise PatchError("cannot remove the whole document")
    parent = _get(document, path[:-1])
    if isinstance(parent, dict) and path[-1] in parent:
        del parent[path[-1]]
    elif isinstance(parent, list):
        del parent[_index(parent, path[-1])]
    else:
        raise PatchError(f"path /{'/'.join(path)} does not exist")
    return document


# -- JSON merge patch (RFC 7386) --------------------------------------------------------------


def merge_patch(document: JSON, patch: JSON) -> JSON:
    """RFC 7386: objects merge, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(document) if isinstance(document, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# -- strategic merge patch --------------------------------------------------------------------


def strategic_merge(document: JSON, patch: JSON) -> JSON:
    """Kubernetes' strategic merge patch, for the fields of a Deployment."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if patch.get("$patch") == "delete":
        return None
    result = copy.deepcopy(document) if isinstance(document, dict) else {}
    retain = patch.get("$retainKeys")
    orders: dict[str, list[Any]] = {}
    for key, value in patch.items():
        if key in ("$patch", "$retainKeys"):
            continue
        if key.startswith("$setElementOrder/"):
            orders[key.split("/", 1)[1]] = value
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            result[field] = [item for item in result.get(field) or [] if item not in value]
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, list) and key in MERGE_KEYS:
            result[key] = _merge_list(result.get(key) or [], value, MERGE_KEYS[key])
        elif isinstance(value, dict):
            merged = strategic_merge(result.get(key), value)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        else:
            result[key] = copy.deepcopy(value)
    for field, order in orders.items():
        if field in MERGE_KEYS and isinstance(result.get(field), list):
            result[field] = _reorder(result[field], order, MERGE_KEYS[field])
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    return result


def _merge_list(current: list[Any], patch: list[Any], key: str) -> list[Any]:
    if any(isinstance(item, dict) and item.get("$patch") == "replace" for item in patch):
        return [copy.deepcopy(i) for i in patch if not (isinstance(i, dict) and "$patch" in i)]
    result = [copy.deepcopy(item) for item in current]
    for item in patch:
        if not isinstance(item, dict) or key not in item:
            raise PatchError(f"map in a list merged by {key!r} has no {key!r}: {json.dumps(item)}")
        at = next((i for i, old in enumerate(result) if old.get(key) == item[key]), None)
        if item.get("$patch") == "delete":
            if at is not None:
                del result[at]
        elif at is None:
            result.append(strategic_merge({}, item))
        else:
            result[at] = strategic_merge(result[at], item)
    return result


def _reorder(items: list[Any], order: list[Any], key: str) -> list[Any]:
    rank = {entry.get(key): i for i, entry in enumerate(order) if isinstance(entry, dict)}
    return sorted(items, key=lambda item: rank.get(item.get(key), len(rank)))


# -- label selectors --------------------------------------------------------------------------

_REQUIREMENT = re.compile(
    r"\s*(?:(?P<not>!)\s*(?P<absent>[\w./-]+)"
    r"|(?P<key>[\w./-]+)\s*(?:(?P<op>==|!=|=)\s*(?P<value>[\w.-]*)"
    r"|\s+(?P<set>in|notin)\s*\((?P<values>[^)]*)\))?)\s*(?:,|$)"
)


def parse_selector(text: str) -> list[tuple[str, str, list[str]]]:
    """`app=web,tier!=db,env in (a,b),!canary,track` → (key, operator, values) requirements."""
    requirements: list[tuple[str, str, list[str]]] = []
    position = 0
    text = text.strip()
    while position < len(text):
        match = _REQUIREMENT.match(text, position)
        if match is None or match.end() == position:
            raise PatchError(f"unable to parse requirement: {text[position:]!r}")
        position = match.end()
        if match["absent"]:
            requirements.append((match["absent"], "!", []))
        elif match["op"]:
            requirements.append(
                (match["key"], "!=" if match["op"] == "!=" else "=", [match["value"]])
            )
        elif match["set"]:
            values = [v.strip() for v in match["values"].split(",") if v.strip()]
            requirements.append((match["key"], match["set"], values))
        else:
            requirements.append((match["key"], "exists", []))
    return requirements


def selector_matches(
    requirements: list[tuple[str, str, list[str]]], labels: dict[str, str]
) -> bool:
    """Whether labels satisfy every requirement."""
    for key, op, values in requirements:
        present = key in labels
        if op == "=" and labels.get(key) != values[0]:
            return False
        if op == "!=" and present and labels[key] == values[0]:
            return False
        if op == "in" and labels.get(key) not in values:
            return False
        if op == "notin" and present and labels[key] in values:
            return False
        if op == "exists" and not present:
            return False
        if op == "!" and present:
            return False
    return True


def parse_fields(text: str) -> list[tuple[str, bool, str]]:
    """A field selector (`metadata.name=web,metadata.namespace!=x`) → (field, equal, value)."""
    terms = []
    for term in filter(None, (part.strip() for part in text.split(","))):
        match = re.fullmatch(r"([\w.]+)\s*(==|!=|=)\s*(.*)", term)
        if match is None:
            raise PatchError(f"invalid field selector: {term!r}")
        terms.append((match[1], match[2] != "!=", match[3]))
    return terms


def selector_string(selector: JSON) -> str:
    """A LabelSelector object (matchLabels, matchExpressions) in the string syntax."""
    parts = [f"{k}={v}" for k, v in sorted((selector or {}).get("matchLabels", {}).items())]
    for expression in (selector or {}).get("matchExpressions", []):
        key, op = expression["key"], expression["operator"]
        values = ",".join(sorted(expression.get("values") or []))
        parts.append(
            {"In": f"{key} in ({values})", "NotIn": f"{key} notin ({values})"}.get(
                op, key if op == "Exists" else f"!{key}"
            )
        )
    return ",".join(parts)


# -- pod templates ----------------------------------------------------------------------------

_SAFE = "bcdfghjklmnpqrstvwxz2456789"


def template_hash(template: JSON, collisions: int = 0) -> str:
    """The pod-template-hash: FNV-32a of the template, its decimal digits encoded as
    Kubernetes' rand.SafeEncodeString does (so names look like `web-7d4b9c8f5b`)."""
    value = 0x811C9DC5
    for byte in (canonical(without_hash(template)) + str(collisions)).encode():
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return "".join(_SAFE[ord(ch) % len(_SAFE)] for ch in str(value))


def without_hash(template: JSON) -> JSON:
    """The template without its pod-template-hash label (kubectl's equalIgnoreHash)."""
    stripped = copy.deepcopy(template or {})
    labels = stripped.get("metadata", {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(HASH_LABEL, None)
    return stripped


def canonical(value: JSON) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def same_template(a: JSON, b: JSON) -> bool:
    """Templates equal ignoring the pod-template-hash label."""
    return canonical(without_hash(a)) == canonical(without_hash(b))


def default_template(template: JSON) -> None:
    """The API server's defaults for a pod template, in place (as a real server stores it)."""
    spec = template.setdefault("spec", {})
    template.setdefault("metadata", {}).setdefault("creationTimestamp", None)
    for key, value in (
        ("restartPolicy", "Always"),
        ("terminationGracePeriodSeconds", 30),
        ("dnsPolicy", "ClusterFirst"),
        ("securityContext", {}),
        ("schedulerName", "default-scheduler"),
    ):
        spec.setdefault(key, value)
    for container in spec.get("containers") or []:
        image = str(container.get("image", ""))
        tagless = ":" not in image.rsplit("/", 1)[-1] and "@" not in image
        container.setdefault(
            "imagePullPolicy", "Always" if tagless or image.endswith(":latest") else "IfNotPresent"
        )
        container.setdefault("resources", {})
        container.setdefault("terminationMessagePath", "/dev/termination-log")
        container.setdefault("terminationMessagePolicy", "File")
        for port in container.get("ports") or []:
            port.setdefault("protocol", "TCP")


def default_deployment(spec: JSON) -> None:
    """The API server's defaults for a Deployment spec, in place."""
    spec.setdefault("replicas", 1)
    strategy = spec.setdefault("strategy", {})
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = strategy.setdefault("rollingUpdate", {})
        rolling.setdefault("maxUnavailable", "25%")
        rolling.setdefault("maxSurge", "25%")
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    default_template(spec.setdefault("template", {}))


def images(template: JSON) -> list[str]:
    """The images of a pod template's containers, in order."""
    containers = (template or {}).get("spec", {}).get("containers") or []
    return [str(c.get("image", "")) for c in containers]
