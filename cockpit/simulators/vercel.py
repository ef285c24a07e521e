"""A simulator of the Vercel REST API: deployments, instant rollback, promote and aliases.

It follows ../shared/reference/provider_apis.md §3. Each project owns production domains
(`<name>.vercel.app` unless told otherwise) and whichever deployment holds the first of them
serves production, so a rollback, a promote and a manual alias move are one change seen three
ways. Rollback and promote answer at once and finish later: a job's status is worked out from
`self.clock` whenever someone looks, and the domains move (and `on_production_change` is called)
the first time a look finds the job succeeded. Timestamps in bodies are wall-clock epoch
milliseconds, as Vercel's are; the clock only paces the jobs.
"""

from __future__ import annotations

import hashlib
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cockpit.simulators.base import Fault, Handler, Reply, Request, Simulator, SimulatorError

Deployment = dict[str, Any]

STATES = ("BUILDING", "ERROR", "INITIALIZING", "QUEUED", "READY", "CANCELED")
BUILD_MS = 45_000  # created → ready for a seeded deployment
RATE_LIMIT_TOTAL = 100  # Vercel's limits are per endpoint and change; clients read the headers
CREATOR = {"uid": "usr_sim", "email": "deployer@example.com", "username": "deployer"}
_HOSTNAME = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)+$")


def now_ms() -> int:
    """Epoch milliseconds, the unit of every Vercel timestamp."""
    return int(time.time() * 1000)


def iso(ms: int) -> str:
    """An alias's `created`, which Vercel writes as ISO 8601 rather than milliseconds."""
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")


def _digest(text: str, length: int = 24) -> str:
    """Stable ids, so a seeded run gives the same uids every time."""
    return hashlib.sha1(text.encode()).hexdigest()[:length]


@dataclass
class Job:
    """A rollback or promote: the alias move Vercel makes in the background."""

    type: str  # "rollback" | "promote"
    project_id: str
    from_id: str | None
    to_id: str
    requested_at: int
    started: float
    seconds: float
    fails: bool = False
    settled: bool = False

    def status(self, now: float) -> str:
        """Pending for the first fifth of the job, in progress for the rest, then the outcome."""
        elapsed = now - self.started
        if elapsed >= self.seconds:
            return "failed" if self.fails else "succeeded"
        return "pending" if elapsed < self.seconds / 5 else "in-progress"


class VercelSimulator(Simulator):
    """Vercel's deployments, rollback, promote and alias endpoints on 127.0.0.1."""

    name = "vercel"

    def __init__(
        self,
        *,
        token: str = "sim-token",
        clock: Callable[[], float] | None = None,
        team_id: str | None = None,
        team_slug: str | None = None,
        job_seconds: float = 3.0,
        on_production_change: Callable[[Deployment], None] | None = None,
    ) -> None:
        self.team_id = team_id
        self.team_slug = team_slug
        self.job_seconds = job_seconds
        self.on_production_change = on_production_change
        self.projects: dict[str, dict[str, Any]] = {}
        self.deployments: dict[str, Deployment] = {}
        self.aliases: dict[str, dict[str, Any]] = {}  # hostname → its alias record
        self.jobs: dict[str, Job] = {}  # project id → its latest rollback or promote
        self._was_production: set[str] = set()  # uids ever aliased to a production domain
        self._fail_next = False
        super().__init__(token=token, clock=clock)
        self._now = self.clock()  # read once per request, so one answer never disagrees with itself

    # -- seeding and reading state ----------------------------------------------------------

    def add_project(
        self, project_id: str, name: str, *, domains: list[str] | None = None
    ) -> dict[str, Any]:
        """A project; its first domain is the one that says which deployment is production."""
        with self.lock:
            self.projects[project_id] = {
                "id": project_id,
                "name": name,
                "accountId": self.team_id or "usr_sim",
                "createdAt": now_ms(),
                "domains": domains or [f"{name}.vercel.app"],  # ours; left out of the body
            }
            return self.projects[project_id]

    def add_deployment(
        self,
        project: str,
        *,
        uid: str | None = None,
        url: str | None = None,
        state: str = "READY",
        target: str | None = "production",
        created: int | None = None,
        meta: dict[str, Any] | None = None,
        source: str = "git",
        aliased: bool | None = None,
    ) -> Deployment:
        """A deployment; a READY production one is aliased unless `aliased=False` (staged only).

        It takes the production domains if it is aliased and newer than the one holding them.
        """
        with self.lock:
            owner = self._project(project)
            uid = uid or "dpl_" + _digest(f"{owner['id']}/{len(self.deployments)}")
            if created is None:  # later seeds are newer, even within one millisecond
                created = max([now_ms(), *(d["created"] + 1 for d in self.deployments.values())])
            ready = created + BUILD_MS if state == "READY" else None
            name = owner["name"]
            url = f"{name}-{uid[4:13].lower()}.vercel.app" if url is None else url
            deployment: Deployment = {
                "uid": uid,
                "name": name,
                "projectId": owner["id"],
                "url": url,
                "created": created,
                "createdAt": created,
                "buildingAt": created + 1000,
                "ready": ready,
                "state": state,
                "readyState": state,
                "readySubstate": None,  # this and the next three follow the aliases (_refresh)
                "isRollbackCandidate": False,
                "aliasAssigned": None,
                "aliasError": None,
                "type": "LAMBDAS",
                "target": target,
                "source": source,
                "meta": dict(meta or {}),
                "creator": dict(CREATOR),
                "inspectorUrl": f"https://vercel.com/{self.team_slug or 'sim'}/{name}/{uid[4:]}",
            }
            self.deployments[uid] = deployment
            if aliased if aliased is not None else (state == "READY" and target == "production"):
                current = self._serving(owner["id"])
                if current is None or current["created"] < created:
                    for host in owner["domains"]:
                        self._point(host, deployment, ready or created)
                else:  # an older production deployment: it served once, then was replaced
                    deployment["aliasAssigned"] = ready or created
                    self._was_production.add(uid)
            self._refresh()
            return deployment

    def set_state(self, uid: str, state: str) -> None:
        """Move a deployment through its build (BUILDING → READY, or ERROR, CANCELED...)."""
        if state not in STATES:
            raise ValueError(f"unknown deployment state {state!r}")
        with self.lock:
            deployment = self.deployments[uid]
            deployment["state"] = deployment["readyState"] = state
            if state == "READY" and deployment["ready"] is None:
                deployment["ready"] = now_ms()
            self._refresh()

    def fail_next_job(self) -> None:
        """The next rollback or promote ends "failed", leaving production where it was."""
        with self.lock:
            self._fail_next = True

    def production(self, project: str) -> Deployment | None:
        """The deployment serving the project's production domain now (jobs due are settled)."""
        with self.lock:
            self._settle()
            return self._serving(self._project(project)["id"])

    # -- the platform's shapes --------------------------------------------------------------

    def rate_limit_reply(self, fault: Fault) -> Reply:
        """Vercel's 429: the envelope with a `limit` object, X-RateLimit-* and Retry-After."""
        reset = math.ceil(time.time() + fault.retry_after)
        limit = {"remaining": 0, "reset": reset, "resetMs": reset * 1000, "total": RATE_LIMIT_TOTAL}
        body = self.error_body(429, "rate_limited", "Rate limit exceeded", limit=limit)
        headers = {
            "Retry-After": f"{fault.retry_after:g}",
            "X-RateLimit-Limit": str(RATE_LIMIT_TOTAL),
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(reset),
        }
        return Reply(429, body, headers)

    def routes(self) -> None:
        """Both versions where the docs and the CLI differ (rollback v1/v9, promote v10/v9)."""
        for method, pattern, handler in (
            ("GET", "/v6/deployments", self._list_deployments),
            ("GET", "/v13/deployments/{id}", self._get_deployment),
            ("GET", "/v2/deployments/{id}/aliases", self._list_aliases),
            ("POST", "/v2/deployments/{id}/aliases", self._assign_alias),
            ("GET", "/v9/projects/{project}", self._get_project),
            ("POST", "/v1/projects/{project}/rollback/{id}", self._rollback),
            ("POST", "/v9/projects/{project}/rollback/{id}", self._rollback),
            ("GET", "/v9/projects/{project}/rollback/aliases", self._job_aliases),
            ("POST", "/v10/projects/{project}/promote/{id}", self._promote),
            ("POST", "/v9/projects/{project}/promote/{id}", self._promote),
        ):
            self.route(method, pattern, self._scoped(handler))

    def _scoped(self, handler: Handler) -> Handler:
        """Every endpoint checks the team, then settles the jobs that are due."""

        def scoped(request: Request) -> Reply:
            for param, ours in (("teamId", self.team_id), ("slug", self.team_slug)):
                asked = request.query.get(param)
                if ours is not None and asked is not None and asked != ours:
                    raise SimulatorError(403, "forbidden", "You don't have access to this team")
            self._settle()
            return handler(request)

        return scoped

    # -- endpoints --------------------------------------------------------------------------

    def _list_deployments(self, request: Request) -> Reply:
        query = request.query
        found = sorted(self.deployments.values(), key=lambda d: d["created"], reverse=True)
        if "projectId" in query:
            project_id = self._project(query["projectId"])["id"]
            found = [d for d in found if d["projectId"] == project_id]
        if "state" in query:
            states = {s.strip().upper() for s in query["state"].split(",")}
            if not states <= set(STATES):
                raise SimulatorError(400, "bad_request", f"Invalid state {query['state']!r}")
            found = [d for d in found if d["state"] in states]
        if "rollbackCandidate" in query:
            wanted = query["rollbackCandidate"] == "true"
            found = [d for d in found if d["isRollbackCandidate"] == wanted]
        for param, key in (("target", "target"), ("app", "name")):
            if param in query:
                found = [d for d in found if d[key] == query[param]]
        for param, key in (("branch", "githubCommitRef"), ("sha", "githubCommitSha")):
            if param in query:
                found = [d for d in found if d["meta"].get(key) == query[param]]
        until, since = _int(query, "until", None), _int(query, "since", None)
        found = [d for d in found if (until is None or d["created"] < until)]
        found = [d for d in found if (since is None or d["created"] > since)]
        limit = max(1, min(_int(query, "limit", 20) or 20, 100))
        page = found[:limit]
        pagination = {
            "count": len(page),
            "next": page[-1]["created"] if len(found) > limit else None,
            "prev": page[0]["created"] if page else None,
        }
        return Reply(200, {"pagination": pagination, "deployments": page})

    def _get_deployment(self, request: Request) -> Reply:
        deployment = self._deployment(request.params["id"])
        body = {k: v for k, v in deployment.items() if k != "uid"}  # v13 says `id`, not `uid`
        body.update(id=deployment["uid"], alias=self._hosts_of(deployment), version=2)
        return Reply(200, body)

    def _list_aliases(self, request: Request) -> Reply:
        deployment = self._deployment(request.params["id"])
        records = [a for a in self.aliases.values() if a["deploymentId"] == deployment["uid"]]
        return Reply(200, {"aliases": [_public_alias(a) for a in records]})

    def _assign_alias(self, request: Request) -> Reply:
        deployment = self._deployment(request.params["id"])
        host = request.body.get("alias") if isinstance(request.body, dict) else None
        if not isinstance(host, str) or not _HOSTNAME.match(host.lower()):
            raise SimulatorError(400, "bad_request", "Invalid alias: expected a hostname")
        host = host.lower()
        if deployment["state"] != "READY":
            raise SimulatorError(
                400, "bad_request", f"Deployment {deployment['uid']} is not READY, can't alias it"
            )
        record = self.aliases.get(host)
        if record is not None and record["deploymentId"] == deployment["uid"]:
            raise SimulatorError(409, "conflict", f"{host} is already assigned to this deployment")
        old = self._point(host, deployment, now_ms())
        self._refresh()
        if host == self.projects[deployment["projectId"]]["domains"][0]:
            self._announce(deployment)  # a blue-green switch by hand changes production too
        return Reply(200, {**_public_alias(self.aliases[host]), "oldDeploymentId": old})

    def _get_project(self, request: Request) -> Reply:
        project = self._project(request.params["project"])
        live = self._serving(project["id"])
        body = {k: v for k, v in project.items() if k != "domains"}
        summary = None  # Vercel's has more fields; these say what serves production
        if live is not None:
            summary = {"id": live["uid"], "url": live["url"], "alias": self._hosts_of(live)}
        body["targets"] = {"production": summary}
        # The CLI asks with rollbackInfo=true; being strict catches a client that forgets it.
        if request.query.get("rollbackInfo") == "true":
            job = self.jobs.get(project["id"])
            last = None if job is None else self._job_body(job)
            body["lastAliasRequest"] = last
            body["lastRollbackTarget"] = None  # the older field, only ever about rollbacks
            if last is not None and last["type"] == "rollback":
                body["lastRollbackTarget"] = {k: v for k, v in last.items() if k != "type"}
        return Reply(200, body)

    def _job_aliases(self, request: Request) -> Reply:
        """The aliases the latest job moves; `failedOnly=true` is what a client reads on failure."""
        project = self._project(request.params["project"])
        job = self.jobs.get(project["id"])
        aliases = []
        if job is not None:
            status = job.status(self._now).replace("succeeded", "completed")
            for host in project["domains"]:
                alias = {"alias": host, "deploymentId": job.to_id}
                aliases.append({"alias": alias, "id": f"alias_{_digest(host)}", "status": status})
        if request.query.get("failedOnly") == "true":
            aliases = [a for a in aliases if a["status"] == "failed"]
        pagination = {"count": len(aliases), "next": None, "prev": None}
        return Reply(200, {"aliases": aliases, "pagination": pagination})

    def _rollback(self, request: Request) -> Reply:
        self._start_job(request, "rollback")
        return Reply(201)  # no body: the CLI posts `{}` and reads nothing back

    def _promote(self, request: Request) -> Reply:
        self._start_job(request, "promote")
        return Reply(202)

    # -- the machinery ----------------------------------------------------------------------

    def _start_job(self, request: Request, kind: str) -> None:
        project = self._project(request.params["project"])
        target = self._deployment(request.params["id"])
        if target["projectId"] != project["id"]:
            raise SimulatorError(404, "not_found", f"Deployment {target['uid']} not in project")
        current = self._serving(project["id"])
        if target is current:
            raise SimulatorError(409, "conflict", f"{target['uid']} is already in production")
        if target["state"] != "READY":
            raise SimulatorError(409, "conflict", f"{target['uid']} is {target['state']}")
        if target["target"] != "production":
            raise SimulatorError(409, "conflict", f"{target['uid']} is not a production build")
        if kind == "rollback" and not target["isRollbackCandidate"]:
            raise SimulatorError(409, "conflict", f"{target['uid']} was never in production")
        from_id = None if current is None else current["uid"]
        job = Job(
            kind, project["id"], from_id, target["uid"], now_ms(), self._now, self.job_seconds
        )
        job.fails, self._fail_next = self._fail_next, False
        self.jobs[project["id"]] = job

    def _job_body(self, job: Job) -> dict[str, Any]:
        return {
            "fromDeploymentId": job.from_id,
            "toDeploymentId": job.to_id,
            "jobStatus": job.status(self._now),
            "requestedAt": job.requested_at,
            "type": job.type,
        }

    def _settle(self) -> None:
        """Apply each job whose time is up, once; the request then reads the same `_now`."""
        self._now = now = self.clock()
        for job in self.jobs.values():
            if job.settled or job.status(now) not in ("succeeded", "failed"):
                continue
            job.settled = True
            if job.fails:
                continue
            target = self.deployments[job.to_id]
            for host in self.projects[job.project_id]["domains"]:
                self._point(host, target, now_ms())
            self._refresh()
            self._announce(target)

    def _announce(self, deployment: Deployment) -> None:
        """Tell the hook (under the lock, from whichever thread noticed the change)."""
        if self.on_production_change is not None:
            self.on_production_change(dict(deployment))

    def _point(self, host: str, deployment: Deployment, at: int) -> str | None:
        """Move `host` onto the deployment; returns the deployment it leaves."""
        old = self.aliases.get(host)
        self.aliases[host] = {
            "uid": f"alias_{_digest(host)}",
            "alias": host,
            "created": iso(at),
            "deploymentId": deployment["uid"],
        }
        deployment["aliasAssigned"] = deployment["aliasAssigned"] or at
        if host in self.projects[deployment["projectId"]]["domains"]:
            self._was_production.add(deployment["uid"])
        return None if old is None else str(old["deploymentId"])

    def _refresh(self) -> None:
        """Recompute the fields that depend on which deployment serves production."""
        for deployment in self.deployments.values():
            ready = deployment["state"] == "READY"
            live = self._serving(deployment["projectId"]) is deployment
            deployment["readySubstate"] = ("PROMOTED" if live else "STAGED") if ready else None
            deployment["isRollbackCandidate"] = (
                ready
                and deployment["target"] == "production"
                and deployment["uid"] in self._was_production
            )

    def _serving(self, project_id: str) -> Deployment | None:
        record = self.aliases.get(self.projects[project_id]["domains"][0])
        return None if record is None else self.deployments[record["deploymentId"]]

    def _hosts_of(self, deployment: Deployment) -> list[str]:
        return [h for h, a in self.aliases.items() if a["deploymentId"] == deployment["uid"]]

    def _project(self, id_or_name: str) -> dict[str, Any]:
        for project in self.projects.values():
            if id_or_name in (project["id"], project["name"]):
                return project
        raise SimulatorError(404, "not_found", f"Project {id_or_name} not found")

    def _deployment(self, id_or_url: str) -> Deployment:
        for deployment in self.deployments.values():
            if id_or_url in (deployment["uid"], deployment["url"]):
                return deployment
        raise SimulatorError(404, "not_found", f"Deployment {id_or_url} not found")


def _public_alias(record: dict[str, Any]) -> dict[str, Any]:
    return {"uid": record["uid"], "alias": record["alias"], "created": record["created"]}


def _int(query: dict[str, str], name: str, default: int | None) -> int | None:
    if name not in query:
        return default
    try:
        return int(query[name])
    except ValueError:
        raise SimulatorError(400, "bad_request", f"{name} must be an integer") from None
