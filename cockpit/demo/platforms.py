"""The platforms the demo rolls back through: simulators on 127.0.0.1 and real providers.

The feature-flag admin API and Vercel are simulated (cockpit.simulators); the cockpit's real
providers talk to them over HTTP with a random token, exactly as they would to production. A
rollback that takes effect on a simulator — the flags behind v1.2.4 switched off, production
pointed back at the v1.2.3 deployment — rolls the scenario back, so the demo's metrics recover.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cockpit.demo.scenario import Scenario

if TYPE_CHECKING:
    from cockpit.simulators.base import Simulator
    from providers.base import ActionProvider, Notifier

DEMO_FLAGS = {"splitViewLayout": True, "aiSummarization": True, "darkMode": False}
"""The flags v1.2.4 shipped switched on (the first two), and one that has nothing to do with it."""
BAD_FEATURES = ("splitViewLayout", "aiSummarization")
PROJECT = "pulse-messages"


@dataclass
class Platforms:
    """The running simulators and the providers pointed at them."""

    simulators: list[Simulator] = field(default_factory=list)
    providers: dict[str, ActionProvider] = field(default_factory=dict)
    notifiers: dict[str, Notifier] = field(default_factory=dict)

    def describe(self) -> str:
        """'admin-api http://127.0.0.1:5001, vercel http://…'."""
        return ", ".join(f"{sim.name} {sim.url}" for sim in self.simulators)

    def stop(self) -> None:
        """Close the providers and stop the simulators; safe to call twice."""
        for provider in [*self.providers.values(), *self.notifiers.values()]:
            provider.close()
        for simulator in self.simulators:
            simulator.stop()


def start_platforms(
    scenario: Scenario,
    *,
    procedure: str = "pulse-messages",
    job_seconds: float = 3.0,
    health_url: str | None = None,
) -> Platforms:
    """Start the platforms the procedure rolls back through; each rollback recovers the scenario.

    `job_seconds`: how long a rollback job (Vercel's, a Kubernetes rollout) takes. `health_url`:
    the simulated service's /health, which verification checks in place of the procedure's
    production URL (as a cockpit.toml `[providers.NAME.params]` table would).
    """
    platforms = Platforms()
    for start in PLATFORMS.get(procedure, PLATFORMS["pulse-messages"]):
        start(platforms, scenario, job_seconds)
    slack(platforms)
    checks(platforms)
    if health_url is not None:
        # The procedure names production's URLs; the demo checks its own service.
        for name, provider in platforms.providers.items():
            key = "url" if name == "verification" else "health_url"
            provider.fixed_params = {key: health_url}
    return platforms


def checks(platforms: Platforms) -> None:
    """Runnable checklist items (health checks, smoke tests, evidence) on this machine."""
    from providers.verification import VerificationProvider

    options = VerificationProvider.Options.model_validate({"timeout_seconds": 10})
    platforms.providers["verification"] = VerificationProvider(options)


def flags(platforms: Platforms, scenario: Scenario, job_seconds: float) -> None:
    """The admin API's feature flags; switching off a flag v1.2.4 shipped is the mitigation."""
    from cockpit.simulators.admin_api import AdminApiSimulator
    from providers.feature_flags import FeatureFlagsProvider

    simulator = AdminApiSimulator(DEMO_FLAGS, token=secrets.token_urlsafe(24))

    def changed(states: dict[str, bool]) -> None:
        if any(states.get(name) is False for name in BAD_FEATURES):
            scenario.rollback()

    simulator.on_flags_change = changed
    url = simulator.start()
    platforms.simulators.append(simulator)
    options = FeatureFlagsProvider.Options.model_validate(
        {"base_url": url, "token": simulator.token}
    )
    platforms.providers["feature_flags"] = FeatureFlagsProvider(options)


def vercel(platforms: Platforms, scenario: Scenario, job_seconds: float) -> None:
    """A Vercel project whose production is v1.2.4, with v1.2.3 to roll back to."""
    try:
        from cockpit.simulators.vercel import VercelSimulator
        from providers.vercel import VercelProvider
    except ImportError:  # the Vercel provider is optional in the demo while it is being built
        return

    simulator = VercelSimulator(token=secrets.token_urlsafe(24), job_seconds=job_seconds)
    simulator.add_project(PROJECT, PROJECT, domains=["app.pulsemessages.com"])
    for version in ("1.2.2", "1.2.3", "1.2.4"):
        simulator.add_deployment(
            PROJECT,
            uid=f"dpl_v{version.replace('.', '')}",
            url=f"pulse-messages-v{version.replace('.', '-')}.vercel.app",
            meta={"githubCommitRef": "main", "version": version},
        )

    def changed(deployment: dict[str, Any]) -> None:
        if deployment.get("meta", {}).get("version") != "1.2.4":
            scenario.rollback()

    simulator.on_production_change = changed
    url = simulator.start()
    platforms.simulators.append(simulator)
    options = VercelProvider.Options.model_validate(
        {"base_url": url, "token": simulator.token, "project": PROJECT, "poll_seconds": 0.2}
    )
    platforms.providers["vercel"] = VercelProvider(options)


def slack(platforms: Platforms) -> None:
    """A Slack incoming webhook, so drafts can be sent (m, then ctrl+o) through the outbox."""
    from cockpit.simulators.slack import SlackSimulator
    from providers.slack import SlackNotifier

    simulator = SlackSimulator(token=secrets.token_urlsafe(18))
    simulator.start()
    platforms.simulators.append(simulator)
    options = SlackNotifier.Options.model_validate({"webhook_url": simulator.webhook_url})
    platforms.notifiers["slack"] = SlackNotifier(options)


K8S_DEPLOYMENT, K8S_NAMESPACE = "ai-saas-web", "ai-saas-prod"


def kubernetes(platforms: Platforms, scenario: Scenario, job_seconds: float) -> None:
    """A Kubernetes API with the ai-saas Deployment at a bad revision; undo recovers."""
    from cockpit.simulators.kubernetes import KubernetesSimulator
    from providers.kubernetes import KubernetesProvider

    simulator = KubernetesSimulator(token=secrets.token_urlsafe(24), ready_seconds=job_seconds)
    for image in ("ai-saas-web:v1.0.0-beta.1", "ai-saas-web:v1.0.0-beta.2"):
        if image.endswith("beta.1"):
            simulator.add_deployment(
                K8S_DEPLOYMENT, image, namespace=K8S_NAMESPACE, change_cause=f"deploy {image}"
            )
        else:
            simulator.set_image(
                K8S_DEPLOYMENT, image, namespace=K8S_NAMESPACE, change_cause=f"deploy {image}"
            )
    simulator.set_image(
        K8S_DEPLOYMENT,
        "ai-saas-web:v1.0.0-beta.3",
        namespace=K8S_NAMESPACE,
        change_cause="deploy ai-saas-web:v1.0.0-beta.3 (the bad one)",
    )

    def changed(request: Any, reply: Any) -> None:
        if f"/deployments/{K8S_DEPLOYMENT}" not in request.path:
            return
        spec = simulator.deployment(K8S_DEPLOYMENT, K8S_NAMESPACE)["spec"]
        if not spec["template"]["spec"]["containers"][0]["image"].endswith("beta.3"):
            scenario.rollback()

    simulator.after = changed
    url = simulator.start()
    platforms.simulators.append(simulator)
    options = KubernetesProvider.Options.model_validate(
        {
            "host": url,
            "token": simulator.token,
            "namespace": K8S_NAMESPACE,
            "context": "demo",
            "poll_seconds": 0.5,
        }
    )
    platforms.providers["kubernetes"] = KubernetesProvider(options)


PLATFORMS = {
    "pulse-messages": (flags, vercel),
    "ai-saas": (kubernetes,),
}
"""Which platforms each procedure's demo rolls back through (others fall back to the first)."""
