"""The platforms a drill rolls back through: simulators on 127.0.0.1 and real providers.

Every platform the procedure's options name is started and its provider configured, named from
the options' own params (the Vercel project, the Kubernetes deployment, the Worker): feature
flags (the admin API), Vercel, Kubernetes, Cloudflare Workers and Pages (cockpit.simulators), a
real git remote and clone (cockpit.demo.git_repo) and the service's own cache endpoint. The
cockpit's real providers talk to them over HTTP with a random token, exactly as they would to
production. A rollback that takes effect (the flags behind v1.2.4 switched off, production back
on the v1.2.3 deployment, the bad commit gone from the branch) rolls the scenario back, so the
metrics recover. PostgreSQL is a real private cluster (cockpit.demo.pg_cluster) and Docker
Compose a private podman serving the Docker Engine API (cockpit.demo.podman_engine) when their
packages are installed; otherwise they are named as not simulated, and their options open as
manual steps naming the provider that is not configured.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cockpit.demo.scenario import Scenario

if TYPE_CHECKING:
    from cockpit.core.procedure import Procedure
    from cockpit.simulators.base import Simulator
    from providers.base import ActionProvider, Notifier

DRILL_FLAGS = ("newCheckout",)
"""The flag the bad deploy turned on, when the procedure's option names none (it is asked)."""


@dataclass
class Platforms:
    """The running simulators and the providers pointed at them."""

    simulators: list[Simulator] = field(default_factory=list)
    providers: dict[str, ActionProvider] = field(default_factory=dict)
    notifiers: dict[str, Notifier] = field(default_factory=dict)
    others: list[tuple[str, Callable[[], None]]] = field(default_factory=list)
    """Platforms that are not simulators (a git remote): what they are, and how to stop them."""
    missing: list[str] = field(default_factory=list)
    """Providers the procedure names that no drill platform serves."""

    def describe(self) -> str:
        """'admin-api http://127.0.0.1:5001, vercel http://…'."""
        started = [f"{sim.name} {sim.url}" for sim in self.simulators]
        started += [what for what, _ in self.others]
        missing = f"; not simulated: {', '.join(self.missing)}" if self.missing else ""
        return ", ".join(started) + missing

    def stop(self) -> None:
        """Close the providers and stop the simulators; safe to call twice."""
        for provider in [*self.providers.values(), *self.notifiers.values()]:
            provider.close()
        for simulator in self.simulators:
            simulator.stop()
        while self.others:
            self.others.pop()[1]()


def start_platforms(
    scenario: Scenario,
    *,
    procedure: str | Procedure = "pulse-messages",
    job_seconds: float = 3.0,
    health_url: str | None = None,
    only: set[str] | None = None,
) -> Platforms:
    """Start every platform the procedure's options roll back through; each rollback that
    takes recovers the scenario.

    `job_seconds`: how long a rollback job (Vercel's, a Kubernetes rollout, a Pages build
    stage) takes. `health_url`: the simulated service's /health, which verification checks in
    place of the procedure's production URL (as a cockpit.toml `[providers.NAME.params]` table
    would); its service also answers the cache clear. `only`: these providers' platforms and
    no others (a test that needs no database does not start one).
    """
    if isinstance(procedure, str):
        from cockpit.core.procedure_loader import load_builtin

        procedure = load_builtin(procedure)
    platforms = Platforms()
    starts = registry()
    try:
        for name in dict.fromkeys(option.provider for option in procedure.options):
            if only is not None and name not in only:
                continue
            start = starts.get(name)
            absent = _absent_client(name)
            if start is not None and absent:
                # `make demo` installs only what the built-in demo needs; `make venv` adds the
                # clients the other drills' platforms use: without one, its options are done
                # by hand, as the drill says.
                platforms.missing.append(f"{name} (no Python package {absent!r}: make venv)")
            elif start is not None:
                start(platforms, scenario, job_seconds, Named(procedure, name), health_url)
            elif name != "manual":
                platforms.missing.append(name)
        slack(platforms)
        checks(platforms)
    except BaseException:
        platforms.stop()  # nothing started is left running
        raise
    if health_url is not None:
        # The procedure names production's URLs; the drill checks its own service.
        for provider in platforms.providers.values():
            for key in ("url", "health_url"):
                if any(key in params for params in provider.action_params.values()):
                    provider.fixed_params = {key: health_url}
    return platforms


CLIENTS = {
    "kubernetes": "kubernetes",
    "docker_compose": "docker",
    "postgres": "psycopg",
    "aws_cloudfront": "moto",
    "aws_s3": "moto",
    "aws_rds": "moto",
}
"""The Python package each provider talks to its platform with (an optional extra)."""


def _absent_client(provider: str) -> str:
    """The provider's client package when it is not installed, else ''."""
    import importlib.util

    package = CLIENTS.get(provider)
    return package if package and importlib.util.find_spec(package) is None else ""


@dataclass(frozen=True)
class Named:
    """What the procedure's options for one provider call their target."""

    procedure: Procedure
    provider: str

    def param(self, key: str, default: str) -> str:
        """The first option's `key` that is a value (not a "[placeholder]"), else `default`."""
        from cockpit.core.procedure import is_placeholder

        for option in self.procedure.options:
            value = option.params.get(key) if option.provider == self.provider else None
            if isinstance(value, str) and value and not is_placeholder(value):
                return value
        return default

    def names(self, key: str) -> list[str]:
        """The names an option lists under `key` (feature flags), else []."""
        for option in self.procedure.options:
            value = option.params.get(key) if option.provider == self.provider else None
            if isinstance(value, list) and value:
                return [str(item) for item in value]
        return []


def checks(platforms: Platforms) -> None:
    """Runnable checklist items (health checks, smoke tests, evidence) on this machine."""
    from providers.verification import VerificationProvider

    options = VerificationProvider.Options.model_validate({"timeout_seconds": 10})
    platforms.providers["verification"] = VerificationProvider(options)


def flags(
    platforms: Platforms, scenario: Scenario, job_seconds: float, named: Named, _: str | None
) -> None:
    """The admin API's feature flags; switching off a flag v1.2.4 shipped is the mitigation
    (the flags the option names, else one new flag of the drill's)."""
    from cockpit.simulators.admin_api import AdminApiSimulator
    from providers.feature_flags import FeatureFlagsProvider

    bad = tuple(named.names("flags")) or DRILL_FLAGS
    states = {name: True for name in bad} | {"darkMode": False}
    simulator = AdminApiSimulator(states, token=secrets.token_urlsafe(24))

    def changed(states: dict[str, bool]) -> None:
        if any(states.get(name) is False for name in bad):
            scenario.rollback()

    simulator.on_flags_change = changed
    url = simulator.start()
    platforms.simulators.append(simulator)
    options = FeatureFlagsProvider.Options.model_validate(
        {"base_url": url, "token": simulator.token}
    )
    platforms.providers["feature_flags"] = FeatureFlagsProvider(options)


def vercel(
    platforms: Platforms, scenario: Scenario, job_seconds: float, named: Named, _: str | None
) -> None:
    """A Vercel project (the option's) whose production is v1.2.4, with v1.2.3 to go back to."""
    from cockpit.simulators.vercel import VercelSimulator
    from providers.vercel import VercelProvider

    project = named.param("project", named.procedure.name)
    domain = named.param("domain", f"app.{project}.example")
    simulator = VercelSimulator(token=secrets.token_urlsafe(24), job_seconds=job_seconds)
    simulator.add_project(project, project, domains=[domain])
    for version in ("1.2.2", "1.2.3", "1.2.4"):
        simulator.add_deployment(
            project,
            uid=f"dpl_v{version.replace('.', '')}",
            url=f"{project}-v{version.replace('.', '-')}.vercel.app",
            meta={"githubCommitRef": "main", "version": version},
        )

    def changed(deployment: dict[str, Any]) -> None:
        if deployment.get("meta", {}).get("version") != "1.2.4":
            scenario.rollback()

    simulator.on_production_change = changed
    url = simulator.start()
    platforms.simulators.append(simulator)
    options = VercelProvider.Options.model_validate(
        {"base_url": url, "token": simulator.token, "project": project, "poll_seconds": 0.2}
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


def kubernetes(
    platforms: Platforms, scenario: Scenario, job_seconds: float, named: Named, _: str | None
) -> None:
    """A Kubernetes API with the option's Deployment at a bad revision; undo recovers."""
    from cockpit.simulators.kubernetes import KubernetesSimulator
    from providers.kubernetes import KubernetesProvider

    deployment = named.param("deployment", f"{named.procedure.name}-web")
    namespace = named.param("namespace", "production")

    simulator = KubernetesSimulator(token=secrets.token_urlsafe(24), ready_seconds=job_seconds)
    for image in (f"{deployment}:v1.0.0-beta.1", f"{deployment}:v1.0.0-beta.2"):
        if image.endswith("beta.1"):
            simulator.add_deployment(
                deployment, image, namespace=namespace, change_cause=f"deploy {image}"
            )
        else:
            simulator.set_image(
                deployment, image, namespace=namespace, change_cause=f"deploy {image}"
            )
    simulator.set_image(
        deployment,
        f"{deployment}:v1.0.0-beta.3",
        namespace=namespace,
        change_cause=f"deploy {deployment}:v1.0.0-beta.3 (the bad one)",
    )

    # `kubectl logs deployment/...` in the drill shows the bad release's symptoms
    simulator.pod_logs[f"{deployment}:v1.0.0-beta.3"] = [
        "starting {image}",
        "listening on :8080",
        "ERROR GET /api/messages 500 in 648ms: database connection refused",
        "ERROR database pool exhausted: 0 of 20 connections free",
    ]

    def changed(request: Any, reply: Any) -> None:
        if f"/deployments/{deployment}" not in request.path or request.method == "DELETE":
            return  # a deleted Deployment has no image to follow
        spec = simulator.deployment(deployment, namespace)["spec"]
        if not spec["template"]["spec"]["containers"][0]["image"].endswith("beta.3"):
            scenario.rollback()

    simulator.after = changed
    url = simulator.start()
    platforms.simulators.append(simulator)
    options = KubernetesProvider.Options.model_validate(
        {
            "host": url,
            "token": simulator.token,
            "namespace": namespace,
            "context": "demo",
            "poll_seconds": 0.5,
        }
    )
    platforms.providers["kubernetes"] = KubernetesProvider(options)


Start = Callable[[Platforms, Scenario, float, Named, "str | None"], None]
"""Starts one platform and configures its provider."""


def registry() -> dict[str, Start]:
    """The platform a drill starts for each provider an option names."""
    from cockpit.demo.aws import aws
    from cockpit.demo.github import github_actions
    from cockpit.demo.platforms_more import (
        cache,
        cache_clear,
        cloudflare_pages,
        cloudflare_workers,
        docker_compose,
        git,
        postgres,
    )

    return {
        "feature_flags": flags,
        "vercel": vercel,
        "kubernetes": kubernetes,
        "git": git,
        "cloudflare_workers": cloudflare_workers,
        "cloudflare_pages": cloudflare_pages,
        "cache": cache,
        "cache_clear": cache_clear,
        "postgres": postgres,
        "docker_compose": docker_compose,
        "github_actions": github_actions,
        "aws_cloudfront": aws,
        "aws_s3": aws,
        "aws_rds": aws,
    }
