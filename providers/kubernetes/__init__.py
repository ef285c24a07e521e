"""Kubernetes: roll a Deployment back as `kubectl rollout undo` does, or scale it.

The API has no rollback call for Deployments since apps/v1 (provider_apis.md §1.6), so the
provider does what kubectl does client-side, step for step, and verifies with `kubectl rollout
status`'s rule. One module per concern: client (the API client, its errors worded as the HTTP
providers word them), rollout (kubectl's semantics: revisions, pick_revision, the undo patch,
digest), verification (rollout status) and provider (options and the ActionProvider).
"""

from providers.kubernetes.provider import KubernetesOptions, KubernetesProvider
from providers.kubernetes.rollout import PAUSED, Revision

__all__ = ["PAUSED", "KubernetesOptions", "KubernetesProvider", "Revision"]
