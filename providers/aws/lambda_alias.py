"""The `aws_lambda` action provider: point a function's alias back at an earlier published version.

An alias (`live`, `prod`) is what callers invoke, so moving it is the rollback and moving it back
the undo. The default target is the newest published version below the alias's current one.
UpdateAlias carries the RevisionId read at the plan (AWS answers 412 when the alias changed since;
moto ignores it, so execute also reads the alias again and compares). Weighted routing to another
version is cleared: a rollback that still sends a share of traffic to the bad version is none.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from cockpit.core.actions import Call, Executed, Plan, Report, Verified
from cockpit.core.errors import ProviderError
from providers.aws.session import AwsOptions, Caller, code_of, failure
from providers.base import ActionProvider, Capability, Param, Params

NOTHING = "nothing was changed"


class LambdaProvider(ActionProvider):
    """Move a Lambda alias back to an earlier published version."""

    name = "aws_lambda"
    title = "AWS Lambda (alias)"
    capabilities: ClassVar[Capability] = Capability.ROLLBACK
    Options = AwsOptions
    actions: ClassVar[dict[str, str]] = {
        "alias_rollback": "point an alias at an earlier published version (by default the "
        "newest one below its current version), clearing weighted routing",
    }
    action_params: ClassVar[dict[str, Params]] = {
        "alias_rollback": {
            "function": Param("the function's name or ARN", required=True),
            "alias": Param("the alias callers invoke, e.g. live", required=True),
            "version": Param("the published version to point at (default: the previous one)"),
        }
    }

    def __init__(self, options: AwsOptions) -> None:
        super().__init__(options)
        self.opts = options
        self.aws = Caller("lambda", options)

    def close(self) -> None:
        self.aws.close()

    def health(self) -> str:
        answer = self.aws.call("Lambda ListFunctions", "list_functions", MaxItems=50)
        return f"Lambda answers: {len(answer.get('Functions', []))} function(s) visible"

    def versions(self, function: str) -> list[dict[str, Any]]:
        """The function's published versions (no $LATEST), newest first."""
        found: list[dict[str, Any]] = []
        marker: dict[str, str] = {}
        for _page in range(100):
            answer = self.aws.call(
                f"Lambda ListVersionsByFunction {function}",
                "list_versions_by_function",
                FunctionName=function,
                **marker,
            )
            found += [v for v in answer.get("Versions", []) if v["Version"].isdigit()]
            if not answer.get("NextMarker"):
                break
            marker = {"Marker": answer["NextMarker"]}
        return sorted(found, key=lambda v: -int(v["Version"]))

    def alias(self, function: str, alias: str, after: str = "") -> dict[str, Any]:
        answer: dict[str, Any] = self.aws.call(
            f"Lambda GetAlias {function}:{alias}",
            "get_alias",
            after,
            FunctionName=function,
            Name=alias,
        )
        return answer

    def choices(self, action: str, param: str, params: Mapping[str, Any]) -> list[tuple[str, str]]:
        if param != "version" or not params.get("function"):
            return []
        return [
            (
                v["Version"],
                f"version {v['Version']} of {v.get('LastModified', '?')}: "
                f"{v.get('Description') or 'no description'}",
            )
            for v in self.versions(str(params["function"]))
        ]

    def preflight(self, action: str, params: Mapping[str, Any]) -> Plan:
        self.require(action)
        merged = {**params, **self.fixed_for(action)}
        function, name = str(merged.get("function") or ""), str(merged.get("alias") or "")
        if not function or not name:
            raise ProviderError("alias_rollback needs function and alias")
        alias = self.alias(function, name)
        current = str(alias["FunctionVersion"])
        published = self.versions(function)
        if not published:
            raise ProviderError(f"function {function} has no published versions (or no such one)")
        wanted = merged.get("version")
        if wanted:
            chosen = str(wanted)
            if chosen not in {v["Version"] for v in published}:
                raise ProviderError(f"{function} has no published version {chosen}")
        else:
            older = [
                v["Version"]
                for v in published
                if current.isdigit() and int(v["Version"]) < int(current)
            ]
            if not older:
                raise ProviderError(f"{function}:{name} is on {current}: no earlier version")
            chosen = older[0]
        if chosen == current and not alias.get("RoutingConfig"):
            raise ProviderError(f"{function}:{name} is on version {chosen} already")
        weights = (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
        body: dict[str, Any] = {
            "FunctionVersion": chosen,
            "RevisionId": alias.get("RevisionId"),
            "RoutingConfig": {"AdditionalVersionWeights": {}},
        }
        return Plan(
            provider=self.name,
            action=action,
            target=f"{function}:{name}",
            title=f"Point {function}:{name} at version {chosen}",
            calls=[Call("PUT", f"lambda://functions/{function}/aliases/{name}", body)],
            changes=[f"{function}:{name}: version {current} → {chosen}"]
            + ([f"weighted routing {weights} cleared"] if weights else []),
            cli=self.aws.cli(
                "lambda",
                "update-alias",
                "--function-name",
                function,
                "--name",
                name,
                "--function-version",
                chosen,
                "--revision-id",
                str(alias.get("RevisionId")),
                "--routing-config",
                "AdditionalVersionWeights={}",
            ),
            timeout_seconds=self.opts.timeout_seconds * self.opts.max_attempts * 3 + 30,
            verify=f"the alias points at version {chosen} with no weighted routing",
            undo={
                "action": action,
                "params": {"function": function, "alias": name, "version": current},
            },
            data={
                "function": function,
                "alias": name,
                "version": chosen,
                "current": current,
                "revision": alias.get("RevisionId"),
            },
        )

    def execute(self, plan: Plan, report: Report) -> Executed:
        function, name, version = plan.data["function"], plan.data["alias"], plan.data["version"]
        report.progress(0.2, f"reading {function}:{name} again")
        now = self.alias(function, name, NOTHING)
        if str(now["FunctionVersion"]) != plan.data["current"] or (
            now.get("RevisionId") != plan.data["revision"]
        ):
            raise ProviderError(
                f"{function}:{name} changed since the plan (now on {now['FunctionVersion']}); "
                f"plan again; {NOTHING}"
            )
        report.check()
        try:
            answer = self.aws.client.update_alias(
                FunctionName=function,
                Name=name,
                FunctionVersion=version,
                RevisionId=plan.data["revision"],
                RoutingConfig={"AdditionalVersionWeights": {}},
            )
        except Exception as error:
            if code_of(error) == "PreconditionFailedException":
                raise ProviderError(
                    f"{function}:{name} changed since the plan (RevisionId); plan again; {NOTHING}"
                ) from error
            raise failure(
                error, f"Lambda UpdateAlias {function}:{name}", self.opts.max_attempts, NOTHING
            ) from error
        report.progress(1.0, f"{function}:{name} → version {answer.get('FunctionVersion')}")
        return Executed(
            f"{function}:{name} points at version {version}", {"revision": answer.get("RevisionId")}
        )

    def verify(self, plan: Plan, executed: Executed, report: Report) -> Verified:
        function, name, version = plan.data["function"], plan.data["alias"], plan.data["version"]
        now = self.alias(function, name)
        weights = (now.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
        ok = str(now["FunctionVersion"]) == version and not weights
        extra = f" with weights {weights}" if weights else ""
        return Verified(ok, f"{function}:{name} is on version {now['FunctionVersion']}{extra}")
