"""GitHub Actions: dispatch a rollback workflow, or re-run the last successful run of one.

The runbooks run `gh workflow run rollback.yml -f component=worker -f reason=…` or click
"Re-run all jobs" on the last good deployment; this makes the calls gh makes
(provider_apis_2.md §10). Preflight reads the workflow (GET workflows/{file}: it must exist and
be active) and its file at the ref (the contents endpoint), and checks the inputs against what
the file declares, so a dispatch GitHub would refuse, or that would run without what its steps
need, is never posted. Execute dispatches (or re-runs); verify follows the run to its
conclusion, shows its html_url, and cancels it on GitHub when the responder cancels.

Every parameter of `dispatch_workflow` other than `workflow` and `ref` is one of the workflow's
inputs, sent as a string, as gh sends `-f name=value`.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import httpx
from pydantic import Field

from cockpit.core.actions import ActionCancelled, Call, Executed, Plan, Report, Verified
from cockpit.core.errors import ProviderError
from providers.api import ApiError, ApiOptions, HttpActionProvider
from providers.base import Capability, Param, Params
from providers.github_actions.limits import rate_wait
from providers.github_actions.runs import Run, Runs
from providers.github_actions.workflow import (
    check_inputs,
    decode_contents,
    read_workflow,
    suggestions,
)

API_VERSION = "2022-11-28"
"""The version every call asks for: the last before the breaking 2026-03-10."""
OWN_PARAMS = ("workflow", "ref")


def _message(body: Any) -> str | None:
    """GitHub's envelope: `message`, then each `errors[]` item on its own line, as gh shows."""
    if not isinstance(body, dict) or not body.get("message"):
        return None
    lines = [str(body["message"])]
    for item in body.get("errors") or []:
        if isinstance(item, dict):
            field = ".".join(str(item[k]) for k in ("resource", "field") if item.get(k))
            lines.append(f"{field} {item.get('code') or item.get('message') or ''}".strip())
        else:
            lines.append(str(item))
    return "; ".join(lines)


class GitHubActionsOptions(ApiOptions):
    """The API, the repository, and how runs are followed."""

    base_url: str = "https://api.github.com"
    repo: str = Field(pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
    """owner/name, as `gh --repo` takes it."""
    ref: str | None = None
    """The branch or tag a dispatch runs on, unless its `ref` param says; else the default
    branch of the repository."""
    poll_seconds: float = Field(default=3.0, gt=0)
    """Between two looks at a run: gh run watch's default."""
    appear_seconds: float = Field(default=60.0, gt=0)
    """How long a dispatched run may take to show up in the runs list."""
    run_timeout_seconds: float = Field(default=1800.0, gt=0)
    """How long a run is followed before the action gives up on it (the run goes on)."""
    max_rate_wait_seconds: float = Field(default=60.0, ge=0)
    """A rate limit asking a longer wait fails the step at once, saying when to try again."""
    run_details: bool = True
    """Ask the dispatch for the run's id (`return_run_details`, github.com and GHES 3.21+);
    false for an older GHES, which answers that field with a 400."""


class GitHubActionsProvider(HttpActionProvider):
    """Dispatch or re-run GitHub Actions workflows, and follow the run."""

    name = "github_actions"
    title = "GitHub Actions"
    capabilities: ClassVar[Capability] = Capability.ROLLBACK
    Options = GitHubActionsOptions

    actions: ClassVar[dict[str, str]] = {
        "dispatch_workflow": "run `workflow` by hand (workflow_dispatch) with its inputs",
        "rerun_workflow": "re-run the last successful run of `workflow` (or run `run_id`)",
    }
    action_params: ClassVar[dict[str, Params]] = {
        "dispatch_workflow": {
            "workflow": Param("the workflow's file name (rollback.yml) or id", required=True),
            "ref": Param("the branch or tag to run it on (default: the repository's default)"),
        },
        "rerun_workflow": {
            "workflow": Param(
                "the workflow's file name (deploy.yml) or id", required=True, instead=("run_id",)
            ),
            "run_id": Param("the run to re-run (default: the workflow's last successful run)"),
            "branch": Param("look for the last successful run on this branch only"),
        },
    }
    extra_params: ClassVar[dict[str, str]] = {
        "dispatch_workflow": "one of the workflow's inputs (`workflow_dispatch.inputs`), "
        "sent as text and checked against the workflow file before it runs",
    }

    def __init__(
        self,
        options: GitHubActionsOptions,
        *,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.clock = clock
        """Wall-clock epoch seconds, what x-ratelimit-reset is compared with."""
        super().__init__(options, transport=transport)
        self.opts = options
        self.api.max_wait = options.max_rate_wait_seconds
        self.api.client.headers.update(
            {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": API_VERSION}
        )
        self.runs = Runs(self.api, options.repo, options.poll_seconds, clock)
        self._default_branch: str | None = None

    def error_message(self, body: Any) -> str | None:
        return _message(body)

    def rate_wait(self, response: httpx.Response) -> float | None:
        return rate_wait(response, self.clock())

    # -- reading ------------------------------------------------------------------------------

    def health(self) -> str:
        return f"repository {self.opts.repo}: default branch {self.default_branch()}"

    def default_branch(self, report: Report | None = None) -> str:
        if self._default_branch is None:
            body = self._get(
                f"/repos/{self.opts.repo}", f"read repository {self.opts.repo}", report
            )
            if not isinstance(body, dict) or not body.get("default_branch"):
                raise ProviderError(
                    f"repository {self.opts.repo}: the answer has no default branch"
                )
            self._default_branch = str(body["default_branch"])
        return self._default_branch

    def workflow(self, ref: str) -> dict[str, Any]:
        """GET workflows/{id or file}: id, name, path, state; a clear error when it is gone."""
        shown = _workflow_name(ref)
        path = f"/repos/{self.opts.repo}/actions/workflows/{ref}"
        try:
            body = self._get(path, f"read workflow {shown} of {self.opts.repo}")
        except ApiError as error:
            if error.status == 404:
                raise ProviderError(
                    f"workflow {shown} not found in {self.opts.repo} (404): renamed, deleted, "
                    "or not visible to this token"
                ) from None
            raise
        if not isinstance(body, dict) or not isinstance(body.get("id"), int):
            raise ProviderError(f"workflow {shown}: the answer has no id")
        return body

    def choices(self, action: str, param: str, params: Mapping[str, Any]) -> list[tuple[str, str]]:
        if param == "workflow":
            path = f"/repos/{self.opts.repo}/actions/workflows"
            body = self._get(path, f"list the workflows of {self.opts.repo}", per_page=100)
            items = body.get("workflows") if isinstance(body, dict) else None
            return [
                (_workflow_name(str(w.get("path"))), f"{w.get('name')} · {w.get('path')}")
                for w in items or []
                if isinstance(w, dict) and w.get("state") == "active"
            ]
        workflow = params.get("workflow")
        if not workflow or _placeholder(workflow):
            return []
        if action == "rerun_workflow" and param == "run_id":
            found = self.runs.listed(
                int(self.workflow(str(workflow))["id"]),
                f"list the runs of {workflow}",
                None,
                status="success",
            )
            return [(str(r.id), f"{r.label} · {r.branch} · {r.title}") for r in found]
        if action == "dispatch_workflow" and param not in OWN_PARAMS:
            info = self.workflow(str(workflow))
            declared = self._file(info, self._ref(params)).inputs
            return suggestions(declared[param]) if param in declared else []
        return []

    # -- the actions -------------------------------------------------------------------------

    def preflight(self, action: str, params: Mapping[str, Any]) -> Plan:
        self.require(action)
        if action == "dispatch_workflow":
            return self._dispatch_plan(params)
        return self._rerun_plan(params)

    def _dispatch_plan(self, params: Mapping[str, Any]) -> Plan:
        workflow = _required(params, "workflow", "the workflow's file name or id")
        info = self.workflow(workflow)
        shown, name = _workflow_name(str(info.get("path") or workflow)), str(info.get("name"))
        if info.get("state") != "active":
            raise ProviderError(
                f"workflow {shown} is {info.get('state')}: GitHub refuses to dispatch a disabled "
                f"workflow (enable it with `gh workflow enable {shown} --repo {self.opts.repo}`)"
            )
        ref = self._ref(params)
        parsed = self._file(info, ref)
        given = {k: v for k, v in params.items() if k not in OWN_PARAMS}
        inputs = check_inputs(given, parsed.inputs, shown)
        wid, repo = int(info["id"]), self.opts.repo
        dispatch = f"/repos/{repo}/actions/workflows/{wid}/dispatches"
        body: dict[str, Any] = {"ref": ref, "inputs": inputs}
        if self.opts.run_details:
            body["return_run_details"] = True
        fields = "".join(f" -f {shlex.quote(f'{k}={v}')}" for k, v in inputs.items())
        with_inputs = ", ".join(f"{k}={v}" for k, v in inputs.items()) or "no inputs"
        return Plan(
            provider=self.name,
            action="dispatch_workflow",
            target=shown,
            title=f"Run {name} ({shown}) on {ref} of {repo}",
            calls=[
                Call("POST", self.api.url(dispatch), body),
                Call("GET", self.api.url(f"/repos/{repo}/actions/workflows/{wid}/runs")),
                Call("GET", self.api.url(f"/repos/{repo}/actions/runs/{{run_id}}")),
            ],
            changes=[f"a new run of {name} on {ref} with {with_inputs}"]
            + [f"job {job}" for job in parsed.jobs],
            cli=f"gh workflow run {shlex.quote(shown)} --repo {repo} --ref {shlex.quote(ref)}"
            + fields,
            cancellable=True,
            timeout_seconds=self.opts.run_timeout_seconds,
            verify=f"follow the run every {self.opts.poll_seconds:g} s until it completes; "
            "it must conclude success",
            data={"kind": "dispatch", "workflow_id": wid, "workflow": shown, "ref": ref}
            | {"post": dispatch, "body": body},
        )

    def _rerun_plan(self, params: Mapping[str, Any]) -> Plan:
        repo = self.opts.repo
        if params.get("run_id"):
            text = str(params["run_id"]).strip()
            if not text.isdigit():
                raise ProviderError(f"run_id must be a run's number id, not {text!r}")
            run = self.runs.get(int(text))
            if run.status != "completed":
                raise ProviderError(
                    f"{run.label} is still {run.status}: GitHub re-runs only a finished run"
                )
            shown = str(params.get("workflow") or f"the workflow of {run.label}")
        else:
            workflow = _required(params, "workflow", "the workflow's file name or id")
            info = self.workflow(workflow)
            shown = _workflow_name(str(info.get("path") or workflow))
            query: dict[str, Any] = {"status": "success", "per_page": 1}
            if params.get("branch"):
                query["branch"] = str(params["branch"])
            on = f" on {params['branch']}" if params.get("branch") else ""
            found = self.runs.listed(int(info["id"]), f"list the runs of {shown}", **query)
            if not found:
                raise ProviderError(f"{shown} has no successful run{on} to re-run")
            run = found[0]
        post = f"/repos/{repo}/actions/runs/{run.id}/rerun"
        return Plan(
            provider=self.name,
            action="rerun_workflow",
            target=str(run.id),
            title=f"Re-run {run.label} of {shown} ({run.branch} {run.sha[:7]}) in {repo}",
            calls=[
                Call("POST", self.api.url(post), None),
                Call("GET", self.api.url(f"/repos/{repo}/actions/runs/{run.id}")),
            ],
            changes=[
                f"{run.label} of {shown} runs again as attempt {run.attempt + 1}: "
                f"{run.title or run.sha[:7]} on {run.branch}",
                f"was: {run.html_url}",
            ],
            cli=f"gh run rerun {run.id} --repo {repo}",
            cancellable=True,
            timeout_seconds=self.opts.run_timeout_seconds,
            verify=f"follow the run every {self.opts.poll_seconds:g} s until its new attempt "
            "completes; it must conclude success",
            data={"kind": "rerun", "run_id": run.id, "attempt": run.attempt, "post": post}
            | {"workflow": shown, "html_url": run.html_url},
        )

    def execute(self, plan: Plan, report: Report) -> Executed:
        d = plan.data
        if d["kind"] == "rerun":
            report.log(f"POST {self.api.url(d['post'])}")
            try:
                self.api.request("POST", d["post"], what=f"re-run run {d['run_id']}", report=report)
            except ApiError as error:
                if error.status != 403:
                    raise
                # Not the token: a run still going, too old (30 days) or re-run 50 times.
                raise ProviderError(
                    f"GitHub refused to re-run run {d['run_id']} (403): {error.message}"
                ) from None
            report.log(f"re-run requested: {d['html_url']}")
            return Executed(
                f"re-run requested: {d['html_url']}",
                {"run_id": d["run_id"], "html_url": d["html_url"]},
            )
        what = f"dispatch {d['workflow']} on {d['ref']}"
        try:
            known = {
                run.id
                for run in self.runs.listed(
                    d["workflow_id"],
                    f"list the runs of {d['workflow']}",
                    report,
                    event="workflow_dispatch",
                    branch=d["ref"],
                )
            }
            report.log(f"POST {self.api.url(d['post'])}")
            answer = self.api.request("POST", d["post"], json=d["body"], what=what, report=report)
        except ApiError as error:
            if error.status != 404:
                raise
            raise ProviderError(
                f"{what}: workflow {d['workflow']} is gone from {self.opts.repo} (404): deleted "
                "or renamed since the plan, or not visible to this token"
            ) from None
        run_id = answer.get("workflow_run_id") if isinstance(answer, dict) else None
        try:
            if isinstance(run_id, int):
                run = self.runs.get(run_id, report)
            else:
                seconds = self.opts.appear_seconds
                run = self.runs.find_new(d["workflow_id"], d["ref"], known, report, seconds)
        except ActionCancelled:
            cancelled = self._cancel_new(d, known)
            raise ActionCancelled(f"cancelled by the responder; {cancelled}") from None
        report.log(f"{run.label} of {d['workflow']}: {run.html_url}")
        summary = f"dispatched {d['workflow']} on {d['ref']}: {run.label} {run.html_url}"
        return Executed(summary, {"run_id": run.id, "html_url": run.html_url})

    def verify(self, plan: Plan, executed: Executed, report: Report) -> Verified:
        run = Run.stub(int(executed.data["run_id"]), str(executed.data.get("html_url") or ""))
        after = int(plan.data.get("attempt") or 0)
        return self.runs.follow(run, after, report, plan.timeout_seconds)

    # -- helpers -----------------------------------------------------------------------------

    def _cancel_new(self, d: Mapping[str, Any], known: set[int]) -> str:
        """The responder cancelled before the dispatched run was found: find it once, and
        cancel it, so nothing keeps running that nobody follows."""
        try:
            found = self.runs.listed(
                d["workflow_id"],
                "find the dispatched run",
                None,
                event="workflow_dispatch",
                branch=d["ref"],
            )
        except ProviderError as error:
            return f"the dispatched run could not be found to cancel it: {error}"
        new = [run for run in found if run.id not in known]
        return self.runs.cancel(new[0]) if new else "the dispatched run had not shown up"

    def _file(self, info: Mapping[str, Any], ref: str) -> Any:
        path = str(info.get("path") or "")
        shown = _workflow_name(path)
        body = self._get(
            f"/repos/{self.opts.repo}/contents/{path}", f"read {path} at {ref}", ref=ref
        )
        return read_workflow(decode_contents(body, path), shown)

    def _ref(self, params: Mapping[str, Any]) -> str:
        ref = params.get("ref") or self.opts.ref
        if ref and _placeholder(ref):
            raise ProviderError(f"ref is still a placeholder ({ref}); fill in a branch or tag")
        return str(ref) if ref else self.default_branch()

    def _get(self, path: str, what: str, report: Report | None = None, **query: Any) -> Any:
        params = {k: str(v) for k, v in query.items()}
        return self.api.request("GET", path, what=what, params=params, report=report)


def _placeholder(value: Any) -> bool:
    text = str(value).strip()
    return text.startswith(("[", "<")) and text.endswith(("]", ">"))


def _required(params: Mapping[str, Any], key: str, what: str) -> str:
    value = str(params.get(key) or "").strip()
    if not value:
        raise ProviderError(f"this action needs {key}: {what}")
    if _placeholder(value):
        raise ProviderError(f"{key} is still a placeholder ({value}); fill in {what}")
    return value


def _workflow_name(path: str) -> str:
    """rollback.yml from .github/workflows/rollback.yml (what gh and the runbooks call it)."""
    return path.rstrip("/").rsplit("/", 1)[-1]
