"""The git provider against a scratch setup: a bare remote and a working clone, real git.

`Scratch` is also what tests/test_git_provider.py builds on. While it is entered, HOME and
XDG_CONFIG_HOME point into it and the system config is off, so the developer's git config
(identity, signing, hooks) never reaches the provider; the scratch's own commits name their
author with -c, so the clone has no identity configured, like a bare jump host.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any

from providers.base import ActionProvider
from providers.git import GitProvider

from . import Case

ISOLATED = ("HOME", "XDG_CONFIG_HOME", "GIT_CONFIG_NOSYSTEM", "GIT_CONFIG_GLOBAL")


class Scratch:
    """remote.git (bare) and work/ (its clone, on main) with this history, oldest first:

    initial   app.txt v1, config/settings.yaml timeout 30       tag v1.0-stable
    feature   app.txt v2                                        tag v1.1-stable, v1.2-rc
    deploy    app.txt v3 broken                                 (the bad deploy)
    config    config/settings.yaml timeout 5, config/extra.yaml (HEAD)
    """

    def __init__(self, root: Path | None = None) -> None:
        self.tmp = None if root else tempfile.TemporaryDirectory(prefix="git-scratch-")
        self.root = root or Path(self.tmp.name if self.tmp else "")
        self.saved: dict[str, str | None] = {}
        self.ticks = 0

    def __enter__(self) -> Scratch:
        self.saved = {name: os.environ.get(name) for name in ISOLATED}
        os.environ.update(
            HOME=str(self.root),
            XDG_CONFIG_HOME=str(self.root / ".config"),
            GIT_CONFIG_NOSYSTEM="1",
            GIT_CONFIG_GLOBAL=str(self.root / ".gitconfig"),
        )
        self.remote = self.root / "remote.git"
        self.work = self.root / "work"
        self.git("init", "--quiet", "--bare", "-b", "main", str(self.remote), cwd=self.root)
        self.git("clone", "--quiet", str(self.remote), str(self.work), cwd=self.root)
        self.git("symbolic-ref", "HEAD", "refs/heads/main")
        self.commits = {
            "initial": self.commit(
                "initial", {"app.txt": "v1\n", "config/settings.yaml": "timeout: 30\n"}
            ),
            "feature": self.commit("feature", {"app.txt": "v2\n"}),
            "deploy": self.commit("deploy", {"app.txt": "v3 broken\n"}),
            "config": self.commit(
                "config", {"config/settings.yaml": "timeout: 5\n", "config/extra.yaml": "x: 1\n"}
            ),
        }
        self.tag("v1.0-stable", self.commits["initial"])
        self.tag("v1.1-stable", self.commits["feature"])
        self.tag("v1.2-rc", self.commits["feature"])
        self.git("push", "--quiet", "--tags", "-u", "origin", "main")
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        for name, value in self.saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        if self.tmp is not None:
            self.tmp.cleanup()

    def git(self, *args: str, cwd: Path | None = None) -> str:
        """Run git as a developer would (identity given with -c, dates one minute apart)."""
        self.ticks += 1
        stamp = f"{1_700_000_000 + 60 * self.ticks} +0000"
        env = {**os.environ, "GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp}
        done = subprocess.run(
            ["git", "-c", "user.name=Dev", "-c", "user.email=dev@example.com", *args],
            cwd=cwd or self.work,
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
        return done.stdout.strip()

    def commit(self, message: str, files: dict[str, str], cwd: Path | None = None) -> str:
        """Write the files, commit them all, return the new commit's sha."""
        where = cwd or self.work
        for name, text in files.items():
            (where / name).parent.mkdir(parents=True, exist_ok=True)
            (where / name).write_text(text)
        self.git("add", "--all", cwd=where)
        self.git("commit", "--quiet", "-m", message, cwd=where)
        return self.git("rev-parse", "HEAD", cwd=where)

    def tag(self, name: str, commit: str) -> None:
        self.git("tag", "-a", "-m", name, name, commit)

    def remote_file(self, path: str, ref: str = "main") -> str | None:
        """A file's text on the remote's branch, or None when it is not there."""
        done = subprocess.run(
            ["git", "--git-dir", str(self.remote), "show", f"{ref}:{path}"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        return done.stdout if done.returncode == 0 else None

    def remote_head(self, branch: str = "main") -> str:
        return self.git("--git-dir", str(self.remote), "rev-parse", branch, cwd=self.root)

    def provider(self, **overrides: Any) -> GitProvider:
        options = GitProvider.Options.model_validate(
            {"repo": str(self.work), "timeout_seconds": 10.0, **overrides}
        )
        return GitProvider(options)


def _provider(setup: Any, overrides: dict[str, Any]) -> ActionProvider:
    assert isinstance(setup, Scratch)
    return setup.provider(**overrides)


def _reverted(setup: Any) -> bool:
    return bool(setup.remote_file("app.txt") == "v2\n")


def _restored(setup: Any) -> bool:
    return bool(
        setup.remote_file("config/settings.yaml") == "timeout: 30\n"
        and setup.remote_file("config/extra.yaml") is None
        and setup.remote_file("app.txt") == "v3 broken\n"
    )


def _at_stable(setup: Any) -> bool:
    return bool(
        setup.remote_file("app.txt") == "v2\n"
        and setup.remote_file("config/settings.yaml") == "timeout: 30\n"
        and setup.remote_file("config/extra.yaml") is None
    )


CASES = [
    Case("git.revert", Scratch, _provider, "revert", {"commit": "HEAD~1"}, _reverted, http=False),
    Case(
        "git.restore_path",
        Scratch,
        _provider,
        "restore_path",
        {"path": "config/", "ref": "HEAD~1"},
        _restored,
        http=False,
    ),
    Case(
        "git.checkout_tag",
        Scratch,
        _provider,
        "checkout_tag",
        {"tag_filter": "stable"},
        _at_stable,
        http=False,
    ),
]
