"""A drill's git platform: a real bare remote and a working clone in a temporary folder, and a
pipeline that deploys what the remote's branch holds.

History: "release 1.2.3" (tagged v1.2.3-stable), then "release 1.2.4: new checkout" (the bad
deploy: it turns `new_checkout` on in config/app.toml and changes the code). Each of the
runbooks' git rollbacks takes it away: reverting that commit, restoring config/ from HEAD~1, or
a commit with the content of the newest stable tag. The pipeline looks at the remote whenever
production is read (a scrape, a health probe: Scenario.look), at most every half second of the
scenario's clock, so a drill on a fixed clock is exact; once the branch no longer turns the new
checkout on, the scenario recovers, as production would after the deploy the push starts.
Every git call has a timeout.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from cockpit.demo.reaper import Reaper, remove
from cockpit.demo.scenario import Scenario

GIT_TIMEOUT_S = 10.0
LOOK_TIMEOUT_S = 2.0
"""The pipeline's look at the remote: a scrape must not wait longer for it."""
LOOK_EVERY_S = 0.5
BAD_SWITCH = "new_checkout = true"
_IDENTITY = ["-c", "user.name=Drill", "-c", "user.email=drill@localhost"]


def _git(*args: str, cwd: Path, timeout: float = GIT_TIMEOUT_S) -> str:
    done = subprocess.run(
        ["git", *_IDENTITY, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
        stdin=subprocess.DEVNULL,
    )
    return done.stdout


class GitPlatform:
    """The remote, the clone the git provider works in, and the pipeline watching the remote."""

    def __init__(self, scenario: Scenario, branch: str = "main") -> None:
        self.scenario = scenario
        self.branch = branch
        self.folder = Path(tempfile.mkdtemp(prefix="cockpit-drill-git-"))
        self.remote = self.folder / "origin.git"
        self.clone = self.folder / "app"
        self.bad_commit = ""
        self.looked_at: float | None = None
        self.reaper = Reaper(remove(self.folder))
        """Removes the folder if this process is killed outright."""

    def start(self) -> Path:
        """Build the history and start the pipeline; returns the clone's path."""
        _git("init", "--bare", f"--initial-branch={self.branch}", str(self.remote), cwd=self.folder)
        _git("clone", str(self.remote), str(self.clone), cwd=self.folder)
        _git("checkout", "-B", self.branch, cwd=self.clone)
        self._commit("release 1.2.3", version="1.2.3", switch="new_checkout = false")
        _git("tag", "v1.2.3-stable", cwd=self.clone)
        self._commit("release 1.2.4: new checkout", version="1.2.4", switch=BAD_SWITCH)
        _git("tag", "v1.2.4", cwd=self.clone)
        self.bad_commit = _git("rev-parse", "HEAD", cwd=self.clone).strip()
        _git("push", "--tags", "origin", self.branch, cwd=self.clone)
        self.scenario.pipelines.append(self.deploy)
        return self.clone

    def _commit(self, message: str, *, version: str, switch: str) -> None:
        (self.clone / "config").mkdir(exist_ok=True)
        (self.clone / "src").mkdir(exist_ok=True)
        (self.clone / "config" / "app.toml").write_text(f'release = "{version}"\n{switch}\n')
        (self.clone / "src" / "version.txt").write_text(f"{version}\n")
        _git("add", "-A", cwd=self.clone)
        _git("commit", "-q", "-m", message, cwd=self.clone)

    def deployed_bad(self) -> bool:
        """Whether the remote's branch still turns the bad switch on."""
        config = _git(
            "show", f"{self.branch}:config/app.toml", cwd=self.remote, timeout=LOOK_TIMEOUT_S
        )
        return BAD_SWITCH in config

    def deploy(self) -> None:
        """The pipeline: production serves what the branch holds (looked at every half second
        of the scenario's clock at most)."""
        now = self.scenario.elapsed()
        if self.looked_at is not None and now - self.looked_at < LOOK_EVERY_S:
            return
        self.looked_at = now
        try:
            bad = self.deployed_bad()
        except (subprocess.SubprocessError, OSError):
            return  # a push under way, or the drill is ending: looked at again next time
        if not bad:
            self.scenario.rollback()

    def stop(self) -> None:
        """Take the pipeline away and remove the folder; safe to call twice."""
        self.reaper.cancel()
        if self.deploy in self.scenario.pipelines:
            self.scenario.pipelines.remove(self.deploy)
        shutil.rmtree(self.folder, ignore_errors=True)
