"""Vercel: instant rollback, promote and the blue-green alias switch, through the REST API.

The runbooks roll back with `vercel rollback <url>` (or the dashboard's "Promote to
Production") and switch a blue-green pair with `vercel alias set <blue-url> <domain>`. This
makes the calls the CLI makes (provider_apis.md §3). A rollback or promote is a POST that
answers at once while Vercel moves the domains later, as a job: so verify polls the project's
`lastAliasRequest` every `poll_seconds` (the CLI's 500 ms) and calls production changed only
when the job says succeeded and the project says the target serves. Preflight resolves the
target (by default the newest READY production deployment older than the one serving that
Vercel lists as a rollback candidate) and refuses what Vercel would refuse, so nothing that
cannot work is posted. The undo of a rollback or promote is a promote of the one that served.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import urlencode

import httpx
from pydantic import Field

from cockpit.core.actions import ActionTimedOut, Call, Executed, Plan, Report, Verified
from cockpit.core.errors import ProviderError
from providers.api import ApiOptions, HttpActionProvider
from providers.base import Capability, Param, Params
from providers.http import http_failure_reason, make_client
from providers.http_read import Deadline, read

STAGES = {"not started": 0.55, "pending": 0.6, "in-progress": 0.75, "succeeded": 0.9}
"""Where a rollback or promote job's status puts the progress bar."""
NO_AUTO_PROMOTE = (
    "after a rollback Vercel stops giving new production deployments the production domains "
    "until one is promoted (`vercel promote`, or the dashboard's Undo Rollback)"
)


def _message(body: Any) -> str | None:
    error = body.get("error") if isinstance(body, dict) else None
    return str(error.get("message") or error.get("code")) if isinstance(error, dict) else None


class VercelOptions(ApiOptions):
    """The API, the team, and the project the actions act on unless their params say another."""

    base_url: str = "https://api.vercel.com"
    team_id: str | None = None
    """Sent as `teamId` on every call, and as `--scope` on the CLI line."""
    project: str | None = None
    """Project id or name; an action's `project` param overrides it."""
    poll_seconds: float = Field(default=0.5, gt=0)
    health_url: str | None = None
    """GET once the change took; must answer 2xx. An action's `health_url` param overrides it."""


@dataclass(frozen=True)
class Deployment:
    """One deployment, as the UI lists it and preflight checks it."""

    uid: str
    url: str | None
    project_id: str
    state: str
    target: str | None
    created: int
    candidate: bool
    """Vercel's isRollbackCandidate: it served production, so it can be rolled back to."""
    live: bool
    """readySubstate PROMOTED: it serves production now."""

    @property
    def label(self) -> str:
        """The URL the CLI takes (the uid while the upload is incomplete)."""
        return self.url or self.uid

    @classmethod
    def parse(cls, item: Any) -> Deployment:
        """A /v6 list item (`uid`) or a /v13 body (`id`)."""
        if not isinstance(item, dict) or not (item.get("uid") or item.get("id")):
            raise ProviderError(f"a deployment in Vercel's answer has no id: {str(item)[:80]}")
        return cls(
            uid=str(item.get("uid") or item["id"]),
            url=item.get("url"),
            project_id=str(item.get("projectId", "")),
            state=str(item.get("readyState") or item.get("state")),
            target=item.get("target"),
            created=int(item.get("created") or item.get("createdAt") or 0),
            candidate=bool(item.get("isRollbackCandidate")),
            live=item.get("readySubstate") == "PROMOTED",
        )


class VercelProvider(HttpActionProvider):
    """Roll back, promote or re-alias Vercel deployments."""

    name = "vercel"
    title = "Vercel"
    capabilities: ClassVar[Capability] = Capability.ROLLBACK
    Options = VercelOptions

    def error_message(self, body: Any) -> str | None:
        return _message(body)

    actions: ClassVar[dict[str, str]] = {
        "instant_rollback": "put the previous production deployment (or `deployment`) back",
        "promote": "make `deployment` the production deployment (no rebuild)",
        "alias_set": "point `alias` (or `domain`) at `deployment`: the blue-green switch",
    }
    action_params: ClassVar[dict[str, Params]] = {
        "instant_rollback": {
            "project": Param("the project's name (default: the options' project)"),
            "deployment": Param("the deployment to roll back to (default: the previous one)"),
            "health_url": Param("a URL that must answer 2xx afterwards"),
        },
        "promote": {
            "project": Param("the project's name (default: the options' project)"),
            "deployment": Param("the deployment to promote: uid or URL", required=True),
            "health_url": Param("a URL that must answer 2xx afterwards"),
        },
        "alias_set": {
            "deployment": Param("the deployment to point at: uid or URL", required=True),
            "alias": Param("the hostname to move", required=True, instead=("domain",)),
            "domain": Param("the hostname to move (as alias)"),
            "project": Param("the project's name (default: the options', or the deployment's)"),
            "health_url": Param("a URL that must answer 2xx afterwards"),
        },
    }

    def __init__(self, options: VercelOptions, *, transport: httpx.BaseTransport | None = None):
        super().__init__(options, transport=transport)
        self.opts = options
        self.plain = make_client(options.timeout_seconds, transport)  # health: never the token

    def close(self) -> None:
        super().close()
        self.plain.close()

    # -- reading, also for the UI -------------------------------------------------------------

    def deployments(self, project: str | None = None, **filters: Any) -> list[Deployment]:
        """The project's deployments, newest first, for the UI to choose a target from.

        `filters` are /v6/deployments query params: limit (20), target="production",
        state="READY", rollbackCandidate=True, until=<ms>.
        """
        name, what = project or self._project_name({}), "list the deployments of"
        body = self._get("/v6/deployments", f"{what} {name}", projectId=name, **filters)
        items = body.get("deployments") if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise ProviderError(f"{what} {name}: the answer has no deployments list")
        return [Deployment.parse(item) for item in items]

    def deployment(self, ref: str, project: str = "") -> Deployment:
        """One deployment by uid or URL."""
        what = f"find deployment {ref}" + (f" of {project}" if project else "")
        return Deployment.parse(self._get(f"/v13/deployments/{ref}", what))

    def project(self, project: str, report: Report | None = None) -> dict[str, Any]:
        """The project, with `targets.production` (what serves) and `lastAliasRequest`."""
        what = f"read project {project}"
        body = self._get(f"/v9/projects/{project}", what, report, rollbackInfo=True)
        if not isinstance(body, dict) or "id" not in body:
            raise ProviderError(f"{what}: the answer has no project id")
        return body

    def choices(self, action: str, param: str, params: Mapping[str, Any]) -> list[tuple[str, str]]:
        if param != "deployment":
            return []
        found = self.deployments(self._project_name(params), state="READY")
        # Best first, as each action means it: a rollback (or a blue-green switch) goes back
        # to a production deployment that served before, newest first; a promote may take one
        # that never served. Previews after; the one serving now last (it would be refused).
        served_before = action != "promote"
        found = sorted(
            found,
            key=lambda d: (d.live, d.target != "production", served_before and not d.candidate),
        )
        return [
            (d.uid, f"{d.label} · {d.target or 'preview'}{' · serving now' if d.live else ''}")
            for d in found
        ]

    def health(self) -> str:
        if self.opts.project is None:
            self._get("/v6/deployments", "list deployments", limit=1)
            return "token accepted"
        serving = _serving(self.project(self.opts.project))
        return f"project {self.opts.project}: production is {serving.get('url') or 'nothing'}"

    # -- the action -----------------------------------------------------------------------

    def preflight(self, action: str, params: Mapping[str, Any]) -> Plan:
        self.require(action)
        plan = self._alias_plan(params) if action == "alias_set" else self._job_plan(action, params)
        health = params.get("health_url") or self.opts.health_url
        plan.data["health_url"] = health
        if health:
            plan.calls.append(Call("GET", str(health)))
            plan.verify += f"; then GET {health} must answer 2xx"
        return plan

    def _job_plan(self, action: str, params: Mapping[str, Any]) -> Plan:
        info = self.project(self._project_name(params))
        pid, name, serving = str(info["id"]), str(info.get("name") or info["id"]), _serving(info)
        current = self.deployment(serving["id"], name) if serving.get("id") else None
        ref = _ref(params, "deployment", required=action == "promote")
        target = self.deployment(ref, name) if ref else self._previous(pid, name, current)
        kind = "rollback" if action == "instant_rollback" else "promote"
        _eligible(target, kind, pid, name, current)
        was = current.label if current else "nothing"
        moving = f"{', '.join(serving.get('alias') or ['no domain'])} will serve {target.label}"
        post = f"/v9/projects/{pid}/{kind}/{target.uid}"
        before = _job(info).get("requestedAt")
        undo = {"project": name, "deployment": current.uid} if current else None
        return Plan(
            provider=self.name,
            action=action,
            target=name,
            title=f"{'Roll back' if kind == 'rollback' else 'Promote'} {name} to {target.label}",
            calls=[
                Call("POST", self._url(post), {}),
                Call("GET", self._url(f"/v9/projects/{pid}", rollbackInfo=True)),
            ],
            changes=[f"production: {was} → {target.label}", moving],
            cli=f"vercel {kind} {target.label}{self._scope()}",
            timeout_seconds=180.0,  # the CLI's default wait for a rollback
            verify=f"poll the {kind} job every {self.opts.poll_seconds:g} s until it succeeded, "
            f"then check that {target.label} serves production",
            undo=undo and {"action": "promote", "params": undo},
            warnings=[NO_AUTO_PROMOTE] if kind == "rollback" else [],
            data={"kind": kind, "project": name, "project_id": pid, "before": before}
            | {"deployment": target.uid, "url": target.label, "post": post, "body": {}},
        )

    def _alias_plan(self, params: Mapping[str, Any]) -> Plan:
        ref = str(_ref(params, "deployment", required=True))
        alias = (_ref(params, "alias") or _ref(params, "domain") or "").lower()
        if not alias:
            raise ProviderError("alias_set needs alias (or domain): the hostname to move")
        given = str(params.get("project") or self.opts.project or "")
        target = self.deployment(ref, given)
        info = self.project(given or target.project_id)
        name, serving = str(info.get("name") or info["id"]), _serving(info)
        if target.state != "READY":
            raise ProviderError(f"cannot point {alias} at {target.label}: it is {target.state}")
        uid, was = self._holder(alias, name, serving)
        if uid == target.uid:
            raise ProviderError(f"{alias} already points at {target.label}; nothing to switch")
        changes = [f"{alias}: {was} → {target.label}"]
        if uid and uid == serving.get("id"):
            changes.append(f"production of {name}: {was} → {target.label}")
        post, body = f"/v2/deployments/{target.uid}/aliases", {"alias": alias, "redirect": None}
        undo = {"project": name, "deployment": uid, "alias": alias} if uid else None
        return Plan(
            provider=self.name,
            action="alias_set",
            target=alias,
            title=f"Point {alias} at {target.label} of {name}",
            calls=[Call("POST", self._url(post), body)],
            changes=changes,
            cli=f"vercel alias set {target.label} {alias}{self._scope()}",
            timeout_seconds=30.0,
            verify=f"list the aliases of {target.label} and find {alias} among them",
            undo=undo and {"action": "alias_set", "params": undo},
            data={"kind": "alias", "project": name, "alias": alias, "post": post, "body": body}
            | {"deployment": target.uid, "url": target.label},
        )

    def execute(self, plan: Plan, report: Report) -> Executed:
        d = plan.data
        report.log(f"POST {self._url(d['post'])}")
        what = plan.title[0].lower() + plan.title[1:]  # names the project and the deployment
        answer = self.api.request(
            "POST", d["post"], params=self._query(), json=d["body"], what=what, report=report
        )
        old = answer.get("oldDeploymentId") if isinstance(answer, dict) else None
        done = f"{d['alias']} moved from {old or 'nobody'}" if d["kind"] == "alias" else "requested"
        return Executed(f"{plan.title}: {done}", {"old": old})

    def verify(self, plan: Plan, executed: Executed, report: Report) -> Verified:
        d = plan.data
        if d["kind"] == "alias":
            hosts = self._aliases(d["deployment"], f"{d['url']} of {d['project']}", report)
            ok = d["alias"] in hosts
            summary = f"aliases of {d['url']}: {', '.join(hosts) or 'none'}"
        else:
            ok, summary = self._watch(plan, report)
        if ok and d["health_url"]:
            ok, health = self._check_health(str(d["health_url"]), report)
            summary = f"{summary}; {health}"
        return Verified(ok, summary)

    def _watch(self, plan: Plan, report: Report) -> tuple[bool, str]:
        """Poll the job until it ends; the report's sleep raises at its deadline (else ours)."""
        d, seen, job_of = plan.data, "", f"the {plan.data['kind']} job of {plan.data['project']}"
        limit = None if report.deadline is not None else report.monotonic() + plan.timeout_seconds
        while True:
            info = self.project(d["project_id"], report)
            job, before = _job(info), d["before"]
            if job.get("toDeploymentId") != d["deployment"] or before == job.get("requestedAt", 0):
                job = {"jobStatus": "not started"}  # ours has not shown up yet
            status = str(job.get("jobStatus"))
            if status != seen:
                seen = status
                report.log(f"{job_of} to {d['url']}: {status}")
                report.progress(STAGES.get(status, 0.9), f"{d['kind']}: {status}")
            serving = _serving(info)
            if status == "succeeded":
                ok = serving.get("id") == d["deployment"]
                return ok, f"{job_of} succeeded; production is {serving.get('url')}"
            if status in ("failed", "skipped"):
                path = f"/v9/projects/{d['project_id']}/rollback/aliases"
                what = f"list the aliases {job_of} to {d['url']} failed on"
                body = self._get(path, what, report, failedOnly=True, limit=20)
                items = body.get("aliases") if isinstance(body, dict) else None
                failed = [str(a["alias"].get("alias")) for a in items or [] if _has_alias(a)]
                return False, (
                    f"{job_of} {status}; production is still {serving.get('url')}; "
                    f"failed aliases: {', '.join(failed) or 'none listed'}"
                )
            if limit is not None and report.monotonic() >= limit:
                raise ActionTimedOut(f"{job_of} was {status} after {plan.timeout_seconds:g} s")
            report.sleep(self.opts.poll_seconds)

    def _check_health(self, url: str, report: Report) -> tuple[bool, str]:
        """GET the health URL until it answers 2xx: a switched service takes a moment to be
        healthy. Gives up at the action's deadline (or after 20 tries without one)."""
        for attempt in range(1, 21):
            report.log(f"GET {url}")
            try:
                status = read(
                    self.plain,
                    "GET",
                    url,
                    deadline=Deadline(self.opts.timeout_seconds),
                    max_bytes=self.opts.max_body_bytes,
                ).status_code
            except httpx.HTTPError as error:
                answer = http_failure_reason(error, self.opts.timeout_seconds)
            else:
                if 200 <= status < 300:
                    return True, f"health {url}: {status}"
                answer = str(status)
            if report.deadline is None and attempt == 20:
                break
            report.log(f"health {url}: {answer}; trying again")
            report.sleep(self.opts.poll_seconds)
        return False, f"health {url}: {answer}"

    # -- helpers --------------------------------------------------------------------------

    def _previous(self, pid: str, name: str, current: Deployment | None) -> Deployment:
        if current is None:
            raise ProviderError(f"nothing serves production of {name}: nothing to roll back from")
        older = self.deployments(
            pid, target="production", state="READY", rollbackCandidate=True, until=current.created
        )
        if older:
            return older[0]
        raise ProviderError(
            f"nothing to roll back to in {name}: no READY production deployment older than "
            f"{current.label} ever served production"
        )

    def _holder(self, alias: str, name: str, serving: dict[str, Any]) -> tuple[str | None, str]:
        """(uid, URL) of the project's deployment the alias points at now, if any."""
        if alias in serving.get("alias", []):
            return str(serving["id"]), str(serving.get("url") or serving["id"])
        for item in self.deployments(name, state="READY"):
            if alias in self._aliases(item.uid, f"{item.label} of {name}"):
                return item.uid, item.label
        return None, "not assigned"

    def _aliases(self, uid: str, label: str, report: Report | None = None) -> list[str]:
        body = self._get(f"/v2/deployments/{uid}/aliases", f"list the aliases of {label}", report)
        items = body.get("aliases") if isinstance(body, dict) else None
        return [str(item.get("alias")) for item in items or [] if isinstance(item, dict)]

    def _get(self, path: str, what: str, report: Report | None = None, **query: Any) -> Any:
        return self.api.request("GET", path, params=self._query(**query), what=what, report=report)

    def _query(self, **extra: Any) -> dict[str, str]:
        query = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in extra.items()}
        return {**query, "teamId": self.opts.team_id} if self.opts.team_id else query

    def _url(self, path: str, **extra: Any) -> str:
        query = self._query(**extra)
        return self.api.url(path) + (f"?{urlencode(query)}" if query else "")

    def _project_name(self, params: Mapping[str, Any]) -> str:
        name = params.get("project") or self.opts.project
        if not name:
            raise ProviderError("which Vercel project? set `project` in the options or params")
        return str(name)

    def _scope(self) -> str:
        return f" --scope {self.opts.team_id}" if self.opts.team_id else ""


def _job(info: Mapping[str, Any]) -> dict[str, Any]:
    """The project's latest rollback or promote job (`lastRollbackTarget` is the older name)."""
    job = info.get("lastAliasRequest") or info.get("lastRollbackTarget")
    return job if isinstance(job, dict) else {}


def _serving(info: Mapping[str, Any]) -> dict[str, Any]:
    production = (info.get("targets") or {}).get("production")
    return production if isinstance(production, dict) else {}


def _has_alias(item: Any) -> bool:
    return isinstance(item, dict) and isinstance(item.get("alias"), dict)


def _ref(params: Mapping[str, Any], key: str, *, required: bool = False) -> str | None:
    """A deployment's uid or URL, or a hostname: scheme and trailing slash dropped."""
    value = str(params.get(key) or "").strip().removeprefix("https://").removeprefix("http://")
    if value.startswith(("[", "<")):
        raise ProviderError(f"{key} is still a placeholder ({value}); fill in the real one")
    if required and not value:
        raise ProviderError(f"this action needs {key}: a deployment's uid or URL")
    return value.rstrip("/") or None


def _eligible(target: Deployment, kind: str, pid: str, name: str, now: Deployment | None) -> None:
    """Refuse, before anything is posted, what Vercel would refuse."""
    for bad, why in (
        (target.project_id not in ("", pid), f"it belongs to another project, not {name}"),
        (now is not None and now.uid == target.uid, "it already serves production"),
        (target.state != "READY", f"it is {target.state}, not READY"),
        (target.target != "production", "it is a preview build, not a production one"),
        (kind == "rollback" and not target.candidate, "it never served production (promote it)"),
    ):
        if bad:
            raise ProviderError(f"cannot {kind} {name} to {target.label}: {why}")
