"""A simulator of the GitHub Actions REST API: workflows, dispatch, runs, jobs, re-run, cancel.

It follows ../shared/reference/provider_apis_2.md §10.4 for one repository. A dispatch answers
204 (200 with the run's id when asked `return_run_details`) after the checks GitHub makes, in
its order and words, and starts a run that is `queued` for `queue_seconds`, `in_progress` for
`run_seconds`, then `completed` with the conclusion queued by `conclude_next` (else success).
Time is `self.clock`, which a test replaces with a fake it advances (or advances from the
provider's sleeper), so no test waits; the first look that finds a run completed calls
`on_run_completed`, which the drill uses to roll its scenario back. Every answer carries the
x-ratelimit-* headers; `exhaust` spends the primary budget (403, remaining 0, a reset time) and
`fail("rate_limit", status=403 or 429)` sends a secondary limit with retry-after. Errors are
GitHub's envelope, {message, documentation_url}.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml

from cockpit.simulators.base import Fault, Reply, Request, Simulator, SimulatorError

DOCS = "https://docs.github.com/rest"
DISPATCH_DOCS = f"{DOCS}/actions/workflows#create-a-workflow-dispatch-event"
LIMIT = 5000
MAX_INPUTS = 25
SECONDARY = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
)


@dataclass
class Workflow:
    """One workflow file of the repository."""

    id: int
    name: str
    path: str
    text: str
    state: str = "active"


@dataclass
class Run:
    """One workflow run; its status is worked out from the clock whenever someone looks."""

    id: int
    number: int
    workflow: Workflow
    event: str
    branch: str
    inputs: dict[str, str]
    started: float
    conclusion: str
    attempt: int = 1
    cancelled: bool = False
    announced: bool = False
    jobs: list[tuple[str, list[str]]] = field(default_factory=list)


class GitHubSimulator(Simulator):
    """GitHub's Actions endpoints for one repository on 127.0.0.1."""

    name = "github"

    def __init__(
        self,
        *,
        token: str = "sim-token",
        clock: Callable[[], float] | None = None,
        wall: Callable[[], float] = time.time,
        repo: str = "acme/app",
        default_branch: str = "main",
        branches: tuple[str, ...] = (),
        queue_seconds: float = 1.0,
        run_seconds: float = 3.0,
    ) -> None:
        self.repo = repo
        self.default_branch = default_branch
        self.branches = {default_branch, *branches}
        self.wall = wall
        """Epoch seconds for x-ratelimit-reset and timestamps (the clock only paces runs)."""
        self.queue_seconds = queue_seconds
        self.run_seconds = run_seconds
        self.workflows: dict[int, Workflow] = {}
        self.runs: dict[int, Run] = {}
        self.conclusions: list[str] = []
        self.on_run_completed: Callable[[dict[str, Any]], None] | None = None
        self.used = 0
        self._exhausted = 0
        self._reset_in = 60.0
        super().__init__(token=token, clock=clock)

    # -- seeding and steering ---------------------------------------------------------------

    def add_workflow(self, path: str, text: str, *, state: str = "active") -> Workflow:
        """A workflow file (`.github/workflows/x.yml`); its name is the file's `name:`."""
        with self.lock:
            data = yaml.safe_load(text)
            name = str(data.get("name") or path) if isinstance(data, dict) else path
            workflow = Workflow(1000 + len(self.workflows) + 1, name, path, text, state)
            self.workflows[workflow.id] = workflow
            return workflow

    def add_run(
        self, path: str, *, conclusion: str = "success", branch: str = "", event: str = "push"
    ) -> dict[str, Any]:
        """A finished run of the workflow at `path` (history to re-run)."""
        with self.lock:
            workflow = self._workflow(path.rsplit("/", 1)[-1])
            run = self._start(workflow, event, branch or self.default_branch, {}, conclusion)
            run.started -= self.queue_seconds + self.run_seconds
            run.announced = True
            return self._body(run)

    def conclude_next(self, *conclusions: str) -> None:
        """The next runs (or attempts) end with these conclusions, in order (failure,
        timed_out, …); after them, success."""
        with self.lock:
            self.conclusions.extend(conclusions)

    def exhaust(self, times: int = 1, reset_in: float = 60.0) -> None:
        """The next `times` requests find the primary budget spent (403, remaining 0)."""
        with self.lock:
            self._exhausted, self._reset_in = times, reset_in

    def run(self, run_id: int) -> dict[str, Any]:
        """A run as the API shows it now."""
        with self.lock:
            return self._body(self.runs[run_id])

    # -- the platform's shapes --------------------------------------------------------------

    def error_body(self, status: int, code: str, message: str, **extra: Any) -> Any:
        body = {"message": message, "documentation_url": extra.pop("docs", DOCS), **extra}
        return body | ({"status": str(status)} if status == 422 else {})

    def authorized(self, request: Request) -> bool:
        given = request.headers.get("authorization", "")
        return given in (f"Bearer {self.token}", f"token {self.token}")

    def unauthorized(self, request: Request) -> Reply:
        return Reply(401, self.error_body(401, "", "Bad credentials"))

    def rate_limit_reply(self, fault: Fault) -> Reply:
        """A secondary limit: 403 or 429 (as the fault says), retry-after, budget left."""
        status = fault.status if fault.status in (403, 429) else 429
        body = self.error_body(status, "", SECONDARY)
        return Reply(status, body, {"retry-after": f"{fault.retry_after:g}"})

    def handle(self, request: Request) -> Reply:
        """Every answer carries the budget; a spent one is a 403 until told otherwise."""
        with self.lock:
            self.used += 1
            exhausted, self._exhausted = self._exhausted > 0, max(0, self._exhausted - 1)
        if exhausted:
            message = "API rate limit exceeded for user ID 1. If you reach out to GitHub Support"
            reply = Reply(403, self.error_body(403, "", message + " for help, …"))
        else:
            reply = super().handle(request)
        remaining = 0 if exhausted else max(0, LIMIT - self.used)
        reset = int(self.wall() + (self._reset_in if exhausted else 3600))
        reply.headers = {
            "x-ratelimit-limit": str(LIMIT),
            "x-ratelimit-remaining": str(remaining),
            "x-ratelimit-used": str(min(self.used, LIMIT)),
            "x-ratelimit-reset": str(reset),
            "x-ratelimit-resource": "core",
            **reply.headers,
        }
        return reply

    def routes(self) -> None:
        repo = "/repos/{owner}/{name}"
        actions = f"{repo}/actions"
        for method, pattern, handler in (
            ("GET", repo, self._repository),
            ("GET", f"{actions}/workflows", self._list_workflows),
            ("GET", f"{actions}/workflows/{{workflow}}", self._get_workflow),
            ("POST", f"{actions}/workflows/{{workflow}}/dispatches", self._dispatch),
            ("GET", f"{actions}/workflows/{{workflow}}/runs", self._list_runs),
            ("GET", f"{actions}/runs", self._list_runs),
            ("GET", f"{actions}/runs/{{run}}", self._get_run),
            ("GET", f"{actions}/runs/{{run}}/jobs", self._jobs),
            ("POST", f"{actions}/runs/{{run}}/rerun", self._rerun),
            ("POST", f"{actions}/runs/{{run}}/cancel", self._cancel),
            ("GET", f"{repo}/check-runs/{{job}}/annotations", lambda _: Reply(200, [])),
        ):
            self.route(method, pattern, self._scoped(handler))
        # A file's path has slashes, which a `{name}` segment does not match.
        contents = re.compile(r"^/repos/(?P<owner>[^/]+)/(?P<name>[^/]+)/contents/(?P<path>.+)$")
        self._routes.append(("GET", contents, self._scoped(self._contents)))

    def _scoped(self, handler: Callable[[Request], Reply]) -> Callable[[Request], Reply]:
        """The one repository (else GitHub's 404), then the runs that are due are settled."""

        def scoped(request: Request) -> Reply:
            if f"{request.params['owner']}/{request.params['name']}" != self.repo:
                raise SimulatorError(404, "", "Not Found")
            self._settle()
            return handler(request)

        return scoped

    # -- endpoints --------------------------------------------------------------------------

    def _repository(self, request: Request) -> Reply:
        owner, name = self.repo.split("/")
        return Reply(
            200,
            {
                "id": 1,
                "name": name,
                "full_name": self.repo,
                "owner": {"login": owner},
                "private": True,
                "default_branch": self.default_branch,
                "html_url": f"https://github.com/{self.repo}",
            },
        )

    def _list_workflows(self, request: Request) -> Reply:
        items = [self._workflow_body(w) for w in self.workflows.values()]
        return Reply(200, {"total_count": len(items), "workflows": items})

    def _get_workflow(self, request: Request) -> Reply:
        return Reply(200, self._workflow_body(self._workflow(request.params["workflow"])))

    def _contents(self, request: Request) -> Reply:
        ref = request.query.get("ref") or self.default_branch
        if ref not in self.branches:
            raise SimulatorError(404, "", f"No commit found for the ref {ref}")
        path = request.params["path"]
        found = next((w for w in self.workflows.values() if w.path == path), None)
        if found is None:
            raise SimulatorError(404, "", "Not Found")
        data = found.text.encode()
        return Reply(
            200,
            {
                "type": "file",
                "encoding": "base64",
                "size": len(data),
                "name": path.rsplit("/", 1)[-1],
                "path": path,
                "content": base64.encodebytes(data).decode(),  # wrapped lines, as GitHub's
                "sha": f"{found.id:040x}",
            },
        )

    def _dispatch(self, request: Request) -> Reply:
        workflow = self._workflow(request.params["workflow"])
        body = request.body
        if not isinstance(body, dict):
            raise SimulatorError(400, "", "Body should be a JSON object")
        ref = body.get("ref")
        if not ref:
            raise _invalid('Invalid request.\n\n"ref" wasn\'t supplied.')
        if ref not in self.branches:
            raise _invalid(f"No ref found for: {ref}")
        declared = _declared_inputs(workflow.text)
        if declared is None:
            raise _invalid("Workflow does not have 'workflow_dispatch' trigger")
        if workflow.state != "active":
            raise _invalid("Cannot trigger a 'workflow_dispatch' on a disabled workflow")
        inputs = _inputs(body.get("inputs") or {}, declared)
        run = self._start(workflow, "workflow_dispatch", str(ref), inputs, self._conclusion())
        if body.get("return_run_details") is True:
            base = f"https://api.github.com/repos/{self.repo}/actions/runs/{run.id}"
            html = f"https://github.com/{self.repo}/actions/runs/{run.id}"
            return Reply(200, {"workflow_run_id": run.id, "run_url": base, "html_url": html})
        return Reply(204)

    def _list_runs(self, request: Request) -> Reply:
        query = request.query
        found = sorted(self.runs.values(), key=lambda r: r.id, reverse=True)
        if "workflow" in request.params:
            wanted = self._workflow(request.params["workflow"]).id
            found = [r for r in found if r.workflow.id == wanted]
        bodies = [self._body(run) for run in found]
        for key, param in (("head_branch", "branch"), ("event", "event")):
            if param in query:
                bodies = [b for b in bodies if b[key] == query[param]]
        if "status" in query:  # a status or a conclusion
            bodies = [b for b in bodies if query["status"] in (b["status"], b["conclusion"])]
        per_page = max(1, min(int(query.get("per_page") or 30), 100))
        page = max(1, int(query.get("page") or 1))
        shown = bodies[(page - 1) * per_page : page * per_page]
        return Reply(200, {"total_count": len(bodies), "workflow_runs": shown})

    def _get_run(self, request: Request) -> Reply:
        return Reply(200, self._body(self._run(request.params["run"])))

    def _jobs(self, request: Request) -> Reply:
        run = self._run(request.params["run"])
        status, conclusion = self._status(run)
        jobs = []
        for index, (name, steps) in enumerate(run.jobs):
            done = status == "completed" or self._fraction(run) > (index + 1) / (len(run.jobs) + 1)
            last = index == len(run.jobs) - 1
            job_conclusion = conclusion if last and status == "completed" else "success"
            jobs.append(
                {
                    "id": run.id * 100 + index,
                    "run_id": run.id,
                    "run_attempt": run.attempt,
                    "name": name,
                    "status": "completed" if done else status,
                    "conclusion": job_conclusion if done else None,
                    "html_url": f"https://github.com/{self.repo}/actions/runs/{run.id}/job/{index}",
                    "steps": [
                        {"name": step, "number": n + 1, "status": "completed" if done else status}
                        for n, step in enumerate(steps)
                    ],
                }
            )
        return Reply(200, {"total_count": len(jobs), "jobs": jobs})

    def _rerun(self, request: Request) -> Reply:
        run = self._run(request.params["run"])
        if self._status(run)[0] != "completed":
            raise SimulatorError(403, "", "This workflow is already running")
        run.attempt += 1
        run.started, run.cancelled, run.announced = self.clock(), False, False
        run.conclusion = self._conclusion()
        return Reply(201, {})

    def _cancel(self, request: Request) -> Reply:
        run = self._run(request.params["run"])
        if self._status(run)[0] == "completed":
            raise SimulatorError(409, "", "Cannot cancel a workflow run that is completed.")
        run.cancelled = True
        return Reply(202, {})

    # -- the machinery ----------------------------------------------------------------------

    def _start(
        self, workflow: Workflow, event: str, branch: str, inputs: dict[str, str], end: str
    ) -> Run:
        number = 1 + sum(1 for r in self.runs.values() if r.workflow.id == workflow.id)
        run_id = 9_000_000 + len(self.runs) + 1
        run = Run(run_id, number, workflow, event, branch, inputs, self.clock(), end)
        run.jobs = _jobs_of(workflow.text)
        self.runs[run_id] = run
        return run

    def _conclusion(self) -> str:
        return self.conclusions.pop(0) if self.conclusions else "success"

    def _fraction(self, run: Run) -> float:
        elapsed = self.clock() - run.started - self.queue_seconds
        return max(0.0, min(1.0, elapsed / self.run_seconds)) if self.run_seconds else 1.0

    def _status(self, run: Run) -> tuple[str, str | None]:
        if run.cancelled:
            return "completed", "cancelled"
        elapsed = self.clock() - run.started
        if elapsed < self.queue_seconds:
            return "queued", None
        if elapsed < self.queue_seconds + self.run_seconds:
            return "in_progress", None
        return "completed", run.conclusion

    def _settle(self) -> None:
        """Tell the hook about each run that completed since the last look, once."""
        for run in self.runs.values():
            if not run.announced and self._status(run)[0] == "completed":
                run.announced = True
                if self.on_run_completed is not None:
                    self.on_run_completed(self._body(run))

    def _body(self, run: Run) -> dict[str, Any]:
        status, conclusion = self._status(run)
        api = f"https://api.github.com/repos/{self.repo}/actions/runs/{run.id}"
        sha = f"{run.id:040x}"
        return {
            "id": run.id,
            "name": run.workflow.name,
            "display_title": run.workflow.name,
            "status": status,
            "conclusion": conclusion,
            "event": run.event,
            "workflow_id": run.workflow.id,
            "run_number": run.number,
            "run_attempt": run.attempt,
            "head_branch": run.branch,
            "head_sha": sha,
            "head_commit": {"id": sha, "message": f"release on {run.branch}"},
            "path": run.workflow.path,
            "jobs_url": f"{api}/jobs",
            "url": api,
            "html_url": f"https://github.com/{self.repo}/actions/runs/{run.id}",
            "inputs": dict(run.inputs),  # not in GitHub's run object: for tests to assert
        }

    def _workflow_body(self, workflow: Workflow) -> dict[str, Any]:
        return {
            "id": workflow.id,
            "name": workflow.name,
            "path": workflow.path,
            "state": workflow.state,
            "url": f"https://api.github.com/repos/{self.repo}/actions/workflows/{workflow.id}",
            "html_url": f"https://github.com/{self.repo}/blob/main/{workflow.path}",
        }

    def _workflow(self, id_or_file: str) -> Workflow:
        for workflow in self.workflows.values():
            if id_or_file in (str(workflow.id), workflow.path.rsplit("/", 1)[-1]):
                return workflow
        raise SimulatorError(404, "", "Not Found")

    def _run(self, run_id: str) -> Run:
        run = self.runs.get(int(run_id)) if run_id.isdigit() else None
        if run is None:
            raise SimulatorError(404, "", "Not Found")
        return run


def _invalid(message: str) -> SimulatorError:
    return SimulatorError(422, "", message, docs=DISPATCH_DOCS)


def _declared_inputs(text: str) -> dict[str, dict[str, Any]] | None:
    """The file's workflow_dispatch inputs ({} without any), None without the trigger."""
    data = yaml.safe_load(text)
    trigger = data.get("on", data.get(True)) if isinstance(data, dict) else None
    if trigger == "workflow_dispatch" or (
        isinstance(trigger, list) and "workflow_dispatch" in trigger
    ):
        return {}
    if not isinstance(trigger, dict) or "workflow_dispatch" not in trigger:
        return None
    section = trigger["workflow_dispatch"] or {}
    inputs = section.get("inputs") or {}
    return {str(k): (v if isinstance(v, dict) else {}) for k, v in inputs.items()}


def _inputs(given: Any, declared: dict[str, dict[str, Any]]) -> dict[str, str]:
    """GitHub's checks of a dispatch's inputs, in its words."""
    if not isinstance(given, dict):
        raise _invalid("Invalid request.\n\nFor 'properties/inputs', is not an object.")
    for value in given.values():
        if not isinstance(value, str):
            shown = "nil" if value is None else json.dumps(value)
            raise _invalid(
                f"Invalid request.\n\nFor 'additionalProperties', {shown} is not a string."
            )
    if len(given) > MAX_INPUTS:
        raise _invalid(
            f"you may only define up to {MAX_INPUTS} `inputs` for a `workflow_dispatch` event"
        )
    unexpected = sorted(set(given) - set(declared))
    if unexpected:
        raise _invalid(f"Unexpected inputs provided: {json.dumps(unexpected)}")
    sent: dict[str, str] = {}
    for name, spec in declared.items():
        value = given.get(name)
        default = spec.get("default")
        if value is None:
            if spec.get("required") is True and default in (None, ""):
                raise _invalid(f"Required input '{name}' not provided")
            value = "" if default is None else str(default)
        options = [str(o) for o in spec.get("options") or []]
        if spec.get("type") == "choice" and value and value not in options:
            raise _invalid(
                f"Provided value '{value}' for input '{name}' not in the list of allowed values"
            )
        sent[name] = value
    return sent


def _jobs_of(text: str) -> list[tuple[str, list[str]]]:
    data = yaml.safe_load(text)
    jobs = data.get("jobs") if isinstance(data, dict) else None
    found = []
    for key, job in (jobs if isinstance(jobs, dict) else {}).items():
        job = job if isinstance(job, dict) else {}
        steps = [str(s.get("name") or s.get("uses") or "step") for s in job.get("steps") or []]
        found.append((str(job.get("name") or key), steps))
    return found or [("build", ["run"])]
