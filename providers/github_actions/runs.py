"""Workflow runs: finding the one a dispatch started, following it to its conclusion, and
cancelling it when the responder cancels the action.

A dispatch answers 204 without the run (unless `return_run_details` got it a 200 with its
id), so the new run is the first of the workflow's dispatch runs on the ref that was not there
before. Following polls GET runs/{id} every `poll_seconds` (gh run watch's 3 s), slower when
the rate-limit budget is spent (until `x-ratelimit-reset`), and reads the jobs for progress.
A re-run keeps its id and counts up `run_attempt`, so until the attempt moves the run shown is
the old one, and is not yet ours.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cockpit.core.actions import ActionCancelled, ActionTimedOut, Report, Verified
from cockpit.core.errors import ProviderError
from providers.api import ApiClient
from providers.github_actions.limits import budget_wait

STAGES = {"requested": 0.55, "pending": 0.55, "waiting": 0.6, "queued": 0.6, "in_progress": 0.7}
"""Where a run's status puts the progress bar (the runner shows 0.5 once execute is done)."""
GOOD = ("success",)


@dataclass(frozen=True)
class Run:
    """The fields of a workflow run a plan and a follower read."""

    id: int
    number: int
    attempt: int
    status: str
    conclusion: str | None
    branch: str
    sha: str
    title: str
    html_url: str

    @classmethod
    def parse(cls, body: Any) -> Run:
        if not isinstance(body, dict) or not isinstance(body.get("id"), int):
            raise ProviderError(f"a workflow run in GitHub's answer has no id: {str(body)[:80]}")
        return cls(
            id=body["id"],
            number=int(body.get("run_number") or 0),
            attempt=int(body.get("run_attempt") or 1),
            status=str(body.get("status") or "queued"),
            conclusion=body.get("conclusion"),
            branch=str(body.get("head_branch") or ""),
            sha=str(body.get("head_sha") or ""),
            title=str(body.get("display_title") or body.get("name") or ""),
            html_url=str(body.get("html_url") or ""),
        )

    @classmethod
    def stub(cls, run_id: int, html_url: str) -> Run:
        """A run known by its id only, until the first look at it."""
        return cls(run_id, 0, 1, "requested", None, "", "", "", html_url)

    @property
    def label(self) -> str:
        """ "run #12 (attempt 2)"."""
        again = f" (attempt {self.attempt})" if self.attempt > 1 else ""
        return f"run #{self.number or self.id}{again}"


class Runs:
    """The runs endpoints of one repository, through the provider's client."""

    def __init__(
        self,
        api: ApiClient,
        repo: str,
        poll_seconds: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.api = api
        self.base = f"/repos/{repo}/actions"
        self.poll_seconds = poll_seconds
        self.clock = clock
        """Wall-clock epoch seconds, what x-ratelimit-reset is compared with."""

    def get(self, run_id: int, report: Report | None = None) -> Run:
        path = f"{self.base}/runs/{run_id}"
        what = f"read workflow run {run_id}"
        params = {"exclude_pull_requests": "true"}
        return Run.parse(self.api.request("GET", path, what=what, params=params, report=report))

    def listed(
        self, workflow_id: int, what: str, report: Report | None = None, **query: Any
    ) -> list[Run]:
        """The workflow's runs, newest first; `query`: branch, event, status, per_page."""
        params = {"exclude_pull_requests": "true", "per_page": "20"} | {
            key: str(value) for key, value in query.items()
        }
        path = f"{self.base}/workflows/{workflow_id}/runs"
        body = self.api.request("GET", path, what=what, params=params, report=report)
        items = body.get("workflow_runs") if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise ProviderError(f"{what}: the answer has no workflow_runs list")
        return [Run.parse(item) for item in items]

    def jobs(self, run: Run, report: Report | None) -> list[dict[str, Any]]:
        path = f"{self.base}/runs/{run.id}/jobs"
        what = f"list the jobs of {run.label}"
        body = self.api.request("GET", path, what=what, params={"per_page": "100"}, report=report)
        items = body.get("jobs") if isinstance(body, dict) else None
        return [job for job in items or [] if isinstance(job, dict)]

    def find_new(
        self, workflow_id: int, ref: str, known: set[int], report: Report, seconds: float
    ) -> Run:
        """The dispatch's run: the newest dispatch run on `ref` not in `known`."""
        limit = report.monotonic() + seconds
        what = f"find the run the dispatch started on {ref}"
        while True:
            found = [
                run
                for run in self.listed(
                    workflow_id, what, report, event="workflow_dispatch", branch=ref
                )
                if run.id not in known
            ]
            if found:
                return found[0]
            if report.monotonic() >= limit:
                raise ActionTimedOut(
                    f"the dispatch was accepted, but no new run showed up within {seconds:g} s; "
                    "look in the repository's Actions tab"
                )
            report.log("the dispatched run has not shown up yet")
            report.sleep(self.poll_seconds)

    def interval(self) -> float:
        """The next poll's wait: the poll interval, or until the spent budget resets."""
        spent = budget_wait(self.api.last_headers, self.clock())
        return self.poll_seconds if spent is None else max(self.poll_seconds, spent)

    def follow(self, run: Run, after_attempt: int, report: Report, timeout: float) -> Verified:
        """Poll the run until it completes; cancel it on GitHub if the responder cancels."""
        try:
            return self._follow(run, after_attempt, report, timeout)
        except ActionCancelled:
            raise ActionCancelled(f"cancelled by the responder; {self.cancel(run)}") from None

    def _follow(self, run: Run, after_attempt: int, report: Report, timeout: float) -> Verified:
        limit = None if report.deadline is not None else report.monotonic() + timeout
        seen = ""
        while True:
            run = self.get(run.id, report)
            status = run.status if run.attempt > after_attempt else "requested"
            jobs = self.jobs(run, report) if status in ("in_progress", "completed") else []
            done = sum(1 for job in jobs if job.get("status") == "completed")
            shown = f"{status}, {done} of {len(jobs)} jobs done" if jobs else status
            if shown != seen:
                seen = shown
                report.progress(STAGES.get(status, 0.9), f"{run.label}: {shown}")
            if status == "completed":
                return _verdict(run, jobs)
            if limit is not None and report.monotonic() >= limit:
                raise ActionTimedOut(
                    f"{run.label} was still {status} after {timeout:g} s; it goes on at "
                    f"{run.html_url}"
                )
            wait = self.interval()
            if wait > self.poll_seconds:
                report.log(f"GitHub's rate-limit budget is spent; next look in {wait:.0f} s")
            report.sleep(wait)

    def cancel(self, run: Run) -> str:
        """POST runs/{id}/cancel, without the report (it is cancelled: it would refuse)."""
        path = f"{self.base}/runs/{run.id}/cancel"
        try:
            self.api.request("POST", path, what=f"cancel {run.label}", ok=(202,))
        except ProviderError as error:
            return f"could not cancel {run.label} on GitHub: {error}; {run.html_url}"
        return f"asked GitHub to cancel {run.label} (202): {run.html_url}"


def _verdict(run: Run, jobs: list[dict[str, Any]]) -> Verified:
    ok = run.conclusion in GOOD
    failed = [
        str(job.get("name"))
        for job in jobs
        if job.get("conclusion") not in ("success", "skipped", None)
    ]
    why = f" (failed jobs: {', '.join(failed)})" if failed and not ok else ""
    return Verified(ok, f"{run.label} concluded {run.conclusion or 'nothing'}{why}: {run.html_url}")
