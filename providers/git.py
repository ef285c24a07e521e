"""Roll back with git itself: revert commits, restore a path from an earlier ref, return to a tag.

The runbooks do it on a clone (`git revert abc1234 && git push origin main`, then the pipeline
deploys; `git checkout HEAD~1 -- config/`; the last `git tag -l | grep stable`). Each action
adds commits and pushes them, never rewriting history, so its undo is a revert of what it made.
Preflight fetches, refuses a dirty clone or one behind or ahead of the remote, and tries the
change in a throwaway worktree: a conflict is refused there, and the tree it gives is what verify
expects at the remote. Every git call has a timeout, no prompts and its own session (no terminal
to ask a password on), run by providers.subprocesses: a timeout, or the responder's cancel while
an action runs, kills the whole group, ssh and remote helpers included. A push that fails resets
the local branch, so no commit is left unpushed without a word.
"""

from __future__ import annotations

import os
import shlex
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from cockpit.core.actions import (
    ActionCancelled,
    ActionTimedOut,
    Call,
    Executed,
    Plan,
    Report,
    Verified,
)
from cockpit.core.errors import ProviderError, ProviderTimeout
from providers import subprocesses
from providers.base import ActionProvider, Capability, Param, Params, ProviderOptions

FALLBACK_IDENTITY = ("Rollback Cockpit", "rollback-cockpit@localhost")
"""Who commits when neither the options nor git's config name anyone (a bare jump host)."""

Steps = tuple[str, list[str], list[list[str]]]
"""What an action's preflight builds: its title, what changes, the git commands it runs."""

_WHERE: Params = {
    "remote": Param("the remote to push to (default: the options' remote)"),
    "branch": Param("the branch to change (default: the options' branch)"),
}
ACTION_PARAMS: dict[str, Params] = {
    "revert": _WHERE
    | {
        "commit": Param("the commit to revert: a sha", required=True, instead=("commits",)),
        "commits": Param("a range to revert: A..B"),
    },
    "restore_path": _WHERE
    | {
        "path": Param("the path to restore, e.g. config/", required=True),
        "ref": Param("the ref it is restored from (default: HEAD~1)"),
    },
    "checkout_tag": _WHERE
    | {
        "tag": Param("the tag to return to", required=True, instead=("tag_filter",)),
        "tag_filter": Param("text in the tag's name: the newest such tag is used"),
    },
}
PARAMS = {action: set(params) for action, params in ACTION_PARAMS.items()}


class GitOptions(ProviderOptions):
    """The working clone (its top folder) and where its pushes go."""

    repo: Path
    remote: str = "origin"
    branch: str = "main"
    timeout_seconds: float = Field(default=30.0, gt=0)
    """For each git command, not the whole action."""
    push: bool = True
    author_name: str | None = None
    author_email: str | None = None


class GitProvider(ActionProvider):
    """Revert, restore a path or return to a tag on a clone's branch, then push."""

    name = "git"
    title = "Git (revert, restore, stable tag)"
    capabilities: ClassVar[Capability] = Capability.ROLLBACK
    Options = GitOptions
    actions: ClassVar[dict[str, str]] = {
        "revert": "revert a commit (commit: sha) or a range (commits: A..B) and push the revert",
        "restore_path": "restore a path (path: config/) as it was at a ref (ref: HEAD~1), push",
        "checkout_tag": "a new commit with the content of a tag (tag, or newest tag_filter), push",
    }
    action_params: ClassVar[dict[str, Params]] = ACTION_PARAMS

    def __init__(self, options: GitOptions) -> None:
        super().__init__(options)
        self.opts = options

    def health(self) -> str:
        self._clone()
        head = self._git("rev-parse", "--short=8", "HEAD")
        there = self._git("ls-remote", self.opts.remote, f"refs/heads/{self.opts.branch}")[:8]
        return f"{self._git('--version')}; here {head}, {self.opts.remote} {there or 'no branch'}"

    def choices(self, action: str, param: str, params: Mapping[str, Any]) -> list[tuple[str, str]]:
        if param in ("commit", "ref"):
            return [(sha, f"{sha[:10]} {subject}") for sha, subject in self.recent_commits()]
        if param == "tag":
            return [(tag, tag) for tag in self.stable_tags(str(params.get("tag_filter", "")))]
        return []

    def stable_tags(self, pattern: str = "stable") -> list[str]:
        """Tags whose name contains `pattern`, newest first (`git tag -l | grep stable`)."""
        names = self._git("tag", "--list", "--sort=-creatordate").splitlines()
        return [name for name in names if pattern in name]

    def recent_commits(self, count: int = 10) -> list[tuple[str, str]]:
        """(sha, subject) of the branch's last commits, newest first (`git log --oneline`)."""
        lines = self._git("log", f"--max-count={count}", "--format=%H %s").splitlines()
        return [(sha, subject) for sha, _, subject in (line.partition(" ") for line in lines)]

    def preflight(self, action: str, params: Mapping[str, Any]) -> Plan:
        self.require(action)
        remote = str(params.get("remote") or self.opts.remote)
        branch = str(params.get("branch") or self.opts.branch)
        head = self._ready(remote, branch)
        where = {"remote": remote, "branch": branch}
        build = {"revert": self._revert, "restore_path": self._restore, "checkout_tag": self._tag}
        title, changes, steps = build[action](params, branch, head)
        tree, stat = self._try(head, steps)
        lines = [shlex.join(["git", *step]) for step in steps]
        lines += [shlex.join(["git", "push", remote, branch])] if self.opts.push else []
        ignored = sorted(set(params) - PARAMS[action])
        warnings = [f"ignored (not a git parameter): {', '.join(ignored)}"] if ignored else []
        if (who := self._identity()) == FALLBACK_IDENTITY:
            warnings.append(f"no git identity here; commits as {who[0]} <{who[1]}>")
        if not self.opts.push:
            warnings.append("push: false, the commit stays on the local branch")
        return Plan(
            provider=self.name,
            action=action,
            target=branch,
            title=f"{title} on {branch}" + (f", push to {remote}" if self.opts.push else ""),
            calls=[Call("git", line) for line in lines],
            changes=changes + stat,
            cli=" && ".join([f"cd {shlex.quote(str(self.opts.repo))}", *lines]),
            destructive=True,
            timeout_seconds=max(120.0, self.opts.timeout_seconds * (len(lines) + 3)),
            verify=f"git ls-remote {remote} {branch} is the new commit, with the tree tried now",
            # Refined by execute to the exact commits it made (base..new head).
            undo={"action": "revert", "params": {**where, "commits": f"{head}..{branch}"}},
            data={"base": head, **where, "steps": steps, "tree": tree},
            warnings=warnings,
        )

    def execute(self, plan: Plan, report: Report) -> Executed:
        base, remote, branch = plan.data["base"], plan.data["remote"], plan.data["branch"]
        report.check()
        now = self._git("rev-parse", "HEAD", report=report)
        if now != base or self._git("status", "--porcelain", report=report):
            raise ProviderError(
                f"the clone changed since the plan ({branch} was {base[:8]}, is {now[:8]}"
                f"{', tree not clean' if now == base else ''}); plan again"
            )
        name, email = self._identity()
        who = ["-c", f"user.name={name}", "-c", f"user.email={email}"]
        try:
            for step in plan.data["steps"]:
                report.check()
                self._logged(step, report, who)
            new = self._git("rev-parse", "HEAD", report=report)
            report.check()
        except ProviderError as error:  # cancelled and timed out too: nothing stays half-done
            error.args = (f"{error}; {self._reset(base, branch, report)}, nothing was pushed",)
            raise
        made = self._git("rev-list", "--reverse", f"{base}..{new}").split()
        if plan.undo is not None:
            plan.undo["params"]["commits"] = f"{base}..{new}"
        data = {"commit": new, "base": base, "commits": made, "pushed": self.opts.push}
        if not self.opts.push:
            return Executed(f"{branch} at {new[:8]} (not pushed: push is off)", data)
        try:
            self._logged(["push", remote, branch], report)
        except (ProviderTimeout, ActionCancelled, ActionTimedOut) as error:  # stopped midway
            error.args = (
                f"{error}; {new[:8]} is committed on the local {branch} and may not have reached "
                f"{remote}: check with git ls-remote {remote} {branch}",
            )
            raise
        except ProviderError as error:
            moved = "the remote moved since the plan; " if "rejected" in str(error) else ""
            error.args = (
                f"push to {remote} {branch} failed: {moved}{error}; "
                f"{self._reset(base, branch, report)}, nothing was pushed; plan again",
            )
            raise
        return Executed(f"{branch} at {new[:8]}, pushed to {remote}", data)

    def verify(self, plan: Plan, executed: Executed, report: Report) -> Verified:
        new, remote, branch = executed.data["commit"], plan.data["remote"], plan.data["branch"]
        where = f"local {branch}"
        if executed.data["pushed"]:
            where = f"{remote} {branch}"
            line = self._git("ls-remote", remote, f"refs/heads/{branch}", report=report)
            there = line.split()[0] if line else ""
            if there != new:
                return Verified(False, f"{where} is at {there[:8] or 'nothing'}, not {new[:8]}")
        if self._git("rev-parse", f"{new}^{{tree}}") != plan.data["tree"]:
            return Verified(False, f"{where} at {new[:8]} has not the content tried in preflight")
        return Verified(True, f"{where} is at {new[:8]}, with the content tried in preflight")

    # Preflight: the clone, then each action's steps.

    def _clone(self) -> None:
        repo = self.opts.repo
        if not repo.is_dir():
            raise ProviderError(f"no repository at {repo}")
        top = self._run(["rev-parse", "--show-toplevel"], check=False)
        if top.returncode != 0:
            raise ProviderError(f"{repo} is not a git clone: {_first(top.stderr)}")
        if Path(top.stdout.strip()).resolve() != repo.resolve():
            raise ProviderError(f"repo must be the clone's top folder: {top.stdout.strip()}")

    def _ready(self, remote: str, branch: str) -> str:
        """HEAD, once the clone is on `branch`, clean, and level with `remote` after a fetch."""
        self._clone()
        on = self._run(["symbolic-ref", "--quiet", "--short", "HEAD"], check=False).stdout.strip()
        if on != branch:
            raise ProviderError(
                f"{branch} is not checked out in {self.opts.repo} "
                f"(HEAD is on {on or 'a detached commit'}); run git switch {branch}"
            )
        dirty = self._run(["status", "--porcelain"]).stdout.splitlines()
        if dirty:
            raise ProviderError(
                f"the working tree of {self.opts.repo} is not clean; commit, stash or discard: "
                + ", ".join(line[3:] for line in dirty[:10])
                + (", …" if len(dirty) > 10 else "")
            )
        self._git("fetch", "--quiet", remote, f"refs/heads/{branch}")
        head, theirs = self._git("rev-parse", "HEAD", "FETCH_HEAD").split()
        behind = int(self._git("rev-list", "--count", f"{head}..{theirs}"))
        ahead = int(self._git("rev-list", "--count", f"{theirs}..{head}"))
        if behind:
            raise ProviderError(
                f"{branch} is behind {remote} by {behind} commit(s) (someone pushed since): "
                f"run git pull --ff-only {remote} {branch} and plan again"
            )
        if ahead:
            raise ProviderError(
                f"{branch} has {ahead} commit(s) not on {remote}; they would be pushed with the "
                "rollback: push or drop them first"
            )
        return head

    def _revert(self, params: Mapping[str, Any], branch: str, head: str) -> Steps:
        spec = str(params.get("commits") or params.get("commit") or "")
        if not spec:
            raise ProviderError("revert needs commit: <sha> or commits: <A>..<B>")
        if ".." in spec:
            start, _, end = spec.partition("..")
            target = f"{self._commit(start)}..{self._commit(end or 'HEAD')}"
            tip = target.partition("..")[2]
            shas = self._git("rev-list", target).split()
            if not shas:
                raise ProviderError(f"nothing to revert: {spec} holds no commit")
            merges = self._git("rev-list", "--merges", target).split()
            if merges:
                raise ProviderError(
                    f"{spec} holds merge commit(s) {', '.join(m[:8] for m in merges)}: "
                    "revert a merge on its own (commit: <sha>), which reverts it with -m 1"
                )
        else:
            target = tip = self._commit(spec)
            shas = [tip]
        if self._run(["merge-base", "--is-ancestor", tip, head], check=False).returncode != 0:
            raise ProviderError(f"{spec} is not on {branch} (not an ancestor of {head[:8]})")
        mainline: list[str] = []
        changes = [f"revert {line}" for line in self._oneline(shas)]
        if len(self._git("rev-list", "--parents", "--max-count=1", tip).split()) > 2:
            mainline = ["-m", "1"]
            changes.append("a merge: reverted against its first parent (-m 1), undoing the merge")
        steps = [["revert", "--no-edit", *mainline, target]]
        return f"Revert {spec}", changes, steps

    def _restore(self, params: Mapping[str, Any], branch: str, head: str) -> Steps:
        path, ref = str(params.get("path") or ""), str(params.get("ref") or "HEAD~1")
        if not path:
            raise ProviderError("restore_path needs path: (e.g. config/) and ref: (default HEAD~1)")
        sha = self._commit(ref)
        steps = [
            ["restore", f"--source={sha}", "--staged", "--worktree", "--", path],
            ["commit", "--quiet", "-m", f"Restore {path} from {ref} ({sha[:8]})"],
        ]
        changes = [f"{path}: as at {ref}, {self._oneline([sha])[0]}"]
        return f"Restore {path} from {ref}", changes, steps

    def _tag(self, params: Mapping[str, Any], branch: str, head: str) -> Steps:
        tag, pattern = str(params.get("tag") or ""), str(params.get("tag_filter") or "")
        if not tag and not pattern:
            raise ProviderError("checkout_tag needs tag: <name> or tag_filter: <text in the name>")
        if not tag:
            found = self.stable_tags(pattern)
            older = [name for name in found if self._commit(f"refs/tags/{name}") != head]
            if not older:
                raise ProviderError(
                    f"no tag containing {pattern!r} other than at HEAD "
                    f"(matching: {', '.join(found) or 'none'})"
                )
            tag = older[0]
        sha = self._commit(f"refs/tags/{tag}", what="tag")
        since = int(self._git("rev-list", "--count", f"{sha}..{head}"))
        steps = [
            ["restore", f"--source={sha}", "--staged", "--worktree", "--", ":/"],
            ["commit", "--quiet", "-m", f"Roll back to {tag} ({sha[:8]})"],
        ]
        changes = [
            f"{branch}'s content := {tag}, {self._oneline([sha])[0]}",
            f"{since} commit(s) since {tag} stay in the history; their changes are undone",
        ]
        return f"Roll back to {tag}", changes, steps

    def _try(self, head: str, steps: list[list[str]]) -> tuple[str, list[str]]:
        """Run the change (not the commit) in a throwaway worktree: the tree it gives and its
        diff --stat. A conflict, or no change at all, is refused; the clone is never touched."""
        change = steps[0]
        if change[0] == "revert":
            change = ["revert", "--no-commit", *change[2:]]
        with tempfile.TemporaryDirectory(prefix="cockpit-git-") as scratch:
            where = Path(scratch) / "try"
            self._git("worktree", "add", "--quiet", "--detach", str(where), head)
            try:
                tried = self._run(change, cwd=where, check=False)
                if tried.returncode != 0:
                    conflicts = self._git("diff", "--name-only", "--diff-filter=U", cwd=where)
                    if conflicts:
                        raise ProviderError(
                            f"{shlex.join(['git', *steps[0]])} would conflict in: "
                            f"{', '.join(conflicts.splitlines())}; nothing was changed"
                        )
                    raise ProviderError(f"{shlex.join(['git', *change])}: {_first(tried.stderr)}")
                stat = self._git("diff", "--cached", "--stat=100", "HEAD", cwd=where).splitlines()
                if not stat:
                    raise ProviderError(f"nothing would change: {shlex.join(['git', *change])}")
                tree = self._git("write-tree", cwd=where)
            finally:
                shutil.rmtree(where, ignore_errors=True)
                self._run(["worktree", "prune"], check=False)
        shown = stat if len(stat) <= 21 else [*stat[:20], "…", stat[-1]]
        return tree, [line.strip() for line in shown]

    def _commit(self, ref: str, *, what: str = "commit") -> str:
        found = self._run(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], check=False)
        if found.returncode != 0:
            raise ProviderError(f"no {what} {ref!r} in {self.opts.repo}")
        return found.stdout.strip()

    def _oneline(self, shas: list[str]) -> list[str]:
        return [self._git("log", "-1", "--format=%h %s", sha) for sha in shas]

    def _identity(self) -> tuple[str, str]:
        name = self.opts.author_name or self._run(["config", "user.name"], check=False).stdout
        email = self.opts.author_email or self._run(["config", "user.email"], check=False).stdout
        if name.strip() and email.strip():
            return name.strip(), email.strip()
        return FALLBACK_IDENTITY

    # Execute: logged commands, and the way back when one fails.

    def _logged(
        self, args: list[str], report: Report, who: Iterable[str] = (), cancellable: bool = True
    ) -> None:
        report.log(f"$ {shlex.join(['git', *args])}")
        done = self._run(args, who=who, report=report if cancellable else None)
        for line in (done.stdout + done.stderr).strip().splitlines()[:5]:
            report.log(f"  {line}")

    def _reset(self, base: str, branch: str, report: Report) -> str:
        self._run(["revert", "--abort"], check=False)
        try:
            # Not cancellable: it runs after a cancel too, to leave nothing half-done.
            self._logged(["reset", "--hard", "--quiet", base], report, cancellable=False)
        except ProviderError as error:
            return f"and {branch} could NOT be reset to {base[:8]} ({error}): fix the clone by hand"
        return f"{branch} was reset to {base[:8]}"

    # Every git call.

    def _git(self, *args: str, cwd: Path | None = None, report: Report | None = None) -> str:
        return self._run(list(args), cwd=cwd, report=report).stdout.strip()

    def _run(
        self,
        args: list[str],
        cwd: Path | None = None,
        check: bool = True,
        who: Iterable[str] = (),
        report: Report | None = None,
    ) -> subprocesses.Finished:
        """Run git with a timeout; ProviderTimeout or ProviderError (git's words) on failure.
        With a report, the responder's cancel stops it (ActionCancelled), as the deadline does.
        A timeout or a cancel kills the whole session, ssh and remote helpers included."""
        line = shlex.join(["git", *args])
        env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_EDITOR": "true", "LC_ALL": "C"}
        done = subprocesses.run(
            ["git", *who, *args],
            line,
            timeout=self.opts.timeout_seconds,
            report=report,
            cwd=cwd or self.opts.repo,
            env=env,
        )
        if check and done.returncode != 0:
            raise ProviderError(f"{line} failed: {_first(done.stderr or done.stdout)}")
        return done


def _first(text: str) -> str:
    return " / ".join(line.strip() for line in text.strip().splitlines()[:3]) or "no message"
