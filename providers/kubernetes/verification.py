"""The Kubernetes provider's verify: the Deployment rolled out, by `kubectl rollout status`'s rule.

Verify polls the Deployment every `poll_seconds` for up to `rollout_seconds` (the runbooks
watch `kubectl rollout status` for the 2–4 minutes a rollout takes) and applies kubectl's rule
(§1.3): the controller has observed the change, every replica is updated and available, no old
one is left; ProgressDeadlineExceeded fails. A template changed by someone else meanwhile fails
an undo at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cockpit.core.actions import Executed, Plan, Report, Verified
from providers.kubernetes.rollout import REVISION, Obj, condition, digest

if TYPE_CHECKING:
    from providers.kubernetes.provider import KubernetesProvider


def verify_rollout(
    provider: KubernetesProvider, plan: Plan, executed: Executed, report: Report
) -> Verified:
    """Poll until the rollout is done, fails, or rollout_seconds pass."""
    data = plan.data
    name, namespace = data["deployment"], data["namespace"]
    deadline = report.monotonic() + provider.opts.rollout_seconds
    last = ""
    while True:
        deployment = provider.cluster.deployment(name, namespace, report)
        if plan.action == "rollout_undo" and digest(deployment["spec"]["template"]) != data["goal"]:
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
                False, f"not rolled out after {provider.opts.rollout_seconds:g} s: {message}"
            )
        report.sleep(provider.opts.poll_seconds)


def verify_text(poll_seconds: float, rollout_seconds: float) -> str:
    """What the plan says verify will do."""
    return (
        f"poll the deployment every {poll_seconds:g} s with kubectl rollout status's "
        "rule (observedGeneration caught up, every replica updated and available, no old "
        f"ones left; ProgressDeadlineExceeded fails) for up to {rollout_seconds:g} s"
    )


def rollout_status(deployment: Obj, *, scale: bool = False) -> tuple[bool | None, str]:
    """kubectl rollout status's rule: (True, done) | (False, failed) | (None, still waiting).
    For a scale, every pod of the new replica count must be available."""
    name = deployment["metadata"]["name"]
    spec, status = deployment["spec"], deployment.get("status") or {}
    generation = int(deployment["metadata"].get("generation", 0))
    if generation > int(status.get("observedGeneration", 0)):
        return None, f'Waiting for deployment "{name}" spec update to be observed...'
    if condition(deployment, "Progressing").get("reason") == "ProgressDeadlineExceeded":
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
