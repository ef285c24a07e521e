"""Cloudflare rollbacks: a Worker back to an earlier version, a Pages project to an earlier build.

Workers does exactly what `wrangler rollback` does (workers-sdk `versions/rollback`), so the
cockpit and a responder at a terminal land on the same version: deployments newest first, the
serving one dropped, the first with a version at 100 %. The version is shown before anything
changes, with wrangler's warning that bound resources (Durable Objects, D1, R2, KV) stay as they
are. When secrets changed since that version Cloudflare refuses with code 10220; wrangler asks
and then forces, so the plan says up front that we force once, and the log names the secrets.

Pages has no wrangler rollback command (the team's procedure names one that does not exist).
`POST …/deployments/{id}/rollback` starts a production deployment of the old build that walks
its stages and serves only once `deploy` succeeded, so verify follows the stages and then checks
the project's canonical deployment. Only successful production builds can be rolled back to;
preflight refuses the others with the reason rather than letting the API say no mid-incident.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

import httpx
from pydantic import Field

from cockpit.core.actions import ActionTimedOut, Call, Executed, Plan, Report, Verified
from cockpit.core.errors import ProviderError
from providers import cloudflare_settings as settings
from providers.api import ApiError, ApiOptions, HttpActionProvider, Secret
from providers.base import Param, Params

SECRETS_CHANGED = 10220
STAGES = ("queued", "initialize", "clone_repo", "build", "deploy")
_BOUND = "Bound resources (Durable Objects, D1, R2, KV) are not rolled back: the old code runs "
_FORCE = (
    "If a secret changed since this version, Cloudflare refuses (code 10220): the cockpit then "
    "deploys it anyway with ?force=true, once, as wrangler does when you answer yes, and logs "
    "which secrets changed; the old code then reads today's secret values"
)
_NO_WRANGLER = (
    "Pages rollback has no wrangler command (the procedure's `wrangler pages rollback` does not "
    "exist): the cockpit calls the API; by hand, use the dashboard or the curl line"
)

Record = dict[str, Any]


def _message(body: Any) -> str | None:
    """Cloudflare's envelope: the first error's message, with its code (wrangler branches on it)."""
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, list) or not errors or not isinstance(errors[0], dict):
        return None
    return f"{errors[0].get('message') or 'no message'} (code {errors[0].get('code', '?')})"


def _result(body: Any, what: str) -> Any:
    """The envelope's `result`; wrangler treats `success: false` as failure, whatever the status."""
    if not isinstance(body, dict) or body.get("success") is not True:
        raise ProviderError(f"{what}: Cloudflare did not succeed: {_message(body) or body!r}")
    return body.get("result")


class CloudflareOptions(ApiOptions):
    """The account every call is made in; the token needs Workers Scripts / Pages Write."""

    base_url: str = "https://api.cloudflare.com/client/v4"
    account_id: str = Field(min_length=1)
    poll_seconds: float = Field(default=2.0, gt=0)


class WorkersOptions(CloudflareOptions):
    """`script` is the Worker's name (wrangler's --name); params.script overrides it."""

    script: str | None = None
    secrets: dict[str, Secret] = Field(default_factory=dict)
    """restore_secrets: per secret name, where the value to put back is ({ env } or { file })."""
    secrets_current: dict[str, Secret] = Field(default_factory=dict)
    """Per name, the value in place now: with it, a restore_secrets has an undo."""


class PagesOptions(CloudflareOptions):
    """`project` is the Pages project's name; params.project overrides it."""

    project: str | None = None


class _Cloudflare(HttpActionProvider):
    """What both providers share: the client, the envelope, the name of what is acted on."""

    kind: ClassVar[str]  # "script" or "project": the option and the param naming the target
    folder: ClassVar[str]  # where those live under the account

    def __init__(
        self,
        options: CloudflareOptions,
        default: str | None,
        transport: httpx.BaseTransport | None,
    ) -> None:
        super().__init__(options, transport=transport)
        self.opts = options
        self.default = default

    def error_message(self, body: Any) -> str | None:
        return _message(body)

    def _named(self, given: Any = None) -> str:
        if not (given or self.default):
            raise ProviderError(f"{self.name}: no {self.kind}: set it in the options or params")
        return str(given or self.default)

    def _path(self, name: str, rest: str = "") -> str:
        return f"/accounts/{self.opts.account_id}/{self.folder}/{name}{rest}"

    def _call(self, method: str, path: str, what: str, report: Any = None, **how: Any) -> Any:
        """One request; the envelope's `result`, or an error when `success` is not true."""
        return _result(self.api.request(method, path, what=what, report=report, **how), what)

    def _no_default(self) -> str:
        return f"no default {self.kind}; the credentials are checked by the first action"


# -- Workers -------------------------------------------------------------------------------


class WorkersProvider(_Cloudflare):
    """Serve an earlier version of a Worker at 100 %, as `wrangler rollback` does."""

    name = "cloudflare_workers"
    title = "Cloudflare Workers"
    kind, folder = "script", "workers/scripts"
    Options = WorkersOptions
    actions: ClassVar[dict[str, str]] = {
        "rollback_deployment": "serve an earlier Worker version at 100 % (wrangler rollback)",
        "restore_secrets": "put secrets back from their configured sources (digests only)",
        "restore_vars": "put back the plain-text vars the cockpit saw before",
    }
    action_params: ClassVar[dict[str, Params]] = {
        "rollback_deployment": {
            "script": Param("the Worker's name (default: the options' script)"),
            "version": Param("the version id to serve (default: the last stable one)"),
            "message": Param("the deployment message, at most 120 characters"),
        },
        "restore_secrets": {
            "script": Param("the Worker's name (default: the options' script)"),
            "names": Param("comma-separated secret names (default: every configured source)"),
            "source": Param("'previous' (the options' secrets, default) or 'current' (undo)"),
        },
        "restore_vars": {
            "script": Param("the Worker's name (default: the options' script)"),
            "digest": Param("the recorded vars set (sha256) to put back (default: the last)"),
        },
    }

    def __init__(self, options: WorkersOptions, *, transport: httpx.BaseTransport | None = None):
        super().__init__(options, options.script, transport)
        self.workers_options = options

    def deployments(self, script: str | None = None, report: Report | None = None) -> list[Record]:
        """The Worker's deployments, newest first: the first one serves traffic."""
        script = self._named(script)
        result = self._call("GET", self._path(script, "/deployments"), f"list {script}", report)
        found = result.get("deployments") if isinstance(result, dict) else None
        if not isinstance(found, list):
            raise ProviderError(f"list {script}: the answer has no deployments list")
        return sorted(found, key=lambda d: str(d.get("created_on", "")), reverse=True)

    def choices(self, action: str, param: str, params: Mapping[str, Any]) -> list[tuple[str, str]]:
        if param != "version":
            return []
        script = params.get("script")
        deployments = self.deployments(script)
        serving = {version for version, _ in _split(deployments[0])} if deployments else set()
        meant = _stable(deployments[1:])  # what preflight would take: wrangler's own pick
        # Best first: the version a rollback means, then the rest newest first, the one
        # serving now last (picking it would only be refused).
        versions = sorted(
            self.versions(script),
            key=lambda v: (str(v.get("id")) in serving, str(v.get("id")) != meant),
        )
        return [
            (
                str(v.get("id")),
                f"#{v.get('number')} {v.get('id')} {_annotation(v)}".rstrip()
                + (" · serving now" if str(v.get("id")) in serving else ""),
            )
            for v in versions
        ]

    def versions(self, script: str | None = None) -> list[Record]:
        """The Worker's deployable versions, newest first (what a responder can pick)."""
        script, query = self._named(script), {"deployable": "true"}
        what = f"list versions of {script}"
        result = self._call("GET", self._path(script, "/versions"), what, params=query)
        items = result.get("items") if isinstance(result, dict) else None
        if not isinstance(items, list):
            raise ProviderError(f"{what}: the answer has no items list")
        return items

    def health(self) -> str:
        if not self.default:
            return self._no_default()
        found = self.deployments()
        return f"{self.default}: {_split_text(found[0]) if found else 'no deployment'}"

    def preflight(self, action: str, params: Mapping[str, Any]) -> Plan:
        self.require(action)
        if action == "restore_secrets":
            return settings.plan_secrets(self, action, params)
        if action == "restore_vars":
            return settings.plan_vars(self, action, params)
        script = self._named(params.get("script"))
        message = str(params.get("message") or "Rollback")
        if len(message) > 120:
            raise ProviderError(f"the message has {len(message)} characters; wrangler allows 120")
        deployments = self.deployments(script)
        if not deployments:
            raise ProviderError(f"{script} has no deployment to roll back from")
        current = deployments[0]
        version_id = str(params.get("version") or "") or _stable(deployments[1:])
        if not version_id:
            raise ProviderError(
                "Could not find stable Worker Version to rollback to: no earlier deployment of "
                f"{script} serves one version at 100 %; pick a version"
            )
        if _split(current) == [(version_id, 100)]:
            raise ProviderError(f"version {version_id} already serves 100 % of {script}")
        what = f"read version {version_id} of {script}"
        version = self._call("GET", self._path(script, f"/versions/{version_id}"), what)
        if not isinstance(version, dict):
            raise ProviderError(f"{what}: the answer is not a version")
        shown = _version_text(version)
        before = max(current.get("versions") or [{}], key=lambda v: v.get("percentage", 0))
        warnings = [f"{_BOUND}against today's data.", f"{_FORCE}."]
        if len(_split(current)) > 1:
            warnings.append(
                f"{script} now splits traffic ({_split_text(current)}); the undo serves only "
                f"{str(before.get('version_id'))[:8]} at 100 %"
            )
        url = self.api.url(self._path(script, "/deployments"))
        return Plan(
            provider=self.name,
            action=action,
            target=script,
            title=f"Roll {script} back to version #{version.get('number', '?')}",
            calls=[Call("POST", url, _deploy_body(version_id, message)), Call("GET", url)],
            changes=[
                f"{script}: {_split_text(current)} → {shown} at 100 %",
                "if secrets changed since that version (10220): deployed anyway with ?force=true",
            ],
            cli=f"wrangler rollback {version_id} --name {script} -m {_quoted(message)}",
            destructive=True,
            timeout_seconds=120.0,
            verify="the serving (first) deployment is this version at 100 %",
            undo={"action": "rollback_deployment", "params": {"version": before.get("version_id")}},
            data={"script": script, "version": version_id, "message": message, "shown": shown},
            warnings=warnings,
        )

    def execute(self, plan: Plan, report: Report) -> Executed:
        if plan.action == "restore_secrets":
            return settings.execute_secrets(self, plan, report)
        if plan.action == "restore_vars":
            return settings.execute_vars(self, plan, report)
        script, version = plan.data["script"], plan.data["version"]
        path, body = self._path(script, "/deployments"), _deploy_body(version, plan.data["message"])
        what, forced = f"deploy version {version} of {script}", False
        report.log(f"POST {self.api.url(path)}: {plan.data['shown']} at 100 %")
        try:
            created = self._call("POST", path, what, report, json=body)
        except ApiError as error:
            if f"(code {SECRETS_CHANGED})" not in error.message:
                raise
            report.log(f"Cloudflare refused: {error.message}")
            report.log(f"deploying anyway: POST {self.api.url(path)}?force=true")
            created = self._call("POST", path, what, report, json=body, params={"force": "true"})
            forced = True
        deployment = created.get("id", "?") if isinstance(created, dict) else "?"
        report.log(f"deployment {deployment} created" + (" (forced)" if forced else ""))
        summary = f"{script}: version {version[:8]} deployed at 100 %"
        return Executed(summary + (" past changed secrets" if forced else ""), {"forced": forced})

    def verify(self, plan: Plan, executed: Executed, report: Report) -> Verified:
        if plan.action == "restore_secrets":
            return settings.verify_secrets(self, plan, executed, report)
        if plan.action == "restore_vars":
            return settings.verify_vars(self, plan, executed, report)
        script, version = plan.data["script"], plan.data["version"]
        found = self.deployments(script, report)
        if found and _split(found[0]) == [(version, 100)]:
            return Verified(True, f"{script} serves {plan.data['shown']} at 100 %")
        now = _split_text(found[0]) if found else "no deployment"
        return Verified(False, f"{script} serves {now}, not version {version[:8]} at 100 %")


def _stable(older: list[Record]) -> str:
    """wrangler's pick: the first (newest) older deployment with a version at 100 %."""
    for deployment in older:
        for version_id, percentage in _split(deployment):
            if percentage == 100:
                return version_id
    return ""


def _split(deployment: Record) -> list[tuple[str, float]]:
    versions = deployment.get("versions") or []
    return [(str(v.get("version_id")), v.get("percentage", 0)) for v in versions]


def _split_text(deployment: Record) -> str:
    return ", ".join(f"version {v[:8]} {p:g} %" for v, p in _split(deployment)) or "no version"


def _version_text(version: Record) -> str:
    notes, meta = version.get("annotations") or {}, version.get("metadata") or {}
    text = f"version #{version.get('number', '?')} ({str(version.get('id'))[:8]})"
    text += f" {notes['workers/message']!r}" if notes.get("workers/message") else ""
    text += f" tag {notes['workers/tag']}" if notes.get("workers/tag") else ""
    return f"{text}, created {meta.get('created_on', '?')}"


def _deploy_body(version_id: str, message: str) -> Record:
    return {
        "strategy": "percentage",
        "versions": [{"version_id": version_id, "percentage": 100}],
        "annotations": {"workers/message": message},
    }


def _quoted(text: str) -> str:
    """Double-quoted for a POSIX shell."""
    return '"' + re.sub(r'([\\"$`])', r"\\\1", text) + '"'


# -- Pages ---------------------------------------------------------------------------------


class PagesProvider(_Cloudflare):
    """Serve an earlier successful production build of a Pages project again."""

    name = "cloudflare_pages"
    title = "Cloudflare Pages"
    kind, folder = "project", "pages/projects"
    Options = PagesOptions
    actions: ClassVar[dict[str, str]] = {
        "rollback_deployment": "serve an earlier successful production build again",
    }
    action_params: ClassVar[dict[str, Params]] = {
        "rollback_deployment": {
            "project": Param("the Pages project's name (default: the options' project)"),
            "deployment": Param("the deployment id to serve (default: the one before)"),
        }
    }

    def __init__(self, options: PagesOptions, *, transport: httpx.BaseTransport | None = None):
        super().__init__(options, options.project, transport)

    def project(self, project: str | None = None, report: Report | None = None) -> Record:
        """The project, with `canonical_deployment` (serving production) and `latest_deployment`."""
        project = self._named(project)
        found = self._call("GET", self._path(project), f"read project {project}", report)
        if not isinstance(found, dict):
            raise ProviderError(f"read project {project}: the answer is not a project")
        return found

    def choices(self, action: str, param: str, params: Mapping[str, Any]) -> list[tuple[str, str]]:
        if param != "deployment":
            return []
        project = params.get("project")
        canonical = self.project(self._named(project)).get("canonical_deployment") or {}
        # Best first: usable deployments older than the one serving (newest first, as
        # preflight would pick), then the rest; the one serving now last.
        since = canonical.get("created_on", "~")
        found = sorted(
            self.deployments(project),
            key=lambda d: (
                d.get("id") == canonical.get("id"),
                bool(_unusable(d, canonical)) or d.get("created_on", "") >= since,
            ),
        )
        return [
            (
                str(d.get("id")),
                f"{d.get('short_id')} {d.get('created_on', '')[:16]} "
                f"{(d.get('latest_stage') or {}).get('status', '')}"
                + (" · serving now" if d.get("id") == canonical.get("id") else ""),
            )
            for d in found
        ]

    def deployments(
        self, project: str | None = None, *, env: str | None = "production", limit: int = 50
    ) -> list[Record]:
        """The project's deployments in `env` (None: every environment), newest first."""
        project, page, found = self._named(project), 1, list[Record]()
        path, what = self._path(project, "/deployments"), f"list deployments of {project}"
        while len(found) < limit:
            params = {"page": page, "per_page": 25} | ({"env": env} if env else {})
            body = self.api.request("GET", path, what=what, params=params)
            result = _result(body, what)
            if not isinstance(result, list):
                raise ProviderError(f"{what}: the answer has no deployments list")
            found += result
            if not result or page >= int((body.get("result_info") or {}).get("total_pages", 1)):
                break
            page += 1
        return found[:limit]

    def health(self) -> str:
        if not self.default:
            return self._no_default()
        serving = _build_text(self.project().get("canonical_deployment"))
        return f"{self.default}: production serves {serving}"

    def preflight(self, action: str, params: Mapping[str, Any]) -> Plan:
        self.require(action)
        project = self._named(params.get("project"))
        canonical: Record | None = self.project(project).get("canonical_deployment")
        wanted = params.get("deployment")
        if wanted:
            what = f"read deployment {wanted} of {project}"
            target = self._call("GET", self._path(project, f"/deployments/{wanted}"), what)
            if reason := _unusable(target, canonical):
                raise ProviderError(f"cannot roll {project} back to {wanted}: {reason}")
        else:
            since = (canonical or {}).get("created_on", "~")  # "~" sorts after every date
            older = [
                d
                for d in self.deployments(project)
                if not _unusable(d, canonical) and d.get("created_on", "") < since
            ]
            if not older:
                raise ProviderError(
                    f"{project}: no successful production deployment older than the one serving "
                    f"({_build_text(canonical)}) to roll back to"
                )
            target = older[0]
        root = self.api.url(self._path(project))
        url, serving = f"{root}/deployments/{target['id']}/rollback", _build_text(canonical)
        undo: Record | None = None  # back to what serves now
        if canonical:
            undo = {"action": "rollback_deployment", "params": {"deployment": canonical["id"]}}
        return Plan(
            provider=self.name,
            action=action,
            target=project,
            title=f"Roll {project} back to {target.get('short_id') or target['id']}",
            calls=[
                Call("POST", url),
                Call("GET", f"{root}/deployments/<the new deployment>"),
                Call("GET", root),
            ],
            changes=[
                f"{project} production: {serving} → a new deployment of {_build_text(target)}"
            ],
            cli=(
                f"curl -X POST '{url}' -H 'Authorization: Bearer $CLOUDFLARE_API_TOKEN'"
                f"  # no wrangler command rolls Pages back; dashboard: Workers & Pages > {project}"
                " > Deployments > ... > Rollback; list them: wrangler pages deployment list"
                f" --project-name={project}"
            ),
            destructive=True,
            cancellable=True,  # only the watching stops; the rollback runs on at Cloudflare
            timeout_seconds=300.0,
            verify="follow the new deployment's stages to deploy: success, then check that it "
            "is the project's canonical (production) deployment",
            undo=undo,
            data={"project": project, "deployment": target["id"], "serving": serving},
            warnings=[_NO_WRANGLER, "Production serves it only once its deploy stage succeeded"],
        )

    def execute(self, plan: Plan, report: Report) -> Executed:
        project, target = plan.data["project"], plan.data["deployment"]
        path = self._path(project, f"/deployments/{target}/rollback")
        report.log(f"POST {self.api.url(path)}")
        started = self._call("POST", path, f"roll {project} back to {target}", report)
        if not isinstance(started, dict) or not started.get("id"):
            raise ProviderError(f"roll {project} back to {target}: the answer has no deployment")
        report.log(f"deployment {started['id']} started ({_stage_text(started)})")
        summary = f"{project}: rollback deployment {started['id'][:8]} started"
        return Executed(summary, {"id": started["id"]})

    def verify(self, plan: Plan, executed: Executed, report: Report) -> Verified:
        project, new = plan.data["project"], str(executed.data["id"])
        path, seen = self._path(project, f"/deployments/{new}"), ""
        give_up = report.monotonic() + plan.timeout_seconds  # for a report without a deadline
        while True:
            current = self._call("GET", path, f"read deployment {new} of {project}", report)
            stage = _stage(current)
            if _stage_text(current) != seen:
                seen = _stage_text(current)
                step = STAGES.index(stage["name"]) if stage.get("name") in STAGES else 0
                report.progress(0.5 + 0.09 * step, f"{new[:8]}: {seen}")
            if stage.get("status") in ("failure", "canceled"):
                serving = plan.data["serving"]
                return Verified(False, f"{new[:8]} stopped at {seen}; production serves {serving}")
            if (stage.get("name"), stage.get("status")) == ("deploy", "success"):
                break
            if report.deadline is None and report.monotonic() >= give_up:
                raise ActionTimedOut(f"{new[:8]} still at {seen} after {plan.timeout_seconds:g} s")
            try:
                report.sleep(self.opts.poll_seconds)
            except ActionTimedOut as error:
                raise ActionTimedOut(f"{error}; {new[:8]} was at {seen}") from None
        canonical = self.project(project, report).get("canonical_deployment")
        if (canonical or {}).get("id") == new:
            return Verified(True, f"{project} production serves {_build_text(canonical)}")
        return Verified(False, f"{new[:8]} deployed but production serves {_build_text(canonical)}")


def _unusable(deployment: Any, canonical: Record | None) -> str:
    """Why Pages would refuse to roll back to this deployment, or '' when it can."""
    if not isinstance(deployment, dict):
        return "the answer is not a deployment"
    stage = _stage(deployment)
    if deployment.get("environment") != "production":
        commit = (deployment.get("deployment_trigger") or {}).get("metadata") or {}
        return (
            f"it is a {deployment.get('environment')} deployment (branch {commit.get('branch')}); "
            "Pages rolls back only to production builds"
        )
    if canonical is not None and deployment.get("id") == canonical.get("id"):
        return "it is the deployment serving production now"
    if stage.get("status") in ("failure", "canceled"):
        return f"its build did not succeed ({_stage_text(deployment)})"
    if (stage.get("name"), stage.get("status")) != ("deploy", "success"):
        return f"it has not finished ({_stage_text(deployment)})"
    return ""


def _stage(deployment: Any) -> Record:
    stage = deployment.get("latest_stage") if isinstance(deployment, dict) else None
    return stage if isinstance(stage, dict) else {}


def _stage_text(deployment: Any) -> str:
    stage = _stage(deployment)
    return f"{stage.get('name', '?')}: {stage.get('status', '?')}"


def _build_text(deployment: Record | None) -> str:
    if not deployment:
        return "nothing"
    commit = (deployment.get("deployment_trigger") or {}).get("metadata") or {}
    text = f"{deployment.get('short_id') or str(deployment.get('id'))[:8]}"
    text += f" (commit {str(commit.get('commit_hash', '?'))[:7]}"
    text += f" {commit['commit_message']!r}" if commit.get("commit_message") else ""
    return f"{text}, {deployment.get('created_on', '?')})"


def _annotation(version: Record) -> str:
    """A version's message or tag, for a picker line."""
    notes = version.get("annotations") or {}
    return str(notes.get("workers/message") or notes.get("workers/tag") or "")
