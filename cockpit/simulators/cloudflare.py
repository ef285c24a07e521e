"""Cloudflare's API for Workers deployments/versions and Pages deployments, on 127.0.0.1.

Every answer, errors included, is Cloudflare's envelope `{success, errors, messages, result}`
with integer error codes, because wrangler and the SDKs branch on `success` and
`errors[0].code` rather than on the status. Workers: versions, percentage deployments (newest
first; the first one serves), rollback by deploying an older version at 100 % and the 10220
refusal when secrets changed since that version unless `?force=true`. Pages: deployments whose
`latest_stage`/`stages` are computed from the clock at read time, so a rollback or retry walks
queued → initialize → clone_repo → build → deploy and only becomes canonical once its deploy
stage has succeeded (../shared/reference/provider_apis.md, section 4).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cockpit.simulators.base import JSON, Fault, Reply, Request, Simulator, SimulatorError
from cockpit.simulators.cloudflare_settings import WorkerSettings

# Codes Cloudflare sends for these cases.
AUTH_ERROR = 10000
RATE_LIMITED = 971  # below 1000, as the real API sends it
MALFORMED_JSON = 6007
NO_ROUTE = 7000
METHOD_NOT_ALLOWED = 7001
BAD_IDENTIFIER = 7003
WORKER_NOT_FOUND = 10007
SECRETS_CHANGED = 10220
PROJECT_NOT_FOUND = 8000007
PAGES_DEPLOYMENT_NOT_FOUND = 8000009
# Codes this simulator picked: the reference does not say which ones Cloudflare uses here.
WORKERS_BAD_REQUEST = 10021
WORKERS_NOT_FOUND = 10025
LATEST_NOT_DELETABLE = 10222
PAGES_BAD_REQUEST = 8000000
ROLLBACK_REFUSED = 8000034
UNKNOWN_ERROR = 10013

# The base class names its own errors (unknown route, bad JSON body, injected faults).
_BASE_CODES = {
    "not_found": NO_ROUTE,
    "method_unknown": METHOD_NOT_ALLOWED,
    "bad_request": MALFORMED_JSON,
    "rate_limited": RATE_LIMITED,
}

STAGES = ("queued", "initialize", "clone_repo", "build", "deploy")
# Stage boundaries are sums of floats; a seeded finished build must not read as a hair short.
_EPS = 1e-6
_AUTHOR = "deployer@example.com"
_ACCOUNT = "/client/v4/accounts/{account_id}"
_SCRIPT = _ACCOUNT + "/workers/scripts/{script}"
_PROJECT = _ACCOUNT + "/pages/projects/{project}"


def _error(status: int, code: int, message: str) -> SimulatorError:
    return SimulatorError(status, str(code), message)


def _format(wall: float) -> str:
    moment = datetime.fromtimestamp(wall, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _ok(result: JSON, result_info: dict[str, int] | None = None) -> Reply:
    body: dict[str, Any] = {"success": True, "errors": [], "messages": [], "result": result}
    if result_info is not None:
        body["result_info"] = result_info
    return Reply(200, body)


@dataclass
class _Worker:
    versions: list[dict[str, Any]] = field(default_factory=list)  # oldest first
    deployments: list[dict[str, Any]] = field(default_factory=list)  # oldest first
    born: dict[str, int] = field(default_factory=dict)  # version id → sequence number
    secret_changes: list[tuple[int, str]] = field(default_factory=list)  # (sequence, name)
    secrets: dict[str, dict[str, Any]] = field(default_factory=dict)  # name → {type, text}
    vars: list[dict[str, Any]] = field(default_factory=list)  # plain_text and json bindings


@dataclass
class _Build:
    """A Pages deployment: its fixed fields, when its first stage began and where it fails."""

    record: dict[str, Any]
    started: float
    fails_at: int | None = None  # index in STAGES of the failing stage
    settled: bool = False  # its outcome has been applied to the project


@dataclass
class _Project:
    name: str
    created_on: str
    builds: list[_Build] = field(default_factory=list)  # oldest first
    canonical: _Build | None = None


class CloudflareSimulator(Simulator, WorkerSettings):
    """One Cloudflare account with Workers scripts (their secrets and vars too) and Pages."""

    name = "cloudflare"

    def __init__(
        self,
        *,
        token: str = "sim-token",
        clock: Callable[[], float] | None = None,
        account_id: str = "acc-demo",
        stage_seconds: float = 1.0,
        block_seconds: float = 0.0,
        on_worker_change: Callable[[str, dict[str, Any]], None] | None = None,
        on_pages_change: Callable[[str, dict[str, Any]], None] | None = None,
    ) -> None:
        super().__init__(token=token, clock=clock)
        self.account_id = account_id
        self.stage_seconds = stage_seconds
        # Cloudflare blocks every call for five minutes after a 429. 0 keeps an injected rate
        # limit to the requests it was injected for; 300 reproduces the real lock-out.
        self.block_seconds = block_seconds
        self.on_worker_change = on_worker_change
        self.on_pages_change = on_pages_change
        self.workers: dict[str, _Worker] = {}
        self.projects: dict[str, _Project] = {}
        self._seq = 0
        self._blocked_until = float("-inf")
        # Timestamps follow the (possibly fake) clock, anchored to the wall clock once.
        self._wall_offset = time.time() - self.clock()
        self._last_wall = 0.0

    # -- envelope, auth, rate limits -------------------------------------------------------

    def error_body(self, status: int, code: str, message: str, **extra: Any) -> JSON:
        number = int(code) if code.isdigit() else _BASE_CODES.get(code, UNKNOWN_ERROR)
        error = {"code": number, "message": message, **extra}
        return {"success": False, "errors": [error], "messages": [], "result": None}

    def unauthorized(self, request: Request) -> Reply:
        status = 403 if "authorization" in request.headers else 401
        return Reply(status, self.error_body(status, str(AUTH_ERROR), "Authentication error"))

    def rate_limit_reply(self, fault: Fault) -> Reply:
        return self._too_many(fault.retry_after)

    def _too_many(self, retry_after: float) -> Reply:
        message = "Please wait and consider throttling your request speed"
        headers = {
            "retry-after": f"{retry_after:g}",
            "Ratelimit": f'"default";r=0;t={max(1, round(retry_after))}',
            "Ratelimit-Policy": '"burst";q=1200;w=300',
        }
        return Reply(429, self.error_body(429, "rate_limited", message), headers)

    def handle(self, request: Request) -> Reply:
        with self.lock:
            left = self._blocked_until - self.clock()
        if left > 0:
            return self._too_many(left)
        reply = super().handle(request)
        if reply.status == 429 and self.block_seconds > 0:
            with self.lock:
                self._blocked_until = self.clock() + self.block_seconds
            return self._too_many(self.block_seconds)
        return reply

    # -- seeding and reading ---------------------------------------------------------------

    def add_worker_version(
        self, script: str, *, message: str = "", tag: str = ""
    ) -> dict[str, Any]:
        """Upload a version of `script` (created if new); it serves nothing until deployed."""
        with self.lock:
            worker = self.workers.setdefault(script, _Worker())
            created = self._stamp()
            annotations = {"workers/triggered_by": "upload"}
            annotations |= {"workers/message": message} if message else {}
            annotations |= {"workers/tag": tag} if tag else {}
            runtime = {"compatibility_date": "2024-09-23", "usage_model": "standard"}
            version: dict[str, Any] = {
                "id": str(uuid.uuid4()),
                "number": len(worker.versions) + 1,
                "metadata": {"created_on": created, "modified_on": created, "source": "wrangler"}
                | {"author_id": "sim-author", "author_email": _AUTHOR},
                "annotations": annotations,
                "resources": {
                    "bindings": [],
                    "script": {"etag": uuid.uuid4().hex, "handlers": ["fetch"]},
                    "script_runtime": runtime,
                },
            }
            worker.versions.append(version)
            worker.born[version["id"]] = self._next_seq()
            return version

    def deploy_worker(
        self, script: str, versions: list[tuple[str, float]], *, message: str = ""
    ) -> dict[str, Any]:
        """Deploy as an operator would with --force; a bad split raises SimulatorError."""
        with self.lock:
            split = [{"version_id": v, "percentage": p} for v, p in versions]
            annotations = {"workers/message": message} if message else {}
            return self._deploy(script, split, annotations, force=True, source="wrangler")

    def change_secret(self, script: str, name: str) -> None:
        """Change a secret: deploying a version uploaded before now then needs ?force=true."""
        with self.lock:
            self._worker(script).secret_changes.append((self._next_seq(), name))

    def serving_worker(self, script: str) -> dict[str, Any] | None:
        """The latest deployment of `script`, the one serving traffic."""
        with self.lock:
            deployments = self._worker(script).deployments
            return deployments[-1] if deployments else None

    def add_pages_deployment(
        self,
        project: str,
        *,
        environment: str = "production",
        status: str = "success",
        branch: str = "main",
        commit_hash: str = "",
        commit_message: str = "",
    ) -> dict[str, Any]:
        """A finished ("success", "failure") or just started ("active") Pages deployment."""
        # How many stages ago a seeded deployment started, so that it reads as `status`.
        ago = {"success": len(STAGES), "failure": STAGES.index("build") + 1, "active": 0}
        if status not in ago:
            raise ValueError(f"status must be one of {', '.join(ago)}")
        with self.lock:
            proj = self.projects.get(project)
            if proj is None:
                proj = self.projects[project] = _Project(project, self._stamp())
            commit: dict[str, Any] = {
                "branch": branch,
                "commit_hash": commit_hash or uuid.uuid4().hex,
            }
            commit |= {"commit_message": commit_message, "commit_dirty": False}
            trigger = {"type": "push", "metadata": commit}
            build = self._new_build(proj, environment, trigger, ago=ago[status])
            build.fails_at = STAGES.index("build") if status == "failure" else None
            self._settle(proj)
            return self._render(build)

    def canonical_pages(self, project: str) -> dict[str, Any] | None:
        """The production deployment `project` serves now."""
        with self.lock:
            proj = self._project(project)
            self._settle(proj)
            return self._render(proj.canonical) if proj.canonical else None

    # -- Workers endpoints -----------------------------------------------------------------

    def routes(self) -> None:
        self.route("GET", _SCRIPT + "/deployments", self._list_deployments)
        self.route("POST", _SCRIPT + "/deployments", self._post_deployment)
        self.route("GET", _SCRIPT + "/deployments/{deployment_id}", self._get_deployment)
        self.route("DELETE", _SCRIPT + "/deployments/{deployment_id}", self._delete_deployment)
        self.route("GET", _SCRIPT + "/versions", self._list_versions)
        self.route("GET", _SCRIPT + "/versions/{version_id}", self._get_version)
        self.settings_routes(self.route, _SCRIPT)
        self.route("GET", _PROJECT, self._get_project)
        self.route("GET", _PROJECT + "/deployments", self._list_pages)
        self.route("GET", _PROJECT + "/deployments/{deployment_id}", self._get_pages)
        self.route("POST", _PROJECT + "/deployments/{deployment_id}/rollback", self._rollback)
        self.route("POST", _PROJECT + "/deployments/{deployment_id}/retry", self._retry)

    def _list_deployments(self, request: Request) -> Reply:
        return _ok({"deployments": self._worker_for(request).deployments[::-1]})

    def _post_deployment(self, request: Request) -> Reply:
        self._worker_for(request)
        body = request.body if isinstance(request.body, dict) else {}
        annotations = body.get("annotations") or {}
        if body.get("strategy") != "percentage" or not isinstance(body.get("versions"), list):
            raise _error(400, WORKERS_BAD_REQUEST, 'Expected strategy "percentage" and versions')
        if not isinstance(annotations, dict):
            raise _error(400, WORKERS_BAD_REQUEST, "annotations must be an object")
        force = request.query.get("force") == "true"
        script = request.params["script"]
        return _ok(self._deploy(script, body["versions"], annotations, force=force, source="api"))

    def _get_deployment(self, request: Request) -> Reply:
        return _ok(self._find_deployment(request)[1])

    def _delete_deployment(self, request: Request) -> Reply:
        worker, deployment = self._find_deployment(request)
        if deployment is worker.deployments[-1]:
            raise _error(400, LATEST_NOT_DELETABLE, "Cannot delete the latest deployment")
        worker.deployments.remove(deployment)
        return _ok(None)

    def _list_versions(self, request: Request) -> Reply:
        # Every simulated version is deployable, so ?deployable=true filters nothing out.
        return _ok({"items": self._worker_for(request).versions[::-1]})

    def _get_version(self, request: Request) -> Reply:
        wanted = request.params["version_id"]
        versions = self._worker_for(request).versions
        version = next((v for v in versions if v["id"] == wanted), None)
        if version is None:
            raise _error(404, WORKERS_NOT_FOUND, "Version not found")
        return _ok(version)

    def _deploy(
        self,
        script: str,
        split: list[Any],
        annotations: dict[str, Any],
        *,
        force: bool,
        source: str,
    ) -> dict[str, Any]:
        worker = self._worker(script)
        if not 1 <= len(split) <= 2:
            raise _error(400, WORKERS_BAD_REQUEST, "A deployment can consist of 1 or 2 versions")
        ids: list[str] = []
        for entry in split:
            entry = entry if isinstance(entry, dict) else {}
            version_id, percentage = entry.get("version_id"), entry.get("percentage")
            if isinstance(percentage, bool) or not isinstance(percentage, int | float):
                percentage = 0
            if not 0.01 <= percentage <= 100:
                raise _error(400, WORKERS_BAD_REQUEST, "percentage must be between 0.01 and 100")
            if version_id not in worker.born or version_id in ids:
                raise _error(400, WORKERS_BAD_REQUEST, f"Unknown version id: {version_id}")
            ids.append(version_id)
        if abs(sum(entry["percentage"] for entry in split) - 100) > 1e-9:
            raise _error(400, WORKERS_BAD_REQUEST, "Version percentages must total 100")
        changes = worker.secret_changes
        changed = sorted({name for seq, name in changes for v in ids if seq > worker.born[v]})
        if changed and not force:
            message = f"The following secrets have changed: {', '.join(changed)}"
            raise _error(400, SECRETS_CHANGED, message)
        deployment = {
            "id": str(uuid.uuid4()),
            "created_on": self._stamp(),
            "source": source,
            "strategy": "percentage",
            "author_email": _AUTHOR,
            "annotations": dict(annotations),
            "versions": [
                {"version_id": e["version_id"], "percentage": e["percentage"]} for e in split
            ],
        }
        worker.deployments.append(deployment)
        if self.on_worker_change is not None:
            self.on_worker_change(script, deployment)
        return deployment

    # -- Pages endpoints -------------------------------------------------------------------

    def _get_project(self, request: Request) -> Reply:
        proj = self._project_for(request)
        canonical, latest = proj.canonical, proj.builds[-1] if proj.builds else None
        return _ok(
            {
                "id": f"proj-{proj.name}",
                "name": proj.name,
                "subdomain": f"{proj.name}.pages.dev",
                "production_branch": "main",
                "created_on": proj.created_on,
                "canonical_deployment": self._render(canonical) if canonical else None,
                "latest_deployment": self._render(latest) if latest else None,
            }
        )

    def _list_pages(self, request: Request) -> Reply:
        proj = self._project_for(request)
        env = request.query.get("env")
        page, per_page = request.query.get("page", "1"), request.query.get("per_page", "25")
        if env not in (None, "production", "preview"):
            raise _error(400, PAGES_BAD_REQUEST, "env must be production or preview")
        if not (page.isdigit() and per_page.isdigit() and int(page) >= 1):
            raise _error(400, PAGES_BAD_REQUEST, "page and per_page must be positive integers")
        page_no, size = int(page), min(max(int(per_page), 1), 100)
        builds = [b for b in proj.builds[::-1] if env in (None, b.record["environment"])]
        shown = builds[(page_no - 1) * size : page_no * size]
        info = {"page": page_no, "per_page": size, "count": len(shown)}
        info |= {"total_count": len(builds), "total_pages": max(1, -(-len(builds) // size))}
        return _ok([self._render(b) for b in shown], info)

    def _get_pages(self, request: Request) -> Reply:
        return _ok(self._render(self._build_for(request)[1]))

    def _rollback(self, request: Request) -> Reply:
        proj, target = self._build_for(request)
        if target.record["environment"] != "production" or not self._succeeded(target):
            message = "You can only rollback to successful builds on production."
            raise _error(400, ROLLBACK_REFUSED, message)
        return _ok(self._render(self._restage(proj, target)))

    def _retry(self, request: Request) -> Reply:
        return _ok(self._render(self._restage(*self._build_for(request))))

    def _restage(self, proj: _Project, target: _Build) -> _Build:
        """A new deployment of the target's commit, in its environment, starting now."""
        trigger = dict(target.record["deployment_trigger"], type="ad_hoc")
        return self._new_build(proj, target.record["environment"], trigger, ago=0)

    def _new_build(
        self, proj: _Project, environment: str, trigger: dict[str, Any], *, ago: int
    ) -> _Build:
        started = self.clock() - ago * self.stage_seconds
        build_id = str(uuid.uuid4())
        record = {
            "id": build_id,
            "short_id": build_id[:8],
            "project_id": f"proj-{proj.name}",
            "project_name": proj.name,
            "environment": environment,
            "url": f"https://{build_id[:8]}.{proj.name}.pages.dev",
            "created_on": self._stamp(started),
            "aliases": None,
            "is_skipped": False,
            "deployment_trigger": trigger,
            "build_config": {"build_command": "npm run build", "destination_dir": "dist"},
            "env_vars": {},
            "source": {"type": "github", "config": {"production_branch": "main"}},
        }
        proj.builds.append(_Build(record, started))
        return proj.builds[-1]

    def _stages(self, build: _Build) -> list[dict[str, Any]]:
        """Each stage at this instant: stage i runs from started + i × stage_seconds."""
        step = self.stage_seconds
        elapsed = self.clock() + _EPS - build.started
        current = int(elapsed // step) if step > 0 else len(STAGES)
        stages = []
        for i, name in enumerate(STAGES):
            began: str | None = self._iso(build.started + i * step)
            ended: str | None = self._iso(build.started + (i + 1) * step)
            if (build.fails_at is not None and i > build.fails_at) or i > current:
                status, began, ended = "idle", None, None
            elif i == current:
                status, ended = "active", None
            else:
                status = "failure" if i == build.fails_at else "success"
            stages.append({"name": name, "status": status, "started_on": began, "ended_on": ended})
        return stages

    def _render(self, build: _Build) -> dict[str, Any]:
        stages = self._stages(build)
        latest = [s for s in stages if s["status"] != "idle"][-1]
        modified = latest["ended_on"] or latest["started_on"]
        return dict(build.record, stages=stages, latest_stage=latest, modified_on=modified)

    def _finish(self, build: _Build) -> float:
        stages = len(STAGES) if build.fails_at is None else build.fails_at + 1
        return build.started + stages * self.stage_seconds

    def _succeeded(self, build: _Build) -> bool:
        return build.fails_at is None and self._finish(build) <= self.clock() + _EPS

    def _settle(self, proj: _Project) -> None:
        """Promote production builds whose deploy stage has ended, in the order they ended."""
        now = self.clock() + _EPS
        done = [b for b in proj.builds if not b.settled and self._finish(b) <= now]
        for build in sorted(done, key=self._finish):
            build.settled = True
            if build.fails_at is None and build.record["environment"] == "production":
                proj.canonical = build
                if self.on_pages_change is not None:
                    self.on_pages_change(proj.name, self._render(build))

    # -- lookups ---------------------------------------------------------------------------

    def _worker(self, script: str) -> _Worker:
        if script not in self.workers:
            raise _error(404, WORKER_NOT_FOUND, "This Worker does not exist on your account.")
        return self.workers[script]

    def _worker_for(self, request: Request) -> _Worker:
        self._check_account(request)
        return self._worker(request.params["script"])

    def _find_deployment(self, request: Request) -> tuple[_Worker, dict[str, Any]]:
        worker, wanted = self._worker_for(request), request.params["deployment_id"]
        deployment = next((d for d in worker.deployments if d["id"] == wanted), None)
        if deployment is None:
            raise _error(404, WORKERS_NOT_FOUND, "Deployment not found")
        return worker, deployment

    def _project(self, name: str) -> _Project:
        if name not in self.projects:
            message = "Project not found. The specified project name does not match any of your"
            raise _error(404, PROJECT_NOT_FOUND, message + " existing projects.")
        return self.projects[name]

    def _project_for(self, request: Request) -> _Project:
        self._check_account(request)
        proj = self._project(request.params["project"])
        self._settle(proj)
        return proj

    def _build_for(self, request: Request) -> tuple[_Project, _Build]:
        proj, wanted = self._project_for(request), request.params["deployment_id"]
        build = next((b for b in proj.builds if b.record["id"] == wanted), None)
        if build is None:
            message = "The deployment ID you have specified does not exist."
            raise _error(404, PAGES_DEPLOYMENT_NOT_FOUND, message)
        return proj, build

    def _check_account(self, request: Request) -> None:
        if request.params["account_id"] != self.account_id:
            message = (
                f"Could not route to {request.path}, perhaps your object identifier is invalid?"
            )
            raise _error(404, BAD_IDENTIFIER, message)

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _iso(self, at: float) -> str:
        return _format(self._wall_offset + at)

    def _stamp(self, at: float | None = None) -> str:
        """A creation time 1 ms after the previous one at least, so newest-first is exact."""
        wall = self._wall_offset + (self.clock() if at is None else at)
        self._last_wall = round(max(wall, self._last_wall + 0.001), 3)
        return _format(self._last_wall)
