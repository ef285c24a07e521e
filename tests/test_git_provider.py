"""The git provider against real repositories: a bare remote and a working clone in tmp_path.

Every test runs real git (see contract_cases/git.py for the scratch history). HOME points into
tmp_path, so the developer's git config never leaks in.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from contract_cases.git import Scratch
from pydantic import ValidationError

from cockpit import action_runner
from cockpit.action_runner import Result, TimelineRecorder
from cockpit.core.actions import Plan, Report
from cockpit.core.errors import ProviderError, ProviderTimeout
from cockpit.core.timeline import Timeline
from providers.git import FALLBACK_IDENTITY, GitProvider


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Scratch]:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    with Scratch(tmp_path) as scratch:
        yield scratch


def run(provider: GitProvider, plan: Plan, timeline: Timeline) -> Result:
    incident = timeline.open_incident("git", "P1", "pulse-messages")
    return action_runner.run(
        provider, plan, plan.target, TimelineRecorder(timeline, incident.id), Report()
    )


def unchanged(repo: Scratch, head: str) -> None:
    """The clone is where it was, clean, with no extra worktree; the remote too."""
    assert repo.git("rev-parse", "HEAD") == head == repo.remote_head()
    assert repo.git("status", "--porcelain") == ""
    assert len(repo.git("worktree", "list").splitlines()) == 1


def test_revert_of_one_commit_is_planned_committed_and_pushed(
    repo: Scratch, timeline: Timeline
) -> None:
    provider = repo.provider()
    bad, head = repo.commits["deploy"], repo.commits["config"]
    plan = provider.preflight("revert", {"commit": bad[:7], "version_url": "https://x/v"})
    assert [call.url for call in plan.calls] == [
        f"git revert --no-edit {bad}",
        "git push origin main",
    ]
    assert plan.cli == f"cd {repo.work} && git revert --no-edit {bad} && git push origin main"
    assert plan.target == "main" and plan.destructive
    assert any("revert " + bad[:7] in change and "deploy" in change for change in plan.changes)
    assert any("app.txt" in change for change in plan.changes)
    assert any("version_url" in warning for warning in plan.warnings)
    assert any("no git identity" in warning for warning in plan.warnings)
    unchanged(repo, head)  # preflight changed nothing

    result = run(provider, plan, timeline)

    assert result.outcome == "succeeded" and result.verified, result.summary
    new = repo.remote_head()
    assert new != head and repo.git("rev-parse", "HEAD") == new
    assert repo.remote_file("app.txt") == "v2\n"
    assert repo.git("log", "-1", "--format=%s%n%b", new).startswith('Revert "deploy"')
    assert repo.git("log", "-1", "--format=%an <%ae>", new) == "{} <{}>".format(*FALLBACK_IDENTITY)
    assert plan.undo == {
        "action": "revert",
        "params": {"remote": "origin", "branch": "main", "commits": f"{head}..{new}"},
    }
    assert f"$ git revert --no-edit {bad}" in result.transcript


def test_the_recorded_undo_puts_the_content_back(repo: Scratch, timeline: Timeline) -> None:
    provider = repo.provider()
    plan = provider.preflight("restore_path", {"path": "config/", "ref": "HEAD~1"})
    assert run(provider, plan, timeline).outcome == "succeeded"
    assert plan.undo is not None
    undo = provider.preflight(plan.undo["action"], plan.undo["params"])
    assert run(provider, undo, timeline).outcome == "succeeded"
    assert repo.remote_file("config/settings.yaml") == "timeout: 5\n"
    assert repo.remote_file("config/extra.yaml") == "x: 1\n"


def test_a_range_is_reverted_commit_by_commit(repo: Scratch, timeline: Timeline) -> None:
    provider = repo.provider(author_name="Ops", author_email="ops@example.com")
    start, head = repo.commits["feature"], repo.commits["config"]
    plan = provider.preflight("revert", {"commits": f"{start[:8]}..HEAD"})
    assert plan.calls[0].url == f"git revert --no-edit {start}..{head}"
    assert len([c for c in plan.changes if c.startswith("revert ")]) == 2

    result = run(provider, plan, timeline)

    assert result.outcome == "succeeded", result.summary
    assert repo.remote_file("app.txt") == "v2\n"
    assert repo.remote_file("config/settings.yaml") == "timeout: 30\n"
    assert repo.remote_file("config/extra.yaml") is None
    made = repo.git("log", "--format=%an %s", f"{head}..origin/main").splitlines()
    assert made == ['Ops Revert "deploy"', 'Ops Revert "config"']


def test_a_merge_commit_is_reverted_against_its_first_parent(
    repo: Scratch, timeline: Timeline
) -> None:
    repo.git("checkout", "--quiet", "-b", "side")
    repo.commit("side feature", {"side.txt": "new\n"})
    repo.git("checkout", "--quiet", "main")
    repo.git("merge", "--quiet", "--no-ff", "-m", "merge side", "side")
    repo.git("push", "--quiet", "origin", "main")
    merge = repo.git("rev-parse", "HEAD")
    provider = repo.provider()

    plan = provider.preflight("revert", {"commit": merge})

    assert plan.calls[0].url == f"git revert --no-edit -m 1 {merge}"
    assert any("-m 1" in change for change in plan.changes)
    assert run(provider, plan, timeline).outcome == "succeeded"
    assert repo.remote_file("side.txt") is None
    assert repo.remote_file("app.txt") == "v3 broken\n"


def test_a_range_holding_a_merge_is_refused(repo: Scratch) -> None:
    repo.git("checkout", "--quiet", "-b", "side")
    repo.commit("side feature", {"side.txt": "new\n"})
    repo.git("checkout", "--quiet", "main")
    repo.git("merge", "--quiet", "--no-ff", "-m", "merge side", "side")
    repo.git("push", "--quiet", "origin", "main")
    with pytest.raises(ProviderError, match="merge commit"):
        repo.provider().preflight("revert", {"commits": "HEAD~1..HEAD"})


def test_a_dirty_tree_is_refused_naming_the_files(repo: Scratch) -> None:
    (repo.work / "app.txt").write_text("local edit\n")
    (repo.work / "notes.txt").write_text("scratch\n")
    with pytest.raises(ProviderError, match=r"not clean.*app\.txt.*notes\.txt"):
        repo.provider().preflight("revert", {"commit": "HEAD~1"})
    assert (repo.work / "app.txt").read_text() == "local edit\n"
    assert repo.remote_file("app.txt") == "v3 broken\n"


def test_a_clone_behind_the_remote_is_refused(repo: Scratch) -> None:
    other = repo.root / "other"
    repo.git("clone", "--quiet", str(repo.remote), str(other), cwd=repo.root)
    repo.commit("hotfix", {"hotfix.txt": "x\n"}, cwd=other)
    repo.git("push", "--quiet", "origin", "main", cwd=other)
    with pytest.raises(ProviderError, match="behind origin by 1 commit"):
        repo.provider().preflight("revert", {"commit": "HEAD~1"})


def test_local_commits_not_on_the_remote_are_refused(repo: Scratch) -> None:
    repo.commit("unpushed", {"wip.txt": "x\n"})
    with pytest.raises(ProviderError, match=r"1 commit\(s\) not on origin"):
        repo.provider().preflight("revert", {"commit": "HEAD~1"})


def test_another_branch_checked_out_is_refused(repo: Scratch) -> None:
    repo.git("checkout", "--quiet", "-b", "elsewhere")
    with pytest.raises(ProviderError, match=r"main is not checked out.*elsewhere"):
        repo.provider().preflight("revert", {"commit": "HEAD~1"})


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"commit": "deadbeef"}, "no commit 'deadbeef'"),
        ({"commits": "HEAD..HEAD"}, "nothing to revert"),
        ({}, "revert needs commit"),
    ],
)
def test_an_unknown_commit_is_refused(repo: Scratch, params: dict[str, str], message: str) -> None:
    with pytest.raises(ProviderError, match=message):
        repo.provider().preflight("revert", params)


def test_a_commit_off_the_branch_is_refused(repo: Scratch) -> None:
    repo.git("checkout", "--quiet", "-b", "side")
    elsewhere = repo.commit("side only", {"side.txt": "x\n"})
    repo.git("checkout", "--quiet", "main")
    with pytest.raises(ProviderError, match="not on main"):
        repo.provider().preflight("revert", {"commit": elsewhere})


def test_a_conflicting_revert_is_refused_in_preflight_and_leaves_the_tree_clean(
    repo: Scratch,
) -> None:
    head = repo.commits["config"]
    # "feature" wrote the app.txt line that "deploy" changed again: reverting it conflicts.
    with pytest.raises(ProviderError, match=r"would conflict in: app\.txt"):
        repo.provider().preflight("revert", {"commit": repo.commits["feature"]})
    unchanged(repo, head)
    assert not (repo.work / ".git" / "REVERT_HEAD").exists()


def test_restore_path_brings_config_back_from_head_1(repo: Scratch, timeline: Timeline) -> None:
    provider = repo.provider()
    plan = provider.preflight("restore_path", {"path": "config/", "ref": "HEAD~1"})
    deploy = repo.commits["deploy"]
    assert [call.url for call in plan.calls] == [
        f"git restore --source={deploy} --staged --worktree -- config/",
        f"git commit --quiet -m 'Restore config/ from HEAD~1 ({deploy[:8]})'",
        "git push origin main",
    ]
    assert any("config/extra.yaml" in change for change in plan.changes)

    assert run(provider, plan, timeline).outcome == "succeeded"
    assert repo.remote_file("config/settings.yaml") == "timeout: 30\n"
    assert repo.remote_file("config/extra.yaml") is None
    assert repo.remote_file("app.txt") == "v3 broken\n"  # only the path
    assert repo.git("log", "-1", "--format=%s", "origin/main").startswith("Restore config/")


def test_restore_path_refuses_when_nothing_would_change(repo: Scratch) -> None:
    head = repo.commits["config"]
    with pytest.raises(ProviderError, match="nothing would change"):
        repo.provider().preflight("restore_path", {"path": "app.txt", "ref": "HEAD~1"})
    unchanged(repo, head)


def test_checkout_tag_picks_the_newest_stable_tag_not_at_head(
    repo: Scratch, timeline: Timeline
) -> None:
    head = repo.commits["config"]
    repo.tag("v1.3-stable", head)  # newest, but at HEAD: nothing to roll back to
    repo.git("push", "--quiet", "--tags", "origin")
    provider = repo.provider()
    assert provider.stable_tags() == ["v1.3-stable", "v1.1-stable", "v1.0-stable"]
    assert provider.stable_tags("rc") == ["v1.2-rc"]

    plan = provider.preflight("checkout_tag", {"tag_filter": "stable"})

    assert plan.title.startswith("Roll back to v1.1-stable")
    assert "2 commit(s) since v1.1-stable" in " ".join(plan.changes)
    assert run(provider, plan, timeline).outcome == "succeeded"
    assert repo.remote_file("app.txt") == "v2\n"
    assert repo.remote_file("config/settings.yaml") == "timeout: 30\n"
    assert repo.remote_file("config/extra.yaml") is None
    new = repo.remote_head()
    assert repo.git("rev-parse", f"{new}^{{tree}}") == repo.git("rev-parse", "v1.1-stable^{tree}")
    assert repo.git("merge-base", "--is-ancestor", head, new) == ""  # history kept


def test_checkout_tag_refuses_an_unknown_tag(repo: Scratch) -> None:
    with pytest.raises(ProviderError, match="no tag 'refs/tags/v9-stable'"):
        repo.provider().preflight("checkout_tag", {"tag": "v9-stable"})


def test_a_rejected_push_fails_recorded_and_resets_the_local_branch(
    repo: Scratch, timeline: Timeline
) -> None:
    provider = repo.provider()
    head = repo.commits["config"]
    plan = provider.preflight("revert", {"commit": "HEAD~1"})
    other = repo.root / "other"  # someone pushes between the plan and the run
    repo.git("clone", "--quiet", str(repo.remote), str(other), cwd=repo.root)
    theirs = repo.commit("hotfix", {"hotfix.txt": "x\n"}, cwd=other)
    repo.git("push", "--quiet", "origin", "main", cwd=other)

    incident = timeline.open_incident("git", "P1", "pulse-messages")
    result = action_runner.run(
        provider, plan, "main", TimelineRecorder(timeline, incident.id), Report()
    )

    assert result.outcome == "failed" and not result.verified
    assert "the remote moved since the plan" in result.summary
    assert f"main was reset to {head[:8]}, nothing was pushed" in result.summary
    assert repo.git("rev-parse", "HEAD") == head  # no silent unpushed commit
    assert repo.git("status", "--porcelain") == ""
    assert repo.remote_head() == theirs
    kinds = [event.kind for event in timeline.events(incident.id)]
    assert kinds[-2:] == ["action.intent", "action.result"]
    assert timeline.unresolved_actions(incident.id) == []


def test_the_clone_moving_after_the_plan_is_refused(repo: Scratch) -> None:
    provider = repo.provider()
    plan = provider.preflight("revert", {"commit": "HEAD~1"})
    repo.commit("sneaked in", {"late.txt": "x\n"})
    with pytest.raises(ProviderError, match="changed since the plan"):
        provider.execute(plan, Report())
    assert repo.remote_file("app.txt") == "v3 broken\n"


def test_push_off_commits_locally_and_says_so(repo: Scratch, timeline: Timeline) -> None:
    provider = repo.provider(push=False)
    plan = provider.preflight("revert", {"commit": "HEAD~1"})
    assert "git push" not in plan.cli and any("push: false" in w for w in plan.warnings)
    result = run(provider, plan, timeline)
    assert result.outcome == "succeeded" and "not pushed" in " ".join(result.transcript)
    assert (repo.work / "app.txt").read_text() == "v2\n"
    assert repo.remote_file("app.txt") == "v3 broken\n"


def test_a_remote_that_never_answers_is_a_timeout(repo: Scratch) -> None:
    with socket.socket() as server:  # accepts the connection, never says a word
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        repo.git("remote", "set-url", "origin", f"git://127.0.0.1:{port}/remote.git")
        started = time.monotonic()
        with pytest.raises(ProviderTimeout, match="no answer from git fetch"):
            repo.provider(timeout_seconds=0.5).preflight("revert", {"commit": "HEAD~1"})
        assert time.monotonic() - started < 5


def test_a_hanging_git_is_killed_with_its_children(
    repo: Scratch, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir, child = tmp_path / "bin", tmp_path / "child.pid"
    bin_dir.mkdir()
    fake = bin_dir / "git"
    fake.write_text(f"#!/bin/sh\nsleep 60 &\necho $! > {child}\nwait\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    started = time.monotonic()
    with pytest.raises(ProviderTimeout, match="no answer from git rev-parse"):
        repo.provider(timeout_seconds=0.5).health()
    assert time.monotonic() - started < 5
    pid = int(child.read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.05)
    assert not _alive(pid), "the sleeping child of the hung git outlived it"


def hang_in_hook(repo: Scratch, name: str, child: Path) -> None:
    """A hook that starts a sleeping child, writes its pid and waits for it: git hangs there."""
    hook = repo.work / ".git" / "hooks" / name
    hook.write_text(f"#!/bin/sh\nsleep 60 &\necho $! > {child}.tmp\nmv {child}.tmp {child}\nwait\n")
    hook.chmod(0o755)


def cancel_once_there(child: Path, report: Report) -> threading.Thread:
    """Cancel from another thread, as the action screen does, once the hook is waiting."""

    def watch() -> None:
        deadline = time.monotonic() + 30
        while not child.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        report.cancel()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def cancelled_run(provider: GitProvider, plan: Plan, timeline: Timeline, child: Path) -> Result:
    report = Report()
    watcher = cancel_once_there(child, report)
    incident = timeline.open_incident("git", "P1", "pulse-messages")
    started = time.monotonic()
    result = action_runner.run(
        provider, plan, plan.target, TimelineRecorder(timeline, incident.id), report
    )
    assert time.monotonic() - started < 10, "the cancel did not stop git promptly"
    watcher.join(timeout=5)
    pid = int(child.read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.05)
    assert not _alive(pid), "the hook's sleeping child outlived the cancel"
    return result


def test_a_cancel_while_git_hangs_stops_its_group_and_resets_the_clone(
    repo: Scratch, timeline: Timeline, tmp_path: Path
) -> None:
    child, head = tmp_path / "hook-child.pid", repo.commits["config"]
    hang_in_hook(repo, "pre-commit", child)
    provider = repo.provider(timeout_seconds=60)  # only the cancel can end it in time
    plan = provider.preflight("restore_path", {"path": "config/"})
    result = cancelled_run(provider, plan, timeline, child)
    assert result.outcome == "cancelled", result.summary
    assert "cancelled by the responder during: git commit" in result.summary
    assert f"main was reset to {head[:8]}, nothing was pushed" in result.summary
    unchanged(repo, head)


def test_a_cancel_while_the_push_hangs_stops_it_and_says_where_the_commit_is(
    repo: Scratch, timeline: Timeline, tmp_path: Path
) -> None:
    child, head = tmp_path / "hook-child.pid", repo.commits["config"]
    hang_in_hook(repo, "pre-push", child)
    provider = repo.provider(timeout_seconds=60)
    plan = provider.preflight("revert", {"commit": "HEAD~1"})
    result = cancelled_run(provider, plan, timeline, child)
    assert result.outcome == "cancelled", result.summary
    assert "cancelled by the responder during: git push origin main" in result.summary
    assert "is committed on the local main and may not have reached origin" in result.summary
    assert repo.remote_head() == head
    assert repo.git("rev-parse", "HEAD") != head


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state not in ("Z", "X")


def test_health_and_options(repo: Scratch, tmp_path: Path) -> None:
    health = repo.provider().health()
    assert "git version" in health and f"origin {repo.remote_head()[:8]}" in health
    assert [subject for _, subject in repo.provider().recent_commits(2)] == ["config", "deploy"]
    with pytest.raises(ValidationError):
        GitProvider.Options.model_validate({"repo": str(repo.work), "remot": "typo"})
    with pytest.raises(ProviderError, match="no repository at"):
        repo.provider(repo=str(tmp_path / "missing")).health()
    with pytest.raises(ProviderError, match="not a git clone"):
        repo.provider(repo=str(tmp_path)).health()
