"""Kubernetes: roll a Deployment back as `kubectl rollout undo` does, or scale it.

The runbooks roll back with `kubectl rollout undo deployment/web [--to-revision=N]` and watch
`kubectl rollout status` for the 2–4 minutes it takes. The API has no rollback call for
Deployments since apps/v1 (provider_apis.md §1.6): kubectl does it client-side, so this does the
same, step for step (§1.1): read the Deployment, list its ReplicaSets by its selector and keep
those it controls (ownerReference controller=true and its uid), pick the revision (the second
newest by default), refuse a paused Deployment and a template that already matches, then send
one JSON Patch that puts the old template back with the annotations kubectl keeps. The
controller does the rest; it renumbers the revision rolled back to (2 becomes 4), so the undo
of an undo names the revision that served before, which keeps its number. Verify polls the
Deployment with `kubectl rollout status`'s rule (§1.3) every `poll_seconds`.

The `kubernetes` client is imported on first use (it costs half a second). Every call has a
`_request_timeout` and reads the raw JSON, so errors are worded as the HTTP providers word them.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Self
from urllib.parse import quote, urlencode

from pydantic import Field, model_validator

from cockpit.core.actions import Call, Executed, Plan, Report, Verified
from cockpit.core.errors import ProviderError, ProviderTimeout, ProviderUnavailable
from providers.api import ApiError, Secret
from providers.base import ActionProvider, Capability, Param, Params, ProviderOptions

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

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
        self._client: ApiClient | None = None
        self._namespace = options.namespace
        self._context = options.context

    def close(self) -> None:
        if self._client is not None:
            self._client.close()  # type: ignore[no-untyped-call]
            self._client = None

    # -- the client ----------------------------------------------------------------------------

    @property
    def client(self) -> ApiClient:
        """The kubernetes ApiClient, made (and the package imported) on first use."""
        if self._client is None:
            self._client = self._connect()
        return self._client

    def _connect(self) -> ApiClient:
        from kubernetes import client, config

        settings = client.Configuration()
        if self.opts.kubeconfig is not None:
            try:
                contexts, active = config.list_kube_config_contexts(self.opts.kubeconfig)  # type: ignore[no-untyped-call]
                chosen = next((c for c in contexts if c["name"] == self.opts.context), None) or (
                    active if self.opts.context is None else None
                )
                if chosen is None:
                    names = ", ".join(c["name"] for c in contexts)
                    raise ProviderError(
                        f"kubeconfig {self.opts.kubeconfig} has no context "
                        f"{self.opts.context!r} (it has: {names})"
                    )
                config.load_kube_config(  # type: ignore[no-untyped-call]
                    self.opts.kubeconfig,
                    chosen["name"],
                    client_configuration=settings,
                    persist_config=False,
                )
            except (OSError, config.ConfigException) as error:
                raise ProviderError(
                    f"cannot use kubeconfig {self.opts.kubeconfig}: {error}"
                ) from None
            self._context = chosen["name"]
            self._namespace = self._namespace or chosen.get("context", {}).get("namespace")
        if self.opts.host is not None:
            settings.host = self.opts.host.rstrip("/")
        if self.opts.token is not None:
            settings.api_key = {"BearerToken": self.opts.token.get_secret_value()}
            settings.api_key_prefix = {"BearerToken": "Bearer"}
        if self.opts.ca_file is not None:
            settings.ssl_ca_cert = self.opts.ca_file
        if not self.opts.verify_tls:
            settings.verify_ssl = False
        settings.retries = False  # one attempt per call: timeouts and 429s are ours to handle
        return client.ApiClient(settings)

    @property
    def host(self) -> str:
        return str(self.client.configuration.host)

    def namespace(self, params: Mapping[str, Any] | None = None) -> str:
        """The action's namespace, else the options', else the context's, else "default"."""
        if (params or {}).get("namespace"):
            return str((params or {})["namespace"])
        _ = self.client  # connecting reads the kubeconfig, which may name the namespace
        return self._namespace or "default"

    @property
    def where(self) -> str:
        """The context's name, or the API server's URL without one."""
        host = self.host  # connecting reads the kubeconfig, which names the context
        return self._context or host

    def _apps(self) -> Any:
        from kubernetes.client import AppsV1Api

        return AppsV1Api(self.client)

    def _request(
        self,
        what: str,
        method: Callable[..., Any],
        *args: Any,
        report: Report | None = None,
        **kw: Any,
    ) -> Any:
        """One API call → its parsed JSON; every failure a ProviderError worded like the HTTP
        providers' (providers/api.py). A 429 is retried after Retry-After while the action's
        deadline allows."""
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError, NewConnectionError, TimeoutError

        attempts = 0
        while True:
            if report is not None:
                report.check()
            try:
                response = method(
                    *args, _preload_content=False, _request_timeout=self.opts.timeout_seconds, **kw
                )
                data: bytes = response.data
            except ApiException as error:
                if error.status == 429 and attempts < self.opts.max_retries and report is not None:
                    wait = _retry_after(error.headers)
                    if report.remaining is None or wait < report.remaining:
                        attempts += 1
                        report.log(f"rate limited by {self.host}; retrying in {wait:g} s")
                        report.sleep(wait)
                        continue
                raise _api_error(error, what, self.host) from None
            except NewConnectionError as error:  # a ConnectTimeoutError subclass in urllib3
                raise ProviderUnavailable(f"{what}: {self.host}: {_reason(error)}") from None
            except TimeoutError:
                raise ProviderTimeout(
                    f"{what}: no answer from {self.host} within {self.opts.timeout_seconds:g} s"
                ) from None
            except (HTTPError, OSError) as error:
                raise ProviderUnavailable(f"{what}: {self.host}: {_reason(error)}") from None
            try:
                return json.loads(data)
            except ValueError:
                raise ProviderError(
                    f"{what}: the answer from {self.host} is not valid JSON "
                    f"(status {response.status}, {len(data)} bytes)"
                ) from None

    # -- reading, also for the UI -------------------------------------------------------------

    def deployment(self, name: str, namespace: str, report: Report | None = None) -> Obj:
        """The Deployment as the API serves it; a clear error when there is none."""
        try:
            body = self._request(
                f"read deployment {name}",
                self._apps().read_namespaced_deployment,
                name,
                namespace,
                report=report,
            )
        except ApiError as error:
            if error.status == 404:
                raise ProviderError(
                    f'deployment "{name}" not found in namespace {namespace} on {self.where} '
                    f"(kubectl: {error.message})"
                ) from None
            raise
        if not isinstance(body, dict) or not isinstance(body.get("spec"), dict):
            raise ProviderError(f"read deployment {name}: the answer is not a Deployment")
        return body

    def replicasets(self, deployment: Obj, report: Report | None = None) -> list[Obj]:
        """The ReplicaSets the Deployment controls, oldest first (kubectl's GetAllReplicaSets):
        listed by its selector, kept when an ownerReference with controller=true has its uid."""
        meta = deployment["metadata"]
        body = self._request(
            f"list the replicasets of deployment {meta['name']}",
            self._apps().list_namespaced_replica_set,
            meta["namespace"],
            label_selector=selector_string(deployment["spec"].get("selector") or {}),
            report=report,
        )
        items = body.get("items") if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise ProviderError(f"list the replicasets of {meta['name']}: the answer has no items")
        owned = [
            rs
            for rs in items
            if any(
                ref.get("controller") and ref.get("uid") == meta.get("uid")
                for ref in rs.get("metadata", {}).get("ownerReferences") or []
            )
        ]
        return sorted(
            owned,
            key=lambda rs: (rs["metadata"].get("creationTimestamp") or "", rs["metadata"]["name"]),
        )

    def history(self, deployment: str, namespace: str | None = None) -> list[Revision]:
        """`kubectl rollout history`: the Deployment's revisions, oldest first."""
        found = self.deployment(deployment, namespace or self.namespace())
        return _revisions(found, self.replicasets(found))

    def choices(self, action: str, param: str, params: Mapping[str, Any]) -> list[tuple[str, str]]:
        if action != "rollout_undo" or param != "to_revision" or not params.get("deployment"):
            return []
        revisions = self.history(_deployment_name(params), self.namespace(params))
        return [
            (str(r.revision), f"{r.label}{' · ' + r.change_cause if r.change_cause else ''}")
            for r in reversed(revisions)
            if not r.serving
        ]

    def health(self) -> str:
        namespace = self.namespace()
        body = self._request(
            f"list the deployments in {namespace}",
            self._apps().list_namespaced_deployment,
            namespace,
        )
        count = len(body.get("items") or []) if isinstance(body, dict) else 0
        return f"{self.where}: namespace {namespace}, {count} deployments"

    # -- the actions ----------------------------------------------------------------------------

    def preflight(self, action: str, params: Mapping[str, Any]) -> Plan:
        self.require(action)
        if action == "scale":
            return self._scale_plan(params)
        return self._undo_plan(params)

    def _undo_plan(self, params: Mapping[str, Any]) -> Plan:
        name, namespace = _deployment_name(params), self.namespace(params)
        wanted = _revision_param(params.get("to_revision"))
        deployment = self.deployment(name, namespace)
        owned = self.replicasets(deployment)
        target = pick_revision(deployment, owned, wanted)
        revisions = _revisions(deployment, owned)
        current = next((r for r in reversed(revisions) if r.serving), None)
        goal = next(r for r in revisions if r.replicaset == target["metadata"]["name"])
        now = current.label if current else "a template no revision has"
        top = max(r.revision for r in revisions)
        url = self._url(namespace, name)
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
        if _condition(deployment, "Progressing").get("reason") == "ProgressDeadlineExceeded":
            warnings.append(f"the current rollout of {name} is stuck (ProgressDeadlineExceeded)")
        return Plan(
            provider=self.name,
            action="rollout_undo",
            target=name,
            title=f"Roll back deployment/{name} ({self.where}, namespace {namespace}) "
            f"to {goal.label}",
            calls=[
                Call("GET", url),
                Call("GET", self._url(namespace, params={"labelSelector": selector})),
                Call("PATCH", url, shown),
            ],
            changes=[
                f"deployment/{name} in {namespace} on {self.where}: {now} → {goal.label}",
                f"rollout history: revision {goal.revision} becomes revision {top + 1} "
                "(Kubernetes renumbers the revision rolled back to)",
                f"change-cause: {goal.change_cause or '<none>'}",
            ],
            cli=self._cli(
                namespace, f"rollout undo deployment/{name} --to-revision={goal.revision}"
            ),
            timeout_seconds=self.opts.rollout_seconds + 60,
            verify=self._verify_text(),
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
        name, namespace = _deployment_name(params), self.namespace(params)
        replicas = params.get("replicas")
        if isinstance(replicas, str) and replicas.isdigit():
            replicas = int(replicas)
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise ProviderError(f"scale needs replicas: a whole number ≥ 0 (got {replicas!r})")
        deployment = self.deployment(name, namespace)
        now = int(deployment["spec"].get("replicas", 1))
        url = self._url(namespace, name, "/scale")
        body = {"spec": {"replicas": replicas}}
        return Plan(
            provider=self.name,
            action="scale",
            target=name,
            title=f"Scale deployment/{name} ({self.where}, namespace {namespace}) to {replicas}",
            calls=[Call("GET", self._url(namespace, name)), Call("PATCH", url, body)],
            changes=[
                f"deployment/{name} in {namespace} on {self.where}: replicas {now} → {replicas}"
            ]
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
        deployment = self.deployment(data["deployment"], data["namespace"], report)
        now = int(deployment["spec"].get("replicas", 1))
        if data["replicas"] < now:
            raise ProviderError(
                f"deployment/{data['deployment']} now runs {now} replicas ({data.get('was')} at "
                f"the plan): scaling to {data['replicas']} would take capacity away, which is "
                "confirmed by typing its name; plan again"
            )

    def execute(self, plan: Plan, report: Report) -> Executed:
        data, apps = plan.data, self._apps()
        name, namespace = data["deployment"], data["namespace"]
        if plan.action == "scale":
            self._still_not_destructive(plan, report)
            body = {"spec": {"replicas": data["replicas"]}}
            report.log(f"PATCH {self._url(namespace, name, '/scale')} {json.dumps(body)}")
            self._request(
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
        deployment = self.deployment(name, namespace, report)
        if digest(deployment["spec"]["template"]) != data["from"]:
            raise ProviderError(
                f"deployment/{name} changed since the plan (it is at revision "
                f"{deployment['metadata'].get('annotations', {}).get(REVISION, '?')}); plan again"
            )
        target = pick_revision(
            deployment, self.replicasets(deployment, report), data["to_revision"]
        )
        report.log(
            f"PATCH {self._url(namespace, name)} "
            f"(JSON Patch: the template of revision {data['to_revision']})"
        )
        self._request(
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
        data = plan.data
        name, namespace = data["deployment"], data["namespace"]
        deadline = report.monotonic() + self.opts.rollout_seconds
        last = ""
        while True:
            deployment = self.deployment(name, namespace, report)
            if (
                plan.action == "rollout_undo"
                and digest(deployment["spec"]["template"]) != data["goal"]
            ):
                return Verified(
                    False,
                    f"deployment/{name} no longer has the template of revision "
                    f"{data['to_revision']}: someone changed it",
                )
            done, message = rollout_status(deployment, scale=plan.action == "scale")
            if done is not None:
                if done and plan.action == "rollout_undo":
                    revision = deployment["metadata"].get("annotations", {}).get(REVISION, "?")
                    message += f"; revision {data['to_revision']} now serves as revision {revision}"
                return Verified(done, message)
            if message != last:
                report.log(message)
                last = message
            if report.monotonic() >= deadline:
                return Verified(
                    False, f"not rolled out after {self.opts.rollout_seconds:g} s: {message}"
                )
            report.sleep(self.opts.poll_seconds)

    # -- words ----------------------------------------------------------------------------------

    def _url(
        self, namespace: str, name: str = "", sub: str = "", params: Mapping[str, str] | None = None
    ) -> str:
        path = f"/apis/apps/v1/namespaces/{quote(namespace)}/"
        path += f"deployments/{quote(name)}{sub}" if name else "replicasets"
        return f"{self.host}{path}" + (f"?{urlencode(params)}" if params else "")

    def _cli(self, namespace: str, command: str) -> str:
        context = f" --context {shlex.quote(self._context)}" if self._context else ""
        return f"kubectl{context} -n {shlex.quote(namespace)} {command}"

    def _verify_text(self) -> str:
        return (
            f"poll the deployment every {self.opts.poll_seconds:g} s with kubectl rollout status's "
            "rule (observedGeneration caught up, every replica updated and available, no old "
            f"ones left; ProgressDeadlineExceeded fails) for up to {self.opts.rollout_seconds:g} s"
        )


# -- kubectl's logic, as plain functions ----------------------------------------------------------


def pick_revision(deployment: Obj, owned: list[Obj], wanted: int) -> Obj:
    """kubectl's deploymentRevision, then its paused and already-matches checks: the
    ReplicaSet to roll back to, or the error kubectl gives."""
    name = deployment["metadata"]["name"]
    by_revision = _numbered(owned)
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


def rollout_status(deployment: Obj, *, scale: bool = False) -> tuple[bool | None, str]:
    """kubectl rollout status's rule: (True, done) | (False, failed) | (None, still waiting).
    For a scale, every pod of the new replica count must be available."""
    name = deployment["metadata"]["name"]
    spec, status = deployment["spec"], deployment.get("status") or {}
    generation = int(deployment["metadata"].get("generation", 0))
    if generation > int(status.get("observedGeneration", 0)):
        return None, f'Waiting for deployment "{name}" spec update to be observed...'
    if _condition(deployment, "Progressing").get("reason") == "ProgressDeadlineExceeded":
        return False, f'deployment "{name}" exceeded its progress deadline'
    wanted = int(spec.get("replicas", 1))
    replicas, updated = int(status.get("replicas", 0)), int(status.get("updatedReplicas", 0))
    available = int(status.get("availableReplicas", 0))
    waiting = f'Waiting for deployment "{name}" rollout to finish: '
    if scale:
        if replicas != wanted or available < wanted:
            return None, f"{waiting}{available} of {wanted} replicas are available..."
        return True, f'deployment "{name}" runs {wanted} available replicas'
    if updated < wanted:
        return None, f"{waiting}{updated} out of {wanted} new replicas have been updated..."
    if replicas > updated:
        return None, f"{waiting}{replicas - updated} old replicas are pending termination..."
    if available < updated:
        return None, f"{waiting}{available} of {updated} updated replicas are available..."
    return True, f'deployment "{name}" successfully rolled out'


def revision(rs: Obj) -> int | None:
    """The revision annotation: missing is 0, not a number is None (kubectl skips that one)."""
    try:
        return int((rs["metadata"].get("annotations") or {}).get(REVISION, "0"))
    except ValueError:
        return None


def _numbered(owned: list[Obj]) -> list[tuple[int, Obj]]:
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


def _revisions(deployment: Obj, owned: list[Obj]) -> list[Revision]:
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
        for number, rs in _numbered(owned)
    ]
    return found


def _condition(deployment: Obj, kind: str) -> Obj:
    conditions = (deployment.get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c.get("type") == kind), {})


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


def _retry_after(headers: Any) -> float:
    try:
        return max(0.0, float((headers or {}).get("Retry-After", "1")))
    except ValueError:
        return 1.0


def _api_error(error: Any, what: str, host: str) -> ProviderError:
    """An ApiException as providers/api.py words an HTTP error (Status message inside)."""
    status = int(error.status or 0)
    if status == 0:  # the client's own failure (TLS, an unusable request)
        return ProviderUnavailable(f"{what}: {host}: {error.reason}")
    message = str(error.reason or "error")
    try:
        body = json.loads(error.body or "")
        if isinstance(body, dict) and body.get("message"):
            message = str(body["message"])
    except (TypeError, ValueError):
        pass
    if status == 429:
        message += f"; retry after {(error.headers or {}).get('Retry-After', '?')} s"
    return ApiError(status, message, what)


def _reason(error: BaseException) -> str:
    """'connection refused', or what urllib3 says after naming its connection object."""
    text = str(error)
    return "connection refused" if "Connection refused" in text else text.split(">: ", 1)[-1]
