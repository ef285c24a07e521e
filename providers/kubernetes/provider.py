"""The Kubernetes ActionProvider: roll a Deployment back as `kubectl rollout undo` does, or scale.

The runbooks roll back with `kubectl rollout undo deployment/web [--to-revision=N]` and watch
`kubectl rollout status` for the 2–4 minutes it takes. The plan does what kubectl does (the
rules are in rollout.py): read the Deployment, list the ReplicaSets it controls, pick the
revision, then execute sends one JSON Patch that puts the old template back with the annotations
kubectl keeps. The controller does the rest; it renumbers the revision rolled back to (2 becomes
4), so the undo of an undo names the revision that served before, which keeps its number. The
API calls are client.py's, the wait for the rollout verification.py's.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from typing import Any, ClassVar, Self

from pydantic import Field, model_validator

from cockpit.core.actions import Call, Executed, Plan, Report, Verified
from cockpit.core.errors import ProviderError
from providers.api import Secret
from providers.base import ActionProvider, Capability, Param, Params, ProviderOptions
from providers.kubernetes.client import Cluster
from providers.kubernetes.rollout import (
    LAST_APPLIED,
    REVISION,
    Revision,
    condition,
    digest,
    list_revisions,
    pick_revision,
    selector_string,
    undo_patch,
)
from providers.kubernetes.verification import verify_rollout, verify_text


class KubernetesOptions(ProviderOptions):
    """Which cluster, as whom, which namespace, and how long to wait."""

    host: str | None = None
    """The API server, e.g. https://10.0.0.1:6443; overrides the kubeconfig's."""
    kubeconfig: str | None = None
    """A kubeconfig file to take the server, certificates and credentials from."""
    context: str | None = None
    """The kubeconfig context (its current one by default); named on the kubectl line."""
    token: Secret | None = None
    """A bearer token (overrides the kubeconfig's user)."""
    namespace: str | None = None
    """Default: the context's namespace, else "default". An action's `namespace` overrides."""
    ca_file: str | None = None
    verify_tls: bool = True
    timeout_seconds: float = Field(default=10.0, gt=0)
    """Per API call."""
    poll_seconds: float = Field(default=2.0, gt=0)
    rollout_seconds: float = Field(default=300.0, gt=0)
    """How long verify waits for the rollout (the runbooks' 2–4 minutes, with room)."""
    max_retries: int = Field(default=3, ge=0)
    """How many times a 429 is retried (after Retry-After) before giving up."""

    @model_validator(mode="after")
    def _somewhere(self) -> Self:
        if self.host is None and self.kubeconfig is None:
            raise ValueError("set host (the API server URL) or kubeconfig (a file)")
        return self


class KubernetesProvider(ActionProvider):
    """Roll back or scale Deployments through the Kubernetes API, with kubectl's semantics."""

    name = "kubernetes"
    title = "Kubernetes"
    capabilities: ClassVar[Capability] = Capability.ROLLBACK
    Options = KubernetesOptions

    actions: ClassVar[dict[str, str]] = {
        "rollout_undo": "put `deployment` back on the previous revision (or `to_revision`), "
        "as kubectl rollout undo does",
        "scale": "set the `replicas` of `deployment` (kubectl scale)",
    }
    action_params: ClassVar[dict[str, Params]] = {
        "rollout_undo": {
            "deployment": Param("the Deployment's name", required=True),
            "namespace": Param("its namespace (default: the options', the context's, default)"),
            "to_revision": Param("the revision to return to (default: the previous one)"),
        },
        "scale": {
            "deployment": Param("the Deployment's name", required=True),
            "namespace": Param("its namespace (default: the options', the context's, default)"),
            "replicas": Param("the number of pods, a whole number ≥ 0", required=True),
        },
    }

    def __init__(self, options: KubernetesOptions) -> None:
        super().__init__(options)
        self.opts = options
        self.cluster = Cluster(options)

    def close(self) -> None:
        self.cluster.close()

    # -- reading, also for the UI -------------------------------------------------------------

    def history(self, deployment: str, namespace: str | None = None) -> list[Revision]:
        """`kubectl rollout history`: the Deployment's revisions, oldest first."""
        found = self.cluster.deployment(deployment, namespace or self.cluster.namespace())
        return list_revisions(found, self.cluster.replicasets(found))

    def choices(self, action: str, param: str, params: Mapping[str, Any]) -> list[tuple[str, str]]:
        if action != "rollout_undo" or param != "to_revision" or not params.get("deployment"):
            return []
        revisions = self.history(_deployment_name(params), self.cluster.namespace(params))
        return [
            (str(r.revision), f"{r.label}{' · ' + r.change_cause if r.change_cause else ''}")
            for r in reversed(revisions)
            if not r.serving
        ]

    def warm(self) -> None:
        # The kubernetes package imports its API classes and models on first use: ~0.4-0.6 s
        # of the responder's first key otherwise. What the client uses (client.py), nothing
        # more: no connection.
        from kubernetes import config  # noqa: F401
        from kubernetes.client import ApiClient, AppsV1Api, Configuration  # noqa: F401
        from kubernetes.client.exceptions import ApiException  # noqa: F401

    def health(self) -> str:
        namespace = self.cluster.namespace()
        body = self.cluster.request(
            f"list the deployments in {namespace}",
            self.cluster.apps().list_namespaced_deployment,
            namespace,
        )
        count = len(body.get("items") or []) if isinstance(body, dict) else 0
        return f"{self.cluster.where}: namespace {namespace}, {count} deployments"

    # -- the actions ----------------------------------------------------------------------------

    def preflight(self, action: str, params: Mapping[str, Any]) -> Plan:
        self.require(action)
        if action == "scale":
            return self._scale_plan(params)
        return self._undo_plan(params)

    def _undo_plan(self, params: Mapping[str, Any]) -> Plan:
        name, namespace = _deployment_name(params), self.cluster.namespace(params)
        wanted = _revision_param(params.get("to_revision"))
        deployment = self.cluster.deployment(name, namespace)
        owned = self.cluster.replicasets(deployment)
        target = pick_revision(deployment, owned, wanted)
        revisions = list_revisions(deployment, owned)
        current = next((r for r in reversed(revisions) if r.serving), None)
        goal = next(r for r in revisions if r.replicaset == target["metadata"]["name"])
        now = current.label if current else "a template no revision has"
        top = max(r.revision for r in revisions)
        url = self.cluster.url(namespace, name)
        patch = undo_patch(deployment, target)
        shown = [
            {"op": "replace", "path": "/spec/template", "value": f"<template of {goal.label}>"},
            {
                "op": "replace",
                "path": "/metadata/annotations",
                "value": {
                    k: "<kept>" if k == LAST_APPLIED else v for k, v in patch[1]["value"].items()
                },
            },
        ]
        selector = selector_string(deployment["spec"].get("selector") or {})
        warnings = []
        if condition(deployment, "Progressing").get("reason") == "ProgressDeadlineExceeded":
            warnings.append(f"the current rollout of {name} is stuck (ProgressDeadlineExceeded)")
        where = self.cluster.where
        return Plan(
            provider=self.name,
            action="rollout_undo",
            target=name,
            title=f"Roll back deployment/{name} ({where}, namespace {namespace}) to {goal.label}",
            calls=[
                Call("GET", url),
                Call("GET", self.cluster.url(namespace, params={"labelSelector": selector})),
                Call("PATCH", url, shown),
            ],
            changes=[
                f"deployment/{name} in {namespace} on {where}: {now} → {goal.label}",
                f"rollout history: revision {goal.revision} becomes revision {top + 1} "
                "(Kubernetes renumbers the revision rolled back to)",
                f"change-cause: {goal.change_cause or '<none>'}",
            ],
            cli=self._cli(
                namespace, f"rollout undo deployment/{name} --to-revision={goal.revision}"
            ),
            timeout_seconds=self.opts.rollout_seconds + 60,
            verify=verify_text(self.opts.poll_seconds, self.opts.rollout_seconds),
            undo=None
            if current is None
            else {
                "action": "rollout_undo",
                "params": {
                    "deployment": name,
                    "namespace": namespace,
                    "to_revision": current.revision,
                },
            },
            data={
                "namespace": namespace,
                "deployment": name,
                "to_revision": goal.revision,
                "replicaset": goal.replicaset,
                "from": digest(deployment["spec"]["template"]),
                "goal": digest(target["spec"]["template"]),
            },
            warnings=warnings,
        )

    def _scale_plan(self, params: Mapping[str, Any]) -> Plan:
        name, namespace = _deployment_name(params), self.cluster.namespace(params)
        replicas = params.get("replicas")
        if isinstance(replicas, str) and replicas.isdigit():
            replicas = int(replicas)
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise ProviderError(f"scale needs replicas: a whole number ≥ 0 (got {replicas!r})")
        deployment = self.cluster.deployment(name, namespace)
        now = int(deployment["spec"].get("replicas", 1))
        url = self.cluster.url(namespace, name, "/scale")
        body = {"spec": {"replicas": replicas}}
        where = self.cluster.where
        return Plan(
            provider=self.name,
            action="scale",
            target=name,
            title=f"Scale deployment/{name} ({where}, namespace {namespace}) to {replicas}",
            calls=[Call("GET", self.cluster.url(namespace, name)), Call("PATCH", url, body)],
            changes=[f"deployment/{name} in {namespace} on {where}: replicas {now} → {replicas}"]
            + ([f"{name} will run no pods"] if replicas == 0 else []),
            cli=self._cli(namespace, f"scale deployment/{name} --replicas={replicas}"),
            destructive=replicas < now,  # taking capacity away is typed back; adding is not
            timeout_seconds=self.opts.rollout_seconds + 60,
            verify=f"poll every {self.opts.poll_seconds:g} s until {replicas} pods are available "
            f"and no others remain (up to {self.opts.rollout_seconds:g} s)",
            undo={
                "action": "scale",
                "params": {"deployment": name, "namespace": namespace, "replicas": now},
            },
            data={"namespace": namespace, "deployment": name, "replicas": replicas, "was": now},
            warnings=[] if replicas else [f"scaling to 0 stops {name} until it is scaled up again"],
        )

    def _still_not_destructive(self, plan: Plan, report: Report) -> None:
        """A scale confirmed with Enter (it added capacity at the plan) must not take capacity
        away now: someone may have scaled up since. Decided again from a fresh read."""
        if plan.destructive:
            return  # the target's name was typed: confirmed as the taking-away it is
        data = plan.data
        deployment = self.cluster.deployment(data["deployment"], data["namespace"], report)
        now = int(deployment["spec"].get("replicas", 1))
        if data["replicas"] < now:
            raise ProviderError(
                f"deployment/{data['deployment']} now runs {now} replicas ({data.get('was')} at "
                f"the plan): scaling to {data['replicas']} would take capacity away, which is "
                "confirmed by typing its name; plan again"
            )

    def execute(self, plan: Plan, report: Report) -> Executed:
        data, apps = plan.data, self.cluster.apps()
        name, namespace = data["deployment"], data["namespace"]
        if plan.action == "scale":
            self._still_not_destructive(plan, report)
            body = {"spec": {"replicas": data["replicas"]}}
            report.log(f"PATCH {self.cluster.url(namespace, name, '/scale')} {json.dumps(body)}")
            self.cluster.request(
                f"scale deployment {name}",
                apps.patch_namespaced_deployment_scale,
                name,
                namespace,
                body,
                _content_type="application/merge-patch+json",
                report=report,
            )
            return Executed(f"deployment/{name} scaled to {data['replicas']}", dict(data))
        # kubectl reads and patches in one go; so does this, from a fresh read
        deployment = self.cluster.deployment(name, namespace, report)
        if digest(deployment["spec"]["template"]) != data["from"]:
            raise ProviderError(
                f"deployment/{name} changed since the plan (it is at revision "
                f"{deployment['metadata'].get('annotations', {}).get(REVISION, '?')}); plan again"
            )
        target = pick_revision(
            deployment, self.cluster.replicasets(deployment, report), data["to_revision"]
        )
        report.log(
            f"PATCH {self.cluster.url(namespace, name)} "
            f"(JSON Patch: the template of revision {data['to_revision']})"
        )
        self.cluster.request(
            f"roll back deployment {name}",
            apps.patch_namespaced_deployment,
            name,
            namespace,
            undo_patch(deployment, target),
            _content_type="application/json-patch+json",
            report=report,
        )
        return Executed(
            f"deployment.apps/{name} rolled back to revision {data['to_revision']}", dict(data)
        )

    def verify(self, plan: Plan, executed: Executed, report: Report) -> Verified:
        return verify_rollout(self, plan, executed, report)

    # -- words ----------------------------------------------------------------------------------

    def _cli(self, namespace: str, command: str) -> str:
        context = f" --context {shlex.quote(self.cluster.context)}" if self.cluster.context else ""
        return f"kubectl{context} -n {shlex.quote(namespace)} {command}"


def _deployment_name(params: Mapping[str, Any]) -> str:
    name = str(params.get("deployment") or "").strip()
    for prefix in ("deployment/", "deployments/", "deploy/", "deployment.apps/"):
        name = name.removeprefix(prefix)
    if not name:
        raise ProviderError("the action needs deployment: the Deployment's name")
    return name


def _revision_param(value: Any) -> int:
    if value in (None, "", 0, "0"):
        return 0
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ProviderError(f"to_revision must be a revision number, not {value!r}") from None
    if number < 0:
        raise ProviderError(f"unable to find specified revision {number} in history")
    return number
