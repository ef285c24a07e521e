"""The drill's other platforms: a git remote, Cloudflare Workers and Pages, the cache endpoint.

Each starts its platform, rolls the scenario back when a rollback takes effect there, and
configures the cockpit's real provider for it (cockpit.demo.platforms starts them).
"""

from __future__ import annotations

import secrets
from typing import Any

from cockpit.demo.platforms import Named, Platforms
from cockpit.demo.scenario import Scenario


def git(
    platforms: Platforms, scenario: Scenario, job_seconds: float, named: Named, _: str | None
) -> None:
    """A real remote and clone; the pipeline deploys the branch (cockpit.demo.git_repo)."""
    from cockpit.demo.git_repo import GitPlatform
    from providers.git import GitProvider

    branch = named.param("branch", "main")
    platform = GitPlatform(scenario, branch=branch)
    try:
        clone = platform.start()
    except BaseException:
        platform.stop()
        raise
    platforms.others.append((f"git {platform.remote}", platform.stop))
    options = GitProvider.Options.model_validate(
        {"repo": str(clone), "remote": "origin", "branch": branch, "timeout_seconds": 10}
    )
    platforms.providers["git"] = GitProvider(options)


def _cloudflare(platforms: Platforms, job_seconds: float) -> Any:
    """The one Cloudflare account both Workers and Pages live in."""
    from cockpit.simulators.cloudflare import CloudflareSimulator

    for simulator in platforms.simulators:
        if isinstance(simulator, CloudflareSimulator):
            return simulator
    simulator = CloudflareSimulator(token=secrets.token_urlsafe(24), stage_seconds=job_seconds / 4)
    simulator.start()
    platforms.simulators.append(simulator)
    return simulator


def _cloudflare_options(simulator: Any, **name: str) -> dict[str, Any]:
    return {
        "base_url": f"{simulator.url}/client/v4",
        "token": simulator.token,
        "account_id": simulator.account_id,
        "poll_seconds": 0.2,
        **name,
    }


def cloudflare_workers(
    platforms: Platforms, scenario: Scenario, job_seconds: float, named: Named, _: str | None
) -> None:
    """The Worker (the option's script, else the procedure's name) serving its bad version,
    with its secrets and vars changed by the same deploy when an option puts them back."""
    from cockpit.demo import cloudflare_config
    from providers.cloudflare import WorkersProvider

    simulator = _cloudflare(platforms, job_seconds)
    script = named.param("script", named.procedure.name)
    good = simulator.add_worker_version(script, message="release 1.2.3")
    bad = simulator.add_worker_version(script, message="release 1.2.4")
    simulator.deploy_worker(script, [(good["id"], 100)], message="deploy 1.2.3")
    simulator.deploy_worker(script, [(bad["id"], 100)], message="deploy 1.2.4")

    def changed(name: str, deployment: dict[str, Any]) -> None:
        serving = {split["version_id"] for split in deployment.get("versions", [])}
        if name == script and bad["id"] not in serving:
            scenario.rollback()

    simulator.on_worker_change = changed
    settings = _cloudflare_options(simulator, script=script)
    if cloudflare_config.wanted(named):  # secrets and vars too (cockpit.demo.cloudflare_config)
        settings = cloudflare_config.set_up(simulator, script, named, scenario, settings)
    options = WorkersProvider.Options.model_validate(settings)
    platforms.providers["cloudflare_workers"] = WorkersProvider(options)


def cloudflare_pages(
    platforms: Platforms, scenario: Scenario, job_seconds: float, named: Named, _: str | None
) -> None:
    """The Pages project (the option's) whose production is the bad build."""
    from providers.cloudflare import PagesProvider

    simulator = _cloudflare(platforms, job_seconds)
    project = named.param("project", named.procedure.name)
    simulator.add_pages_deployment(project, commit_hash="a123", commit_message="release 1.2.3")
    simulator.add_pages_deployment(project, commit_hash="b124", commit_message="release 1.2.4")

    def changed(name: str, build: dict[str, Any]) -> None:
        commit = build.get("deployment_trigger", {}).get("metadata", {}).get("commit_hash")
        if name == project and commit != "b124":
            scenario.rollback()

    simulator.on_pages_change = changed
    options = PagesProvider.Options.model_validate(_cloudflare_options(simulator, project=project))
    platforms.providers["cloudflare_pages"] = PagesProvider(options)


def cache(
    platforms: Platforms,
    scenario: Scenario,
    job_seconds: float,
    named: Named,
    health_url: str | None,
) -> None:
    """The drill service's own cache endpoint (DELETE /api/admin/cache); a clear does not roll
    anything back, as in the runbook, where it follows the Worker's rollback."""
    from providers.cache import CacheProvider

    if health_url is None:
        platforms.missing.append("cache (no service to clear)")
        return
    base = health_url.removesuffix("/health")
    options = CacheProvider.Options.model_validate(
        {"base_url": base, "token": secrets.token_urlsafe(18), "method": "DELETE"}
    )
    platforms.providers["cache"] = CacheProvider(options)


FAKE_NPM = """#!/bin/sh
# The drill's npm: `npm run cache:clear` empties the drill service's cache, as the app's would.
if [ "$1 $2" = "run cache:clear" ]; then
  echo "> cache:clear"
  echo "cache cleared: 4 keys"
  exit 0
fi
echo "npm (drill): only 'npm run cache:clear' is simulated" >&2
exit 1
"""


def cache_clear(
    platforms: Platforms,
    scenario: Scenario,
    job_seconds: float,
    named: Named,
    health_url: str | None,
) -> None:
    """An `npm` on the clear command's PATH that answers `npm run cache:clear` (the runbooks'
    command), in a folder of its own removed when the drill stops; no Redis in the drills."""
    import os
    import shutil
    import tempfile
    from pathlib import Path

    from providers.cache_clear import CacheClearProvider

    folder = Path(tempfile.mkdtemp(prefix="drill-npm-"))
    npm = folder / "npm"
    npm.write_text(FAKE_NPM, encoding="utf-8")
    npm.chmod(0o700)
    path = f"{folder}{os.pathsep}{os.environ.get('PATH', '')}"
    options = CacheClearProvider.Options.model_validate(
        {"timeout_seconds": 30, "environment": {"PATH": path}}
    )
    platforms.providers["cache_clear"] = CacheClearProvider(options)
    platforms.others.append(
        (f"npm (drill) in {folder}", lambda: shutil.rmtree(folder, ignore_errors=True))
    )


BAD_MIGRATION = "20240201090000"
"""The bad deploy's migration (orders.status): undone, or restored from before it, recovers."""
FORWARD = (
    "ALTER TABLE orders ADD COLUMN status text NOT NULL DEFAULT 'new';\n"
    "CREATE INDEX orders_status_idx ON orders (status);\n"
    f"INSERT INTO schema_migrations (version) VALUES ('{BAD_MIGRATION}');\n"
)


def _seed(server: Any, dbname: str, backups: Any, patterns: list[str]) -> None:
    """The shop under `dbname`, dumps from before the bad deploy, then the deploy.

    Besides a pg_dump -Fc archive, one backup per `backup_pattern` the procedure's options
    give, in that runbook's own format: `pg_dump > ….sql`, gzip'd for `.sql.gz`."""
    from cockpit.demo import pg_cluster

    server.seed_shop(dbname)
    down = pg_cluster.DOWN_SCRIPTS[BAD_MIGRATION]
    backups.mkdir(mode=0o700)
    with server.app(dbname) as conn:  # before the deploy: its migration undone, then dumped
        conn.execute(down)
        conn.execute("DELETE FROM schema_migrations WHERE version = %s", (BAD_MIGRATION,))
    server.dump(dbname, backups / "before-deploy.dump")
    for pattern in patterns:
        _plain_dump(server, dbname, backups / _named_like(pattern))
    with server.app(dbname) as conn:  # the bad deploy
        conn.execute(FORWARD)
    # ai-saas names one script for the reverse migration; it is the bad deploy's down script.
    (server.rollback_dir / "revert-migration.sql").write_text(down)


def postgres(
    platforms: Platforms, scenario: Scenario, job_seconds: float, named: Named, _: str | None
) -> None:
    """A real, private PostgreSQL (cockpit.demo.pg_cluster) with the runbooks' shop database
    under the option's name: a backup from before the bad deploy, then the deploy's migration.
    Its undo (the down script, or a restore of that backup) recovers the scenario."""
    from cockpit.demo import pg_cluster
    from providers.postgres.provider import PostgresProvider

    why = pg_cluster.missing()
    if why is not None:
        platforms.missing.append(f"postgres ({why})")
        return
    server = pg_cluster.PostgresServer()
    dbname = named.param("database", "app")
    backups = server.dir / "backups"
    patterns = [
        str(option.params["backup_pattern"])
        for option in named.procedure.options
        if option.provider == "postgres" and option.params.get("backup_pattern")
    ]
    try:
        server.start()
        _seed(server, dbname, backups, patterns)
    except Exception as error:  # a drill without its database still runs; it says why
        server.stop()
        platforms.missing.append(f"postgres (did not start: {error})"[:300])
        return
    platforms.others.append((f"postgres 127.0.0.1:{server.port}", server.stop))

    def deployed() -> None:
        try:
            still = server.scalar(
                "SELECT count(*) FROM schema_migrations WHERE version = %s",
                dbname,
                (BAD_MIGRATION,),
            )
        except Exception:  # a restore under way (the table dropped and made again)
            return
        if not still:
            scenario.rollback()

    scenario.pipelines.append(deployed)
    options = PostgresProvider.Options.model_validate(
        {
            "dsn": server.dsn(dbname),
            "backup_dir": str(backups),
            "rollback_scripts": str(server.rollback_dir),
            "migrations_table": "schema_migrations",
            "bin_dir": str(server.bin),
            "timeout_seconds": 60,
        }
    )
    provider = PostgresProvider(options)
    provider.fixed_params = {"backup_dir": str(backups)}  # the runbook's /backups is production's
    platforms.providers["postgres"] = provider


def _named_like(pattern: str) -> str:
    """A file name the pattern matches, as the runbook names its backups:
    'ai_saas_*.sql.gz' → 'ai_saas_20260115_020000.sql.gz', 'pre-migration-backup*.sql*' →
    'pre-migration-backup.sql'."""
    name = pattern.rstrip("*")
    out = ""
    for i, char in enumerate(name):
        if char == "*":
            out += "" if i and name[i - 1].isalnum() else "20260115_020000"
        elif char not in "?[]":
            out += char
    return out


def _plain_dump(server: Any, dbname: str, path: Any) -> None:
    """`pg_dump $DATABASE_URL > path` (gzip'd when the name ends .gz), mode 0600."""
    import gzip
    import os
    import subprocess

    done = subprocess.run(
        [str(server.bin / "pg_dump"), "-Fp", "-d", server.dsn(dbname, "")],
        env={**os.environ, "PGPASSWORD": server.password},
        check=True,
        timeout=120,
        capture_output=True,
        stdin=subprocess.DEVNULL,
    )
    data = gzip.compress(done.stdout) if str(path).endswith(".gz") else done.stdout
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def docker_compose(
    platforms: Platforms, scenario: Scenario, job_seconds: float, named: Named, _: str | None
) -> None:
    """A private podman serving the Docker Engine API (cockpit.demo.podman_engine) with the
    option's service deployed as Compose would: seen on localhost/mini:1, then the bad deploy
    on mini:2. Back on mini:1 (the image rollback) recovers the scenario."""
    from cockpit.demo import podman_engine
    from providers.docker_compose.provider import ComposeOptions, ComposeProvider

    why = podman_engine.missing()
    if why is not None:
        platforms.missing.append(f"docker_compose ({why})")
        return
    folder = named.param("project_dir", f"/srv/{named.procedure.name}")
    project = folder.rstrip("/").rsplit("/", 1)[-1] or named.procedure.name
    service = named.param("service", "web")
    engine = podman_engine.Podman()
    try:
        engine.__enter__()
        engine.service(project, service, "1")
        options = ComposeOptions.model_validate(
            {
                "base_url": engine.base_url,
                "project": project,
                "timeout_seconds": 10.0,
                "stop_timeout": 2,
                "verify_seconds": 30.0,
                "settle_seconds": min(job_seconds, 1.0),
            }
        )
        provider = ComposeProvider(options)
        provider.health()  # the cockpit sees mini:1 serving: the image to go back to
        engine.deploy(project, service, "2")  # the bad deploy
    except Exception as error:  # a drill without its engine still runs; it says why
        engine.stop()
        platforms.missing.append(f"docker_compose (did not start: {error})"[:300])
        return
    platforms.others.append((f"docker engine {engine.base_url}", engine.stop))
    good = engine.images["1"]

    def deployed() -> None:
        try:
            running = [c.attrs["Image"] for c in engine.containers(project, service)]
        except Exception:  # a container being recreated
            return
        if running and all(image == good for image in running):
            scenario.rollback()

    scenario.pipelines.append(deployed)
    platforms.providers["docker_compose"] = provider
