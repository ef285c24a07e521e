"""The `aws_cloudfront` action provider: put a distribution's previous config back, wait for it
to deploy, invalidate the cache.

CloudFront takes only a whole config, sent with the ETag it was read with (IfMatch); it keeps no
history, so the cockpit records every config it reads (config_store.py) and the rollback puts a
recorded one back: by default the last that differs from the live one, which is how a Lambda@Edge
version pinned in a cache behaviour goes back too. Execute reads the config again and refuses
when its ETag (or content) moved since the plan; the undo is the same action with the config that
was live at the plan. Waiting for Deployed and for the invalidation is bounded by the options.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import Field

from cockpit.core.actions import ActionTimedOut, Call, Executed, Plan, Report, Verified
from cockpit.core.errors import ProviderError
from providers.aws.config_diff import differences, paths_of
from providers.aws.config_store import ConfigStore, digest
from providers.aws.session import AwsOptions, Caller, code_of, failure
from providers.base import ActionProvider, Capability, Param, Params

NOTHING = "nothing was changed"


class CloudFrontOptions(AwsOptions):
    """Where CloudFront is, which distributions to record at health, and how long to wait."""

    distributions: list[str] = Field(default_factory=list)
    """Distribution ids whose config health() records (so a later rollback has one to use)."""
    deploy_seconds: float = Field(default=1800.0, gt=0, allow_inf_nan=False)
    """How long execute waits for Deployed (AWS's own waiter gives up after 35 min)."""
    invalidation_seconds: float = Field(default=900.0, gt=0, allow_inf_nan=False)
    poll_seconds: float = Field(default=20.0, gt=0, allow_inf_nan=False)


class CloudFrontProvider(ActionProvider):
    """Put back a CloudFront distribution's previous config; invalidate its cache."""

    name = "aws_cloudfront"
    title = "AWS CloudFront (distribution config)"
    capabilities: ClassVar[Capability] = Capability.ROLLBACK
    Options = CloudFrontOptions
    actions: ClassVar[dict[str, str]] = {
        "restore_config": "put back a config the cockpit recorded (by default the last one that "
        "differs from the live one, e.g. the previous Lambda@Edge version), wait for Deployed, "
        "then invalidate the given paths",
        "invalidate": "invalidate paths of a distribution's cache",
    }
    action_params: ClassVar[dict[str, Params]] = {
        "restore_config": {
            "distribution_id": Param("the distribution's id", required=True),
            "config": Param("a recorded config's id or ETag (default: the previous one)"),
            "invalidate": Param("paths to invalidate once deployed, e.g. ['/*']"),
        },
        "invalidate": {
            "distribution_id": Param("the distribution's id", required=True),
            "paths": Param("paths to invalidate, e.g. ['/*']", required=True),
        },
    }

    def __init__(self, options: CloudFrontOptions) -> None:
        super().__init__(options)
        self.opts = options
        self.aws = Caller("cloudfront", options)
        self.store = ConfigStore(options.endpoint_url or "aws")

    def close(self) -> None:
        self.aws.close()

    def health(self) -> str:
        parts = []
        for distribution in self.opts.distributions:
            etag, _config = self.read(distribution, "seen")
            parts.append(f"{distribution} (ETag {etag})")
        if not parts:
            answer = self.aws.call("CloudFront ListDistributions", "list_distributions")
            count = answer.get("DistributionList", {}).get("Quantity", 0)
            return f"CloudFront answers: {count} distribution(s)"
        return "CloudFront answers; recorded the configs of " + ", ".join(parts)

    def read(self, distribution: str, why: str, after: str = "") -> tuple[str, dict[str, Any]]:
        """The live config and its ETag, recorded in the store."""
        answer = self.aws.call(
            f"CloudFront GetDistributionConfig {distribution}",
            "get_distribution_config",
            after,
            Id=distribution,
        )
        etag, config = answer["ETag"], answer["DistributionConfig"]
        self.store.remember(distribution, etag, config, why)
        return etag, config

    def choices(self, action: str, param: str, params: Mapping[str, Any]) -> list[tuple[str, str]]:
        distribution = str(params.get("distribution_id") or "")
        if param != "config" or not distribution:
            return []
        _etag, live = self.read(distribution, "seen")
        return [
            (e["id"], f"recorded {e['at']} ({e['why']}), ETag {e['etag']}")
            for e in reversed(self.store.entries(distribution))
            if e["digest"] != digest(live)
        ]

    def preflight(self, action: str, params: Mapping[str, Any]) -> Plan:
        self.require(action)
        merged = {**params, **self.fixed_for(action)}
        distribution = str(merged.get("distribution_id") or "")
        if not distribution:
            raise ProviderError(f"{action} needs distribution_id")
        if action == "invalidate":
            return self._plan_invalidation(distribution, paths_of(merged.get("paths")))
        etag, live = self.read(distribution, "seen at plan")
        wanted = merged.get("config")
        chosen = (
            self.store.get(distribution, str(wanted))
            if wanted
            else self.store.previous(distribution, live)
        )
        if chosen is None:
            raise ProviderError(
                f"no earlier config of distribution {distribution} recorded by this cockpit"
                + (f" with id or ETag {wanted}" if wanted else "")
                + "; nothing to put back (the cockpit records a config each time it reads one)"
            )
        if chosen["digest"] == digest(live):
            raise ProviderError(f"that config is the live one of {distribution} already")
        paths = paths_of(merged.get("invalidate"))
        url = f"{self._url()}/distribution/{distribution}"
        calls = [
            Call("GET", f"{url}/config"),
            Call("PUT", f"{url}/config", {"If-Match": etag, "DistributionConfig": chosen["id"]}),
            Call("GET", url),
        ]
        if paths:
            calls.append(Call("POST", f"{url}/invalidation", {"Paths": paths}))
        changed = differences(live, chosen["config"])
        return Plan(
            provider=self.name,
            action=action,
            target=distribution,
            title=f"Put back config {chosen['id']} of CloudFront distribution {distribution}",
            calls=calls,
            changes=[f"{distribution}: config {etag} → recorded {chosen['at']} ({chosen['why']})"]
            + changed[:12]
            + ([f"… and {len(changed) - 12} more"] if len(changed) > 12 else []),
            cli=self.aws.cli(
                "cloudfront",
                "update-distribution",
                "--id",
                distribution,
                "--if-match",
                etag,
                "--distribution-config",
                f"file://{self.store.export(distribution, chosen)}",
            ),
            timeout_seconds=self.opts.deploy_seconds + self.opts.invalidation_seconds + 120,
            verify="the live config is the recorded one, Deployed"
            + (", and the invalidation Completed" if paths else ""),
            undo={
                "action": "restore_config",
                "params": {"distribution_id": distribution, "config": f"{etag}-{digest(live)}"},
            },
            data={
                "distribution_id": distribution,
                "etag": etag,
                "live_digest": digest(live),
                "config": chosen["id"],
                "paths": paths,
            },
            warnings=["CloudFront takes minutes to deploy a config to every edge"],
        )

    def _plan_invalidation(self, distribution: str, paths: list[str]) -> Plan:
        if not paths:
            raise ProviderError("invalidate needs paths, e.g. ['/*']")
        url = f"{self._url()}/distribution/{distribution}/invalidation"
        return Plan(
            provider=self.name,
            action="invalidate",
            target=distribution,
            title=f"Invalidate {', '.join(paths)} on CloudFront distribution {distribution}",
            calls=[Call("POST", url, {"Paths": paths})],
            changes=[f"{distribution}: cached {', '.join(paths)} fetched again from the origin"],
            cli=self.aws.cli(
                "cloudfront",
                "create-invalidation",
                "--distribution-id",
                distribution,
                "--paths",
                *paths,
            ),
            destructive=False,
            timeout_seconds=self.opts.invalidation_seconds + 60,
            verify="the invalidation is Completed",
            data={"distribution_id": distribution, "paths": paths, "config": ""},
        )

    def execute(self, plan: Plan, report: Report) -> Executed:
        distribution, paths = plan.data["distribution_id"], plan.data["paths"]
        if plan.action == "invalidate":
            made = self._invalidate(distribution, paths, plan, report)
            return Executed(
                f"{distribution}: invalidation {made} of {', '.join(paths)}", {"invalidation": made}
            )
        chosen = self.store.get(distribution, plan.data["config"])
        if chosen is None:
            raise ProviderError(f"config {plan.data['config']} is no longer recorded; {NOTHING}")
        report.progress(0.05, f"reading {distribution}'s config again")
        etag, live = self.read(distribution, "seen before the change", NOTHING)
        if etag != plan.data["etag"]:
            raise ProviderError(
                f"{distribution}: the ETag moved since the plan ({plan.data['etag']} → {etag}): "
                f"someone changed the distribution; plan again; {NOTHING}"
            )
        if digest(live) != plan.data["live_digest"]:
            raise ProviderError(
                f"{distribution}: the config changed since the plan (same ETag {etag}); "
                f"plan again; {NOTHING}"
            )
        report.check()
        report.progress(0.15, f"putting back config {chosen['id']} (If-Match {etag})")
        try:
            answer = self.aws.client.update_distribution(
                Id=distribution, DistributionConfig=chosen["config"], IfMatch=etag
            )
        except Exception as error:
            if code_of(error) in ("PreconditionFailed", "InvalidIfMatchVersion"):
                raise ProviderError(
                    f"{distribution}: CloudFront refused If-Match {etag} ({code_of(error)}): the "
                    f"distribution changed since the plan; plan again; {NOTHING}"
                ) from error
            raise failure(
                error,
                f"CloudFront UpdateDistribution {distribution}",
                self.opts.max_attempts,
                NOTHING,
            ) from error
        new_etag = answer.get("ETag", "")
        self.store.remember(distribution, new_etag, chosen["config"], "rolled back")
        self._wait_deployed(distribution, report)
        made = self._invalidate(distribution, paths, plan, report) if paths else ""
        return Executed(
            f"{distribution}: config {chosen['id']} is live and Deployed"
            + (f"; invalidation {made} of {', '.join(paths)}" if made else ""),
            {"etag": new_etag, "invalidation": made},
        )

    def _wait_deployed(self, distribution: str, report: Report) -> None:
        started = report.monotonic()
        while True:
            answer = self.aws.call(
                f"CloudFront GetDistribution {distribution}",
                "get_distribution",
                "the config is put back; check that it deploys",
                Id=distribution,
            )
            status = answer["Distribution"]["Status"]
            waited = report.monotonic() - started
            report.progress(0.3 + 0.5 * min(1.0, waited / self.opts.deploy_seconds), status)
            if status == "Deployed":
                return
            if waited >= self.opts.deploy_seconds:
                raise ActionTimedOut(
                    f"{distribution}: still {status} after {waited:.0f} s; the config is put "
                    "back, the edges are still updating"
                )
            report.sleep(self.opts.poll_seconds)

    def _invalidate(self, distribution: str, paths: list[str], plan: Plan, report: Report) -> str:
        report.progress(0.85, f"invalidating {', '.join(paths)}")
        # The same reference for the same plan: a retried call finds the one already made.
        reference = "cockpit-" + digest({"plan": plan.data, "paths": paths})
        answer = self.aws.call(
            f"CloudFront CreateInvalidation {distribution}",
            "create_invalidation",
            DistributionId=distribution,
            InvalidationBatch={
                "Paths": {"Quantity": len(paths), "Items": paths},
                "CallerReference": reference,
            },
        )
        return str(answer["Invalidation"]["Id"])

    def verify(self, plan: Plan, executed: Executed, report: Report) -> Verified:
        distribution = plan.data["distribution_id"]
        notes = []
        if plan.action == "restore_config":
            chosen = self.store.get(distribution, plan.data["config"])
            _etag, live = self.read(distribution, "seen at verify")
            if chosen is None or digest(live) != chosen["digest"]:
                return Verified(False, f"{distribution}: the live config is not the one put back")
            self._wait_deployed(distribution, report)
            notes.append(f"config {plan.data['config']} is live and Deployed")
        made = executed.data.get("invalidation")
        if made:
            started = report.monotonic()
            while True:
                answer = self.aws.call(
                    f"CloudFront GetInvalidation {made}",
                    "get_invalidation",
                    DistributionId=distribution,
                    Id=made,
                )
                # AWS says Completed, moto COMPLETED.
                status = str(answer["Invalidation"]["Status"])
                if status.lower() == "completed":
                    notes.append(f"invalidation {made} Completed")
                    break
                if report.monotonic() - started >= self.opts.invalidation_seconds:
                    return Verified(False, f"{distribution}: invalidation {made} still {status}")
                report.sleep(self.opts.poll_seconds)
        return Verified(True, f"{distribution}: " + "; ".join(notes))

    def _url(self) -> str:
        return f"{self.opts.endpoint_url or 'https://cloudfront.amazonaws.com'}/2020-05-31"
