"""kubectl's rollout semantics as plain functions: revisions, which one to roll back to, the patch.

The API has no rollback call for Deployments since apps/v1 (provider_apis.md §1.6): kubectl
does it client-side, and so does the provider, step for step (§1.1). The ReplicaSets a
Deployment controls are its revisions; `pick_revision` chooses one as kubectl does (the second
newest by default), refusing a paused Deployment and a template that already matches;
`undo_patch` is the one JSON Patch kubectl sends; `digest` fingerprints a pod template as
kubectl compares them (pod-template-hash, nulls and empty values ignored).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from cockpit.core.errors import ProviderError

Obj = dict[str, Any]
REVISION = "deployment.kubernetes.io/revision"
CHANGE_CAUSE = "kubernetes.io/change-cause"
HASH_LABEL = "pod-template-hash"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
ANNOTATIONS_TO_SKIP = frozenset(
    {
        LAST_APPLIED,
        REVISION,
        "deployment.kubernetes.io/revision-history",
        "deployment.kubernetes.io/desired-replicas",
        "deployment.kubernetes.io/max-replicas",
        "deprecated.deployment.rollback.to",
    }
)
"""kubectl's annotationsToSkip: kept from the Deployment, never copied from the ReplicaSet."""
PAUSED = (
    "you cannot rollback a paused deployment; resume it first with 'kubectl rollout resume' "
    "and try again"
)


@dataclass(frozen=True)
class Revision:
    """One entry of `kubectl rollout history`, with what the UI shows beside it."""

    revision: int
    change_cause: str | None
    images: tuple[str, ...]
    replicaset: str
    serving: bool
    """Its template is the Deployment's now."""

    @property
    def label(self) -> str:
        """'revision 3 (image web:3)'."""
        shown = ", ".join(self.images) or "no image"
        return f"revision {self.revision} (image{'s' if len(self.images) > 1 else ''} {shown})"


def pick_revision(deployment: Obj, owned: list[Obj], wanted: int) -> Obj:
    """kubectl's deploymentRevision, then its paused and already-matches checks: the
    ReplicaSet to roll back to, or the error kubectl gives."""
    name = deployment["metadata"]["name"]
    by_revision = numbered(owned)
    if wanted:
        target = next((rs for number, rs in by_revision if number == wanted), None)
        if target is None:
            known = ", ".join(str(n) for n, _ in by_revision)
            raise ProviderError(
                f"unable to find specified revision {wanted} in history of deployment "
                f'"{name}" (it has: {known or "none"})'
            )
    else:
        ordered = by_revision
        if len(ordered) < 2:
            raise ProviderError(
                f'no rollout history found for deployment "{name}": '
                f"{'only revision ' + str(ordered[0][0]) if ordered else 'no revision'} exists, "
                "nothing to roll back to"
            )
        target = ordered[-2][1]
    if deployment["spec"].get("paused"):
        raise ProviderError(f'deployment "{name}" is paused: {PAUSED}')
    if same_template(target["spec"]["template"], deployment["spec"]["template"]):
        raise ProviderError(
            f'deployment "{name}": skipped rollback (current template already matches revision '
            f"{wanted or revision(target)}); nothing to roll back"
        )
    return target


def undo_patch(deployment: Obj, target: Obj) -> list[Obj]:
    """kubectl's JSON Patch: the ReplicaSet's template without pod-template-hash, and the
    annotations kubectl keeps from the Deployment plus those it copies from the ReplicaSet."""
    template = json.loads(json.dumps(target["spec"]["template"]))
    labels = template.get("metadata", {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(HASH_LABEL, None)
    kept = deployment["metadata"].get("annotations") or {}
    annotations = {k: v for k, v in kept.items() if k in ANNOTATIONS_TO_SKIP}
    for key, value in (target["metadata"].get("annotations") or {}).items():
        if key not in ANNOTATIONS_TO_SKIP:
            annotations[key] = value
    return [
        {"op": "replace", "path": "/spec/template", "value": template},
        {"op": "replace", "path": "/metadata/annotations", "value": annotations},
    ]


def revision(rs: Obj) -> int | None:
    """The revision annotation: missing is 0, not a number is None (kubectl skips that one)."""
    try:
        return int((rs["metadata"].get("annotations") or {}).get(REVISION, "0"))
    except ValueError:
        return None


def numbered(owned: list[Obj]) -> list[tuple[int, Obj]]:
    """(revision, ReplicaSet) by revision, leaving out those kubectl cannot number."""
    pairs = [(revision(rs), rs) for rs in owned]
    return sorted(((n, rs) for n, rs in pairs if n is not None), key=lambda pair: pair[0])


def same_template(a: Obj, b: Obj) -> bool:
    """kubectl's equalIgnoreHash: equal but for pod-template-hash (nil and empty alike)."""
    return digest(a) == digest(b)


def digest(template: Obj) -> str:
    """A short fingerprint of a pod template, ignoring pod-template-hash; safe to record."""
    copy = json.loads(json.dumps(template or {}))
    labels = copy.get("metadata", {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(HASH_LABEL, None)
    text = json.dumps(_pruned(copy), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _pruned(value: Any) -> Any:
    """Nulls and empty maps and lists dropped, as Go's semantic equality ignores them."""
    if isinstance(value, dict):
        kept = {k: _pruned(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v not in (None, {}, [])}
    if isinstance(value, list):
        return [_pruned(v) for v in value]
    return value


def selector_string(selector: Obj) -> str:
    """A LabelSelector as the string kubectl sends in labelSelector."""
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expression in selector.get("matchExpressions") or []:
        key, op = expression["key"], expression["operator"]
        values = ",".join(sorted(expression.get("values") or []))
        parts.append(
            {"In": f"{key} in ({values})", "NotIn": f"{key} notin ({values})", "Exists": key}.get(
                op, f"!{key}"
            )
        )
    return ",".join(parts)


def list_revisions(deployment: Obj, owned: list[Obj]) -> list[Revision]:
    template = deployment["spec"]["template"]
    serving = next((rs for rs in owned if same_template(rs["spec"]["template"], template)), None)
    found = [
        Revision(
            revision=number,
            change_cause=(rs["metadata"].get("annotations") or {}).get(CHANGE_CAUSE),
            images=tuple(
                str(c.get("image", ""))
                for c in rs["spec"]["template"].get("spec", {}).get("containers") or []
            ),
            replicaset=rs["metadata"]["name"],
            serving=rs is serving,
        )
        for number, rs in numbered(owned)
    ]
    return found


def condition(deployment: Obj, kind: str) -> Obj:
    conditions = (deployment.get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c.get("type") == kind), {})
